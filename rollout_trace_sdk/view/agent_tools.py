"""Which tool call ran each Agents SDK agent run as a tool (``Agent.as_tool``), from the
processor's ``agents_sdk_agent_tool`` protocol events.

Codex links a spawned thread to the call that spawned it through its spawn edge, which only a
``spawn_agent`` call may record (both reducers refuse the bundle otherwise). An agent run as
a tool is a thread spawned by its caller's thread with no such edge, and the reduced state
says only which thread it reported back to: two agents run as tools by one response (the SDK
runs a response's tools at once) cannot be told apart there. So the processor records the
link as a protocol event both reducers register and skip, and the OTLP export reads it from
here to hang the agent's span under its call, as a Codex sub-agent's hangs under its
``spawn_agent`` call. Nothing is added to what Codex reduces.

The log is read only when some spawned thread has no spawn edge in the state (Codex's own
bundles never: they cost no pass), and a link is taken only when its call is the parent
thread's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from ..model.layout import AGENT_TOOL_EVENT
from .protocol_scan import ProtocolEvents, scan_log

#: The event type of the link, as the processor records it (``_agent_recording``).
EVENT: Final = AGENT_TOOL_EVENT
#: The key a linked thread gets in the state (Codex's has none): its tool call's id.
KEY: Final = "agent_tool_call_id"


def annotate_agent_tools(state: dict[str, Any], bundle: Path | None) -> None:
    """Give each thread of ``state`` an agent run as a tool ran in its ``agent_tool_call_id``:
    the id of the caller's tool call that ran it. A log or payload that cannot be read gives
    none."""
    if bundle is not None:
        scan_log(bundle, [agent_tools_reader(state, bundle)])


def agent_tools_reader(state: dict[str, Any], bundle: Path) -> AgentTools | None:
    """:func:`annotate_agent_tools`'s share of a pass over the log (``protocol_scan``); None
    when no spawned thread lacks its spawn edge (nothing to read)."""
    threads, tools = state.get("threads"), state.get("tool_calls")
    if not isinstance(threads, dict) or not isinstance(tools, dict):
        return None
    edges = state.get("interaction_edges")
    edges = edges if isinstance(edges, dict) else {}
    unlinked = {
        thread_id: parent
        for thread_id, thread in threads.items()
        if (parent := _parent_without_edge(thread, edges)) is not None
    }
    return AgentTools(bundle, threads, tools, unlinked) if unlinked else None


class AgentTools(ProtocolEvents):
    """The links, put in their threads as their lines go by."""

    def __init__(
        self,
        bundle: Path,
        threads: dict[str, Any],
        tools: dict[str, Any],
        unlinked: dict[str, str],
    ) -> None:
        super().__init__(bundle, EVENT)
        self.threads, self.tools, self.unlinked = threads, tools, unlinked

    def take(self, wall: int | None, seq: int | None, body: Mapping[str, Any]) -> None:
        thread_id, call_id = body.get("thread_id"), body.get("tool_call_id")
        if not isinstance(thread_id, str) or not isinstance(call_id, str):
            return
        call = self.tools.get(call_id)
        parent = self.unlinked.get(thread_id)
        if isinstance(call, Mapping) and parent is not None and call.get("thread_id") == parent:
            self.threads[thread_id][KEY] = call_id


def _spawned(thread: Any) -> Mapping[str, Any] | None:
    """A spawned thread's ``origin`` (None: a thread not spawned, or not an object)."""
    origin = thread.get("origin") if isinstance(thread, Mapping) else None
    return origin if isinstance(origin, Mapping) and origin.get("type") == "spawned" else None


def _parent_without_edge(thread: Any, edges: Mapping[str, Any]) -> str | None:
    """A spawned thread's parent thread id when its spawn edge is not in the state."""
    origin = _spawned(thread)
    if origin is None:
        return None
    parent = origin.get("parent_thread_id")
    edge_id = origin.get("spawn_edge_id")
    if not isinstance(parent, str) or (isinstance(edge_id, str) and edge_id in edges):
        return None
    return parent


def spawning_call(thread: Any, edges: Mapping[str, Any], tools: Mapping[str, Any]) -> str | None:
    """The tool call that started a spawned thread: its spawn edge's source call (a Codex
    ``spawn_agent``, an Agents SDK handoff), else the call that ran an Agents SDK agent run
    as a tool (``agent_tool_call_id``, put in by :func:`annotate_agent_tools`); None for a
    thread not spawned, or whose call the state does not have. What the Parquet ``threads``
    table's ``spawned_by_tool_call_id`` says."""
    origin = _spawned(thread)
    if origin is None:
        return None
    edge = edges.get(str(origin.get("spawn_edge_id")))
    source = edge.get("source") if isinstance(edge, Mapping) else None
    call = source.get("tool_call_id") if isinstance(source, Mapping) else None
    if edge is None:
        call = thread.get(KEY)
    return call if isinstance(call, str) and call in tools else None
