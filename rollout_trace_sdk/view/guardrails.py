"""The Agents SDK guardrails each turn ran, from their protocol events.

The processor records a ``guardrail`` span as the protocol event ``agents_sdk_guardrail``
(``name``, ``triggered``, ``span_id``, and the ``thread_id`` and ``codex_turn_id`` of the
agent's turn it ran in): an event both reducers register and skip, so the reduced state has no
trace of a guardrail that passed (one that tripped fails its turn). The readers (``show``,
the page) take them from here when the bundle is at hand, as they take a turn's error text
(``turn_errors``): nothing is added to what Codex reduces.

The log is scanned as bytes (only the lines of these events are parsed); each one's body is
read from its payload as its line is met, so memory holds what is shown, no list of the log's
events: at most ``item_text.MOST_TEXTS`` guardrails a turn (a turn runs a handful; a log
holding more for one turn is no agent's). An event with no turn id (a bundle recorded before
the processor wrote one) is not shown: its turn cannot be told when agents run at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import orjson

from ..model.layout import EVENT_LOG
from ..reduce.confined import BundleFiles
from ..reduce.errors import ReduceError
from .item_text import MOST_TEXTS
from .turn_errors import protocol_body

#: The event type of a guardrail span.
_GUARDRAIL: Final = "agents_sdk_guardrail"


def protocol_events(bundle: Path, event_type: str) -> Iterator[tuple[int | None, int | None, Any]]:
    """(wall time, seq, payload ref) of each protocol event of ``event_type`` the processor
    recorded, in order (``agent_tools`` reads its links so too). The log is scanned as bytes:
    only the lines naming the type are parsed."""
    marker = orjson.dumps(event_type)
    with BundleFiles(bundle) as files:
        for line in files.iter_lines(EVENT_LOG, what="trace event log"):
            if marker not in line:
                continue
            try:
                event = orjson.loads(line)
                payload = event["payload"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            if (
                isinstance(payload, dict)
                and payload.get("type") == "protocol_event_observed"
                and payload.get("event_type") == event_type
            ):
                wall, seq = event.get("wall_time_unix_ms"), event.get("seq")
                yield _int(wall), _int(seq), payload.get("event_payload")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def annotate_guardrails(state: dict[str, Any], bundle: Path | None) -> None:
    """Give each turn of ``state`` that ran guardrails its ``guardrails``: ``{"name",
    "triggered", "at_unix_ms", "seq", "error", "span_id"}`` in the order they ended (a key
    Codex's state does not have, read by the view model and the exports: the ``guardrails``
    table, the OTLP spans, the Perfetto marks). A log or payload that cannot be read gives
    none."""
    turns = state.get("codex_turns")
    if bundle is None or not isinstance(turns, dict):
        return
    from .payloads import PayloadReader  # here: it opens the bundle's payloads

    reader: PayloadReader | None = None
    try:
        for wall, seq, ref in protocol_events(bundle, _GUARDRAIL):
            if reader is None:  # opened at the first guardrail: most bundles have none
                reader = PayloadReader(bundle)
            body = protocol_body(reader, ref)
            turn_id = body.get("codex_turn_id")  # the agent's JSON: maybe no id at all
            turn = turns.get(turn_id) if isinstance(turn_id, str) else None
            if isinstance(turn, dict):
                shown = turn.get("guardrails")
                if not isinstance(shown, list):  # a state file's own value: ours replaces it
                    shown = turn["guardrails"] = []
                if len(shown) < MOST_TEXTS:
                    shown.append(_guardrail(body, wall, seq, turn.get("error_text")))
    except ReduceError:  # the log (BundleFileError) or the payloads: what was read stays
        return
    finally:
        if reader is not None:
            reader.close()


def _guardrail(
    body: Mapping[str, Any], wall: int | None, seq: int | None, turn_error: Any
) -> dict[str, Any]:
    """One guardrail as the readers take it: the event's line gives when (the guardrail
    span's end: the event is written then) and its place in the log; the body, the agent's
    JSON, the rest (a mistyped field reads as absent). The SDK sets no error on a tripped
    guardrail's span (the tripwire's exception ends the agent's): its error is then its
    turn's (``turn_errors``, read first), when that names it (``Guardrail tripwire
    triggered: NAME``)."""
    name, error, span_id = body.get("name"), body.get("error"), body.get("span_id")
    if (
        not isinstance(error, str)
        and body.get("triggered") is True
        and isinstance(name, str)
        and isinstance(turn_error, str)
        and turn_error.endswith(f": {name}")
    ):
        error = turn_error
    return {
        "name": name if isinstance(name, str) else "guardrail",
        "triggered": body.get("triggered") is True,
        "at_unix_ms": wall,
        "seq": seq,
        "error": error if isinstance(error, str) else None,
        "span_id": span_id if isinstance(span_id, str) else None,
    }
