"""Tool calls: the generic index every tool invocation gets, and its links to the conversation,
to code cells, to terminal operations and to agent interaction edges."""

from __future__ import annotations

from typing import Any

import orjson

from ..model import state as st
from ..model.events import (
    CodeCellRequester,
    McpToolCallCorrelationAssigned,
    TerminalSummary,
    ToolCallEnded,
    ToolCallKind,
    ToolCallRuntimeEnded,
    ToolCallRuntimeStarted,
    ToolCallStarted,
    TraceEvent,
)
from ..model.serde_errors import text_syntax_error as syntax_error
from ..model.structure import loads_value
from . import edges, terminals
from .context import ReplayContext, in_list_order, push_unique
from .errors import ReduceError
from .normalize import NormItem

_CALL_KINDS = frozenset({"function_call", "custom_tool_call"})
_OUTPUT_KINDS = frozenset({"function_call_output", "custom_tool_call_output"})
_TERMINAL_KINDS = frozenset({"exec_command", "write_stdin"})
EXEC_KIND = ToolCallKind.other("exec")


def _thread_for_start(replay: ReplayContext, event: TraceEvent) -> str:
    thread_id = event.thread_id
    turn_id = event.codex_turn_id
    if thread_id is None:
        if turn_id is None:
            raise ReduceError("tool call start did not include thread or Codex turn context")
        turn = replay.turn(turn_id)
        if turn is None:
            raise ReduceError(f"tool call start referenced unknown Codex turn {turn_id}")
        thread_id = turn.thread_id
    if thread_id not in replay.trace.threads:
        raise ReduceError(f"tool call start referenced unknown thread {thread_id}")
    if turn_id is not None:
        replay.turn_in_thread("tool call start", thread_id, turn_id)
    return thread_id


def _items_for_call(
    replay: ReplayContext, thread_id: str, call_id: str, kinds: frozenset[str]
) -> list[str]:
    items = replay.trace.conversation_items
    found = [
        i for i in replay.items_by_call.get((thread_id, call_id), ()) if items[i].kind in kinds
    ]
    return in_list_order(replay, found)  # the thread's list order, as Codex


def wait_cell_id(invocation: Any, pid: str) -> str | None:
    """The runtime cell a ``wait`` invocation names, None for an invocation that is not a
    wait. Codex 0.169 reads it from every wait's arguments and refuses a wait without one;
    0.171 links waits from ``code_cell_wait_target_resolved`` and reads none (so ``convert``
    checks it too: a schema-3 wait need not name a cell).

    Raises:
        ReduceError: 0.169's refusal of a wait whose arguments name no cell.
    """
    if not isinstance(invocation, dict) or invocation.get("tool_name") != "wait":
        return None
    payload = invocation.get("payload")
    arguments = payload.get("arguments") if isinstance(payload, dict) else None
    if not isinstance(arguments, str):
        raise ReduceError(f"wait tool request payload {pid} did not contain function arguments")
    try:
        parsed = loads_value(arguments)
    except orjson.JSONDecodeError:
        raise ReduceError(
            f"wait tool request payload {pid} had invalid JSON arguments",
            cause=syntax_error(arguments),
        ) from None
    cell_id = parsed.get("cell_id") if isinstance(parsed, dict) else None
    if not isinstance(cell_id, str):
        raise ReduceError(f"wait tool request payload {pid} did not contain cell_id")
    return cell_id


def _link_wait(
    replay: ReplayContext, thread_id: str, tool_call_id: str, invocation: Any, pid: str
) -> None:
    cell_id = wait_cell_id(invocation, pid)
    if cell_id is None:
        return
    code_cell_id = replay.runtime_cells.get((thread_id, cell_id))
    cell = None if code_cell_id is None else replay.trace.code_cells.get(code_cell_id)
    if cell is not None:
        push_unique(cell.wait_tool_call_ids, tool_call_id)


