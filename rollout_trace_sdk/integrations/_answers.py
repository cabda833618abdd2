"""What the OpenAI SDK answered, recorded on its inference call: a whole response (a
Responses ``Response`` or a ``ChatCompletion``), or the exception a request ended with. Shared
by the ``create`` wrappers, the stream recorder and the background-response tracker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..record._guard import quietly
from ..record._plain import to_plain
from ..record.inference import InferenceCall
from ..record.runtime import error_text, outcome_of


@quietly("a failed request")
def ended_by(
    call: InferenceCall,
    exc: BaseException,
    partial: list[Any] | None = None,
    upstream: str | None = None,
) -> None:
    from_error = getattr(exc, "request_id", None)
    upstream = from_error if isinstance(from_error, str) else upstream
    if outcome_of(exc) == "cancelled" or isinstance(exc, GeneratorExit):
        call.cancelled("cancelled", upstream_request_id=upstream, partial_items=partial or ())
    else:
        call.failed(error_text(exc), upstream_request_id=upstream, partial_items=partial or ())


def request_id(result: Any) -> str | None:
    value = getattr(result, "_request_id", None)
    return value if isinstance(value, str) else None


def stream_request_id(stream: Any) -> str | None:
    """The upstream ``x-request-id`` of the HTTP response a stream reads."""
    headers = getattr(getattr(stream, "response", None), "headers", None)
    upstream = headers.get("x-request-id") if headers is not None else None
    return upstream if isinstance(upstream, str) else None


@quietly("a response")
def finish(call: InferenceCall, api: str, result: Any, upstream: str | None = None) -> None:
    """Record a whole response (a Responses ``Response`` or a ``ChatCompletion``)."""
    upstream = upstream or request_id(result)
    if api == "chat":
        call.completed(
            response_id=getattr(result, "id", None),
            output_items=result,
            token_usage=getattr(result, "usage", None),
            upstream_request_id=upstream,
        )
        return
    status = getattr(result, "status", None)
    output = getattr(result, "output", None) or ()
    if status == "failed":
        call.failed(response_error(result), upstream_request_id=upstream, partial_items=output)
    elif status == "cancelled":
        call.cancelled("response cancelled", upstream_request_id=upstream, partial_items=output)
    else:
        call.completed(
            response_id=getattr(result, "id", None),
            output_items=output,
            token_usage=getattr(result, "usage", None),
            upstream_request_id=upstream,
        )


def response_error(response: Any) -> str:
    error = to_plain(getattr(response, "error", None))
    if isinstance(error, Mapping):
        code, message = error.get("code"), error.get("message")
        return f"{code}: {message}" if code else str(message)
    return "response failed"
