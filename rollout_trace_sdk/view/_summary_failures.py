"""``summary``'s failures list: every failed thread, turn, call, terminal operation,
compaction request and code cell in start order, each with the best error text there is
(the state's own words, then the texts it does not keep, then a failed thread's last failed
turn, then what stopped an aborted call), cut at :data:`MAX_ERROR_CHARS`.

Apart from :mod:`.summary` because it is the one list that looks beyond the node itself (its
output items, its terminal's stderr, its turns, the error texts read from the bundle) to
say why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from ..reduce.failures import FAILED_STATUSES as FAILED
from ._summary_nodes import duration as _duration
from ._summary_nodes import started_seq as _started_seq
from ._summary_nodes import status as _status
from .item_text import ending_turn_id, own_item_ids, stopped_text, tool_name
from .summary_terminals import command as op_command
from .summary_terminals import op_error, stderr

_Obj = Mapping[str, Any]

#: Longest error text kept per failure (the raw payloads have the rest).
MAX_ERROR_CHARS: Final = 2_000


def failures(
    state: _Obj,
    errors: Mapping[str, str],
    path: Callable[[Any], str],
    tables: tuple[list[_Obj], ...],
) -> list[dict[str, Any]]:
    """The failures among ``tables`` (the threads, turns, inference calls, tool calls,
    terminal operations, compaction requests and code cells ``summary`` reports on), with
    ``errors`` (the texts the state does not keep, by id) and ``path`` (an agent's path by
    thread id)."""
    return _Failures(state, errors, path).rows(*tables)


class _Failures:
    def __init__(self, state: _Obj, errors: Mapping[str, str], path: Callable[[Any], str]) -> None:
        self.state = state
        self.errors = errors
        self.path = path

    def rows(
        self,
        threads: list[_Obj],
        turns: list[_Obj],
        calls: list[_Obj],
        tools: list[_Obj],
        ops: list[_Obj],
        requests: list[_Obj],
        cells: list[_Obj],
    ) -> list[dict[str, Any]]:
        found: list[tuple[int, dict[str, Any]]] = []

        def add(
            kind: str, ident_field: str, objects: list[_Obj], what: Callable[[_Obj], Any]
        ) -> None:
            for obj in objects:
                if _status(obj) in FAILED:
                    ident = obj.get(ident_field)
                    error = (
                        self.error_text(kind, obj)
                        or self.errors.get(str(ident))
                        or self.thread_error(kind, obj)
                        or self.stopped(kind, obj)
                    )
                    record = {
                        "type": kind,
                        "id": ident,
                        "thread_id": obj.get("thread_id"),
                        "agent_path": self.path(obj.get("thread_id")),
                        "status": _status(obj),
                        "name": what(obj),
                        "duration_ms": _duration(obj),
                        "error": _clip(error),
                    }
                    found.append((_started_seq(obj), record))

        add("thread", "thread_id", threads, lambda o: o.get("agent_path"))
        add("turn", "codex_turn_id", turns, lambda o: None)
        add("inference_call", "inference_call_id", calls, lambda o: o.get("model"))
        add("tool_call", "tool_call_id", tools, tool_name)
        add("terminal_operation", "operation_id", [self.op_thread(o) for o in ops], op_command)
        add("compaction_request", "compaction_request_id", requests, lambda o: o.get("model"))
        add("code_cell", "code_cell_id", cells, lambda o: None)
        found.sort(key=lambda pair: pair[0])
        return [record for _, record in found]

    def op_thread(self, op: _Obj) -> _Obj:
        """A terminal operation names its tool call, not its thread; failures need both."""
        tools = self.state.get("tool_calls")
        tool = tools.get(op.get("tool_call_id")) if isinstance(tools, dict) else None
        thread = tool.get("thread_id") if isinstance(tool, dict) else None
        return {**op, "thread_id": thread}

    def error_text(self, kind: str, obj: _Obj) -> str | None:
        """What the state itself says went wrong: a tool's output as the model saw it (else
        its terminal's stderr), a terminal operation's stderr, else its exit code and the end
        of its output (``summary_terminals.op_error``)."""
        if kind == "tool_call":
            items = self.state.get("conversation_items")
            text = self.items_text(own_item_ids(obj, "model_visible_output_item_ids", items))
            if text:
                return text
            ops = self.state.get("terminal_operations")
            op = ops.get(obj.get("terminal_operation_id")) if isinstance(ops, dict) else None
            return stderr(op) if isinstance(op, dict) else None
        if kind == "terminal_operation":
            # one that ended with no result of its own (a write_stdin whose tool failed
            # before it ran): why its tool call failed, which is why it did
            return op_error(obj) or self.tool_text(obj.get("tool_call_id"))
        return None

    def tool_text(self, tool_call_id: Any) -> str | None:
        """The error text of tool call ``tool_call_id`` (see :meth:`error_text`)."""
        tools = self.state.get("tool_calls")
        tool = tools.get(tool_call_id) if isinstance(tools, dict) else None
        return self.error_text("tool_call", tool) if isinstance(tool, dict) else None

    def stopped(self, kind: str, obj: _Obj) -> str | None:
        """What stopped an aborted or cancelled tool call that says nothing itself, as
        ``show`` and the exports say it (``item_text.stopped_text``)."""
        if kind != "tool_call":
            return None
        turns = self.state.get("codex_turns")
        ident = ending_turn_id(self.state, obj)
        turn = turns.get(ident) if isinstance(turns, dict) and isinstance(ident, str) else None
        if not isinstance(turn, dict):
            return stopped_text(_status(obj), None, None)
        return stopped_text(_status(obj), _status(turn), self.errors.get(str(ident)))

    def thread_error(self, kind: str, obj: _Obj) -> str | None:
        """Why a thread failed: the error of its last turn that failed (a thread's end says
        no more; an Agents SDK run past ``max_turns`` fails its turn, then its thread)."""
        if kind != "thread":
            return None
        turns = self.state.get("codex_turns")
        ended = sorted(
            (
                t
                for t in (turns.values() if isinstance(turns, dict) else ())
                if isinstance(t, dict)
                and t.get("thread_id") == obj.get("thread_id")
                and _status(t) == "failed"
            ),
            key=_started_seq,
        )
        for turn in reversed(ended):
            text = self.errors.get(str(turn.get("codex_turn_id")))
            if text:
                return text
        return None

    def items_text(self, ids: Any) -> str:
        items = self.state.get("conversation_items")
        if not isinstance(ids, list) or not isinstance(items, dict):
            return ""
        texts = []
        for ident in ids:
            item = items.get(ident) if isinstance(ident, str) else None
            body = item.get("body") if isinstance(item, dict) else None
            parts = body.get("parts") if isinstance(body, dict) else None
            for part in parts if isinstance(parts, list) else []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    texts.append(part["text"])
        return "\n".join(texts).strip()


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_ERROR_CHARS:
        return text
    return text[:MAX_ERROR_CHARS] + f"… ({len(text) - MAX_ERROR_CHARS:,} more characters)"
