"""What an event line is charged to ``max_bundle_bytes`` when it is queued, before it is
encoded (schema 3 with ``max_bundle_bytes``; see ``ShardPlan.charge``).

The writer corrects the charge once a chunk's lines are encoded, but only then: an agent that
records faster than the writer runs (or never awaits) queues many lines on the estimate alone,
and the bundle stops at its ceiling only as well as the estimate follows the lines. A flat
estimate did not: an ``inference_started`` names every item of the prompt (a reference of ~80
bytes each), so its line grows with the history, and a long agent under a 3 MB limit wrote a
1 GB log before the ceiling of 19 MB was noticed (found by review). The estimate therefore
counts the template parts an event names, and the inline texts that grow without bound.

The charge and the correction must agree: both call :func:`line_estimate` on the queued
payload (the event object, or its JSON for the classes queued as bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from ..model import events as ev

#: A line without template parts: ~250 to ~700 bytes (the envelope's ids and times, the
#: event's fields and its payload reference).
LINE_ESTIMATE: Final = 400
#: One template part named in a line: ``{"raw_payload_id":"raw_payload:N","kind":{"type":
#: "model_item"},"shard":N}`` and its comma (~80 bytes; ~130 with a capture).
PART_ESTIMATE: Final = 100
#: One ``[input index, "output id"]`` pair of ``stripped_tool_output_ids``.
STRIPPED_ID_ESTIMATE: Final = 40


def _parts(ref: ev.RawPayloadRef | None) -> int:
    """How many parts ``ref`` names, at any depth (each is written in the line)."""
    if ref is None or not ref.parts:
        return 0
    count = len(ref.parts)
    for part in ref.parts:
        if part.parts:
            count += _parts(part)
    return count


def _inference_started(payload: Any) -> int:
    parts = (
        _parts(payload.request_payload)
        + _parts(payload.prepared_prompt_payload)
        + _parts(payload.warmup_context_payload)
    )
    stripped = payload.stripped_tool_output_ids
    extra = STRIPPED_ID_ESTIMATE * len(stripped) if stripped else 0
    return LINE_ESTIMATE + PART_ESTIMATE * parts + extra


def _one_ref(field: str) -> Callable[[Any], int]:
    def estimate(payload: Any) -> int:
        return LINE_ESTIMATE + PART_ESTIMATE * _parts(getattr(payload, field))

    return estimate


def _agent_result(payload: Any) -> int:
    # the child's answer is written inline, whole
    return LINE_ESTIMATE + len(payload.message) + PART_ESTIMATE * _parts(payload.carried_payload)


#: The events whose lines grow with what they name; every other line is ``LINE_ESTIMATE``.
_GROWING: Final[dict[type[Any], Callable[[Any], int]]] = {
    ev.InferenceStartedV3: _inference_started,
    ev.InferenceCompleted: _one_ref("response_payload"),
    ev.InferenceFailed: _one_ref("partial_response_payload"),
    ev.InferenceCancelled: _one_ref("partial_response_payload"),
    ev.CompactionRequestStarted: _one_ref("request_payload"),
    ev.CompactionRequestCompleted: _one_ref("response_payload"),
    ev.CompactionInstalled: _one_ref("checkpoint_payload"),
    ev.AgentResultObserved: _agent_result,
}
# Not here, as their lines do not grow: a tool's result (a template over its one output
# item), a code cell's response, an accepted item (a template over its few content values);
# the hot path of a tool call pays a dictionary miss for each of its events, no more.


def line_estimate(payload: Any) -> int:
    """The bytes charged for the line of a queued event ``payload``: the event object, or
    the JSON of one queued as bytes."""
    estimate = _GROWING.get(payload.__class__)
    if estimate is not None:
        return estimate(payload)
    if payload.__class__ is bytes:
        return LINE_ESTIMATE + len(payload)
    return LINE_ESTIMATE
