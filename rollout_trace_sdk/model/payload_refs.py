"""Payload references: how an event points at a payload, and what the recorder kept of it.

Every event that carries a body (a request, a response, a tool's invocation, a protocol event)
carries a ``RawPayloadRef`` to it, never the body itself (../shared/spec/format.md 1.5). Schema 2
names a ``payloads/N.json`` file; schema 3 a zstd shard, with capture metadata when a size
limit cut the body and template parts when the body was split (v3.md 2, 4, 6). Both the event
modules and the reduced state (``raw_payloads``) use these classes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final, Literal, TypeAlias

import attrs

SCHEMA_VERSION: Final = 2
SCHEMA_VERSION_V3: Final = 3
PayloadKind: TypeAlias = Literal[
    "inference_request",
    "prepared_prompt",
    "model_item",
    "content_value",
    "warmup_context",
    "inference_response",
    "compaction_request",
    "compaction_checkpoint",
    "compaction_response",
    "tool_invocation",
    "tool_result",
    "tool_runtime_event",
    "terminal_runtime_event",
    "protocol_event",
    "session_metadata",
    "agent_result",
]
#: Schema 3's kinds, in its parser's order.
PAYLOAD_KINDS_V3: Final[tuple[str, ...]] = PayloadKind.__args__  # type: ignore[attr-defined]
_NEW_IN_V3: Final = frozenset({"prepared_prompt", "model_item", "content_value", "warmup_context"})
#: Schema 2's kinds, in its parser's order.
PAYLOAD_KINDS: Final[tuple[str, ...]] = tuple(k for k in PAYLOAD_KINDS_V3 if k not in _NEW_IN_V3)

CaptureStatus: TypeAlias = Literal["complete", "truncated", "omitted"]
CAPTURE_STATUSES: Final[tuple[str, ...]] = CaptureStatus.__args__  # type: ignore[attr-defined]


def payload_kinds(schema: int) -> tuple[str, ...]:
    """The payload kinds ``schema`` accepts, in its parser's order."""
    return PAYLOAD_KINDS_V3 if schema == SCHEMA_VERSION_V3 else PAYLOAD_KINDS


@attrs.frozen
class PayloadCapture:
    """Schema 3: how much of a payload was kept when the recorder had size limits.

    Only partial captures are represented; a complete capture is ``None`` on the reference
    (Codex omits it when writing and drops an explicit ``complete`` when reducing)."""

    status: Literal["truncated", "omitted"]
    original_bytes: int
    #: only for ``truncated``: the stored body is the first ``retained_bytes`` bytes
    retained_bytes: int | None = None


@attrs.frozen
class RawPayloadRef:
    """Where an event's payload is stored.

    Schema 2: ``path`` names ``payloads/N.json`` (on disk before the event is). Schema 3:
    ``shard`` names the zstd shard holding the record (None = not stored, see ``capture``),
    ``capture`` says whether the body was cut, and ``parts`` makes the body a template whose
    gaps are filled with these payloads' texts. ``path`` is empty in schema 3; the schema is
    the bundle's, so a reference never needs to say which one it follows."""

    raw_payload_id: str
    kind: PayloadKind
    path: str = ""
    shard: int | None = None
    capture: PayloadCapture | None = None
    parts: tuple[RawPayloadRef, ...] = ()

    @property
    def available(self) -> bool:
        """Schema 3: the full body is stored (not truncated, not omitted)."""
        return self.capture is None

    def walk(self) -> Iterator[RawPayloadRef]:
        """This reference and its template parts, depth first: each is registered in the
        state's ``raw_payloads`` (v3.md 2).

        Returns:
            Every reference of the tree, this one first.
        """
        yield self
        for part in self.parts:
            yield from part.walk()

    def unkept_parts(self) -> frozenset[str]:
        """Schema 3: the ids of this template's parts, at any depth, whose body the recorder
        cut or left out: where the spliced body holds ``{"$trace_unavailable": id}`` for them.
        Codex 0.171 reads that placeholder as such only for these ids (elsewhere it is
        ordinary JSON).

        Returns:
            The ids, empty when every part was kept.
        """
        return frozenset(
            part.raw_payload_id for top in self.parts for part in top.walk() if not part.available
        )


def ref_to_dict(ref: RawPayloadRef) -> dict[str, Any]:
    """Schema 2's reference, as Codex writes it in events and in ``raw_payloads``."""
    return {"raw_payload_id": ref.raw_payload_id, "kind": {"type": ref.kind}, "path": ref.path}


def capture_to_dict(capture: PayloadCapture) -> dict[str, Any]:
    """A schema-3 ref's ``capture`` as Codex writes it: an omitted payload has no retained
    size, a truncated one has both sizes (v3.md, capture metadata)."""
    if capture.status == "omitted":
        return {"status": "omitted", "original_bytes": capture.original_bytes}
    return {
        "status": "truncated",
        "original_bytes": capture.original_bytes,
        "retained_bytes": capture.retained_bytes,
    }


def ref_to_dict_v3(ref: RawPayloadRef) -> dict[str, Any]:
    """Schema 3's reference, as Codex writes it in events and in ``raw_payloads``."""
    out: dict[str, Any] = {
        "raw_payload_id": ref.raw_payload_id,
        "kind": {"type": ref.kind},
        "shard": ref.shard,
    }
    if ref.capture is not None:
        out["capture"] = capture_to_dict(ref.capture)
    if ref.parts:
        out["parts"] = [ref_to_dict_v3(part) for part in ref.parts]
    return out
