"""The transcript's small rules, kept apart from what it prints: a line, how ids, durations
and statuses read, where long texts are cut, and the two ways lines are printed (plain, and
through rich on a terminal). ``show`` prints with them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final, TextIO

import attrs

from ..reduce.failures import FAILED_STATUSES
from .item_text import distinct_texts
from .item_text import first_line as first_line_of
from .visible import visible

#: The statuses printed in the failure style and counted as failed (as on the page).
FAILED: Final = FAILED_STATUSES
#: Where outputs (and, shorter, arguments and commands) are cut unless ``--full``.
OUTPUT_LINES: Final = 6
OUTPUT_CHARS: Final = 600
ARGS_CHARS: Final = 300
#: The narrowest a line is wrapped to on a terminal, however deep its indentation.
_MIN_WRAP: Final = 20

Segment = tuple[str, str]  # (text, rich style; "" for none)


@attrs.frozen
class Line:
    """One transcript entry: indentation depth and styled text (may span several lines)."""

    indent: int
    parts: tuple[Segment, ...]

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.parts)


def short_id(ident: Any) -> str:
    """Ids people can still tell apart: ``conversation_item:12`` → ``item:12``, UUIDs to
    their first 8 and last 4 characters (``01a241f8…3f2c``, as the page shows them): the
    first 8 of a time-ordered UUIDv7 are its time, often shared by every thread and turn of
    a rollout. ``--thread`` and ``--call`` take this form back."""
    if ident is None:
        return "?"
    text = str(ident)
    for long, brief in (
        ("conversation_item:", "item:"),
        ("raw_payload:", "payload:"),
        ("terminal_operation:", "op:"),
    ):
        if text.startswith(long):
            return brief + text[len(long) :]
    if len(text) > 14 and text.count("-") >= 3:
        return f"{text[:8]}…{text[-4:]}"
    return text


def counted(n: int, word: str) -> str:
    """``1 agent``, ``2 agents``: a count and its noun, singular for one (the page's ``noun``)."""
    return f"{n:,} {word if n == 1 else word + 's'}"


def ms(value: int | None) -> str:
    """A duration: ``850 ms``, ``12.34 s``, ``2m 5s``, ``3h 20m``, ``12d 4h``. The whole value
    is rounded to the last unit shown before it is split, so 119,600 ms reads ``2m 0s``,
    never ``1m 60s`` (nor 59,996 ms ``60.00 s``)."""
    if value is None:
        return "?"
    if value < 1000:
        return f"{value} ms"
    if value < 59_995:
        return f"{value / 1000:.2f} s"
    seconds = round(value / 1000)
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60}s"
    minutes = round(value / 60_000)
    if minutes < 1440:
        return f"{minutes // 60}h {minutes % 60}m"
    hours = round(value / 3_600_000)
    return f"{hours // 24}d {hours % 24}h"


#: What a record still ``running`` in an ended rollout is said to be (the view model's
#: ``ne``), in place of its duration; the page's ``NEVER_ENDED`` (``static/util.js``).
NEVER_ENDED: Final = "never ended (the rollout is complete)"


def duration(obj: Mapping[str, Any], known: int | None = None) -> str:
    """A view-model record's duration; while it has no end (``running``), its time up to
    ``known`` "so far" (the last time the unfinished rollout's state gives, relative as the
    records' times: ``model.last_known_unix_ms``, to which the page draws open records too),
    or its status when it has no start either; still ``running`` once the rollout ended,
    that it never ended."""
    if obj.get("ne"):
        return NEVER_ENDED
    start, end = obj.get("s"), obj.get("e")
    if start is not None and end is None and known is not None:
        return f"{ms(max(known - start, 0))} so far"
    if start is None or end is None:
        return str(obj.get("st", "running"))
    return ms(end - start)


def clip(text: str, full: bool, lines: int = OUTPUT_LINES, chars: int = OUTPUT_CHARS) -> str:
    """``text`` cut to ``lines`` lines and ``chars`` characters (unless ``full``), saying how
    much was cut: a transcript stays readable with a 4 MB output in it."""
    text = text.rstrip()
    if full:
        return text
    cut = text
    rows = cut.split("\n")
    if len(rows) > lines:
        cut = "\n".join(rows[:lines])
    if len(cut) > chars:
        cut = cut[:chars]
    if cut != text:
        cut = cut.rstrip() + f" … [{len(text) - len(cut):,} more chars]"
    return cut


def status_style(status: Any) -> str:
    """The rich style a status prints in: failures red, running yellow, the rest green."""
    if status in FAILED:
        return "bold red"
    return "yellow" if status == "running" else "green"


