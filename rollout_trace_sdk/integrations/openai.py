"""Record the OpenAI Python SDK's model calls with one line: ``client = instrument(client)``.

``instrument`` replaces ``create`` on the client's ``responses`` and ``chat.completions``
resources (this client object only; a copy made with ``with_options`` is not instrumented).
A call made while a turn is current (inside ``async with turn:``) becomes one inference
call of that turn:

* the request, as sent (keyword arguments less the client-only ones; ``extra_body`` merged);
* the ``x-codex-inference-call-id`` header added to it, so provider logs join the trace;
* on success the response's output items (or the completion's message), token usage,
  response id and the upstream ``x-request-id``; a Responses ``status: "failed"`` is a
  failed call with the response's error text;
* an exception: failed with its text (and the error's request id), or cancelled;
* a stream (``stream=True``): recorded as it is consumed. The first delta records
  ``rollout_trace_first_token`` (a protocol event with ``time_to_first_token_ms``); the
  terminal event (Responses) or the end of the stream (Chat) completes the call; a stream
  closed before that ends it cancelled with the items received so far; one that breaks
  ends it failed. A stream dropped without closing is ended cancelled with its turn.

Calls outside a turn are passed through untouched. The SDK is never imported here: the
wrapper only looks at attributes of what the SDK returns, so any ``openai>=1.50`` works.

Tool calls stay the loop's own; :func:`run_function_call` runs one ``function_call`` item
and records it.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar

import attrs

from ..record._guard import quietly, warn_failed
from ..record.current import current_turn
from ..record.inference import NULL_INFERENCE_CALL, InferenceCall
from ..record.requests import to_plain
from ..record.runtime import error_text, outcome_of
from ..record.threads import Turn

__all__ = ["FIRST_TOKEN_EVENT", "instrument", "run_function_call"]

#: The protocol event a stream's first delta records.
FIRST_TOKEN_EVENT: Final = "rollout_trace_first_token"

_CLIENT_OPTIONS: Final = frozenset({"extra_headers", "extra_query", "extra_body", "timeout"})
_UNSET: Final = frozenset({"Omit", "NotGiven"})  # the SDK's "argument not given" sentinels
_MARK: Final = "_rollout_trace_instrumented"
#: The header the SDK's ``with_raw_response`` / ``with_streaming_response`` wrappers add.
_RAW_HEADER: Final = "X-Stainless-Raw-Response"

ClientT = TypeVar("ClientT")


def instrument(client: ClientT) -> ClientT:
    """Record the model calls ``client`` makes inside an open turn.

    Args:
        client: an ``openai.AsyncOpenAI`` or ``openai.OpenAI`` (or Azure) client.

    Returns:
        The same client, instrumented (instrumenting twice changes nothing).
    """
    if getattr(client, _MARK, False):
        return client
    is_async = any(cls.__name__ == "AsyncAPIClient" for cls in type(client).__mro__)
    resources = [getattr(client, "responses", None)]
    chat = getattr(client, "chat", None)
    resources.append(getattr(chat, "completions", None))
    for resource, api in zip(resources, ("responses", "chat"), strict=True):
        original = getattr(resource, "create", None)
        if original is None:
            continue
        if is_async or inspect.iscoroutinefunction(original):
            wrapped: Callable[..., Any] = _async_create(original, api)
        else:
            wrapped = _sync_create(original, api)
        resource.create = wrapped  # type: ignore[union-attr]
    helper = getattr(resources[0], "stream", None)
    if helper is not None:  # ``responses.stream(...)``: a block around ``create(stream=True)``
        resources[0].stream = _stream_helper(helper, is_async)  # type: ignore[union-attr]
    setattr(client, _MARK, True)
    return client


# --- the wrappers ------------------------------------------------------------------------------


def _start(turn: Turn, kwargs: dict[str, Any]) -> InferenceCall:
    """Start the inference call and add its header to the outgoing request (unless the
    request's own options are not what the SDK takes: the SDK then says so, not us)."""
    try:
        return _started(turn, kwargs)
    except Exception as exc:
        warn_failed("recording a request", exc, stacklevel=3)
        return NULL_INFERENCE_CALL


def _started(turn: Turn, kwargs: dict[str, Any]) -> InferenceCall:
    request: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key not in _CLIENT_OPTIONS and type(value).__name__ not in _UNSET:
            request[key] = value
    extra_body = kwargs.get("extra_body")
    if isinstance(extra_body, Mapping):
        request.update(extra_body)
    call = turn.inference(request)
    headers = kwargs.get("extra_headers")
    if headers is None or isinstance(headers, Mapping):
        kwargs["extra_headers"] = {**headers, **call.headers} if headers else call.headers
    return call


def _text(value: Any) -> str:
    """A streamed delta's text field: "" when absent (or not text)."""
    return value if isinstance(value, str) else ""


def _raw(kwargs: dict[str, Any]) -> bool:
    """A raw-response call returns the HTTP response, not the model's answer: not recorded."""
    headers = kwargs.get("extra_headers")
    return isinstance(headers, Mapping) and _RAW_HEADER in headers


def _async_create(original: Callable[..., Awaitable[Any]], api: str) -> Callable[..., Any]:
    @functools.wraps(original)
    async def create(*args: Any, **kwargs: Any) -> Any:
        turn = current_turn()
        if turn is None or _raw(kwargs):
            return await original(*args, **kwargs)
        call = _start(turn, kwargs)
        started = time.perf_counter_ns()
        try:
            await call.__aenter__()  # waits for the writer when the rollout says so
            result = await original(*args, **kwargs)
        except BaseException as exc:
            _ended_by(call, exc)
            raise
        return _answered(turn, call, api, started, result, kwargs, is_async=True)

    return create


def _sync_create(original: Callable[..., Any], api: str) -> Callable[..., Any]:
    @functools.wraps(original)
    def create(*args: Any, **kwargs: Any) -> Any:
        turn = current_turn()
        if turn is None or _raw(kwargs):
            return original(*args, **kwargs)
        call = _start(turn, kwargs)
        started = time.perf_counter_ns()
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            _ended_by(call, exc)
            raise
        return _answered(turn, call, api, started, result, kwargs, is_async=False)

    return create


def _answered(
    turn: Turn,
    call: InferenceCall,
    api: str,
    started: int,
    result: Any,
    kwargs: dict[str, Any],
    *,
    is_async: bool,
) -> Any:
    """What an instrumented ``create`` hands back: a stream wrapped so that reading it
    records it, else the answer, recorded now. One place for both the async and sync client."""
    if kwargs.get("stream") is True:
        recorder = _Recorder(turn, call, api, started, _stream_request_id(result))
        return _recorded(result, recorder, is_async)
    _finish(call, api, result)
    return result


@quietly("a failed request")
def _ended_by(
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


def _request_id(result: Any) -> str | None:
    value = getattr(result, "_request_id", None)
    return value if isinstance(value, str) else None


def _stream_request_id(stream: Any) -> str | None:
    """The upstream ``x-request-id`` of the HTTP response a stream reads."""
    headers = getattr(getattr(stream, "response", None), "headers", None)
    upstream = headers.get("x-request-id") if headers is not None else None
    return upstream if isinstance(upstream, str) else None


@quietly("a response")
def _finish(call: InferenceCall, api: str, result: Any, upstream: str | None = None) -> None:
    """Record a whole response (a Responses ``Response`` or a ``ChatCompletion``)."""
    upstream = upstream or _request_id(result)
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
        call.failed(_response_error(result), upstream_request_id=upstream, partial_items=output)
    elif status == "cancelled":
        call.cancelled("response cancelled", upstream_request_id=upstream, partial_items=output)
    else:
        call.completed(
            response_id=getattr(result, "id", None),
            output_items=output,
            token_usage=getattr(result, "usage", None),
            upstream_request_id=upstream,
        )


def _response_error(response: Any) -> str:
    error = to_plain(getattr(response, "error", None))
    if isinstance(error, Mapping):
        code, message = error.get("code"), error.get("message")
        return f"{code}: {message}" if code else str(message)
    return "response failed"


# --- streams -----------------------------------------------------------------------------------


@attrs.define(eq=False)
class _Recorder:
    """Follows a stream's events and ends the inference call once (completed, failed or
    cancelled), whichever way the stream ends."""

    _turn: Turn
    _call: InferenceCall
    _api: str
    _started: int  # perf_counter_ns at the request
    _upstream: str | None  # the stream's x-request-id
    _waiting_first: bool = True
    _items: list[Any] = attrs.Factory(list)  # Responses: output items done so far
    _id: str | None = None
    _text: list[str] = attrs.Factory(list)  # Chat: the message so far
    _calls: dict[int, dict[str, Any]] = attrs.Factory(dict)  # Chat: tool calls by index
    _order: list[dict[str, Any]] = attrs.Factory(list)  # Chat: tool calls as they came
    _usage: Any = None
    _finished: bool = False  # Chat: a finish_reason was seen

    def _first_token(self) -> None:
        self._waiting_first = False
        elapsed_ms = (time.perf_counter_ns() - self._started) / 1e6
        self._turn.thread.protocol_event(
            FIRST_TOKEN_EVENT,
            {
                "inference_call_id": self._call.inference_call_id,
                "time_to_first_token_ms": round(elapsed_ms, 3),
            },
        )

    @quietly("a stream event")
    def see(self, event: Any) -> None:
        if self._call.ended:
            return
        if self._api == "chat":
            self._see_chunk(event)
            return
        kind = getattr(event, "type", None)
        if not isinstance(kind, str):
            return
        if self._waiting_first and kind.endswith(".delta"):
            self._first_token()
        if kind == "response.output_item.done":
            self._items.append(getattr(event, "item", None))
        elif kind == "response.created":
            self._id = getattr(getattr(event, "response", None), "id", None)
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            _finish(self._call, "responses", event.response, self._upstream)
        elif kind == "error":
            message = getattr(event, "message", None)
            self._call.failed(
                str(message), upstream_request_id=self._upstream, partial_items=self._items
            )

    def _see_chunk(self, chunk: Any) -> None:
        self._id = self._id or getattr(chunk, "id", None)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self._usage = usage
        choices = getattr(chunk, "choices", None)
        if not choices:
            return
        # the first choice, as for a whole completion (``n`` > 1 streams several, by index)
        choice = next((c for c in choices if getattr(c, "index", None) in (0, None)), None)
        if choice is None:
            return
        if getattr(choice, "finish_reason", None) is not None:
            self._finished = True
        delta = getattr(choice, "delta", None)
        if delta is None:
            return
        content = getattr(delta, "content", None)
        tool_calls = getattr(delta, "tool_calls", None)
        if self._waiting_first and (content or tool_calls):
            self._first_token()
        if isinstance(content, str) and content:
            self._text.append(content)
        for part in tool_calls or ():
            slot = self._slot(getattr(part, "index", None), _text(getattr(part, "id", None)))
            function = getattr(part, "function", None)
            if function is not None:
                slot["function"]["name"] += _text(getattr(function, "name", None))
                slot["function"]["arguments"] += _text(getattr(function, "arguments", None))

    def _slot(self, index: Any, call_id: str) -> dict[str, Any]:
        """The tool call a delta continues. Deltas name it by ``index``; some servers send
        none, and then a new call id starts a new call and a delta without one continues
        the last."""
        numbered = isinstance(index, int) and not isinstance(index, bool)
        slot = self._calls.get(index) if numbered else None
        if slot is None and not numbered and self._order:
            last = self._order[-1]
            if not call_id or call_id == last["id"] or not last["id"]:
                slot = last
        if slot is None:
            slot = {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
            self._order.append(slot)
            if numbered:
                self._calls[index] = slot
        slot["id"] = call_id or slot["id"]
        return slot

    def _message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self._text) or None}
        if self._order:
            # by index, as the API numbers them; those without one where they came
            by_index = {id(slot): i for i, slot in self._calls.items()}
            message["tool_calls"] = sorted(
                self._order, key=lambda slot: by_index.get(id(slot), len(self._order))
            )
        return message

    def _partial(self) -> list[Any]:
        if self._api == "chat":
            return [self._message()] if self._text or self._order else []
        return self._items

    @quietly("the end of a stream")
    def ended(self) -> None:
        """The stream has no more events."""
        if self._call.ended:
            return
        if self._api == "chat":
            self._call.completed(
                response_id=self._id,
                output_items=[self._message()],
                token_usage=self._usage,
                upstream_request_id=self._upstream,
            )
        else:
            self._call.failed(
                "stream ended before the response completed",
                upstream_request_id=self._upstream,
                partial_items=self._items,
            )

    @quietly("a broken stream")
    def broken(self, exc: BaseException) -> None:
        """Reading the stream raised (connection lost, cancellation, ...)."""
        if not self._call.ended:
            _ended_by(self._call, exc, self._partial(), self._upstream)

    def reading(self) -> _Recorder:
        """``with recorder.reading():`` around reading the next event: the end of the stream
        (``StopIteration``, ``StopAsyncIteration``) ends the call, any other exception
        breaks it; both still propagate."""
        return self

    def __enter__(self) -> None:
        return None

    @quietly("a stream read")
    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        # never suppresses: the SDK's caller sees the end or the error as before
        if isinstance(exc, (StopIteration, StopAsyncIteration)):
            self.ended()
        elif exc is not None:
            self.broken(exc)

    @quietly("a stream's block")
    def left(self, error: object) -> None:
        """The ``with`` block holding the stream ended, by ``error`` if it is an exception."""
        if isinstance(error, BaseException):
            self.broken(error)

    @quietly("a closed stream")
    def closed(self) -> None:
        """The loop closed the stream: done if the answer was complete, else cancelled."""
        if self._call.ended:
            return
        if self._api == "chat" and self._finished:
            self.ended()
            return
        self._call.cancelled(
            "stream closed before the response completed",
            upstream_request_id=self._upstream,
            partial_items=self._partial(),
        )


def _async_methods(base: Any) -> dict[str, Any]:
    """Methods of a recording subclass of the SDK's ``AsyncStream`` class ``base``: every
    event is seen by the recorder first, and closing the stream is noticed."""

    def __aiter__(self: Any) -> Any:
        return self

    async def __anext__(self: Any) -> Any:
        recorder: _Recorder = self._rollout_trace_recorder
        with recorder.reading():
            event = await base.__anext__(self)
        recorder.see(event)
        return event

    async def close(self: Any) -> None:
        self._rollout_trace_recorder.closed()
        await base.close(self)

    async def __aexit__(self: Any, *exc_info: object) -> None:
        self._rollout_trace_recorder.left(exc_info[1])
        await self.close()

    return {"__aiter__": __aiter__, "__anext__": __anext__, "close": close, "__aexit__": __aexit__}


def _sync_methods(base: Any) -> dict[str, Any]:
    """The same for the SDK's sync ``Stream`` class ``base``: line for line the async
    methods, without ``await`` (one body cannot serve both)."""

    def __iter__(self: Any) -> Any:
        return self

    def __next__(self: Any) -> Any:
        recorder: _Recorder = self._rollout_trace_recorder
        with recorder.reading():
            event = base.__next__(self)
        recorder.see(event)
        return event

    def close(self: Any) -> None:
        self._rollout_trace_recorder.closed()
        base.close(self)

    def __exit__(self: Any, *exc_info: object) -> None:
        self._rollout_trace_recorder.left(exc_info[1])
        self.close()

    return {"__iter__": __iter__, "__next__": __next__, "close": close, "__exit__": __exit__}


def _helper_recorder(manager: Any) -> _Recorder | None:
    """The recorder of the raw stream under a ``responses.stream`` block, if it records."""
    stream = getattr(getattr(manager, "_rollout_trace_stream", None), "_raw_stream", None)
    recorder = getattr(stream, "_rollout_trace_recorder", None)
    return recorder if isinstance(recorder, _Recorder) else None


def _helper_left(manager: Any, error: object) -> None:
    """The block ended (by ``error`` if it is an exception): the call ends now, before the
    SDK closes the connection (which may take a while)."""
    recorder = _helper_recorder(manager)
    if recorder is not None:
        recorder.left(error)
        recorder.closed()


def _helper_methods(base: Any, is_async: bool) -> dict[str, Any]:
    """Methods of a recording subclass of the SDK's ``responses.stream`` block (its stream
    manager). Leaving the block closes the HTTP response directly, never the raw stream the
    recorder watches: the block's end is noticed here instead, failed by the block's
    exception, else cancelled unless the response was complete."""
    if is_async:

        async def __aenter__(self: Any) -> Any:
            self._rollout_trace_stream = await base.__aenter__(self)
            return self._rollout_trace_stream

        async def __aexit__(self: Any, *exc_info: Any) -> Any:
            _helper_left(self, exc_info[1])
            return await base.__aexit__(self, *exc_info)

        return {"__aenter__": __aenter__, "__aexit__": __aexit__}

    def __enter__(self: Any) -> Any:
        self._rollout_trace_stream = base.__enter__(self)
        return self._rollout_trace_stream

    def __exit__(self: Any, *exc_info: Any) -> Any:
        _helper_left(self, exc_info[1])
        return base.__exit__(self, *exc_info)

    return {"__enter__": __enter__, "__exit__": __exit__}


def _stream_helper(original: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
    @functools.wraps(original)
    def stream(*args: Any, **kwargs: Any) -> Any:
        manager = original(*args, **kwargs)
        return _swapped(manager, functools.partial(_helper_methods, is_async=is_async))

    return stream


_RECORDING_CLASSES: dict[type, type] = {}


def _swapped(obj: Any, methods: Callable[[Any], dict[str, Any]]) -> Any:
    """``obj`` with its class swapped for a subclass (made once per SDK class, with the same
    name) holding ``methods(cls)``, so ``isinstance`` checks and every other attribute work
    as before. An object that refuses the swap is left as it is."""
    cls = type(obj)
    recording = _RECORDING_CLASSES.get(cls)
    if recording is None:
        namespace = methods(cls)
        namespace["__module__"] = cls.__module__
        recording = type(cls.__name__, (cls,), namespace)
        _RECORDING_CLASSES[cls] = recording
    with contextlib.suppress(TypeError, AttributeError):  # an SDK class with __slots__
        obj.__class__ = recording
    return obj


def _recorded(stream: Any, recorder: _Recorder, is_async: bool) -> Any:
    """``stream``, now recording: every event is shown to the recorder first (see
    :func:`_swapped`). A stream that refuses the swap is still ended (cancelled) with its
    turn."""
    with contextlib.suppress(TypeError, AttributeError):
        stream._rollout_trace_recorder = recorder
    return _swapped(stream, _async_methods if is_async else _sync_methods)


# --- tools -------------------------------------------------------------------------------------


async def run_function_call(turn: Turn, item: Any, fn: Callable[..., Any]) -> dict[str, Any]:
    """Run the tool a ``function_call`` item asks for, recorded as a tool call of ``turn``.

    The item's JSON ``arguments`` object is passed to ``fn`` as keyword arguments (any other
    JSON value as one positional argument); ``fn`` may be sync or async. A string result is
    the output as is, anything else is sent as JSON. An exception (including arguments that
    are not JSON) is recorded as the tool call failing, then raised.

    Args:
        turn: the turn the call belongs to.
        item: the ``function_call`` item (dict or SDK object) from the model's output.
        fn: the tool.

    Returns:
        The ``function_call_output`` item, with its id, already accepted into the thread
        history: append it to the input of the next request.
    """
    call = to_plain(item)
    if not isinstance(call, Mapping) or call.get("type") != "function_call":
        raise ValueError(f"run_function_call needs a function_call item, not {item!r}")
    call_id = str(call.get("call_id"))
    arguments = call.get("arguments") or "{}"
    async with turn.tool_call(call_id, str(call.get("name")), arguments=arguments) as tool:
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
        result = fn(**parsed) if isinstance(parsed, dict) else fn(parsed)
        if inspect.isawaitable(result):
            result = await result
        output = result if isinstance(result, str) else json.dumps(to_plain(result))
        done: dict[str, Any] = tool.completed(
            {"type": "function_call_output", "call_id": call_id, "output": output}
        )
    return done
