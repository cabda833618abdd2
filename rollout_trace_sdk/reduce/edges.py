"""Interaction edges between agent threads: spawn, task/message delivery, close, results.

A delivery edge should point at the exact conversation item the recipient saw, but the sending
tool is traced before that item exists. So edges wait in a pending list keyed by (target thread,
delivered content) and resolve when a matching delivery item is reconciled or received.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from ..model import state as st
from ..model.events import AgentResultObserved, RawPayloadRef, ToolCallKind, TraceEvent
from ..model.serde_errors import (
    agent_path_error,
    typed_text_error,
)
from ..model.structure import loads_value
from . import collab
from .context import PendingEdge, ReplayContext, in_list_order, push_unique
from .errors import ReduceError

_ACTIVITY_EDGES = {
    ("spawn_agent", "started"): "spawn_agent",
    ("assign_agent_task", "interacted"): "assign_agent_task",
    ("send_message", "interacted"): "send_message",
    ("close_agent", "interrupted"): "close_agent",
}


def spawn_edge_id(parent_thread_id: str, child_thread_id: str) -> str:
    return f"edge:spawn:{parent_thread_id}:{child_thread_id}"


def _tool_edge_id(tool_call_id: str) -> str:
    return f"edge:tool:{tool_call_id}"


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _kind_debug(kind: ToolCallKind) -> str:
    if kind.type == "other":
        return f'Other {{ name: "{kind.name}" }}'
    if kind.type == "mcp":
        return f'Mcp {{ server: "{kind.server}", tool: "{kind.tool}" }}'
    return _camel(kind.type)


def _payload_ids(tool: st.ToolCall) -> list[str]:
    ids: list[str] = []
    if tool.raw_invocation_payload_id is not None:
        ids.append(tool.raw_invocation_payload_id)
    for payload_id in tool.raw_runtime_payload_ids:
        push_unique(ids, payload_id)
    if tool.raw_result_payload_id is not None:
        push_unique(ids, tool.raw_result_payload_id)
    return ids


def _delivery(replay: ReplayContext, item_id: str) -> tuple[str, str, str] | None:
    """(thread, delivered content, author path) when the item is a message delivered to its
    own thread. Cached: every queued edge looks through its target thread's messages."""
    cache = replay.deliveries
    if item_id in cache:
        return cache[item_id]
    found = _find_delivery(replay, item_id)
    cache[item_id] = found
    return found


def _find_delivery(replay: ReplayContext, item_id: str) -> tuple[str, str, str] | None:
    item = replay.trace.conversation_items.get(item_id)
    if item is None or item.role != "assistant" or item.kind != "message":
        return None
    thread = replay.trace.threads.get(item.thread_id)
    if thread is None:
        return None
    body = item.body
    if item.agent_message is not None:
        if not body or not isinstance(body[0], st.TextPart):
            return None
        if len(body) == 1:
            content = body[0].text
        elif len(body) == 2 and isinstance(body[1], st.EncodedPart):
            content = body[1].value
        else:
            return None
        recipient = item.agent_message.recipient
        author = item.agent_message.author
        if agent_path_error(author) or agent_path_error(recipient):
            return None
    else:
        # Codex 0.171 takes only agent_message items as deliveries: an assistant message
        # whose text is an inter-agent communication (0.169's mailbox form) delivers nothing.
        if replay.v3 or len(body) != 1 or not isinstance(body[0], st.TextPart):
            return None
        parsed = _communication(body[0].text)
        if parsed is None:
            return None
        author, recipient, content = parsed
    if recipient != thread.agent_path:
        return None
    return item.thread_id, content, author


