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
    """Readable text in an item's body: a message's ``input_text`` / ``output_text``, a reasoning
    item's text, a tool output given as a string (reducer.md 4)."""

    TYPE: ClassVar[str] = "text"
    text: str


@attrs.frozen
class SummaryPart(TaggedNode):
    """A reasoning item's summary (its ``summary_text`` entries), kept apart from its full text so
    that a later copy with only one of them merges with it (reducer.md 5.4)."""

    TYPE: ClassVar[str] = "summary"
    text: str


@attrs.frozen
class EncodedPart(TaggedNode):
    """A value named by ``label``: a reasoning item's or a compaction's ``encrypted_content``
    (opaque), or a message between agents' (the text delivered to the agent: a spawn's task,
    as Codex writes it). Two reasoning items with the same encoded part are one item
    (reducer.md 5.1)."""

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
    """Source code in a body: the JavaScript of code mode's ``exec`` custom tool call (``language``
    ``javascript``; reducer.md 4)."""

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
    """Who sent an ``agent_message`` item and to whom (agent paths): a message between agents
    (reducer.md 4; v2.md 6.2). The item's ``agent_message`` key, left out on other items."""

    author: str
    recipient: str

    def to_json(self) -> dict[str, Any]:
        """The meta as Codex writes it.

        Returns:
            ``{"author": ..., "recipient": ...}``.
        """
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
        """The producer as Codex's tagged ``ProducerRef``.

        Returns:
            ``{"type": TYPE}``, and the producer's id under its own key (``inference_call_id``,
            ``tool_call_id``, ...) for the types that have one.
        """
        field = _PRODUCER_FIELD.get(self.type)
        if field is None:
            return {"type": self.type}
        return {"type": self.type, field: self.id}


@attrs.define(slots=True, kw_only=True)
class ConversationItem:
    """One item of a thread's conversation (``conversation_item:N``): a message, reasoning, a tool
    call or its output, or a compaction marker. Normalised from the model items of requests,
    responses and checkpoints, and the same item when the model sees it again (reducer.md 4-5;
    v2.md 3.2). ``responses_item_id`` is the model item's own ``id``; ``accepted_*`` say when
    Codex put it in the thread's history."""

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
        """The item as Codex writes it.

        Returns:
            Its keys in Codex's order, unset ``responses_item_id``, ``accepted_*`` and
            ``agent_message`` left out, the body as ``{"parts": [...]}``.
        """
        out = node_json(self)
        out["body"] = {"parts": out["body"]}
        return out
