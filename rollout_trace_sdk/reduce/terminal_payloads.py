"""A terminal operation's payloads read as Codex's typed structs: the dispatch invocation
(write_stdin's arguments), the exec begin and end payloads and the dispatch result, each
refused in serde's words when Codex's reader would refuse it, and the result each holds.
``terminals`` makes the sessions and operations from what these return.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

import orjson

from ..model import state as st
from ..model.events import RawPayloadRef
from ..model.serde_errors import (
    buffered_number_error,
    describe_content,
    invalid_type,
    missing_field_text,
    unknown_variant_text,
)
from .canonical import (
    RawNumber,
    compact_json,
    holds_inexact_numbers,
    parse_keeping_numbers,
    visited_numbers,
)
from .context import ReplayContext
from .errors import ReduceError
from .typed_payloads import as_fields, i32, optional_string, string, strings, struct_fields_error


def _optional_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def invocation_error(invocation: Any) -> str | None:
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


def stdin_arguments(arguments: str) -> tuple[str, st.WriteStdinRequest] | None:
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


def begin_error(payload: Any) -> str | None:
    """serde's complaint about an exec begin payload (``ExecCommandBeginPayload``)."""
    return struct_fields_error(
        payload,
        "ExecCommandBeginPayload",
        dict(zip(BEGIN_FIELDS, _BEGIN_CHECKS, strict=True)),
        ("command", "cwd"),
        fields=4,
    )


#: ExecCommandBeginPayload's fields in declaration order (a payload given as a sequence is
#: read in it) and their checks.
BEGIN_FIELDS: Final = ("process_id", "command", "cwd", "interaction_input")


_BEGIN_CHECKS: Final[tuple[Callable[[Any], str | None], ...]] = (
    optional_string,
    strings,
    string,
    optional_string,
)


# --- ending: the exec end and the dispatch result ------------------------------------------------


def _text_of(value: Any, exact: Callable[[], Any], *, content_only: bool = False) -> str | None:
    """A tool output's text: the string, or the text items of a list joined, or the value as
    JSON (``exact()``: it with its number text, see :func:`_json_text`). With
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
    return _json_text(value, exact)


def _json_text(value: Any, exact: Callable[[], Any]) -> str:
    """``value`` as serde_json writes a ``Value``: each number as the file spelled it (but
    for the exponent's form), which a float or an integer past 64 bits no longer says; for
    those, ``exact()`` is the value read again keeping number text."""
    if holds_inexact_numbers(value):
        return compact_json(exact())
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


def exec_result(payload: Any, pid: str) -> tuple[st.TerminalResult, str | None]:
    """An exec end payload's result and process id (refused as Codex refuses it)."""
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
    return unknown_variant_text(tag, _DISPATCH_TYPES)


def _dispatch_error(payload: Any) -> str | None:
    """serde's complaint about a dispatch result payload, or None when it parses. It is an
    internally tagged enum read from a ``Value``: serde takes the tag and buffers everything
    else, in document order (a number ``Content`` cannot hold is refused there, see
    :func:`~..model.serde_errors.buffered_number_error`), then reads the variant's field."""
    if isinstance(payload, list):
        # A sequence is read as (tag, fields...): its first element must name the variant.
        if not payload:
            return missing_field_text("type")
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
        return missing_field_text("type")
    kind = payload["type"]
    field = _DISPATCH_FIELDS[kind]
    if field not in payload:
        return missing_field_text(field)
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


def _dispatch_result(payload: dict[str, Any], exact: Callable[[], Any]) -> st.TerminalResult:
    """The result a dispatch payload holds; ``exact()`` is the payload with number text kept
    (for what Codex writes out as JSON)."""
    kind = payload["type"]
    if kind == "direct_response":
        item = payload.get("response_item")
        output = item.get("output") if isinstance(item, dict) else None
        text = None
        if output is not None:
            text = _text_of(output, lambda: exact()["response_item"]["output"], content_only=True)
        if text is None:
            text = _json_text(item, lambda: exact()["response_item"])
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
        text = _text_of(value, lambda: exact()["value"])
        return st.TerminalResult(
            exit_code=None, stdout=text or "", stderr="", formatted_output=text
        )
    error = payload["error"]
    return st.TerminalResult(exit_code=None, stdout="", stderr=error, formatted_output=error)


def with_number_text(replay: ReplayContext, ref: RawPayloadRef, payload: Any) -> Any:
    """``payload`` read again keeping each number's text (:class:`RawNumber`), when its
    parse may have lost what serde_json's ``Value`` holds (``holds_inexact_numbers``)."""
    if not holds_inexact_numbers(payload):
        return payload
    return parse_keeping_numbers(replay.payloads.read_payload_bytes(ref))


def stdin_result(
    payload: Any, pid: str, exact: Callable[[], Any]
) -> tuple[st.TerminalResult, str | None]:
    """write_stdin ends from a protocol end event when there is one, else from the dispatch
    result; Codex tries both shapes in that order. ``exact()`` is the payload again with its
    number text (the dispatch check tells a wide integer from a float, and a float spelled
    as its f64 from one kept as text; the result writes JSON with it)."""
    kept: list[Any] = []

    def once() -> Any:
        if not kept:
            kept.append(exact())
        return kept[0]

    try:
        return exec_result(payload, pid)
    except ReduceError as protocol:
        problem = _dispatch_error(visited_numbers(once()))
        if problem is not None:
            raise ReduceError(
                f"parse write_stdin terminal response {pid} as protocol payload "
                f"({protocol.cause}) or dispatch payload",
                cause=problem,
            ) from None
    read = once
    if isinstance(payload, list):  # (tag, field) as serde read it
        field = _DISPATCH_FIELDS[payload[0]]
        payload = {"type": payload[0], field: payload[1]}

        def read() -> Any:
            return {field: once()[1]}

    return _dispatch_result(payload, read), None
