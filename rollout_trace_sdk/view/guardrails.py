"""The Agents SDK guardrails each turn ran, from their protocol events.

The processor records a ``guardrail`` span as the protocol event ``agents_sdk_guardrail``
(``name``, ``triggered``, ``span_id``, and the ``thread_id`` and ``codex_turn_id`` of the
agent's turn it ran in): an event both reducers register and skip, so the reduced state has no
trace of a guardrail that passed (one that tripped fails its turn). The readers (``show``,
the page) take them from here when the bundle is at hand, as they take a turn's error text
(``turn_errors``): nothing is added to what Codex reduces.

The log is scanned as bytes (only the lines of these events are parsed, in the one pass of
``protocol_scan`` the other readers share); each one's body is read from its payload as its
line is met, so memory holds what is shown, no list of the log's
events: at most ``item_text.MOST_TEXTS`` guardrails a turn (a turn runs a handful; a log
holding more for one turn is no agent's). An event with no turn id (a bundle recorded before
the processor wrote one) is not shown: its turn cannot be told when agents run at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from .item_text import MOST_TEXTS
from .protocol_scan import ProtocolEvents, scan_log

#: The event type of a guardrail span.
_GUARDRAIL: Final = "agents_sdk_guardrail"


def annotate_guardrails(state: dict[str, Any], bundle: Path | None) -> None:
    """Give each turn of ``state`` that ran guardrails its ``guardrails``: ``{"name",
    "triggered", "at_unix_ms", "seq", "error", "span_id"}`` in the order they ended (a key
    Codex's state does not have, read by the view model and the exports: the ``guardrails``
    table, the OTLP spans, the Perfetto marks). A log or payload that cannot be read gives
    none. A pass over the log of its own: ``load.annotate_from_log`` reads it once for
    every reader."""
    if bundle is not None:
        scan_log(bundle, [guardrails_reader(state, bundle)])


def guardrails_reader(state: dict[str, Any], bundle: Path | None) -> Guardrails | None:
    """:func:`annotate_guardrails`'s share of a pass over the log (None: nothing to read)."""
    turns = state.get("codex_turns")
    if bundle is None or not isinstance(turns, dict):
        return None
    return Guardrails(bundle, turns)


class Guardrails(ProtocolEvents):
    """The guardrail events, put in their turns as their lines go by. A tripped guardrail
    with no error of its own takes its turn's (see :func:`_guardrail`) once the pass is over:
    the turn's error text is read from the closing events after its end
    (``turn_errors``, finished first)."""

    def __init__(self, bundle: Path, turns: dict[str, Any]) -> None:
        super().__init__(bundle, _GUARDRAIL)
        self.turns = turns
        #: (guardrail, its turn, its name) of each tripped guardrail with no error of its own
        self.untold: list[tuple[dict[str, Any], dict[str, Any], str]] = []

    def take(self, wall: int | None, seq: int | None, body: Mapping[str, Any]) -> None:
        turn_id = body.get("codex_turn_id")  # the agent's JSON: maybe no id at all
        turn = self.turns.get(turn_id) if isinstance(turn_id, str) else None
        if not isinstance(turn, dict):
            return
        shown = turn.get("guardrails")
        if not isinstance(shown, list):  # a state file's own value: ours replaces it
            shown = turn["guardrails"] = []
        if len(shown) < MOST_TEXTS:
            guardrail = _guardrail(body, wall, seq)
            shown.append(guardrail)
            name = body.get("name")
            if guardrail["error"] is None and guardrail["triggered"] and isinstance(name, str):
                self.untold.append((guardrail, turn, name))

    def finish(self, whole: bool) -> None:
        super().finish(whole)
        for guardrail, turn, name in self.untold:
            error = turn.get("error_text")
            if isinstance(error, str) and error.endswith(f": {name}"):
                guardrail["error"] = error
        self.untold.clear()


def _guardrail(body: Mapping[str, Any], wall: int | None, seq: int | None) -> dict[str, Any]:
    """One guardrail as the readers take it: the event's line gives when (the guardrail
    span's end: the event is written then) and its place in the log; the body, the agent's
    JSON, the rest (a mistyped field reads as absent). The SDK sets no error on a tripped
    guardrail's span (the tripwire's exception ends the agent's): its error is then its
    turn's (``turn_errors``, read first), when that names it (``Guardrail tripwire
    triggered: NAME``): :meth:`Guardrails.finish` puts it in."""
    name, error, span_id = body.get("name"), body.get("error"), body.get("span_id")
    return {
        "name": name if isinstance(name, str) else "guardrail",
        "triggered": body.get("triggered") is True,
        "at_unix_ms": wall,
        "seq": seq,
        "error": error if isinstance(error, str) else None,
        "span_id": span_id if isinstance(span_id, str) else None,
    }