def start(replay: ReplayContext, event: TraceEvent, started: ToolCallStarted) -> None:
    tool_call_id = started.tool_call_id
    trace = replay.trace
    if tool_call_id in trace.tool_calls:
        raise ReduceError(f"duplicate tool call start for {tool_call_id}")
    call_id = started.model_visible_call_id
    if call_id is not None:
        existing = replay.single_tool_for_call(call_id)
        if existing is not None and existing != tool_call_id:
            raise ReduceError(f"duplicate tool call for model-visible call id {call_id}")
    thread_id = _thread_for_start(replay, event)
    requester_cell: str | None = None
    if isinstance(started.requester, CodeCellRequester):
        runtime = started.requester.runtime_cell_id
        requester_cell = replay.runtime_cells.get((thread_id, runtime))
        if requester_cell is None:
            raise ReduceError(
                f"code-mode nested tool referenced unknown runtime cell {runtime} in thread {thread_id}"
            )
    call_items: list[str] = []
    output_items: list[str] = []
    if call_id is not None:
        call_items = _items_for_call(replay, thread_id, call_id, _CALL_KINDS)
        output_items = _items_for_call(replay, thread_id, call_id, _OUTPUT_KINDS)
    ref = started.invocation_payload
    invocation: Any = None
    if ref is not None and not ref.available:
        ref = None  # schema 3: a cut or omitted invocation has no effect
    if ref is not None and (not replay.v3 or started.kind.type == "write_stdin"):
        # 0.169 reads every invocation here (waits link from it); 0.171 only a write_stdin's
        invocation = replay.load_whole(ref)
    operation_id: str | None = None
    if started.kind.type == "write_stdin" and ref is not None:
        operation_id = terminals.start_from_invocation(
            replay, event, thread_id, tool_call_id, ref, invocation
        )
    summary = started.summary if operation_id is None else TerminalSummary(operation_id)
    if ref is not None and not replay.v3:
        # schema 3 links waits only from code_cell_wait_target_resolved
        _link_wait(replay, thread_id, tool_call_id, invocation, ref.raw_payload_id)
    tool = st.ToolCall(
        tool_call_id=tool_call_id,
        model_visible_call_id=call_id,
        code_mode_runtime_tool_id=started.code_mode_runtime_tool_id,
        thread_id=thread_id,
        started_by_codex_turn_id=event.codex_turn_id,
        execution=st.ExecutionWindow(event.wall_time_unix_ms, event.seq),
        requester_code_cell_id=requester_cell,
        kind=started.kind,
        summary=summary,
        raw_invocation_payload_id=(
            None
            if started.invocation_payload is None
            else started.invocation_payload.raw_payload_id
        ),
        model_visible_call_item_ids=call_items,
        terminal_operation_id=operation_id,
    )
    trace.tool_calls[tool_call_id] = tool
    if call_id is not None:  # a second tool of a call id was refused above
        replay.tools_by_call.setdefault(call_id, []).append(tool_call_id)
    for item_id in call_items:
        replay.call_item_tools.setdefault(item_id, []).append(tool_call_id)
    if requester_cell is not None:
        cell = trace.code_cells.get(requester_cell)
        if cell is not None:
            push_unique(cell.nested_tool_call_ids, tool_call_id)
    _link_inference(replay, tool)
    for item_id in output_items:
        _add_output(replay, tool, item_id)
    terminals.sync_observation(replay, tool_call_id)


def _tool(replay: ReplayContext, tool_call_id: str, what: str) -> st.ToolCall:
    tool = replay.trace.tool_calls.get(tool_call_id)
    if tool is None:
        raise ReduceError(f"{what} referenced unknown call {tool_call_id}")
    return tool


def mcp_correlation(replay: ReplayContext, assigned: McpToolCallCorrelationAssigned) -> None:
    tool = replay.trace.tool_calls.get(assigned.tool_call_id)
    if tool is None:
        raise ReduceError(f"MCP correlation referenced unknown tool call {assigned.tool_call_id}")
    if tool.mcp_call_id is not None:
        raise ReduceError(f"duplicate MCP correlation for tool call {assigned.tool_call_id}")
    tool.mcp_call_id = assigned.mcp_call_id


def runtime_started(
    replay: ReplayContext, event: TraceEvent, started: ToolCallRuntimeStarted
) -> None:
    tool = _tool(replay, started.tool_call_id, "tool runtime start")
    tool.kind = started.kind
    push_unique(tool.raw_runtime_payload_ids, started.runtime_payload.raw_payload_id)
    kind = started.kind.type
    # Codex refuses a second terminal operation before it reads the payload: a cut one too.
    if tool.terminal_operation_id is not None and kind in _TERMINAL_KINDS:
        raise ReduceError(
            f"tool runtime start would create a second terminal operation for {tool.tool_call_id}"
        )
    if not started.runtime_payload.available:
        return  # schema 3: a cut or omitted runtime start opens no terminal operation
    if kind in _TERMINAL_KINDS:
        operation_id = terminals.start_from_runtime(
            replay, event, tool.thread_id, tool.tool_call_id, kind, started.runtime_payload
        )
        if operation_id is not None:
            if tool.terminal_operation_id is None:
                tool.terminal_operation_id = operation_id
                tool.summary = TerminalSummary(operation_id)
            terminals.sync_observation(replay, tool.tool_call_id)
    edges.runtime_begin(replay, tool, started.runtime_payload)


def runtime_ended(replay: ReplayContext, event: TraceEvent, ended: ToolCallRuntimeEnded) -> None:
    tool = _tool(replay, ended.tool_call_id, "tool runtime end")
    push_unique(tool.raw_runtime_payload_ids, ended.runtime_payload.raw_payload_id)
    if tool.kind.type == "mcp" and tool.terminal_operation_id is None:
        # Codex reads no MCP runtime end (0.169 and 0.171): a payload that is not JSON, or
        # holds a sub-agent activity of any shape, fails only the end-of-replay check
        return
    # Read once: the terminal end and the sub-agent activity check both look at it.
    available = ended.runtime_payload.available
    payload = replay.load_whole(ended.runtime_payload) if available else None
    if tool.terminal_operation_id is not None:
        terminals.end_operation(
            replay,
            event,
            tool.thread_id,
            tool.terminal_operation_id,
            ended.status,
            ended.runtime_payload,
            loaded=payload,
        )
    if available:
        edges.runtime_end(replay, event, tool, payload)


