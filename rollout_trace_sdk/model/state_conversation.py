"""The reduced state's conversation: items, the parts of their bodies, and who produced them
(../shared/spec/format.md 5: ConversationItem, ConversationPart, ProducerRef; v2.md 3.2-3.4).
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, Literal, TypeAlias

import attrs

from ._state_node import TaggedNode, node_json

ConversationRole: TypeAlias = Literal["system", "developer", "user", "assistant", "tool"]
ConversationChannel: TypeAlias = Literal["analysis", "commentary", "final", "summary"]
ConversationItemKind: TypeAlias = Literal[
    "message",
    "reasoning",
    "function_call",
    "function_call_output",
    "custom_tool_call",
    "custom_tool_call_output",
    "compaction_marker",
]

# --- conversation parts --------------------------------------------------------------------------


@attrs.frozen
class TextPart(TaggedNode):
    TYPE: ClassVar[str] = "text"
    text: str


@attrs.frozen
class SummaryPart(TaggedNode):
    TYPE: ClassVar[str] = "summary"
    text: str


@attrs.frozen
class EncodedPart(TaggedNode):
    TYPE: ClassVar[str] = "encoded"
    label: str
    value: str


@attrs.frozen
class JsonPart(TaggedNode):
    """A JSON value shown as a cut-down summary; the payload holds the full value."""

    TYPE: ClassVar[str] = "json"
    summary: str
    raw_payload_id: str


@attrs.frozen
class CodePart(TaggedNode):
    TYPE: ClassVar[str] = "code"
    language: str
    source: str


@attrs.frozen
class PayloadRefPart(TaggedNode):
    """Content we do not inline (images, unknown element types); the hash, when present,
    is what makes one image in two request payloads the same part."""

    TYPE: ClassVar[str] = "payload_ref"
    _OMIT_NONE: ClassVar[frozenset[str]] = frozenset({"content_sha256"})
    label: str
    raw_payload_id: str
    content_sha256: str | None = None


ConversationPart: TypeAlias = (
    TextPart | SummaryPart | EncodedPart | JsonPart | CodePart | PayloadRefPart
)


@attrs.frozen
class AgentMessageMeta:
    author: str
    recipient: str

    def to_json(self) -> dict[str, Any]:
        return {"author": self.author, "recipient": self.recipient}


# --- producers and anchors -----------------------------------------------------------------------

ProducerType: TypeAlias = Literal[
    "user_input", "inference", "tool", "code_cell", "interaction_edge", "compaction", "harness"
]
_PRODUCER_FIELD: Final[dict[str, str]] = {
    "inference": "inference_call_id",
    "tool": "tool_call_id",
    "code_cell": "code_cell_id",
    "interaction_edge": "edge_id",
    "compaction": "compaction_id",
}


@attrs.frozen
class Producer:
    """Who put an item into the conversation (``ProducerRef``)."""

    type: ProducerType
    id: str | None = None

    def to_json(self) -> dict[str, Any]:
        field = _PRODUCER_FIELD.get(self.type)
        if field is None:
            return {"type": self.type}
        return {"type": self.type, field: self.id}


@attrs.define(slots=True, kw_only=True)
class ConversationItem:
    _OMIT_NONE: ClassVar[frozenset[str]] = frozenset(
        {"responses_item_id", "accepted_at_unix_ms", "accepted_seq", "agent_message"}
    )

    item_id: str
    responses_item_id: str | None = None
    accepted_at_unix_ms: int | None = None
    accepted_seq: int | None = None
    thread_id: str
    codex_turn_id: str | None
    first_seen_at_unix_ms: int
    role: ConversationRole
    channel: ConversationChannel | None
    kind: ConversationItemKind
    agent_message: AgentMessageMeta | None = None
    body: list[ConversationPart]
    call_id: str | None
    produced_by: list[Producer] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        out = node_json(self)
        out["body"] = {"parts": out["body"]}
        return out
