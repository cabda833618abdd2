"""Code-mode cells: one JavaScript ``exec`` call, its runtime lifecycle and the tools it ran.

A cell is named after the model-visible ``exec`` call (``code_cell:<call id>``), but runtime
events only know the runtime's cell id, hence the (thread, runtime cell) map. Codex starts the
cell before the response that asked for it is recorded, so a start whose ``custom_tool_call``
item is not reduced yet waits (with its lifecycle events) until a later batch brings the item.
"""

from __future__ import annotations

from typing import Final

from ..model import state as st
from ..model.events import (
    CodeCellEnded,
    CodeCellInitialResponse,
    CodeCellStarted,
    CodeCellWaitTargetResolved,
    ExecutionStatus,
    TraceEvent,
)
from .context import (
    PendingCellEvent,
    PendingCellStart,
    ReplayContext,
    in_list_order,
    push_unique,
)
from .errors import ReduceError

_ENDED_STATUS: dict[str, ExecutionStatus] = {
    "starting": "running",
    "running": "running",
    "yielded": "running",
    "completed": "completed",
    "failed": "failed",
    "terminated": "cancelled",
}


def _event_thread(
    replay: ReplayContext, event: TraceEvent, runtime_cell_id: str, label: str
) -> str:
    if event.thread_id is not None:
        return event.thread_id
    if event.codex_turn_id is None or replay.v3:
        # 0.169 falls back on the turn's thread; 0.171 wants the event's own
        raise ReduceError(f"{label} {runtime_cell_id} did not include a thread id")
    turn = replay.turn(event.codex_turn_id)
    if turn is None:
        raise ReduceError(
            f"{label} {runtime_cell_id} referenced unknown Codex turn {event.codex_turn_id}"
        )
    return turn.thread_id


def _source_item(replay: ReplayContext, thread_id: str, call_id: str) -> str | None:
    items = replay.trace.conversation_items
    found = [
        i
        for i in replay.items_by_call.get((thread_id, call_id), ())
        if items[i].kind == "custom_tool_call"
    ]
    found = in_list_order(replay, found)
    return found[0] if found else None  # the first in the thread's list


def forget_runtime_cells(replay: ReplayContext, thread_id: str) -> None:
    """A resumed thread's runtime cell ids name nothing (Codex 0.169 and 0.171): a later event
    naming one is refused as unknown, and a new start may map it to another cell. Starts
    still waiting for their ``exec`` item stay queued and are materialised as usual."""
    for key in [key for key in replay.runtime_cells if key[0] == thread_id]:
        del replay.runtime_cells[key]


def started(replay: ReplayContext, event: TraceEvent, start: CodeCellStarted) -> None:
    runtime = start.runtime_cell_id
    thread_id = _event_thread(replay, event, runtime, "code cell start")
    code_cell_id = f"code_cell:{start.model_visible_call_id}"
    key = (thread_id, runtime)
    mapped = replay.runtime_cells.get(key)
    if mapped is not None and mapped != code_cell_id:
        raise ReduceError(
            f"runtime code cell {runtime} in thread {thread_id} mapped to both {mapped} and {code_cell_id}"
        )
    replay.runtime_cells[key] = code_cell_id
    pending = PendingCellStart(
        code_cell_id=code_cell_id,
        seq=event.seq,
        wall_time_unix_ms=event.wall_time_unix_ms,
        thread_id=thread_id,
        codex_turn_id=event.codex_turn_id,
        runtime_cell_id=runtime,
        model_visible_call_id=start.model_visible_call_id,
        source_js=start.source_js,
    )
    if _source_item(replay, thread_id, start.model_visible_call_id) is None:
        if code_cell_id in replay.pending_cell_starts or code_cell_id in replay.trace.code_cells:
            raise ReduceError(f"duplicate code cell start for {code_cell_id}")
        replay.pending_cell_starts[code_cell_id] = pending
        return
    _materialize(replay, pending)


