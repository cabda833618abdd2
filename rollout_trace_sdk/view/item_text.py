"""What a reduced state's items and tool calls read as, for people: an item's body as text,
a tool call's name, the items a call lists in its own thread, long text cut with a note of
what was left out. The view model (``model``), ``show`` and ``summary``, the payload pages
and the exports all say these the same way, so each is said here once.

Like the view model, it reads the state as plain JSON values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from ..reduce.failures import FAILED_STATUSES
from .capture import ref_text, unavailable_notes

#: Longest item text kept in the model; the rest is one click away in the raw payload.
MAX_ITEM_TEXT: Final = 20_000
#: The most error texts the readers keep of one bundle, of each kind (inference calls and
#: compaction requests, turns, tool calls), each cut at :data:`MAX_ITEM_TEXT` as it is read:
#: a hostile or huge bundle's thousands of failures hold megabytes, not gigabytes (the first
#: ones in the state's or the log's order; the rest read "no error text").
MOST_TEXTS: Final = 1_000

_Obj = Mapping[str, Any]


def parts_text(
    parts: Any,
    *,
    summaries: bool = True,
    notes: Mapping[str, str] | None = None,
    limit: int | None = MAX_ITEM_TEXT,
    delivered: bool = False,
) -> str:
    """An item's body as display text: text and summaries, JSON summaries, code, labels; a
    part a capture limit cut or left out says so (``notes``: ``capture.capture_notes``).
    Cut at ``limit`` characters (``None``: whole, for the exports, which cut by bytes).

    ``delivered``: the body is an agent message's, whose ``encrypted_content`` is the text
    delivered to the agent (the task a spawn gave it, as Codex writes it and both reducers
    match it against the spawn's ``message``), shown as text; elsewhere (reasoning, a
    compaction) it is an opaque blob, shown by its label."""
    notes = notes or {}
    if isinstance(parts, Mapping):
        parts = parts.get("parts")
    if not isinstance(parts, list):
        return ""
    out: list[str] = []
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "text" or (kind == "summary" and summaries):
            out.append(str(part.get("text", "")))
        elif kind == "json":
            summary = str(part.get("summary", ""))
            out.append(summary + unavailable_notes(summary, notes))
        elif kind == "code":
            out.append(str(part.get("source", "")))
        elif kind == "encoded" and delivered and isinstance(part.get("value"), str):
            add_delivered(out, part["value"])
        elif kind == "encoded":
            out.append(f"[{part.get('label', 'encoded')}]")
        elif kind == "payload_ref":
            out.append(ref_text(part, notes))
    text = "\n".join(p for p in out if p)
    return text if limit is None else cut(text, limit)


def payload_of(body: Any) -> str | None:
    """The raw payload an item's body refers to first (a part a capture limit left out, an
    image's), if any: the page links the item to it."""
    parts = body.get("parts") if isinstance(body, Mapping) else None
    for part in parts if isinstance(parts, list) else ():
        if isinstance(part, Mapping) and isinstance(part.get("raw_payload_id"), str):
            return str(part["raw_payload_id"])
    return None


def delivers(item: Mapping[str, Any] | None) -> bool:
    """Whether a conversation item (the state's JSON) is a message between agents, whose
    body's ``encrypted_content`` is the text delivered to the agent (``parts_text``'s
    ``delivered``): it carries ``agent_message`` metadata."""
    return item is not None and isinstance(item.get("agent_message"), Mapping)


def add_delivered(texts: list[str], value: str) -> None:
    """Add an agent message's delivered text (its ``encrypted_content``) to the texts of its
    body: right after the envelope's ``Payload:`` line, as an answer's text reads there (the
    exports join a body's texts the same way)."""
    if texts and texts[-1].endswith("\n"):
        texts[-1] += value
    else:
        texts.append(value)


#: The key a tool call gets in the state (Codex's has none) when the recorder said what
#: cancelled it (``turn_errors``, from the ``cancel_cause`` protocol event).
CAUSE_KEY: Final = "cancel_cause"
#: The statuses a tool call ends with when something stopped it rather than its own error
#: (an interrupted turn aborts the calls it was running).
STOPPED: Final = frozenset({"aborted", "cancelled"})


def with_cause(text: str, cause: str | None) -> str:
    """A turn's closing text with what cancelled it after it, ``interrupted (deadline
    exceeded)``: the form :func:`stopped_text` reads back for the calls the turn cut off
    (``turn_errors`` writes it)."""
    return f"{text} ({cause})" if cause else text


