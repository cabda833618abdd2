"""Terminal operations (exec_command / write_stdin) and the sessions they run in.

Sessions are named after the operation that created them (``terminal_session:<op>``); each
thread maps live process ids to its sessions so a later write_stdin finds the process an
exec_command started. Operations start from the runtime begin (exec) or from the dispatch
invocation (write_stdin), and end from the runtime end or, without runtime events, from the
tool's dispatch result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final

import orjson

from ..model import state as st
from ..model.codec import loads_wide_numbers
from ..model.events import ExecutionStatus, RawPayloadRef, StdinTargetResolved, TraceEvent
from ..model.serde_errors import buffered_number_error, describe_content, invalid_type
from .canonical import RawNumber
from .context import ReplayContext, push_unique
from .errors import ReduceError
from .typed_payloads import as_fields, i32, optional_string, string, strings, struct_fields_error


def _process_key(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, int):
        return str(value)
    return None


def _optional_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


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


def _invocation_error(invocation: Any) -> str | None:
    """serde's complaint about a dispatch invocation read as Codex's typed struct."""
    return struct_fields_error(
        invocation,
        "DispatchedToolTraceRequestPayload",
        {"tool_name": string, "tool_namespace": optional_string, "payload": _payload_error},
        ("tool_name", "payload"),
    )


def _payload_error(payload: Any) -> str | None:
    return struct_fields_error(
        payload,
        "DispatchedToolPayload",
        {"type": string, "arguments": optional_string, "input": optional_string},
        ("type",),
        fields=2,  # as serde counts it (0.169 and 0.171)
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate field `{key}`")
        out[key] = value
    return out


def _u64(value: Any) -> int | None:
    if not isinstance(value, RawNumber) or not value.isdigit():
        raise ValueError("expected u64")
    number = int(value)
    if number >= 2**64:
        raise ValueError("expected u64")
    return number


def _stdin_arguments(arguments: str) -> tuple[str, st.WriteStdinRequest] | None:
    """The write_stdin arguments as Codex's typed struct reads them; None when they do not
    read (then there is no terminal operation, and no error)."""
    try:
        parsed = json.loads(
            arguments,
            object_pairs_hook=_no_duplicates,
            parse_float=RawNumber,
            parse_int=RawNumber,
            parse_constant=_reject,
        )
        if not isinstance(parsed, dict) or "session_id" not in parsed:
            return None
        session = parsed["session_id"]
        if isinstance(session, RawNumber):
            process = str(session)
        elif isinstance(session, str) and session:
            process = session
        else:
            return None
        chars = parsed.get("chars", "")
        if type(chars) is not str:
            return None
        limits = [parsed.get(name) for name in ("yield_time_ms", "max_output_tokens")]
        yield_time_ms, max_output_tokens = (None if v is None else _u64(v) for v in limits)
    except ValueError:
        return None
    return process, st.WriteStdinRequest(chars, yield_time_ms, max_output_tokens)


def _reject(name: str) -> Any:
    raise ValueError(name)


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
    problem = _invocation_error(invocation)
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
    parsed = _stdin_arguments(arguments)
    if parsed is None:
        return None
    process, request = parsed
    operation = _new_operation(replay, event, tool_call_id, "write_stdin", request, pid)
    _join_or_create(replay, operation, thread_id, process)
    return operation.operation_id


def _begin_error(payload: Any) -> str | None:
    """serde's complaint about an exec begin payload (``ExecCommandBeginPayload``)."""
    return struct_fields_error(
        payload,
        "ExecCommandBeginPayload",
        dict(zip(_BEGIN_FIELDS, _BEGIN_CHECKS, strict=True)),
        ("command", "cwd"),
        fields=4,
    )


#: ExecCommandBeginPayload's fields in declaration order (a payload given as a sequence is
#: read in it) and their checks.
_BEGIN_FIELDS: Final = ("process_id", "command", "cwd", "interaction_input")
_BEGIN_CHECKS: Final[tuple[Callable[[Any], str | None], ...]] = (
    optional_string,
    strings,
    string,
    optional_string,
)


