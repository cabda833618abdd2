"""The static page: one self-contained HTML file (styles, script and data inline) that opens
from disk with no server and no network.

The view model goes in as JSON inside a ``<script type="application/json">`` element, parsed
once by the page. Raw payload bodies go in a second such element, each deflated and base64
encoded, and are inflated by the browser's ``DecompressionStream`` only when the user opens
one; past ``payload_limit`` bytes they are left out and the page says so.
"""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import resources
from typing import Any, Final

import orjson

from ..model import layout
from .model import build_view_model
from .payloads import PayloadReader

#: Raw payload bytes embedded in a static page by default (deflate usually shrinks them 5-10x).
DEFAULT_PAYLOAD_LIMIT: Final = 256 * 1024 * 1024
#: The page's script, one job per file, in the order they are joined: shared state and
#: formatting, the calls list, the timeline, images, the details pane, then loading, events
#: and start.
SCRIPTS: Final = (
    "util.js",
    "list.js",
    "timeline.js",
    "images.js",
    "detail.js",
    "keys.js",
    "app.js",
)
#: Where ``--serve`` serves the joined script (the static page inlines it instead).
SCRIPT_PATH: Final = "viewer.js"
_SCRIPT_SLOT: Final = "<script>\n/*__SCRIPT__*/\n</script>"


def static_text(name: str) -> str:
    """A front-end file shipped as package data."""
    return resources.files(__package__).joinpath("static", name).read_text("utf-8")


def script_text() -> str:
    """The viewer's script: the files of ``SCRIPTS`` joined in one function scope, so they
    share their names with each other and with nothing else on the page."""
    parts = [f"// --- {name} ---\n{static_text(name)}" for name in SCRIPTS]
    return '"use strict";\n(function () {\n' + "\n".join(parts) + "})();\n"