def stopped_text(status: Any, turn_status: Any, turn_text: Any, cause: Any = None) -> str | None:
    """What happened to a tool call aborted or cancelled with no error text of its own: its
    status, and how its turn ended when that ended badly too: ``aborted: its turn was
    interrupted`` (an interrupted turn's ``turn_aborted`` reason), ``aborted: its turn
    failed: <its error's first line>``, ``aborted: its turn was cancelled`` (no text: a state
    file alone); a code cell its turn's end terminated, ``cancelled: its turn was
    interrupted``. None for any other status: a failed call with no text says none was
    recorded. ``show``, ``summary``, the page (the view model's ``stop``, from
    :func:`what_stopped`) and the exports say it through here.

    Args:
        status: the tool call's status.
        turn_status: the status of the turn that started it (None: not known).
        turn_text: why that turn ended (``turn_errors``; None: not known), with what
            cancelled it when the recorder said (``interrupted (deadline exceeded)``).
        cause: what cancelled the call itself (its own ``cancel_cause``), said when its turn
            went on (a deadline of its own: ``aborted: deadline exceeded``); a turn that
            ended badly too says more (``aborted: its turn was interrupted (deadline
            exceeded)``).
    """
    if status not in STOPPED:
        return None
    if turn_status not in FAILED_STATUSES:
        return f"{status}: {cause}" if isinstance(cause, str) and cause else str(status)
    line = first_line(turn_text if isinstance(turn_text, str) else "")
    # a turn_aborted reason (interrupted, replaced), with what cancelled the turn after it
    # (``with_cause``)
    reason = re.fullmatch(r"([a-z_]+)( \(.*\))?", line)
    if reason:
        return f"{status}: its turn was {reason[1].replace('_', ' ')}{reason[2] or ''}"
    said = "failed" if turn_status == "failed" else f"was {turn_status}"
    return f"{status}: its turn {said}" + (f": {line}" if line else "")


def first_line(text: str, most: int | None = None) -> str:
    """The first line of ``text`` that says something, stripped ("" when none), cut to
    ``most`` characters ending ``…``: what a failure's one-line form, a cell's row (as the
    page's ``firstLine`` splits it: at ``\n``) and an aborted call's turn reason read."""
    line = next((row.strip() for row in text.split("\n") if row.strip()), "")
    return line if most is None or len(line) <= most else line[: most - 1] + "…"


def summary_text(parts: Any) -> str:
    """Reasoning summaries only (shown apart from the raw reasoning text)."""
    if isinstance(parts, Mapping):
        parts = parts.get("parts")
    if not isinstance(parts, list):
        return ""
    return cut(
        "\n".join(
            str(p.get("text", ""))
            for p in parts
            if isinstance(p, Mapping) and p.get("type") == "summary"
        )
    )


def tool_name(tool: _Obj) -> str:
    """A tool call's name as people say it: ``exec_command``, ``mcp server/tool``, the name of
    an ``other`` tool, or a generic summary's label."""
    kind = tool.get("kind")
    tag = str(kind.get("type", "?")) if isinstance(kind, Mapping) else str(kind)
    if isinstance(kind, Mapping) and tag == "mcp":
        named = [str(kind[key]) for key in ("server", "tool") if kind.get(key) is not None]
        return "/".join(named) or tag
    if isinstance(kind, Mapping) and tag == "other" and kind.get("name"):
        return str(kind["name"])
    return tag


def own_item_ids(tool: _Obj, key: str, items: Any) -> list[str]:
    """The ids a tool call lists under ``key`` (``model_visible_call_item_ids``,
    ``model_visible_output_item_ids``) of items in the call's own thread. A spawn that copies
    the history into the child (``fork_turns``) lists the child's copies of the call and its
    output there too (the copy of the output reads "aborted"): the child's items, not what
    this call was given or gave. All of them when none is known to be in its thread.

    Args:
        tool: the tool call, as the state has it.
        key: which of its item lists.
        items: the state's ``conversation_items`` by id.

    Returns:
        The item ids, in the state's order.
    """
    ids = [i for i in tool.get(key) or () if isinstance(i, str)]
    if not isinstance(items, Mapping):
        return ids
    thread = tool.get("thread_id")
    own = [
        i for i in ids if isinstance(items.get(i), Mapping) and items[i].get("thread_id") == thread
    ]
    return own or ids


def distinct_texts(texts: Iterable[Any]) -> str:
    """The texts that say something, each once, one under another: how a failed tool call's
    error reads (``show_format.tool_error_text``, :func:`failed_tool_text`)."""
    parts: list[str] = []
    for text in texts:
        if isinstance(text, str) and text and text not in parts:
            parts.append(text)
    return "\n".join(parts)