def _materialize(replay: ReplayContext, pending: PendingCellStart) -> None:
    trace = replay.trace
    code_cell_id = pending.code_cell_id
    if code_cell_id in trace.code_cells:
        raise ReduceError(f"duplicate code cell start for {code_cell_id}")
    turn_id = pending.codex_turn_id
    if turn_id is None:
        raise ReduceError(f"code cell start {code_cell_id} did not include a Codex turn id")
    thread_id = pending.thread_id
    if thread_id not in trace.threads:
        raise ReduceError(f"code cell start {code_cell_id} referenced unknown thread {thread_id}")
    replay.turn_in_thread("code cell start", thread_id, turn_id)  # Codex names no cell here
    call_id = pending.model_visible_call_id
    source = _source_item(replay, thread_id, call_id)
    if source is None:
        raise ReduceError(
            f"code cell {code_cell_id} referenced model-visible call {call_id}, but no custom "
            "tool call item was observed"
        )
    items = trace.conversation_items
    outputs = in_list_order(
        replay,
        [
            i
            for i in replay.items_by_call.get((thread_id, call_id), ())
            if items[i].kind == "custom_tool_call_output"
        ],
    )
    nested = sorted(
        tool_id
        for tool_id, tool in trace.tool_calls.items()
        if tool.requester_code_cell_id == code_cell_id
    )
    cell = st.CodeCell(
        code_cell_id=code_cell_id,
        model_visible_call_id=call_id,
        thread_id=thread_id,
        codex_turn_id=turn_id,
        source_item_id=source,
        execution=st.ExecutionWindow(pending.wall_time_unix_ms, pending.seq),
        source_js=pending.source_js,
        runtime_cell_id=pending.runtime_cell_id,
        nested_tool_call_ids=nested,
    )
    trace.code_cells[code_cell_id] = cell
    for item_id in outputs:
        _add_output(replay, cell, item_id)
    for queued in sorted(replay.pending_cell_events.pop(code_cell_id, ()), key=lambda e: e.seq):
        _apply(replay, cell, queued)
    cell.wait_tool_call_ids.extend(pending.waits)


def flush_pending_starts(replay: ReplayContext) -> None:
    """Materialise queued starts whose source item exists now (in cell-id order)."""
    if not replay.pending_cell_starts:
        return
    for code_cell_id in sorted(replay.pending_cell_starts):
        pending = replay.pending_cell_starts[code_cell_id]
        if _source_item(replay, pending.thread_id, pending.model_visible_call_id) is not None:
            del replay.pending_cell_starts[code_cell_id]
            _materialize(replay, pending)


def _add_output(replay: ReplayContext, cell: st.CodeCell, item_id: str) -> None:
    push_unique(cell.output_item_ids, item_id)
    item = replay.trace.conversation_items[item_id]
    push_unique(item.produced_by, st.Producer("code_cell", cell.code_cell_id))


#: The one kind of conversation item a code cell links (its output).
LINKED_KIND: Final = "custom_tool_call_output"


def link_conversation_item(
    replay: ReplayContext, item_id: str, call_id: str | None, kind: str
) -> None:
    if call_id is None or kind != LINKED_KIND:
        return
    cell = replay.trace.code_cells.get(f"code_cell:{call_id}")
    if cell is not None:
        _add_output(replay, cell, item_id)


def lifecycle(
    replay: ReplayContext, event: TraceEvent, change: CodeCellInitialResponse | CodeCellEnded
) -> None:
    is_initial = isinstance(change, CodeCellInitialResponse)
    label = "code cell initial response" if is_initial else "code cell end"
    runtime = change.runtime_cell_id
    thread_id = _event_thread(replay, event, runtime, label)
    code_cell_id = replay.runtime_cells.get((thread_id, runtime))
    if code_cell_id is None:
        raise ReduceError(
            f"{label} referenced unknown runtime cell {runtime} in thread {thread_id}"
        )
    queued = PendingCellEvent(
        kind="initial_response" if is_initial else "ended",
        seq=event.seq,
        wall_time_unix_ms=event.wall_time_unix_ms,
        runtime_cell_id=runtime,
        status=change.status,
        payload_id=None
        if change.response_payload is None
        else change.response_payload.raw_payload_id,
    )
    cell = replay.trace.code_cells.get(code_cell_id)
    if cell is not None:
        # a materialised cell takes the event even while another thread's start of the same
        # cell id waits for its exec item (Codex 0.169 and 0.171)
        _apply(replay, cell, queued)
    elif code_cell_id in replay.pending_cell_starts:
        replay.pending_cell_events.setdefault(code_cell_id, []).append(queued)
    else:
        raise ReduceError(f"{label} referenced unknown cell {code_cell_id}")