def start_from_runtime(
    replay: ReplayContext,
    event: TraceEvent,
    thread_id: str,
    tool_call_id: str,
    kind: str,
    ref: RawPayloadRef,
) -> str | None:
    pid = ref.raw_payload_id
    payload = replay.load(ref)
    problem = _begin_error(payload)
    if problem is not None:
        raise ReduceError(f"parse terminal runtime start payload {pid}", cause=problem)
    payload = as_fields(payload, _BEGIN_FIELDS)
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


def _text_of(value: Any, *, content_only: bool = False) -> str | None:
    """A tool output's text: the string, or the text items of a list joined. With
    ``content_only`` (a function output), a list holding anything that is neither a text nor
    an image item is no content: None, and Codex shows the whole item as JSON instead."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if content_only and not (value and all(_is_content_item(part) for part in value)):
            return None
        return "\n".join(
            part["text"]
            for part in value
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return orjson.dumps(value).decode("utf-8")


def _is_content_item(part: Any) -> bool:
    return isinstance(part, dict) and (
        isinstance(part.get("text"), str) or isinstance(part.get("image_url"), str)
    )


def _end_error(payload: Any) -> str | None:
    """serde's complaint about an exec end payload (``ExecCommandEndPayload``)."""
    # alike in shape with _payload_error: each is one struct's field table for one checker
    return struct_fields_error(
        payload,
        "ExecCommandEndPayload",
        dict(zip(_END_FIELDS, (optional_string, string, i32), strict=True)),
        ("exit_code",),
        defaults=("aggregated_output",),
    )


#: The exec end payload's fields in declaration order.
_END_FIELDS: Final = ("process_id", "aggregated_output", "exit_code")


def _exec_result(payload: Any, pid: str) -> tuple[st.TerminalResult, str | None]:
    problem = _end_error(payload)
    if problem is not None:
        raise ReduceError(f"parse exec terminal response {pid}", cause=problem)
    payload = as_fields(payload, _END_FIELDS)
    output = payload.get("aggregated_output", "")
    result = st.TerminalResult(exit_code=payload["exit_code"], stdout=output, stderr="")
    return result, payload.get("process_id")


_DISPATCH_TYPES = ("direct_response", "code_mode_response", "error")
_DISPATCH_FIELDS = {
    "direct_response": "response_item",
    "code_mode_response": "value",
    "error": "error",
}


def _unknown_dispatch(tag: str) -> str:
    return f"unknown variant `{tag}`, expected one of " + ", ".join(
        f"`{t}`" for t in _DISPATCH_TYPES
    )


def _dispatch_error(payload: Any) -> str | None:
    """serde's complaint about a dispatch result payload, or None when it parses. It is an
    internally tagged enum read from a ``Value``: serde takes the tag and buffers everything
    else, in document order (a number ``Content`` cannot hold is refused there, see
    :func:`~..model.serde_errors.buffered_number_error`), then reads the variant's field."""
    if isinstance(payload, list):
        # A sequence is read as (tag, fields...): its first element must name the variant.
        if not payload:
            return "missing field `type`"
        tag = payload[0]
        problem = _dispatch_tag_error(tag)
        if problem is not None:
            return problem
        problem = buffered_number_error(payload[1:])
        if problem is not None:
            return problem
        # the variant's one field from the rest of the sequence
        if len(payload) < 2:
            variant = "".join(word.title() for word in tag.split("_"))
            return (
                "invalid length 0, expected struct variant "
                f"DispatchedToolTraceResponsePayload::{variant} with 1 element"
            )
        if tag == "error" and not isinstance(payload[1], str):
            return f"invalid type: {describe_content(payload[1])}, expected a string"
        return None
    if not isinstance(payload, dict):
        return (
            f"invalid type: {describe_content(payload)}, "
            "expected internally tagged enum DispatchedToolTraceResponsePayload"
        )
    for key, value in payload.items():
        problem = _dispatch_tag_error(value) if key == "type" else buffered_number_error(value)
        if problem is not None:
            return problem
    if "type" not in payload:
        return "missing field `type`"
    kind = payload["type"]
    field = _DISPATCH_FIELDS[kind]
    if field not in payload:
        return f"missing field `{field}`"
    if kind == "error" and not isinstance(payload[field], str):
        return f"invalid type: {describe_content(payload[field])}, expected a string"
    return None


