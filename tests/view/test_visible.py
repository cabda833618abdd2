"""``view/visible.py``: what every command spells rather than prints, and the page the same."""

from __future__ import annotations

import json
import re
from importlib import resources

import orjson
from hypothesis import given
from hypothesis import strategies as st

from rollout_trace_sdk.view.visible import BIDI_CONTROLS, INVISIBLE, SPELLED, json_visible, visible


def _page_class() -> set[int]:
    """The code points of the page's ``SPELLED`` character class (static/util.js)."""
    script = resources.files("rollout_trace_sdk.view").joinpath("static", "util.js").read_text()
    found = re.search(r"const SPELLED = /\[(.*?)\]/gu;", script)
    assert found is not None, "util.js no longer defines SPELLED as a character class"
    escape = r"\\u(?:\{([0-9A-Fa-f]+)\}|([0-9A-Fa-f]{4}))"
    codes: set[int] = set()
    for first_braced, first, last_braced, last in re.findall(
        f"{escape}(?:-{escape})?", found.group(1)
    ):
        lo = int(first_braced or first, 16)
        hi = int(last_braced or last, 16) if (last_braced or last) else lo
        codes.update(range(lo, hi + 1))
    assert re.sub(f"{escape}(?:-{escape})?", "", found.group(1)) == ""  # nothing else in it
    return codes


def test_the_page_spells_what_the_terminal_spells() -> None:
    """The page's ``vis`` and ``visible`` are written twice (JavaScript, Python): the same
    characters, or an id reads one way in ``show`` and another on the page."""
    assert _page_class() == set(SPELLED)


def test_invisible_characters_are_spelled() -> None:
    """``call_a`` and ``call_\\u200ba`` printed alike, and tag characters hid a whole sentence
    (found by the session-24 read-through)."""
    assert visible("call_\u200ba") == "call_\\u200ba"
    assert visible("a\ufeffb\u2060c\u00add") == "a\\ufeffb\\u2060c\\u00add"
    hidden = "".join(chr(0xE0000 + ord(c)) for c in "rm -rf /")
    assert visible("ok" + hidden) == "ok" + "".join(
        f"\\U{0xE0000 + ord(c):08x}" for c in "rm -rf /"
    )
    assert not set(map(ord, visible("".join(map(chr, SPELLED))))) & set(SPELLED)


def test_what_emoji_and_scripts_need_is_kept() -> None:
    """Joiners and variation selectors make emoji and several scripts: printed as they are."""
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert visible(family + " \u2764\ufe0f \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645") == (
        family + " \u2764\ufe0f \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    )
    assert {0x200C, 0x200D, 0xFE0F}.isdisjoint(SPELLED)
    assert set(BIDI_CONTROLS) | set(INVISIBLE) == set(SPELLED)


@given(st.text(alphabet=st.sampled_from([*map(chr, SPELLED), "a", "\x7f", "\x85", "é"])))
def test_json_visible_keeps_the_value(text: str) -> None:
    """The escapes mean the same characters (a surrogate pair past the BMP), and none of them
    is left raw."""
    shown = json_visible(orjson.dumps({"k": text}).decode())
    assert json.loads(shown) == {"k": text}
    assert not set(map(ord, shown)) & {*SPELLED, 0x7F, 0x85}


@given(
    st.lists(st.sampled_from([*map(chr, SPELLED), *map(chr, range(0x100)), "—", "\U0001f600"])),
    st.sampled_from(["", "é", "—", "\U0001f600"]),
)
def test_a_long_text_is_spelled_as_a_short_one(picked: list[str], other: str) -> None:
    """A long text that is not ASCII is searched by a regular expression rather than mapped by
    ``str.translate`` (ten times faster: review40); what it gives must be the table's."""
    from rollout_trace_sdk.view.visible import _CONTROLS, _JSON_CONTROLS, _LONG

    text = "".join(picked) + other + "x" * _LONG + "".join(reversed(picked))
    assert visible(text) == text.translate(_CONTROLS)
    assert json_visible(text) == text.translate(_JSON_CONTROLS)
