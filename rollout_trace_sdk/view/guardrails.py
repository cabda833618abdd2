"""The Agents SDK guardrails each turn ran, from their protocol events.

The processor records a ``guardrail`` span as the protocol event ``agents_sdk_guardrail``
(``name``, ``triggered``, ``span_id``, and the ``thread_id`` and ``codex_turn_id`` of the
agent's turn it ran in): an event both reducers register and skip, so the reduced state has no
trace of a guardrail that passed (one that tripped fails its turn). The readers (``show``,
the page) take them from here when the bundle is at hand, as they take a turn's error text
(``turn_errors``): nothing is added to what Codex reduces.

The log is scanned as bytes (only the lines of these events are parsed); each one's body is
read from its payload. An event with no turn id (a bundle recorded before the processor wrote
one) is not shown: its turn cannot be told when agents run at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import orjson

from ..model.layout import EVENT_LOG
from ..reduce.confined import BundleFileError, BundleFiles
from ..reduce.errors import ReduceError
from .turn_errors import protocol_body

#: The event type of a guardrail span, as its line spells it.
_MARKER: Final = b'"agents_sdk_guardrail"'


def _events(bundle: Path) -> list[tuple[int | None, Any]]:
    """(wall time, payload ref) of each ``agents_sdk_guardrail`` protocol event, in order."""
    found: list[tuple[int | None, Any]] = []
    with BundleFiles(bundle) as files:
        for line in files.iter_lines(EVENT_LOG, what="trace event log"):
            if _MARKER not in line:
                continue
            try:
                event = orjson.loads(line)
                payload = event["payload"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            if (
                isinstance(payload, dict)
                and payload.get("type") == "protocol_event_observed"
                and payload.get("event_type") == "agents_sdk_guardrail"
            ):
                wall = event.get("wall_time_unix_ms")
                found.append(
                    (wall if isinstance(wall, int) else None, payload.get("event_payload"))
                )
    return found


def annotate_guardrails(state: dict[str, Any], bundle: Path | None) -> None:
    """Give each turn of ``state`` that ran guardrails its ``guardrails``: ``{"name",
    "triggered", "at_unix_ms"}`` in the order they ended (a key Codex's state does not have,
    read by the view model). A log or payload that cannot be read gives none."""
    turns = state.get("codex_turns")
    if bundle is None or not isinstance(turns, dict):
        return
    try:
        events = _events(bundle)
    except BundleFileError:
        return
    if not events:
        return
    from .payloads import PayloadReader  # here: it opens the bundle's payloads

    try:
        reader = PayloadReader(bundle)
    except ReduceError:
        return
    try:
        for wall, ref in events:
            body = protocol_body(reader, ref)
            turn_id = body.get("codex_turn_id")  # the agent's JSON: maybe no id at all
            turn = turns.get(turn_id) if isinstance(turn_id, str) else None
            if isinstance(turn, dict):
                turn.setdefault("guardrails", []).append(_guardrail(body, wall))
    finally:
        reader.close()


def _guardrail(body: Mapping[str, Any], wall: int | None) -> dict[str, Any]:
    name = body.get("name")
    return {
        "name": name if isinstance(name, str) else "guardrail",
        "triggered": body.get("triggered") is True,
        "at_unix_ms": wall,
    }
