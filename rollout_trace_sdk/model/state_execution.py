"""The reduced state's execution: threads and their origin, turns, inference calls and their
token usage, compactions, and the interaction edges between agents (../shared/spec/format.md 5;
v2.md 3.1; v3.md 8), with the execution window they all share.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, Literal, TypeAlias

import attrs

from ._state_node import Node, TaggedNode, node_json
from .thread_events import ExecutionStatus

InteractionEdgeKind: TypeAlias = Literal[
    "spawn_agent", "assign_agent_task", "send_message", "agent_result", "close_agent"
]


AnchorType: TypeAlias = Literal["conversation_item", "tool_call", "thread"]

#: The model our recorder writes into a thread's metadata when it was given none
#: (``open_rollout`` and the Agents SDK processor without ``model=``: the SDK's agent spans
#: carry no model, and a thread's model is written when the thread starts).
UNKNOWN_MODEL: Final = "unknown"
#: Each anchor type's id key in the state's JSON (Codex's tagged ``TraceAnchor``).
ANCHOR_ID_FIELDS: Final[dict[str, str]] = {
    "conversation_item": "item_id",
    "tool_call": "tool_call_id",
    "thread": "thread_id",
}


@attrs.frozen
class TraceAnchor:
    """One end of an interaction edge: a conversation item, a tool call or a thread (format.md 5,
    InteractionEdge)."""

    type: AnchorType
    id: str

    def to_json(self) -> dict[str, Any]:
        """The anchor as Codex's tagged ``TraceAnchor``.

        Returns:
            ``{"type": TYPE}`` and the id under its own key (``item_id``, ``tool_call_id``,
            ``thread_id``).
        """
        return {"type": self.type, ANCHOR_ID_FIELDS[self.type]: self.id}


@attrs.define(slots=True)
class ExecutionWindow(Node):
    """When something ran and how it ended: the time and ``seq`` of the events that started and
    ended it, and its status. Threads, turns, inference calls, tool calls, code cells, terminals
    and compaction requests each have one."""

    started_at_unix_ms: int
    started_seq: int
    ended_at_unix_ms: int | None = None
    ended_seq: int | None = None
    status: ExecutionStatus = "running"

    def end(self, at: int, seq: int, status: ExecutionStatus) -> None:
        """Close the window with the event that ended it. An earlier end is overwritten: whether
        a second end counts is the caller's to decide, as it is each of Codex's handlers'.

        Args:
            at: the event's ``wall_time_unix_ms``.
            seq: the event's ``seq``.
            status: how it ended.
        """
        self.ended_at_unix_ms = at
        self.ended_seq = seq
        self.status = status


@attrs.frozen
class SpawnedOrigin(TaggedNode):
    """A sub-agent's origin: its parent thread, the spawn edge's id
    (``edge:spawn:<parent>:<child>``), its task name and role, read from its ``session_metadata``
    (reducer.md 2)."""

    TYPE: ClassVar[str] = "spawned"
    parent_thread_id: str
    spawn_edge_id: str
    task_name: str
    agent_role: str


@attrs.define(slots=True, kw_only=True)
class AgentThread(Node):
    """One thread of the rollout, the root agent's or a sub-agent's: its agent path, origin,
    execution window and default model, and its conversation items in first-seen order."""

    thread_id: str
    agent_path: str
    nickname: str | None
    #: None = a root thread; ``"unknown"``: schema 3, its metadata payload was omitted
    #: (Codex 0.171 then cannot tell; a thread started with no metadata at all is a root)
    origin: SpawnedOrigin | Literal["unknown"] | None
    execution: ExecutionWindow
    default_model: str | None
    conversation_item_ids: list[str] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        """The thread as Codex writes it.

        Returns:
            Its keys in Codex's order, ``origin`` as ``{"type": "root"}``, ``{"type":
            "unknown"}`` or the spawned origin with its fields.
        """
        out = node_json(self)
        if self.origin is None:
            out["origin"] = {"type": "root"}
        elif self.origin == "unknown":
            out["origin"] = {"type": "unknown"}
        return out


@attrs.define(slots=True, kw_only=True)
class CodexTurn(Node):
    """One turn of one thread, and the items accepted as its input."""

    codex_turn_id: str
    thread_id: str
    execution: ExecutionWindow
    input_item_ids: list[str] = attrs.field(factory=list)


@attrs.define(slots=True)
class TokenUsage(Node):
    """An inference call's token counts, from its response's ``token_usage`` (kept only when the
    four counts Codex needs are integers; ``cache_write_input_tokens`` is 0 when absent;
    reducer.md 4)."""

    input_tokens: int
    cached_input_tokens: int
    cache_write_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int


@attrs.define(slots=True, kw_only=True)
class InferenceCall(Node):
    """One model call attempt, from ``inference_started`` to its end: the items its request carried
    and its response produced, the tool calls that response asked for, its usage and its payloads
    (reducer.md 6; v3.md 8 for ``prepared_prompt_payload_id``)."""

    #: schema 3 always sets the prompt id; schema 2 has no such key
    _OMIT_NONE: ClassVar[frozenset[str]] = frozenset({"prepared_prompt_payload_id"})

    inference_call_id: str
    thread_id: str
    codex_turn_id: str
    execution: ExecutionWindow
    model: str
    provider_name: str
    response_id: str | None = None
    upstream_request_id: str | None = None
    request_item_ids: list[str] = attrs.field(factory=list)
    response_item_ids: list[str] = attrs.field(factory=list)
    tool_call_ids_started_by_response: list[str] = attrs.field(factory=list)
    usage: TokenUsage | None = None
    raw_request_payload_id: str
    prepared_prompt_payload_id: str | None = None
    raw_response_payload_id: str | None = None


@attrs.define(slots=True, kw_only=True)
class Compaction(Node):
    """An installed compaction of a thread's history: the items it replaced, the marker item that
    stands for it, the replacement items and the requests that made it (reducer.md 5.6)."""

    compaction_id: str
    thread_id: str
    codex_turn_id: str
    installed_at_unix_ms: int
    marker_item_id: str
    request_ids: list[str]
    input_item_ids: list[str]
    replacement_item_ids: list[str]


@attrs.define(slots=True, kw_only=True)
class CompactionRequest(Node):
    """One attempt at a remote compaction, from ``compaction_request_started`` to its completion or
    failure: model, provider and payloads."""

    compaction_request_id: str
    compaction_id: str
    thread_id: str
    codex_turn_id: str
    execution: ExecutionWindow
    model: str
    provider_name: str
    raw_request_payload_id: str
    raw_response_payload_id: str | None = None


@attrs.define(slots=True, kw_only=True)
class InteractionEdge(Node):
    """Something one agent did to another: spawn, send a message, assign a task, report a result,
    close. From a tool call or an item (``source``) to the item that delivered it in the other
    thread, or to that thread (``target``), with what it carried (reducer.md 10)."""

    edge_id: str
    kind: InteractionEdgeKind
    source: TraceAnchor
    target: TraceAnchor
    started_at_unix_ms: int
    ended_at_unix_ms: int | None
    carried_item_ids: list[str] = attrs.field(factory=list)
    carried_raw_payload_ids: list[str] = attrs.field(factory=list)
