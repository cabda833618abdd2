"""Event lines in bulk, byte-identical to :func:`rollout_trace_sdk.model.codec.event_line`.

The codec goes through cattrs' dispatch twice per event (envelope, then the payload union);
here each payload class's generated unstructure function is looked up once and the envelope
dict is built inline, so one line costs one small dict plus one ``orjson.dumps``. The bytes are
the same because the dict is the same: same keys, same order, same values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson

from ..model import codec
from ..model import events as ev

_LINE: Final = orjson.OPT_APPEND_NEWLINE
_SCHEMA: Final = ev.SCHEMA_VERSION

_HOOKS: Final[dict[type[Any], Callable[[Any], dict[str, Any]]]] = {
    cls: codec.converter.get_unstructure_hook(cls) for cls in ev.EVENT_TYPES.values()
}

#: Payload classes holding mutable values (lists, arbitrary JSON): they are turned into dicts at
#: call time, since the caller may change them after recording. Every other payload class is
#: frozen and holds only strings, numbers and frozen objects, so it can be encoded later.
MUTABLE_PAYLOADS: Final[frozenset[type[Any]]] = frozenset({ev.Other})

#: A queued event: (seq, wall_time_unix_ms, thread_id, codex_turn_id, payload object or dict).
QueuedEvent = tuple[int, int, "str | None", "str | None", Any]


def payload_dict(payload: ev.EventPayload) -> dict[str, Any]:
    """The payload's JSON object, exactly as the codec builds it."""
    return _HOOKS[payload.__class__](payload)


def encode_line(rollout_id: str, item: QueuedEvent) -> bytes:
    seq, wall, thread_id, turn_id, payload = item
    body = payload if payload.__class__ is dict else _HOOKS[payload.__class__](payload)
    return orjson.dumps(
        {
            "schema_version": _SCHEMA,
            "seq": seq,
            "wall_time_unix_ms": wall,
            "rollout_id": rollout_id,
            "thread_id": thread_id,
            "codex_turn_id": turn_id,
            "payload": body,
        },
        option=_LINE,
    )
