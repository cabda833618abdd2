"""Where each OTLP span hangs: a thread under the tool call that spawned it (an Agents SDK
agent run as a tool: the call that ran it; else its parent thread, else the root), a model request or tool call under its turn (else its thread), and
the span an interaction edge's endpoint names (for its link).

Apart from :mod:`.otlp`, which builds each span's name, attributes, status and window,
because this is the one part that follows references across the state's tables, where a
damaged or hostile state can loop (parents that come round again) or grow deep (chains of
10,000 agents): the tree stays a tree, in linear time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..view.agent_tools import KEY as AGENT_TOOL_KEY

_Obj = Mapping[str, Any]


class SpanTree:
    """The parents of one rollout's spans, by the state's tables (keyed by their ids)."""

    def __init__(
        self,
        span_id: Callable[[str, Any], int],
        root_id: int,
        tables: tuple[dict[str, _Obj], ...],
    ) -> None:
        """``span_id`` names a node's span (kind, id); ``tables`` are the threads, turns,
        conversation items, tool calls and interaction edges."""
        self.span_id = span_id
        self.root_id = root_id
        self.threads, self.turns, self.items, self.tools, self.edges = tables
        #: thread id -> whether its parents loop (``_loops``)
        self.looping: dict[str, bool] = {}

    def thread_parent(self, thread_id: str, thread: _Obj) -> int:
        """The spawning tool call, else the parent thread, else the root; the root too when
        following parents would loop (a malformed state), so the tree stays a tree."""
        if self._loops(thread_id):
            return self.root_id
        spawn = self._spawn(thread)
        if spawn is None:
            return self.root_id
        tool, parent = spawn
        if tool is not None:
            return self.span_id("tool", tool)
        if str(parent) in self.threads:
            return self.span_id("thread", parent)
        return self.root_id

    def _loops(self, thread_id: str) -> bool:
        """Whether following parents from ``thread_id`` comes round again. Every thread on
        the way shares the answer, which is kept: walking each thread's ancestors afresh
        took 35 s for a chain of 10,000 agents (found by review)."""
        path: list[str] = []
        on_path: set[str] = set()
        current: str | None = thread_id
        loops = False
        while current is not None and current in self.threads:
            if current in self.looping:
                loops = self.looping[current]
                break
            if current in on_path:
                loops = True
                break
            path.append(current)
            on_path.add(current)
            current = self._origin_parent(self.threads[current])
        self.looping.update(dict.fromkeys(path, loops))
        return loops

    def _origin_parent(self, thread: _Obj) -> str | None:
        """The thread that owns ``thread``'s parent span (through the spawning tool call)."""
        spawn = self._spawn(thread)
        if spawn is None:
            return None
        tool, parent = spawn
        if tool is not None:
            return str(self.tools[tool].get("thread_id"))
        return str(parent) if parent is not None else None

    def _spawn(self, thread: _Obj) -> tuple[str | None, Any] | None:
        """A spawned thread's spawning tool call (its id, when the state has that call) and
        its ``parent_thread_id`` as written; None for a thread that was not spawned. The call
        is its spawn edge's source, else (an Agents SDK agent run as a tool, which has no
        edge) the call ``view.agent_tools`` read from the bundle."""
        origin = thread.get("origin")
        if not isinstance(origin, Mapping) or origin.get("type") != "spawned":
            return None
        edge = self.edges.get(str(origin.get("spawn_edge_id")))
        source = edge.get("source") if edge else None
        tool = str(source.get("tool_call_id")) if isinstance(source, Mapping) else None
        if edge is None and isinstance(thread.get(AGENT_TOOL_KEY), str):
            tool = thread[AGENT_TOOL_KEY]
        return (tool if tool in self.tools else None), origin.get("parent_thread_id")

    def owner(self, thread_id: Any, turn_id: Any) -> int:
        """The span a call belongs under: its turn, else its thread, else the root."""
        if str(turn_id) in self.turns:
            return self.span_id("turn", turn_id)
        if str(thread_id) in self.threads:
            return self.span_id("thread", thread_id)
        return self.root_id

    def endpoint(self, end: Any) -> int | None:
        """The span an edge endpoint names: a tool call, or an item's turn / thread."""
        if not isinstance(end, Mapping):
            return None
        if end.get("type") == "tool_call" and str(end.get("tool_call_id")) in self.tools:
            return self.span_id("tool", end["tool_call_id"])
        item = self.items.get(str(end.get("item_id")))
        if item is None:
            thread_id = end.get("thread_id")
            return self.span_id("thread", thread_id) if str(thread_id) in self.threads else None
        return self.owner(item.get("thread_id"), item.get("codex_turn_id"))