def _script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``<`` at all (so neither ``</script>`` nor
    ``<!--``, which puts the HTML parser in a state where a later ``<script>`` keeps the
    element open and swallows the page's own code), and U+2028/9 escaped for older parsers.
    ``<`` only ever occurs inside JSON strings, where ``\\u003c`` means the same."""
    return _script_json_bytes(value).decode("utf-8")


def _script_json_bytes(value: Any) -> bytes:
    """:func:`_script_json` as UTF-8, made without a ``str`` of it (tens of megabytes for a
    large model): ``<`` is one byte and U+2028/9 one sequence each, never part of another
    character's bytes, so replacing bytes replaces exactly the characters."""
    return (
        orjson.dumps(value)
        .replace(b"<", b"\\u003c")
        .replace("\u2028".encode(), b"\\u2028")
        .replace("\u2029".encode(), b"\\u2029")
    )


def render_page(
    model: Mapping[str, Any],
    *,
    boot: Mapping[str, Any],
    data: str = "",
    script_url: str | None = None,
) -> str:
    """The page around a view model (static) or around nothing (serve: it fetches the model).

    Args:
        model: the view model, or an empty mapping when the page fetches it.
        boot: small settings the script reads first (``mode``, notes).
        data: ``<script>`` elements placed after the page's script (embedded payloads).
        script_url: load the script from here (the server) instead of inlining it.

    Returns:
        The HTML text.
    """
    chunks = page_chunks(model, boot=boot, data=[data.encode("utf-8")], script_url=script_url)
    return b"".join(chunks).decode("utf-8")


def page_chunks(
    model: Mapping[str, Any],
    *,
    boot: Mapping[str, Any],
    data: Iterable[bytes] = (),
    script_url: str | None = None,
) -> Iterator[bytes]:
    """:func:`render_page`'s page as UTF-8, in pieces written as they come (``data`` too): the
    page as one string, then its bytes, set ``view``'s peak memory on a large rollout (two
    copies of a 100 MB page on top of the model and the state)."""
    meta = model.get("meta") if isinstance(model, Mapping) else None
    rollout = meta.get("rollout_id") if isinstance(meta, Mapping) else None
    title = f"rollout {rollout}" if rollout else "rollout trace"

    def blocks() -> Iterator[bytes]:
        yield b'<script type="application/json" id="rt-boot">' + _script_json_bytes(boot)
        yield b"</script>"
        if model:
            yield b'\n<script type="application/json" id="rt-model">'
            yield _script_json_bytes(model)
            yield b"</script>"

    if script_url is None:
        script = f"<script>\n{script_text()}\n</script>"
    else:
        script = f'<script src="{_html_escape(script_url)}"></script>'
    # The script runs as soon as it is parsed, with the model above it; the payloads come
    # after it, so the page draws while the browser is still reading them.
    values: dict[str, Iterable[bytes]] = {
        "__TITLE__": [_html_escape(title).encode("utf-8")],
        "/*__STYLE__*/": [static_text("style.css").encode("utf-8")],
        _SCRIPT_SLOT: [script.encode("utf-8")],
        "__DATA__": blocks(),
        "__PAYLOADS__": data,
    }
    return _fill(static_text("index.html"), values)


def _fill(template: str, values: Mapping[str, Iterable[bytes]]) -> Iterator[bytes]:
    """``template`` with each marker (a key of ``values``) replaced, in one pass over the
    template only: no value is searched for markers, so a rollout id in the title or agent
    text in the data that contains ``__DATA__`` or ``/*__SCRIPT__*/`` stays text, whatever
    order the markers come in."""
    pattern = "(" + "|".join(re.escape(marker) for marker in values) + ")"
    for k, part in enumerate(re.split(pattern, template)):
        if k % 2:  # a marker (re.split puts the captured separators at odd positions)
            yield from values[part]
        elif part:
            yield part.encode("utf-8")


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def embedded_payloads(
    reader: PayloadReader | None, state: Mapping[str, Any], limit: int
) -> tuple[str, str]:
    """The payload element and a note for what was left out.

    Args:
        reader: the bundle's payload reads, or None (input was a state.json).
        state: the reduced state (its ``raw_payloads`` names what to embed).
        limit: raw bytes to embed at most; past it the rest is left out, in id order.

    Returns:
        (the ``<script>`` element or "", a note for the page or "").
    """
    pieces, note = _payload_pieces(reader, state, limit)
    return b"".join(pieces).decode("ascii"), note


def _payload_pieces(
    reader: PayloadReader | None, state: Mapping[str, Any], limit: int
) -> tuple[list[bytes], str]:
    """:func:`embedded_payloads`'s element in pieces (ASCII: the ids are ``raw_payload:N`` as
    JSON, the bodies base64), one a payload: the whole element as one string, then as JSON,
    held three copies of every embedded body at once."""
    index = state.get("raw_payloads")
    if not isinstance(index, Mapping):
        index = {}
    if reader is None:
        return (
            [],
            "Payload bodies are not in this page: it was made from a state.json. Run `rollout-trace view BUNDLE` on the bundle directory to include them.",
        )
    pieces = [b'<script type="application/json" id="rt-payloads">{']
    total = 0
    left_out = 0
    unreadable = 0
    for payload_id in sorted(index, key=_payload_number):
        ref = index[payload_id]
        if not isinstance(ref, Mapping):
            continue
        raw = reader.read(ref, kept=True)
        if raw is None:
            unreadable += 1
            continue
        if total + len(raw) > limit:
            left_out += 1
            continue
        total += len(raw)
        body = base64.b64encode(zlib.compress(raw, 6))
        comma = b"," if len(pieces) > 1 else b""
        pieces.append(comma + _script_json_bytes(payload_id) + b':"' + body + b'"')
    pieces.append(b"}</script>")
    notes = []
    if left_out:
        notes.append(
            f"{left_out:,} payload bodies were left out of this page (over the {limit:,}-byte limit); "
            "`rollout-trace view --serve` reads them from the bundle on demand."
        )
    if unreadable:
        notes.append(f"{unreadable:,} payloads could not be read from the bundle.")
    return pieces, " ".join(notes)


def _payload_number(payload_id: str) -> tuple[int, str]:
    number = layout.payload_number(payload_id)
    return (1 << 62 if number is None else number, payload_id)


def static_page(
    state: Mapping[str, Any],
    reader: PayloadReader | None,
    *,
    payload_limit: int = DEFAULT_PAYLOAD_LIMIT,
    notes: Sequence[str] = (),
    reports: Sequence[str] = (),
) -> str:
    """One self-contained HTML page for a reduced state (:func:`static_page_chunks` joined).

    Args:
        state: the reduced state as plain JSON values.
        reader: confined payload reads from the bundle, or None to embed no payloads.
        payload_limit: raw payload bytes to embed at most.
        notes: what lenient reduction skipped, said on the page as ``--serve`` says it (a
            page passed on must not show a partial rollout as if it were whole).
        reports: what the recorder reported at the end of its log (``reports.recorder_reports``:
            events it dropped, secrets it redacted), which the reduced state does not hold.

    Returns:
        The HTML text.
    """
    chunks = static_page_chunks(
        state, reader, payload_limit=payload_limit, notes=notes, reports=reports
    )
    return b"".join(chunks).decode("utf-8")


def static_page_chunks(
    state: Mapping[str, Any],
    reader: PayloadReader | None,
    *,
    payload_limit: int = DEFAULT_PAYLOAD_LIMIT,
    notes: Sequence[str] = (),
    reports: Sequence[str] = (),
) -> Iterator[bytes]:
    """:func:`static_page`'s page as UTF-8 pieces, to be written as they come (what ``view``
    does). The payloads are read now (``reader`` may be closed once this returns); the model's
    JSON is made while the pieces are written."""
    model = build_view_model(state)
    data, note = _payload_pieces(reader, state, payload_limit)
    # the first 100, as the served page shows them (the terminal printed them all)
    boot = {
        "mode": "static",
        "payload_note": note,
        "notes": list(notes[:100]),
        "notes_total": len(notes),
        "reports": list(reports),
    }
    return page_chunks(model, boot=boot, data=data)
