"""What the OpenAI SDK answered, recorded on its inference call: a whole response (a
Responses ``Response`` or a ``ChatCompletion``), or the exception a request ended with. Shared
by the ``create`` wrappers, the stream recorder and the background-response tracker."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, Final

from ..record._guard import quietly
from ..record._plain import to_plain
from ..record.inference import InferenceCall
from ..record.runtime import error_text, outcome_of

#: What :func:`raw_answer` gives when a raw response's answer could not be read.
UNREAD: Final = object()


def raw_answer(result: Any, failed: Callable[[BaseException], None]) -> Any:
    """The answer of a ``with_raw_response`` call (its body read): ``result.parse()``, which
    the SDK keeps, so the caller's own ``parse()`` gets this same object. One that cannot be
    read (the caller's ``parse()`` raises the same) is handed to ``failed``: :data:`UNREAD`."""
    try:
        return result.parse()
    except Exception as exc:
        failed(exc)
        return UNREAD


async def raw_answer_async(result: Any, failed: Callable[[BaseException], None]) -> Any:
    """:func:`raw_answer` for the async client, whose ``parse()`` the SDK says will become a
    coroutine."""
    try:
        answer = result.parse()
        return await answer if inspect.isawaitable(answer) else answer
    except Exception as exc:
        failed(exc)
        return UNREAD


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
