"""Why turns failed or were interrupted, from the protocol events that close them.

The reduced state keeps a turn's status but not why (the reducer only registers protocol
events). Codex, and our recorder as Codex does, says it in protocol events around the turn's
``codex_turn_ended``: an ``error`` event (``{"message": ...}``) just before a failed turn's end,
then the closing ``turn_complete`` (``task_complete`` with ``turn_id`` and, for a failed turn,
``error: {message}``) or, for an interrupted one, ``turn_aborted`` (``turn_id``, ``reason``).
Protocol events carry no thread or turn in their envelope, so the closing event is matched by
the ``turn_id`` in its body, and the ``error`` event (kept when the closing one is not
readable: cut by a capture limit, or missing) by where it lies: the last one after the turn
started and before it ended.

The readers (``summary``, ``show``, the page) take the text from here when the bundle is at
hand. The log is scanned as bytes (only the lines of these events are parsed) and only the
payloads of the turns asked about are read: the closing events just after each one's end.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..model.layout import CANCEL_CAUSE_EVENT
from ..reduce.confined import BundleFileError
from ..reduce.errors import ReduceError
from ..reduce.failures import (
    FAILED_STATUSES,
    FAILURE_EVENTS,
    MARKERS,
    failed,
    note_failure,
    put_texts,
)
from .item_text import CAUSE_KEY, MOST_TEXTS, STOPPED, cut, status_of, with_cause
from .protocol_scan import protocol_body, scan_log

if TYPE_CHECKING:
    from .payloads import PayloadReader

#: Lines worth parsing: the turn events and the protocol events that say why a turn ended.
_MARKERS: Final = (
    b'"codex_turn_started"',
    b'"codex_turn_ended"',
    b'"error"',
    b'"turn_complete"',
    b'"turn_aborted"',
    f'"{CANCEL_CAUSE_EVENT}"'.encode(),
)
#: How many closing events after a turn's end are read looking for its own (other threads'
#: turns may end in between).
_LOOKAHEAD: Final = 8


def logged_texts(
    bundle: Path, turns: Collection[str], *, calls: bool = True
) -> tuple[dict[str, str], dict[str, str]]:
    """What the log says went wrong, in one pass over it: the error texts of inference calls
    and compaction requests (``reduce.failures.note_failure``; with ``calls``) by id, and
    why each of ``turns`` ended badly (the ``error.message`` of its ``turn_complete`` event,
    or the ``reason`` of its ``turn_aborted`` event, else the ``message`` of the ``error``
    event just before its end). The readers asked the log twice, once for each (a second
    pass over a large log; review why27).

    Memory stays bounded whatever the log holds: at most ``item_text.MOST_TEXTS`` call
    texts (the first ids in the log's order) and as many of the ``error`` events no turn has
    claimed yet (the latest), each text cut as the view model cuts it; ``turns`` is the
    caller's to bound (``summary`` asks for the first ``MOST_TEXTS``;
    :func:`annotate_logged_errors` for every turn that ended badly, one cut text each). A
    turn claims the latest error left since its start, so keeping the latest ``MOST_TEXTS``
    gives each the error it would have had, unless more turns than that end claiming one
    after another past a run of more errors than that (more agents failing together than
    any rollout runs).

    Returns:
        (inference call or compaction request id → text, turn id → text); what cannot be
        read gives no text.
    """
    reader = LoggedTexts(bundle, turns, calls=calls)
    if not turns and not calls:
        return reader.call_texts, {}
    scan_log(bundle, [reader])
    return reader.call_texts, reader.turn_texts


class LoggedTexts:
    """:func:`logged_texts`'s share of a pass over the log (``protocol_scan``): its results
    are in :attr:`call_texts` and :attr:`turn_texts` once the pass is over. A log or payload
    file that cannot be read (``BundleFileError``) gives the call texts read before it, and
    no turn text."""

    def __init__(
        self, bundle: Path, turns: Collection[str], *, calls: bool, tools: bool = False
    ) -> None:
        self.markers = _MARKERS + MARKERS if calls else _MARKERS
        self.calls = calls
        self.turns = turns
        self.tools = tools
        self.scan = _TurnScan(bundle, turns, tools=tools)
        self.call_texts: dict[str, str] = {}
        self.turn_texts: dict[str, str] = {}
        #: a bundle file could not be read: nothing more is taken
        self.failed = False

    def see(self, number: int, event: Mapping[str, Any], payload: Mapping[str, Any]) -> None:
        if self.failed:
            return
        try:
            if self.calls and payload.get("type") in FAILURE_EVENTS:
                note_failure(self.call_texts, payload, most=MOST_TEXTS, keep=cut)
            elif self.turns or self.tools:
                self.scan.see(number, payload)
        except BundleFileError:
            self.failed = True

    def finish(self, whole: bool) -> None:
        try:
            if whole and not self.failed:
                self.turn_texts = self.scan.finish()
        except BundleFileError:
            self.turn_texts = {}
        finally:
            self.scan.close()


class _TurnScan:
    """The log's turn events and closing protocol events, seen one line at a time: each turn
    asked about is resolved as the closing events after its end go by (their payloads read
    then), so what is held is the turns still waiting for theirs, not every closing event of
    the log (a reference each: 228 MB for a 1M-line log of 222,000 turns; review27)."""

    def __init__(self, bundle: Path, turns: Collection[str], *, tools: bool) -> None:
        self.bundle = bundle
        self.turns = turns
        self.tools = tools
        #: what cancelled each asked turn, as the recorder said it (``cancel_cause``): put
        #: after the turn's ``turn_aborted`` reason (``interrupted (deadline exceeded)``)
        self.causes: dict[str, str] = {}
        #: with ``tools``, what cancelled each tool call (the first ``MOST_TEXTS``)
        self.tool_causes: dict[str, str] = {}
        self.reader: PayloadReader | None = None
        #: the payloads cannot be read: no turn gets a text
        self.unreadable = False
        #: line of each asked turn's ``codex_turn_started``
        self.started: dict[str, int] = {}
        #: (line number, event payload ref) of the latest ``error`` events not claimed: a
        #: turn claims the last one, so those further back than ``MOST_TEXTS`` claims are let
        #: go of (a log of a million errors no turn claimed held them all; polish28)
        self.errors: deque[tuple[int, Any]] = deque(maxlen=MOST_TEXTS)
        #: each ended turn still looking for its closing event: how many closing events it
        #: may still look at, and the ``error`` event it claimed (the last one since it
        #: started, read if its closing event says nothing)
        self.pending: dict[str, tuple[int, Any]] = {}
        self.texts: dict[str, str] = {}

    def see(self, number: int, payload: Mapping[str, Any]) -> None:
        kind = payload.get("type")
        turn = payload.get("codex_turn_id")
        if kind == "codex_turn_started" and isinstance(turn, str) and turn in self.turns:
            self.started[turn] = number
        elif kind == "codex_turn_ended" and isinstance(turn, str) and turn in self.turns:
            since = self.started.get(turn, -1)
            errors = self.errors
            claimed = self.pending[turn][1] if turn in self.pending else None
            if errors and errors[-1][0] > since and payload.get("status") == "failed":
                claimed = errors.pop()[1]
            self.pending[turn] = (_LOOKAHEAD, claimed)
        elif kind == "protocol_event_observed":
            ref = payload.get("event_payload")
            event = payload.get("event_type")
            if event == "error":
                self.errors.append((number, ref))
            elif event == CANCEL_CAUSE_EVENT:
                self._cause(ref)
            elif event in ("turn_complete", "turn_aborted") and self.pending:
                self._closing(ref)

    def _cause(self, ref: Any) -> None:
        """A ``cancel_cause`` event (written just before its turn's or call's end): kept for
        a turn asked about, or a tool call when they are asked about."""
        reader = self._reader()
        if reader is None:
            return
        body = protocol_body(reader, ref)
        cause, tool, turn = body.get("cause"), body.get("tool_call_id"), body.get("turn_id")
        if not isinstance(cause, str) or not cause:
            return
        if isinstance(tool, str):
            held = self.tool_causes
            if self.tools and (tool in held or len(held) < MOST_TEXTS):
                held[tool] = cut(cause)
        elif isinstance(turn, str) and turn in self.turns:
            self.causes[turn] = cut(cause)

    def _closing(self, ref: Any) -> None:
        """One closing event after some turn's end: its own turn's text, and one fewer
        closing event for each other turn waiting (out of them: its claimed error's text)."""
        reader = self._reader()
        if reader is None:
            return
        body = protocol_body(reader, ref)
        own = body.get("turn_id")
        for turn, (left, claimed) in list(self.pending.items()):
            if turn == own:
                text = _closing_text(body)
                if text:
                    cause = self.causes.pop(turn, None)
                    self.texts[turn] = cut(with_cause(text, cause))
                    del self.pending[turn]
                else:
                    self._resolve(turn)
            elif left > 1:
                self.pending[turn] = (left - 1, claimed)
            else:
                self._resolve(turn)

    def _resolve(self, turn: str) -> None:
        """A turn whose closing event says nothing: the message of the ``error`` it claimed."""
        claimed = self.pending.pop(turn)[1]
        reader = self._reader()
        if claimed is None or reader is None:
            return
        message = protocol_body(reader, claimed).get("message")
        if isinstance(message, str) and message:
            self.texts[turn] = cut(message)

    def finish(self) -> dict[str, str]:
        """Each ended turn's text, once the log is read."""
        for turn in list(self.pending):
            self._resolve(turn)
        for turn, cause in self.causes.items():  # no closing event said more
            self.texts.setdefault(turn, cause)
        return {} if self.unreadable else self.texts

    def _reader(self) -> PayloadReader | None:
        if self.reader is None and not self.unreadable:
            from .payloads import PayloadReader  # here: it opens the bundle's payloads

            try:
                self.reader = PayloadReader(self.bundle)
            except ReduceError:
                self.unreadable = True
        return self.reader

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()


def _closing_text(body: Mapping[str, Any]) -> str | None:
    """What a closing event says went wrong: a failed ``task_complete``'s error message, or a
    ``turn_aborted``'s reason."""
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    if body.get("type") == "turn_aborted" and isinstance(body.get("reason"), str):
        return str(body["reason"])
    return None


def ended_badly(state: Mapping[str, Any]) -> list[str]:
    """The ids of the turns the state has failed, cancelled or aborted."""
    turns = state.get("codex_turns")
    return [
        str(turn["codex_turn_id"])
        for turn in (turns.values() if isinstance(turns, Mapping) else ())
        if isinstance(turn, Mapping)
        and isinstance(turn.get("codex_turn_id"), str)
        and isinstance(turn.get("execution"), Mapping)
        and turn["execution"].get("status") in FAILED_STATUSES
    ]


def annotate_logged_errors(state: dict[str, Any], bundle: Path | None) -> None:
    """Give each inference call, compaction request and turn of ``state`` that ended badly
    its ``error_text`` (:func:`logged_texts`: one pass over the log, none when nothing ended
    badly): a key Codex's state does not have, read by the view model and the exports."""
    if bundle is not None:
        scan_log(bundle, [errors_reader(state, bundle)])


def errors_reader(state: dict[str, Any], bundle: Path) -> LoggedErrors | None:
    """:func:`annotate_logged_errors`'s share of a pass over the log (None: nothing ended
    badly, nothing to read)."""
    turns = ended_badly(state)
    calls = failed(state, "inference_calls") or failed(state, "compaction_requests")
    tools = cut_off(state)
    if not turns and not calls and not tools:
        return None
    return LoggedErrors(state, bundle, set(turns), calls=calls, tools=tools)


def cut_off(state: Mapping[str, Any]) -> bool:
    """Whether a tool call of the state was aborted or cancelled (what cancelled it may be
    in the log: ``cancel_cause``)."""
    tools = state.get("tool_calls")
    return any(
        isinstance(tool, Mapping) and status_of(tool) in STOPPED
        for tool in (tools.values() if isinstance(tools, Mapping) else ())
    )


class LoggedErrors(LoggedTexts):
    """:class:`LoggedTexts` that puts its texts in the state once the pass is over."""

    def __init__(
        self,
        state: dict[str, Any],
        bundle: Path,
        turns: Collection[str],
        *,
        calls: bool,
        tools: bool = False,
    ) -> None:
        super().__init__(bundle, turns, calls=calls, tools=tools)
        self.state = state

    def finish(self, whole: bool) -> None:
        super().finish(whole)
        put_texts(self.state, self.call_texts)
        _put_causes(self.state, self.scan.tool_causes)
        by_id = self.state.get("codex_turns")
        for turn_id, text in self.turn_texts.items():
            turn = by_id.get(turn_id) if isinstance(by_id, dict) else None
            if isinstance(turn, dict):
                turn["error_text"] = text


def _put_causes(state: Mapping[str, Any], causes: Mapping[str, str]) -> None:
    """Give the tool calls ``causes`` names what cancelled them (``item_text.CAUSE_KEY``)."""
    tools = state.get("tool_calls")
    for ident, cause in causes.items():
        tool = tools.get(ident) if isinstance(tools, dict) else None
        if isinstance(tool, dict):
            tool[CAUSE_KEY] = cause