def ended(replay: ReplayContext, event: TraceEvent, done: ToolCallEnded) -> None:
    tool = _tool(replay, done.tool_call_id, "tool call end")
    ref = done.result_payload
    if not tool.raw_runtime_payload_ids and tool.terminal_operation_id is not None:
        # the result is the terminal's end (a write_stdin's dispatch): read before the tool is
        # ended, so an end lenient replay skips (its result not whole) leaves the tool running,
        # as if the event were not in the log (``convert --lenient`` leaves it out)
        terminals.end_operation(
            replay, event, tool.thread_id, tool.terminal_operation_id, done.status, ref
        )
    tool.execution.end(event.wall_time_unix_ms, event.seq, done.status)
    tool.raw_result_payload_id = None if ref is None else ref.raw_payload_id
    if ref is not None:
        edges.attach_tool_result(replay, tool.tool_call_id, ref.raw_payload_id)


# --- links ---------------------------------------------------------------------------------------


def _add_output(replay: ReplayContext, tool: st.ToolCall, item_id: str) -> None:
    push_unique(tool.model_visible_output_item_ids, item_id)
    item = replay.trace.conversation_items[item_id]
    push_unique(item.produced_by, st.Producer("tool", tool.tool_call_id))


def _link_inference(replay: ReplayContext, tool: st.ToolCall) -> None:
    calls = replay.trace.inference_calls
    for item_id in tool.model_visible_call_item_ids:
        for inference_call_id in replay.response_owners.get(item_id, ()):
            push_unique(
                calls[inference_call_id].tool_call_ids_started_by_response, tool.tool_call_id
            )


def finalize(replay: ReplayContext) -> None:
    """``started_code_cell_id``: an ``exec`` tool (by its final kind) names the code cell its
    model-visible call started in the same thread and turn, when that cell exists (a cell of
    that call started in another turn is not the tool's, a tool started with no turn takes
    it: Codex 0.169 and 0.171)."""
    cells = replay.trace.code_cells
    for tool in replay.trace.tool_calls.values():
        call_id = tool.model_visible_call_id
        if call_id is None or tool.kind != EXEC_KIND:
            continue
        cell = cells.get(f"code_cell:{call_id}")
        if (
            cell is not None
            and cell.thread_id == tool.thread_id
            and tool.started_by_codex_turn_id in (None, cell.codex_turn_id)
        ):
            tool.started_code_cell_id = cell.code_cell_id


def link_resent_item(replay: ReplayContext, item_id: str, norm: NormItem) -> None:
    """A resent item already linked to its tool links that tool to the responses owning
    its call items again: one may have come to own an item since (a response is linked
    before it owns its items; Codex links it on the next resend: mutation seed 114017826);
    otherwise the item is linked as new.

    Once it finds its one tool listing it, the item is settled (``links_settled``): resent
    again as the same normalised item, it links nothing new until a response owning one of
    the tool's call items changes (``inference._owners_changed`` unsettles it; the tool's
    lists only grow, and a call id names one tool for good).
    Whole histories are resent, so this ran for every call and output item of every
    request: ~9,900 times in the 100-step benchmark loop, ~2.5 ms of its ~27 ms replay."""
    call_id, kind = norm.call_id, norm.kind
    assert call_id is not None
    tools = replay.tools_by_call.get(call_id)
    if tools is not None and len(tools) == 1:
        tool = replay.trace.tool_calls[tools[0]]
        if kind in _CALL_KINDS and item_id in tool.model_visible_call_item_ids:
            _link_inference(replay, tool)
            replay.links_settled[item_id] = norm
            return
        if kind in _OUTPUT_KINDS and item_id in tool.model_visible_output_item_ids:
            replay.links_settled[item_id] = norm
            return
    link_conversation_item(replay, item_id, call_id, kind)


def link_conversation_item(
    replay: ReplayContext, item_id: str, call_id: str | None, kind: str
) -> None:
    """A reconciled item carrying a call id joins the one tool with that call id."""
    if call_id is None or call_id not in replay.tools_by_call:
        return
    is_call = kind in _CALL_KINDS
    if not is_call and kind not in _OUTPUT_KINDS:
        return
    tool_call_id = replay.single_tool_for_call(call_id)
    if tool_call_id is None:
        return
    tool = replay.trace.tool_calls[tool_call_id]
    if is_call:
        known = item_id in tool.model_visible_call_item_ids
        if not known:
            tool.model_visible_call_item_ids.append(item_id)
            replay.call_item_tools.setdefault(item_id, []).append(tool_call_id)
        _link_inference(replay, tool)
    else:
        known = item_id in tool.model_visible_output_item_ids
        if not known:
            _add_output(replay, tool, item_id)
    if not known:
        terminals.sync_observation(replay, tool_call_id)