# Opens like _redact_shards.fix_retained (parse or give up); the two share nothing else.
def _communication(text: str) -> tuple[str, str, str] | None:
    try:
        value = loads_value(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    author, recipient, content = value.get("author"), value.get("recipient"), value.get("content")
    if not (isinstance(author, str) and isinstance(recipient, str) and isinstance(content, str)):
        return None
    if agent_path_error(author) or agent_path_error(recipient):
        return None
    if not isinstance(value.get("trigger_turn"), bool):
        return None
    others = value.get("other_recipients", [])
    if others is not None and (
        not isinstance(others, list)
        or not all(isinstance(o, str) and agent_path_error(o) is None for o in others)
    ):
        return None
    encrypted = value.get("encrypted_content")
    if encrypted is not None and not isinstance(encrypted, str):
        return None
    return author, recipient, encrypted if encrypted is not None else content


# --- edges -----------------------------------------------------------------------------------------


class _Window(Protocol):
    started_at_unix_ms: int
    ended_at_unix_ms: int | None


def _widen_window(existing: _Window, seen: _Window) -> None:
    """A second sighting of an edge: it started at the earliest and ended at the latest."""
    existing.started_at_unix_ms = min(existing.started_at_unix_ms, seen.started_at_unix_ms)
    if existing.ended_at_unix_ms is None:
        existing.ended_at_unix_ms = seen.ended_at_unix_ms
    elif seen.ended_at_unix_ms is not None:
        existing.ended_at_unix_ms = max(existing.ended_at_unix_ms, seen.ended_at_unix_ms)


def _upsert(replay: ReplayContext, edge: st.InteractionEdge) -> None:
    edges = replay.trace.interaction_edges
    existing = edges.get(edge.edge_id)
    if existing is None:
        edges[edge.edge_id] = edge
    else:
        if (
            existing.kind != edge.kind
            or existing.source != edge.source
            or existing.target != edge.target
        ):
            raise ReduceError(
                f"interaction edge {edge.edge_id} was observed with conflicting endpoints"
            )
        _widen_window(existing, edge)
        for item_id in edge.carried_item_ids:
            push_unique(existing.carried_item_ids, item_id)
        for payload_id in edge.carried_raw_payload_ids:
            push_unique(existing.carried_raw_payload_ids, payload_id)
    if edge.target.type == "conversation_item":
        replay.edge_target_items.add(edge.target.id)


def _upsert_for_item(replay: ReplayContext, pending: PendingEdge, item_id: str) -> None:
    _upsert(
        replay,
        st.InteractionEdge(
            edge_id=pending.edge_id,
            kind=pending.kind,  # type: ignore[arg-type]
            source=pending.source,
            target=st.TraceAnchor("conversation_item", item_id),
            started_at_unix_ms=pending.started_at_unix_ms,
            ended_at_unix_ms=pending.ended_at_unix_ms,
            carried_item_ids=[item_id],
            carried_raw_payload_ids=list(pending.carried_raw_payload_ids),
        ),
    )


def _delivers(replay: ReplayContext, pending: PendingEdge, delivery: tuple[str, str, str]) -> bool:
    """Whether a delivery item carries this edge: same target thread and content, written by
    the sending thread's agent."""
    thread_id, content, author = delivery
    if pending.target_thread_id != thread_id or pending.content != content:
        return False
    sender = replay.trace.threads.get(pending.sender_thread_id)
    return sender is not None and sender.agent_path == author


# The merge below looks like ``_upsert``'s but compares a pending edge's delivery fields.
def _queue(replay: ReplayContext, pending: PendingEdge) -> None:
    # The first delivery in the target thread's list order, as Codex looks: in schema 3 a
    # request's new item can be listed before older ones (v3.md "Thread list order"), so
    # creation order would pick another of two equal deliveries.
    messages = replay.assistant_messages.get(pending.target_thread_id, ())
    for item_id in in_list_order(replay, messages):
        if item_id in replay.edge_target_items:
            continue
        delivery = _delivery(replay, item_id)
        if delivery is not None and _delivers(replay, pending, delivery):
            _upsert_for_item(replay, pending, item_id)
            return
    for existing in replay.pending_edges:
        if existing.edge_id != pending.edge_id:
            continue
        if (
            existing.kind != pending.kind
            or existing.source != pending.source
            or existing.target_thread_id != pending.target_thread_id
            or existing.content != pending.content
            or existing.spawn_fallback_thread_id != pending.spawn_fallback_thread_id
        ):
            raise ReduceError(
                f"pending interaction edge {pending.edge_id} was observed with conflicting delivery data"
            )
        _widen_window(existing, pending)
        for payload_id in pending.carried_raw_payload_ids:
            push_unique(existing.carried_raw_payload_ids, payload_id)
        return
    replay.pending_edges.append(pending)


def resolve_pending_for_item(replay: ReplayContext, item_id: str) -> None:
    """A reconciled delivery item takes the first pending edge waiting for its content, unless
    an edge already points at it."""
    if not replay.pending_edges or item_id in replay.edge_target_items:
        return
    delivery = _delivery(replay, item_id)
    if delivery is None:
        return
    for index, pending in enumerate(replay.pending_edges):
        if _delivers(replay, pending, delivery):
            del replay.pending_edges[index]
            _upsert_for_item(replay, pending, item_id)
            return


def _queue_tool_edge(
    replay: ReplayContext,
    tool: st.ToolCall,
    *,
    edge_id: str,
    kind: str,
    target_thread_id: str,
    content: str,
    ended_at: int | None,
    fallback: str | None = None,
) -> None:
    _queue(
        replay,
        PendingEdge(
            edge_id=edge_id,
            kind=kind,
            source=st.TraceAnchor("tool_call", tool.tool_call_id),
            sender_thread_id=tool.thread_id,
            target_thread_id=target_thread_id,
            content=content,
            spawn_fallback_thread_id=fallback,
            started_at_unix_ms=tool.execution.started_at_unix_ms,
            ended_at_unix_ms=ended_at,
            carried_raw_payload_ids=_payload_ids(tool),
        ),
    )


def _close_edge(
    replay: ReplayContext, tool: st.ToolCall, target_thread_id: str, ended_at: int | None
) -> None:
    if target_thread_id not in replay.trace.threads:
        return
    _upsert(
        replay,
        st.InteractionEdge(
            edge_id=_tool_edge_id(tool.tool_call_id),
            kind="close_agent",
            source=st.TraceAnchor("tool_call", tool.tool_call_id),
            target=st.TraceAnchor("thread", target_thread_id),
            started_at_unix_ms=tool.execution.started_at_unix_ms,
            ended_at_unix_ms=ended_at,
            carried_item_ids=[],
            carried_raw_payload_ids=_payload_ids(tool),
        ),
    )


def runtime_begin(replay: ReplayContext, tool: st.ToolCall, ref: RawPayloadRef) -> None:
    kind = tool.kind.type
    if kind not in ("assign_agent_task", "send_message", "close_agent"):
        return
    payload = collab.collab_payload(replay.load_whole(ref), kind, "begin")
    _receiver_edge(replay, tool, payload, kind, None)


def _receiver_edge(
    replay: ReplayContext, tool: st.ToolCall, payload: Any, kind: str, ended_at: int | None
) -> None:
    """A task, message or close edge to the collab payload's receiver (begin or end)."""
    receiver = collab.field(payload, "receiver_thread_id", str)
    if kind == "close_agent":
        _close_edge(replay, tool, receiver, ended_at)
        return
    _queue_tool_edge(
        replay,
        tool,
        edge_id=_tool_edge_id(tool.tool_call_id),
        kind=kind,
        target_thread_id=receiver,
        content=collab.field(payload, "prompt", str),
        ended_at=ended_at,
    )


def _invocation_message(replay: ReplayContext, tool: st.ToolCall) -> str | None:
    """The ``message`` argument of the tool's invocation: what a sub-agent activity delivered
    (None when a schema-3 recording cut or left out the invocation)."""
    tool_call_id = tool.tool_call_id
    ref = None
    if tool.raw_invocation_payload_id is not None:
        ref = replay.trace.raw_payloads.get(tool.raw_invocation_payload_id)
    if ref is None:
        raise ReduceError(f"agent activity tool call {tool_call_id} missing invocation payload")
    if not ref.available:
        return None
    invocation = replay.load_whole(ref)
    payload = invocation.get("payload") if isinstance(invocation, dict) else None
    arguments = payload.get("arguments") if isinstance(payload, dict) else None
    if not isinstance(arguments, str):
        raise ReduceError(f"agent activity tool call {tool_call_id} missing function arguments")
    problem = typed_text_error(arguments, "AgentActivityArguments", ("message",))
    if problem is not None:
        raise ReduceError(f"parse agent activity tool call {tool_call_id} arguments", cause=problem)
    message: str = loads_value(arguments)["message"]
    return message


def runtime_end(replay: ReplayContext, event: TraceEvent, tool: st.ToolCall, raw: Any) -> None:
    """Any tool's runtime end may be a sub-agent activity; agent tools' ends are otherwise
    Codex's collab end events."""
    kind = tool.kind.type
    at = event.wall_time_unix_ms
    if isinstance(raw, dict) and "agent_thread_id" in raw:
        collab.check_fields(raw, collab.ACTIVITY_FIELDS, collab.ACTIVITY_KNOWN)
        _sub_agent_activity(replay, tool, raw, at)
        return
    if kind not in ("spawn_agent", "assign_agent_task", "send_message", "close_agent"):
        return
    payload = collab.collab_payload(raw, kind, "end")
    if kind == "spawn_agent":
        child = payload.get("new_thread_id")
        if not isinstance(child, str):
            return
        sender = collab.field(payload, "sender_thread_id", str)
        _queue_tool_edge(
            replay,
            tool,
            edge_id=spawn_edge_id(sender, child),
            kind="spawn_agent",
            target_thread_id=child,
            content=collab.field(payload, "prompt", str),
            ended_at=at,
            fallback=child,
        )
        return
    _receiver_edge(replay, tool, payload, kind, at)


def _sub_agent_activity(
    replay: ReplayContext, tool: st.ToolCall, payload: dict[str, Any], at: int
) -> None:
    target = collab.field(payload, "agent_thread_id", str)
    activity = collab.field(payload, "kind", str)
    if activity == "completed":
        return
    edge_kind = _ACTIVITY_EDGES.get((tool.kind.type, activity))
    if edge_kind is None:
        raise ReduceError(
            f"sub-agent activity {_camel(activity)} does not match tool call kind {_kind_debug(tool.kind)}"
        )
    if edge_kind == "close_agent":
        _close_edge(replay, tool, target, at)
        return
    spawn = edge_kind == "spawn_agent"
    message = _invocation_message(replay, tool)
    if message is None:
        return  # schema 3: the delivered message was not kept, so no edge is traced
    _queue_tool_edge(
        replay,
        tool,
        edge_id=spawn_edge_id(tool.thread_id, target)
        if spawn
        else _tool_edge_id(tool.tool_call_id),
        kind=edge_kind,
        target_thread_id=target,
        content=message,
        ended_at=at,
        fallback=target if spawn else None,
    )


def attach_tool_result(replay: ReplayContext, tool_call_id: str, payload_id: str) -> None:
    edges = replay.trace.interaction_edges
    for edge_id in sorted(edges):
        edge = edges[edge_id]
        if edge.source.type == "tool_call" and edge.source.id == tool_call_id:
            push_unique(edge.carried_raw_payload_ids, payload_id)
            return
    for pending in replay.pending_edges:
        if pending.source.type == "tool_call" and pending.source.id == tool_call_id:
            push_unique(pending.carried_raw_payload_ids, payload_id)
            return


def agent_result(replay: ReplayContext, event: TraceEvent, observed: AgentResultObserved) -> None:
    child = observed.child_thread_id
    if child not in replay.trace.threads:
        raise ReduceError(f"agent edge referenced unknown thread {child}")
    items = replay.trace.conversation_items
    best: str | None = None
    best_seen = 0
    for item_id in sorted(replay.assistant_messages.get(child, ())):
        item = items[item_id]
        if item.codex_turn_id != observed.child_codex_turn_id or item.agent_message is not None:
            continue
        if best is None or item.first_seen_at_unix_ms >= best_seen:
            best, best_seen = item_id, item.first_seen_at_unix_ms
    source = (
        st.TraceAnchor("thread", child)
        if best is None
        else st.TraceAnchor("conversation_item", best)
    )
    at = event.wall_time_unix_ms
    _queue(
        replay,
        PendingEdge(
            edge_id=observed.edge_id,
            kind="agent_result",
            source=source,
            sender_thread_id=child,
            target_thread_id=observed.parent_thread_id,
            content=observed.message,
            spawn_fallback_thread_id=None,
            started_at_unix_ms=at,
            ended_at_unix_ms=at,
            carried_raw_payload_ids=(
                []
                if observed.carried_payload is None
                else [observed.carried_payload.raw_payload_id]
            ),
        ),
    )


def finalize(replay: ReplayContext) -> None:
    """Spawn edges whose child never saw its task message point at the child thread."""
    pending_edges, replay.pending_edges = replay.pending_edges, []
    for pending in pending_edges:
        child = pending.spawn_fallback_thread_id
        if child is None:
            continue
        if pending.kind != "spawn_agent":
            raise ReduceError(
                f"non-spawn interaction edge {pending.edge_id} carried a spawn fallback target"
            )
        if child not in replay.trace.threads:
            continue
        _upsert(
            replay,
            st.InteractionEdge(
                edge_id=pending.edge_id,
                kind="spawn_agent",
                source=pending.source,
                target=st.TraceAnchor("thread", child),
                started_at_unix_ms=pending.started_at_unix_ms,
                ended_at_unix_ms=pending.ended_at_unix_ms,
                carried_item_ids=[],
                carried_raw_payload_ids=list(pending.carried_raw_payload_ids),
            ),
        )