def first_line(source: Any, full: bool) -> str:
    """A cell's source as its line names it: the first line that says something (as the
    page's row does)."""
    line = first_line_of(str(source or ""))
    return clip(line, full, lines=1, chars=ARGS_CHARS // 3) if line else "(empty)"


def thread_model(thread: Mapping[str, Any]) -> str:
    """A thread's model as ``show`` prints it: the one it was recorded with, or, recorded
    without one, its first inference call's, said so (``gpt-5 (its first call's)``)."""
    model = thread.get("model") or "?"
    return f"{model} (its first call's)" if thread.get("mc") else str(model)


def tool_error_text(model: Mapping[str, Any], tool: Mapping[str, Any]) -> str:
    """A failed tool call's error, from each place the page's details look (``errorText`` in
    ``static/detail.js``), each text said once, one under another: its output items as the
    model saw them, Codex's output preview (often an item's text again), an answer no request
    carried (its raw result; the page shows it under Result), its terminal's stderr, and the
    ``error`` ``tool.failed(error)`` records in the raw result. The first alone hid the rest: a
    tool that told the model its own words for a failure hid the error it raised. With none,
    what stopped an aborted or cancelled call (its ``stop``: ``item_text.what_stopped``,
    ``aborted: its turn was interrupted``); empty when nothing is said."""
    ops = model["ops"]
    op = ops[tool["op"]] if tool.get("op") is not None else {}
    texts = [model["items"][ix]["text"] for ix in tool["oi"]]
    texts += [tool.get("output_preview"), tool.get("result"), op.get("stderr"), tool.get("err")]
    # the exports read the same texts from the state: item_text.failed_tool_text
    return distinct_texts(texts) or tool.get("stop") or ""


def error_line(record: Mapping[str, Any], what: str, indent: int, full: bool) -> Line:
    """Why a failed inference call or compaction request failed (``err``: its text in the
    log, ``reduce/failures.py``), or, with no text, where to look: its raw response. Both
    are said the same way, as the page's details say them."""
    error = record.get("err")
    if error:
        return Line(indent, (("error: ", "bold red"), (clip(str(error), full), "red")))
    where = record.get("rs") or "(none)"
    return Line(
        indent, ((f"error: the {what} {record.get('st')}; see raw response {where}", "bold red"),)
    )


def guardrail_lines(name: str, triggered: bool) -> Iterator[Line]:
    """An Agents SDK guardrail the turn ran (its protocol event; see ``guardrails.py``): one
    that tripped failed the turn, which says why at its end."""
    if triggered:
        yield Line(1, ((f"✗ guardrail {name} tripped", "bold red"),))
    else:
        yield Line(1, ((f"✓ guardrail {name} passed", "green"),))


def kind_words(record: Mapping[str, Any]) -> str:
    """An edge's or item's kind as words; a state may lack it (it is read, not required)."""
    kind = record.get("kind")
    return kind.replace("_", " ") if isinstance(kind, str) else "unknown"


def action_label(kind: Any, text: str) -> str:
    """How an item no tool call records is named: its JSON ``type`` when its text is one
    (``local_shell_call``), else its kind."""
    if text.startswith("{"):
        # not JSON, not an object, or nested deeper than Python reads (a state file's)
        with contextlib.suppress(ValueError, AttributeError, RecursionError):
            kind = json.loads(text).get("type") or kind
    return str(kind or "item").replace("_", " ")


def item_text(item: Mapping[str, Any], full: bool) -> str:
    """An item's text as the transcript prints it, cut unless ``full``; one read as words (a
    web search, a tool search: ``hosted_text``) with its JSON under them when ``full``."""
    return clip(with_json(item, full), full)


def with_json(item: Mapping[str, Any], full: bool) -> str:
    """An item's text, and with ``full`` the JSON of one read as words under it, uncut (a
    tool call's arguments and output are cut as a whole)."""
    return (
        str(item["text"]) + "\n" + item["json"] if full and item.get("json") else str(item["text"])
    )


def render_plain(lines: Sequence[Line], out: TextIO) -> None:
    """Plain text: two spaces per level, continuation lines indented under their entry."""
    for line in lines:
        pad = "  " * line.indent
        out.write(pad + visible(line.text).replace("\n", "\n" + pad + "  ") + "\n")


def render_rich(lines: Sequence[Line], console: Any) -> None:
    """Colour and width-aware wrapping through a ``rich.console.Console``: each line wrapped
    to the width its indentation leaves, each piece indented and ending where its text does
    (rich's ``Padding`` filled every line with blanks to the terminal's width, which a
    terminal made narrower afterwards broke in two)."""
    from rich.text import Text

    for line in lines:
        text = Text.assemble(*[(visible(t), s) if s else visible(t) for t, s in line.parts])
        pad = 2 * line.indent
        for piece in text.wrap(console, max(console.width - pad, _MIN_WRAP)):
            piece.rstrip()
            console.print(Text.assemble(" " * pad, piece), soft_wrap=True)


#: What ``show`` says after a tool call's status for an Agents SDK approval (``appr``, from
#: ``approvals.py``): a call left running because its run paused for an approval is waiting,
#: not cut off or lost.
APPROVAL_WORDS: Final = {
    "pending": "waiting for approval",
    "approved": "approved",
    "rejected": "rejected",
}


def approval_segments(tool: Mapping[str, Any]) -> tuple[Segment, ...]:
    """`` · waiting for approval`` (or ``approved``, ``rejected``) after a tool call's
    status, for a call that waited for an Agents SDK approval; nothing for any other."""
    words = APPROVAL_WORDS.get(str(tool.get("appr")))
    if words is None:
        return ()
    return ((" · ", "dim"), (words, "yellow" if tool.get("appr") == "pending" else "cyan"))
