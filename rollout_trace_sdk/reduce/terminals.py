"""Terminal operations (exec_command / write_stdin) and the sessions they run in.

Sessions are named after the operation that created them (``terminal_session:<op>``); each
thread maps live process ids to its sessions so a later write_stdin finds the process an
exec_command started. Operations start from the runtime begin (exec) or from the dispatch
invocation (write_stdin), and end from the runtime end or, without runtime events, from the
tool's dispatch result.
"""

from __future__ import annotations

from typing import Any

from ..model import state as st
from ..model.events import ExecutionStatus, RawPayloadRef, StdinTargetResolved, TraceEvent
from .context import ReplayContext, push_unique
from .errors import ReduceError
from .terminal_payloads import (
    BEGIN_FIELDS,
    begin_error,
    exec_result,
    invocation_error,
    stdin_arguments,
    stdin_result,
    with_number_text,
)
from .typed_payloads import as_fields

# --- sessions --------------------------------------------------------------------------------------


def _new_session(
    replay: ReplayContext,
    operation: st.TerminalOperation,
    thread_id: str,
    process: str | None,
    session_id: str | None = None,
) -> str:
    """Open a session for ``operation``. Normally it is named after the operation; a process
    id whose session was emptied (its only operation moved away by ``stdin_target_resolved``)
    stays registered under the old name, and Codex reopens the session under that name."""
    if session_id is None:
        session_id = f"terminal_session:{operation.operation_id}"
    replay.trace.terminal_sessions[session_id] = st.TerminalSession(
        terminal_id=session_id,
        thread_id=thread_id,
        created_by_operation_id=operation.operation_id,
        execution=st.ExecutionWindow(
            operation.execution.started_at_unix_ms, operation.execution.started_seq
        ),
        operation_ids=[operation.operation_id],
    )
    operation.terminal_id = session_id
    if process is not None:
        replay.process_sessions.setdefault(thread_id, {})[process] = session_id
        replay.session_process[session_id] = process
    return session_id


def forget_processes(replay: ReplayContext, thread_id: str) -> None:
    """A resumed thread's process ids name no session (Codex 0.169 and 0.171): a
    ``write_stdin`` to one opens a new session. A session still knows its own process."""
    replay.process_sessions.pop(thread_id, None)


def _join_or_create(
    replay: ReplayContext, operation: st.TerminalOperation, thread_id: str, process: str
) -> None:
    session_id = replay.process_sessions.get(thread_id, {}).get(process)
    session = None if session_id is None else replay.trace.terminal_sessions.get(session_id)
    if session is None:
        _new_session(replay, operation, thread_id, process, session_id)
        return
    operation.terminal_id = session.terminal_id
    push_unique(session.operation_ids, operation.operation_id)


def _new_operation(
    replay: ReplayContext,
    event: TraceEvent,
    tool_call_id: str,
    kind: Any,
    request: st.ExecCommandRequest | st.WriteStdinRequest,
    payload_id: str,
) -> st.TerminalOperation:
    operation = st.TerminalOperation(
        operation_id=replay.new_operation_id(),
        terminal_id=None,
        tool_call_id=tool_call_id,
        kind=kind,
        execution=st.ExecutionWindow(event.wall_time_unix_ms, event.seq),
        request=request,
        raw_payload_ids=[payload_id],
    )
    replay.trace.terminal_operations[operation.operation_id] = operation
    return operation


# --- starting ----------------------------------------------------------------------------------------


def start_from_invocation(
    replay: ReplayContext,
    event: TraceEvent,
    thread_id: str,
    tool_call_id: str,
    ref: RawPayloadRef,
    invocation: Any,
) -> str | None:
    """write_stdin names its target session only in the dispatch arguments."""
    pid = ref.raw_payload_id
    error = f"parse terminal invocation payload {pid} as dispatch payload"
    problem = invocation_error(invocation)
    if problem is not None:
        raise ReduceError(error, cause=problem)
    if invocation.get("tool_namespace") is not None:
        return None  # a namespaced tool is not the built-in write_stdin
    tool_name = invocation["tool_name"]
    if tool_name != "write_stdin":
        raise ReduceError(
            error, cause=f"dispatch terminal request is for {tool_name}, not write_stdin"
        )
    payload = invocation["payload"]
    payload_type = payload["type"]
    if payload_type != "function":
        raise ReduceError(
            error, cause=f"write_stdin dispatch payload used unsupported {payload_type} payload"
        )
    arguments = payload.get("arguments")
    if arguments is None:
        raise ReduceError(error, cause="write_stdin dispatch payload omitted function arguments")
    parsed = stdin_arguments(arguments)
    if parsed is None:
        return None
    process, request = parsed
    operation = _new_operation(replay, event, tool_call_id, "write_stdin", request, pid)
    _join_or_create(replay, operation, thread_id, process)
    return operation.operation_id