def _apply(replay: ReplayContext, cell: st.CodeCell, change: PendingCellEvent) -> None:
    status = change.status
    if change.kind == "initial_response":
        cell.runtime_cell_id = change.runtime_cell_id
        if cell.initial_response_status is None:
            # The first real initial response wins, even over a time an earlier end (or a
            # turn end) back-filled.
            cell.initial_response_at_unix_ms = change.wall_time_unix_ms
            cell.initial_response_seq = change.seq
            cell.initial_response_status = status  # type: ignore[assignment]
            cell.raw_initial_response_payload_id = change.payload_id
        if status == "yielded":
            cell.yielded_at_unix_ms = change.wall_time_unix_ms
            cell.yielded_seq = change.seq
        cell.runtime_status = status  # type: ignore[assignment]
        return
    if cell.initial_response_at_unix_ms is None:
        cell.initial_response_at_unix_ms = change.wall_time_unix_ms
        cell.initial_response_seq = change.seq
    cell.execution.end(change.wall_time_unix_ms, change.seq, _ENDED_STATUS[status])
    cell.runtime_status = status  # type: ignore[assignment]
    cell.raw_result_payload_id = change.payload_id


def close_for_turn_end(
    replay: ReplayContext, codex_turn_id: str, turn_status: str, at: int, seq: int
) -> None:
    """A failed turn fails its running cells; a cancelled or aborted one terminates them,
    exactly as if the runtime had reported that end."""
    if turn_status == "failed":
        runtime = "failed"
    elif turn_status in ("cancelled", "aborted"):
        runtime = "terminated"
    else:
        return
    for cell in replay.trace.code_cells.values():
        if cell.codex_turn_id == codex_turn_id and cell.execution.status == "running":
            ending = PendingCellEvent("ended", seq, at, cell.runtime_cell_id or "", runtime, None)
            _apply(replay, cell, ending)


def wait_target_resolved(
    replay: ReplayContext, event: TraceEvent, resolved: CodeCellWaitTargetResolved
) -> None:
    """Schema 3: a ``wait`` call resolved to a code cell. The only source of wait links: the
    tool records the runtime cell, and the cell the runtime cell id names in the event's thread
    lists the tool: at once when materialised, when it is once its start was queued (Codex
    0.171). Nothing is back-filled for a cell whose start comes later."""
    tool_call_id = resolved.tool_call_id
    # Codex 0.171's order: the envelope first, then the tool (v3.md §10 lists the tool first:
    # its probes had a whole envelope)
    if event.thread_id is None:
        raise ReduceError("confirmed wait missing thread")
    if event.codex_turn_id is None:
        raise ReduceError("confirmed wait missing turn")
    tool = replay.trace.tool_calls.get(tool_call_id)
    if tool is None:
        raise ReduceError(f"confirmed wait referenced unknown dispatch {tool_call_id}")
    if event.thread_id != tool.thread_id or event.codex_turn_id != tool.started_by_codex_turn_id:
        raise ReduceError("confirmed wait target has wrong dispatch context")
    if tool.resolved_wait_runtime_cell_id is not None:
        raise ReduceError(f"duplicate confirmed wait target for {tool_call_id}")
    tool.resolved_wait_runtime_cell_id = resolved.runtime_cell_id
    code_cell_id = replay.runtime_cells.get((event.thread_id, resolved.runtime_cell_id))
    cell = None if code_cell_id is None else replay.trace.code_cells.get(code_cell_id)
    if cell is not None:
        push_unique(cell.wait_tool_call_ids, tool_call_id)
    elif code_cell_id is not None and code_cell_id in replay.pending_cell_starts:
        push_unique(replay.pending_cell_starts[code_cell_id].waits, tool_call_id)