def failed_tool_text(state: _Obj, tool: _Obj, notes: Mapping[str, str] | None = None) -> str | None:
    """A failed tool call's error as ``show`` prints it (``show_format.tool_error_text``,
    from the view model; here from the state, for the exports): its output items as the
    model saw them, Codex's output preview, an answer no request carried (``result_text``),
    its terminal's stderr and the ``error_text`` of its raw result (both keys put in by
    ``payloads.annotate_tool_errors``), each cut as the view model cuts it; with none, what
    stopped an aborted or cancelled call (:func:`stopped_text`). None when nothing is said.

    Args:
        state: the reduced state as plain JSON values.
        tool: one of its tool calls.
        notes: what capture limits cut (``capture.capture_notes``), said in the items' text.
    """
    items = state.get("conversation_items")
    items = items if isinstance(items, Mapping) else {}
    texts: list[Any] = []
    for ident in own_item_ids(tool, "model_visible_output_item_ids", items):
        item = items.get(ident)
        if isinstance(item, Mapping):
            texts.append(
                parts_text(
                    item.get("body"),
                    summaries=item.get("kind") != "reasoning",
                    notes=notes,
                    delivered=delivers(item),
                )
            )
    summary = tool.get("summary")
    texts.append(clip(summary.get("output_preview")) if isinstance(summary, Mapping) else None)
    texts.append(clip(tool.get("result_text")))
    ops = state.get("terminal_operations")
    op = ops.get(tool.get("terminal_operation_id")) if isinstance(ops, Mapping) else None
    result = op.get("result") if isinstance(op, Mapping) else None
    texts.append(clip(result.get("stderr")) if isinstance(result, Mapping) else None)
    texts.append(clip(tool.get("error_text")))
    return distinct_texts(texts) or what_stopped(state, tool, ending_turn_id(state, tool))


def what_stopped(state: _Obj, obj: _Obj, turn_id: Any) -> str | None:
    """:func:`stopped_text` of a tool call or code cell of ``state``, by the turn it ended in
    (``turn_id``: a tool call's :func:`ending_turn_id`, a cell's ``codex_turn_id``) and why
    that turn ended (its ``error_text``, put in by ``turn_errors``). The view model
    carries it (``stop``) to ``show`` and the page; the exports say it through here."""
    turns = state.get("codex_turns")
    turn = turns.get(turn_id) if isinstance(turns, Mapping) and isinstance(turn_id, str) else None
    turn = turn if isinstance(turn, Mapping) else {}
    return stopped_text(
        status_of(obj), status_of(turn), clip(turn.get("error_text")), obj.get(CAUSE_KEY)
    )


def ending_turn_id(state: _Obj, tool: _Obj) -> Any:
    """The id of the turn a tool call ended in, whose end says what stopped it: the turn that
    started it, unless the call ended after that turn's end in a later turn of its thread
    (kept past its turn and run there, as an Agents SDK run paused for an approval and
    resumed does: ``ToolCall.outlive_turn`` / ``resume_in``), then that turn. A call that
    ended after every turn (cut off with its thread) or a code cell's call (ended with its
    cell, after the turn) keeps the turn that started it. By the log's sequence numbers,
    which order the state's events whatever the clock."""
    started = tool.get("started_by_codex_turn_id")
    turns, end = state.get("codex_turns"), _seqs(tool)[1]
    requester = tool.get("requester")
    if (
        not isinstance(turns, Mapping)
        or end is None
        or (isinstance(requester, Mapping) and requester.get("type") == "code_cell")
    ):
        return started
    turn = turns.get(started) if isinstance(started, str) else None
    if not isinstance(turn, Mapping) or not _after(end, _seqs(turn)[1]):
        return started
    for turn_id, other in turns.items():  # only for a call that outlived its turn
        first, last = _seqs(other) if isinstance(other, Mapping) else (None, None)
        if (
            other.get("thread_id") == tool.get("thread_id")
            and first is not None
            and first < end
            and not _after(end, last)
        ):
            return turn_id
    return started


def _seqs(obj: _Obj) -> tuple[int | None, int | None]:
    """An object's ``started_seq`` and ``ended_seq`` (None: missing or not a number)."""
    execution = obj.get("execution")
    execution = execution if isinstance(execution, Mapping) else {}
    return _seq(execution.get("started_seq")), _seq(execution.get("ended_seq"))


def _seq(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _after(seq: int, end: int | None) -> bool:
    """Whether ``seq`` comes after ``end`` (None: not ended, so nothing comes after)."""
    return end is not None and seq > end


def status_of(obj: _Obj) -> Any:
    """A record's ``execution.status`` (None when it has none)."""
    execution = obj.get("execution")
    return execution.get("status") if isinstance(execution, Mapping) else None


def clip(value: Any) -> Any:
    """Text cut as :func:`cut` cuts it; anything else as it is."""
    return cut(value) if isinstance(value, str) else value


def cut(text: str, limit: int = MAX_ITEM_TEXT) -> str:
    """Text cut to ``limit`` characters, saying how much was left out (the raw payload has
    it all). Every text the model keeps goes through here: one 4 MB command or reasoning
    summary must not make the page (or ``show``) carry 4 MB. A text this cut already is
    left as it is (the error texts are cut as they are read, then again where shown: the
    note keeps the count of the whole text)."""
    if len(text) > limit and not _CUT_NOTE.fullmatch(text, limit):
        return text[:limit] + f"\n… ({len(text) - limit:,} more characters)"
    return text


#: What :func:`cut` appends.
_CUT_NOTE: Final = re.compile(r"\n… \([0-9,]+ more characters\)")