def start_from_runtime(
    replay: ReplayContext,
    event: TraceEvent,
    thread_id: str,
    tool_call_id: str,
    kind: str,
    ref: RawPayloadRef,
) -> str | None:
    pid = ref.raw_payload_id
    payload = replay.load_whole(ref)
    problem = begin_error(payload)
    if problem is not None:
        raise ReduceError(f"parse terminal runtime start payload {pid}", cause=problem)
    payload = as_fields(payload, BEGIN_FIELDS)
    command: list[str] = payload["command"]
    cwd: str = payload["cwd"]
    process: str | None = payload.get("process_id")
    request: st.ExecCommandRequest | st.WriteStdinRequest
    if kind == "exec_command":
        request = st.ExecCommandRequest(
            command=list(command), display_command=" ".join(command), cwd=cwd
        )
    else:
        stdin = payload.get("interaction_input")
        request = st.WriteStdinRequest(stdin=stdin if isinstance(stdin, str) else "")
    operation = _new_operation(replay, event, tool_call_id, kind, request, pid)
    if process is not None:
        if kind == "exec_command":
            _new_session(replay, operation, thread_id, process)
        else:
            _join_or_create(replay, operation, thread_id, process)
    return operation.operation_id


# --- ending ------------------------------------------------------------------------------------------


def end_operation(
    replay: ReplayContext,
    event: TraceEvent,
    thread_id: str,
    operation_id: str,
    status: ExecutionStatus,
    ref: RawPayloadRef | None,
    *,
    loaded: Any = None,
) -> None:
    """End an operation from a runtime end or dispatch result (``loaded``: that payload,
    when the caller has already read it)."""
    operation = replay.trace.terminal_operations.get(operation_id)
    if operation is None:
        raise ReduceError(f"terminal end referenced unknown operation {operation_id}")
    result: st.TerminalResult | None = None
    process: str | None = None
    if ref is not None and ref.available:
        payload = replay.load_whole(ref) if loaded is None else loaded
        if operation.kind == "exec_command":
            result, process = exec_result(payload, ref.raw_payload_id)
        else:
            result, process = stdin_result(
                payload, ref.raw_payload_id, lambda: with_number_text(replay, ref, payload)
            )
    operation.execution.end(event.wall_time_unix_ms, event.seq, status)
    if ref is not None:
        push_unique(operation.raw_payload_ids, ref.raw_payload_id)
    # An operation runs in its session's process (stdin_target_resolved may have moved it).
    known = None
    if operation.terminal_id is not None:
        known = replay.session_process.get(operation.terminal_id)
    if process is not None:
        if known is not None and known != process:
            raise ReduceError(
                f"terminal operation {operation_id} changed process id from {known} to {process}"
            )
        if known is None and operation.terminal_id is None:
            if operation.kind == "exec_command":
                _new_session(replay, operation, thread_id, process)
            else:
                _join_or_create(replay, operation, thread_id, process)
    if result is not None:
        operation.result = result


def resolve_stdin_target(replay: ReplayContext, resolved: StdinTargetResolved) -> None:
    tools = replay.trace.tool_calls
    stdin_tool = tools.get(resolved.tool_call_id)
    if stdin_tool is None:
        raise ReduceError(f"stdin target referenced unknown call {resolved.tool_call_id}")
    exec_tool = tools.get(resolved.exec_tool_call_id)
    if exec_tool is None:
        raise ReduceError(f"stdin target referenced unknown exec {resolved.exec_tool_call_id}")
    if stdin_tool.terminal_operation_id is None or exec_tool.terminal_operation_id is None:
        return
    operations = replay.trace.terminal_operations
    operation = operations[stdin_tool.terminal_operation_id]
    target_id = operations[exec_tool.terminal_operation_id].terminal_id
    if target_id is None or operation.terminal_id == target_id:
        return
    sessions = replay.trace.terminal_sessions
    target = sessions.get(target_id)
    if target is None:
        return
    if operation.terminal_id is not None:
        previous = sessions.get(operation.terminal_id)
        if previous is not None:
            if operation.operation_id in previous.operation_ids:
                previous.operation_ids.remove(operation.operation_id)
            if not previous.operation_ids:
                del sessions[previous.terminal_id]
    operation.terminal_id = target_id
    push_unique(target.operation_ids, operation.operation_id)


def sync_observation(replay: ReplayContext, tool_call_id: str) -> None:
    """Mirror the tool's model-visible call/output items onto its terminal operation."""
    tool = replay.trace.tool_calls.get(tool_call_id)
    if tool is None or tool.terminal_operation_id is None:
        return
    if not tool.model_visible_call_item_ids and not tool.model_visible_output_item_ids:
        return
    operation = replay.trace.terminal_operations.get(tool.terminal_operation_id)
    if operation is None:
        return
    calls = list(tool.model_visible_call_item_ids)
    outputs = list(tool.model_visible_output_item_ids)
    for observation in operation.model_observations:
        if observation.source == "direct_tool_call":
            observation.call_item_ids = calls
            observation.output_item_ids = outputs
            return
    operation.model_observations.append(st.ModelObservation(calls, outputs))