def _dispatch_tag_error(tag: Any) -> str | None:
    if not isinstance(tag, str):
        return invalid_type(tag, "variant identifier")
    return None if tag in _DISPATCH_TYPES else _unknown_dispatch(tag)


def _is_projection(value: Any) -> bool:
    """Whether a code-mode value has the unified-exec result shape Codex projects."""
    if not isinstance(value, dict) or not isinstance(value.get("output"), str):
        return False
    exit_code = value.get("exit_code")
    tokens = value.get("original_token_count")
    chunk = value.get("chunk_id")
    return (
        (
            exit_code is None
            or (_optional_int(exit_code) is not None and -(2**31) <= exit_code < 2**31)
        )
        and (tokens is None or (_optional_int(tokens) is not None and tokens >= 0))
        and (chunk is None or isinstance(chunk, str))
    )


def _dispatch_result(payload: dict[str, Any]) -> st.TerminalResult:
    kind = payload["type"]
    if kind == "direct_response":
        item = payload.get("response_item")
        output = item.get("output") if isinstance(item, dict) else None
        text = _text_of(output, content_only=True) if output is not None else None
        if text is None:
            text = orjson.dumps(item).decode("utf-8")
        return st.TerminalResult(
            exit_code=None, stdout=text or "", stderr="", formatted_output=text
        )
    if kind == "code_mode_response":
        value: Any = payload.get("value")
        if isinstance(value, dict) and _is_projection(value):
            chunk = value.get("chunk_id")
            return st.TerminalResult(
                exit_code=_optional_int(value.get("exit_code")),
                stdout=value["output"],
                stderr="",
                formatted_output=value["output"],
                original_token_count=_optional_int(value.get("original_token_count")),
                chunk_id=chunk if isinstance(chunk, str) else None,
            )
        text = _text_of(value)
        return st.TerminalResult(
            exit_code=None, stdout=text or "", stderr="", formatted_output=text
        )
    error = payload["error"]
    return st.TerminalResult(exit_code=None, stdout="", stderr=error, formatted_output=error)


#: Only text with a run of 19 digits can hold an integer past i64 or u64.
_LONG_DIGITS: Final = re.compile(rb"[0-9]{19}")


def _with_exact_integers(replay: ReplayContext, ref: RawPayloadRef, payload: Any) -> Any:
    """``payload`` read again keeping integers past i64 / u64 as integers (the loaded value
    has them as floats, as orjson reads them), when its text can hold one."""
    raw = replay.payloads.read_payload_bytes(ref)
    return loads_wide_numbers(raw) if _LONG_DIGITS.search(raw) else payload


def _stdin_result(
    payload: Any, pid: str, exact: Callable[[], Any]
) -> tuple[st.TerminalResult, str | None]:
    """write_stdin ends from a protocol end event when there is one, else from the dispatch
    result; Codex tries both shapes in that order. ``exact()`` is the payload again with its
    integers exact (the dispatch check tells a wide integer from a float)."""
    try:
        return _exec_result(payload, pid)
    except ReduceError as protocol:
        problem = _dispatch_error(exact())
        if problem is not None:
            raise ReduceError(
                f"parse write_stdin terminal response {pid} as protocol payload "
                f"({protocol.cause}) or dispatch payload",
                cause=problem,
            ) from None
    if isinstance(payload, list):  # (tag, field) as serde read it
        payload = {"type": payload[0], _DISPATCH_FIELDS[payload[0]]: payload[1]}
    return _dispatch_result(payload), None


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
        if loaded is None and ref.unkept_parts():
            # Codex 0.171 reads a tool's result whole: a template over a part cut or left out
            # (at any depth) is refused, where other readers see the placeholder
            raise ReduceError(f"partial payload {ref.raw_payload_id}")
        payload = replay.load(ref) if loaded is None else loaded
        if operation.kind == "exec_command":
            result, process = _exec_result(payload, ref.raw_payload_id)
        else:
            result, process = _stdin_result(
                payload, ref.raw_payload_id, lambda: _with_exact_integers(replay, ref, payload)
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
