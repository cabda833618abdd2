"""Record the OpenAI Python SDK's model calls with one line: ``client = instrument(client)``.

``instrument`` replaces ``create`` and ``parse`` (and wraps the ``stream`` blocks) on the
client's ``responses``, ``chat.completions``, ``beta.responses`` and
``beta.chat.completions`` resources, for this client object and the copies ``copy`` /
``with_options`` make of it. The ``beta`` ones are second copies the SDK keeps: of
``chat.completions`` for older code (before openai 1.92, the only home of ``parse`` and
``stream``), of ``responses`` for the beta API (multi-agent items, ``betas`` sent as the
``openai-beta`` header); their calls were not recorded. A call made while a turn is
current (inside ``async with turn:``) becomes one inference call of that turn:

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
* a ``with_raw_response`` call (not a stream): recorded as the call itself, its answer read
  with the raw response's ``parse()`` (which the SDK keeps for the caller's own), the raw
  response handed back; ``with_streaming_response`` and raw streams pass through, their
  body the caller's to read;
* a ``background=True`` response that comes back unfinished (``queued``, ``in_progress``)
  keeps its call open until a ``responses.retrieve`` or ``responses.cancel`` of any
  instrumented client returns it finished (or streams it to its terminal event), then
  records that response (see ``_background``).

``conversations.create`` and ``conversations.items.create`` / ``delete`` are told to the
recorder, so a request continuing a conversation the server keeps (``conversation=``) is
recorded with the items the model saw before its own (see ``_conversations``).
``responses.compact`` (either copy) is recorded as a compaction of the turn, installed at
once (see ``_compaction``). ``responses.connect`` (the WebSocket mode, either copy) records
each ``response.create`` sent over the connection as a streamed call and accepted
``response.steer`` input into the turn's history (see ``_websocket``). Calls outside a turn are passed through untouched. The SDK is
imported only to turn ``parse``'s class-valued ``text_format`` / ``response_format`` into
the schema it sends (``_sent``); otherwise the wrapper only looks at attributes of what
the SDK returns (pyproject.toml's ``openai`` bound is the oldest SDK the integration tests
pass with).

Tool calls stay the loop's own; :func:`run_function_call` runs one ``function_call`` item
and records it.
"""

from __future__ import annotations

import datetime
import functools
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar

from ..record._guard import warn_failed
from ..record._plain import to_plain
from ..record._text import bytes_text
from ..record.current import current_turn
from ..record.inference import NULL_INFERENCE_CALL, InferenceCall
from ..record.turns import Turn
from ._answers import UNREAD, ended_by, finish, raw_answer, raw_answer_async, stream_request_id
from ._background import CALLS, BackgroundCalls
from ._compaction import async_compact, sync_compact
from ._conversations import instrument_conversations, used_unrecorded
from ._sent import passed_through, raw_kind, read_once, sent_field, sent_request
from ._streams import FIRST_TOKEN_EVENT, Recorder, recorded, stream_helper
from ._websocket import connect as websocket_connect

__all__ = ["FIRST_TOKEN_EVENT", "instrument", "run_function_call"]

_MARK: Final = "_rollout_trace_instrumented"
#: The SDK's raw-response views, cached on a client and on each resource when first used.
_RAW_VIEWS: Final = ("with_raw_response", "with_streaming_response")

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
    beta = getattr(client, "beta", None)
    done: list[Any] = []
    for resource, api in (
        (getattr(client, "responses", None), "responses"),
        (getattr(getattr(client, "chat", None), "completions", None), "chat"),
        # the ``client.beta`` copies (see the module's docstring); older SDKs lack them
        (getattr(beta, "responses", None), "responses"),
        (getattr(getattr(beta, "chat", None), "completions", None), "chat"),
    ):
        if resource is not None and not any(resource is seen for seen in done):
            done.append(resource)
            _instrument_resource(resource, api, is_async)
    # what the client does to the conversations the server keeps (``conversation=``)
    instrument_conversations(client, is_async)
    # the raw views cached on the client and on the resources on the way to those wrapped
    # (``client.chat.with_raw_response.completions``) are made again, as the wrapped ones'
    for holder in (client, getattr(client, "chat", None), beta, getattr(beta, "chat", None)):
        for view in _RAW_VIEWS:
            if holder is not None:
                vars(holder).pop(view, None)
    for name in ("copy", "with_options"):  # a copy (another timeout, ...) records as well
        make = getattr(client, name, None)
        if callable(make):
            setattr(client, name, _copies_instrumented(make))
    setattr(client, _MARK, True)
    return client


def _instrument_resource(resource: Any, api: str, is_async: bool) -> None:
    """Wrap the calls of one ``responses`` or ``chat.completions`` resource."""
    held = CALLS if api == "responses" else None
    # the SDK's raw-response views keep the methods they were first made with (cached on the
    # resource): made before ``instrument``, they would call the unwrapped ones
    for view in _RAW_VIEWS:
        vars(resource).pop(view, None)
    # ``parse`` (structured output) posts the request itself, not through ``create``
    for name in ("create", "parse"):
        original = getattr(resource, name, None)
        if original is None:
            continue
        posts = _CHAT_PARSE_POSTS if (api, name) == ("chat", "parse") else {}
        if is_async or inspect.iscoroutinefunction(original):
            wrapped: Callable[..., Any] = _async_create(original, api, held, posts)
        else:
            wrapped = _sync_create(original, api, held, posts)
        setattr(resource, name, wrapped)
    helper = getattr(resource, "stream", None)
    if helper is not None:  # ``stream(...)``: a block around ``create(stream=True)``
        resource.stream = stream_helper(helper, is_async)
    if api != "responses":
        return
    for name in ("retrieve", "cancel"):  # what ends a background response's call
        fetch = getattr(resource, name, None)
        if fetch is not None:
            setattr(resource, name, (CALLS.wrap_async if is_async else CALLS.wrap_sync)(fetch))
    websocket = getattr(resource, "connect", None)
    if websocket is not None:  # the WebSocket mode (newer SDKs only)
        resource.connect = websocket_connect(websocket, is_async)
    compact = getattr(resource, "compact", None)
    if compact is not None:  # conversation compaction (newer SDKs only)
        resource.compact = (async_compact if is_async else sync_compact)(compact)


def _copies_instrumented(make: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(make)
    def copy(*args: Any, **kwargs: Any) -> Any:
        return instrument(make(*args, **kwargs))

    return copy


# --- the wrappers ------------------------------------------------------------------------------


#: What Chat's ``parse`` puts in the body itself (it takes no ``stream``: it posts ``false``).
_CHAT_PARSE_POSTS: Final[Mapping[str, Any]] = {"stream": False}


def _start(turn: Turn, kwargs: dict[str, Any], posts: Mapping[str, Any]) -> InferenceCall:
    """Start the inference call and add its header to the outgoing request (unless the
    request's own options are not what the SDK takes: the SDK then says so, not us). The
    loop's iterables are read first, outside the guard: an exception one raises is the
    loop's, which the SDK reading it would have raised."""
    sent = read_once(kwargs)
    try:
        return _started(turn, kwargs, sent, posts)
    except Exception as exc:
        warn_failed("recording a request", exc)
        return NULL_INFERENCE_CALL


def _started(
    turn: Turn, kwargs: dict[str, Any], sent: dict[str, Any], posts: Mapping[str, Any]
) -> InferenceCall:
    request = sent_request(sent)
    for key, value in posts.items():
        request.setdefault(key, value)  # (``extra_body``'s wins, as the SDK merges it last)
    call = turn.inference(request)
    headers = kwargs.get("extra_headers")
    if headers is None or isinstance(headers, Mapping):
        kwargs["extra_headers"] = {**headers, **call.headers} if headers else call.headers
    return call


def _async_create(
    original: Callable[..., Awaitable[Any]],
    api: str,
    background: BackgroundCalls | None,
    posts: Mapping[str, Any],
) -> Callable[..., Any]:
    @functools.wraps(original)
    async def create(*args: Any, **kwargs: Any) -> Any:
        turn = current_turn()
        if turn is None or passed_through(kwargs):
            used_unrecorded(kwargs)
            return await original(*args, **kwargs)
        call = _start(turn, kwargs, posts)
        started = time.perf_counter_ns()
        try:
            await call.__aenter__()  # waits for the writer when the rollout says so
            result = await original(*args, **kwargs)
        except BaseException as exc:
            ended_by(call, exc)
            raise
        if raw_kind(kwargs) is not None:  # with_raw_response: its answer read, then recorded
            answer = await raw_answer_async(result, functools.partial(ended_by, call))
            if answer is not UNREAD:
                _answered(turn, call, api, started, answer, kwargs, background, is_async=True)
            return result
        return _answered(turn, call, api, started, result, kwargs, background, is_async=True)

    return create


def _sync_create(
    original: Callable[..., Any],
    api: str,
    background: BackgroundCalls | None,
    posts: Mapping[str, Any],
) -> Callable[..., Any]:
    @functools.wraps(original)
    def create(*args: Any, **kwargs: Any) -> Any:
        turn = current_turn()
        if turn is None or passed_through(kwargs):
            used_unrecorded(kwargs)
            return original(*args, **kwargs)
        call = _start(turn, kwargs, posts)
        started = time.perf_counter_ns()
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            ended_by(call, exc)
            raise
        if raw_kind(kwargs) is not None:  # with_raw_response: its answer read, then recorded
            answer = raw_answer(result, functools.partial(ended_by, call))
            if answer is not UNREAD:
                _answered(turn, call, api, started, answer, kwargs, background, is_async=False)
            return result
        return _answered(turn, call, api, started, result, kwargs, background, is_async=False)

    return create


def _answered(
    turn: Turn,
    call: InferenceCall,
    api: str,
    started: int,
    result: Any,
    kwargs: dict[str, Any],
    background: BackgroundCalls | None,
    *,
    is_async: bool,
) -> Any:
    """What an instrumented ``create`` hands back: a stream wrapped so that reading it
    records it, else the answer, recorded now (a background response still unfinished: when
    a retrieve returns it finished). One place for both the async and sync client."""
    if kwargs.get("stream") is True:
        recorder = Recorder(turn, call, api, started, stream_request_id(result))
        return recorded(result, recorder, is_async)
    asked = sent_field(kwargs, "background")  # extra_body's over the argument, as sent
    if background is None or not background.hold(call, result, asked):
        finish(call, api, result)
    return result


# --- tools -------------------------------------------------------------------------------------


async def run_function_call(turn: Turn, item: Any, fn: Callable[..., Any]) -> dict[str, Any]:
    """Run the tool a ``function_call`` item asks for, recorded as a tool call of ``turn``.

    The item's JSON ``arguments`` object is passed to ``fn`` as keyword arguments (any other
    JSON value as one positional argument); ``fn`` may be sync or async. A string result is
    the output as is, and so are bytes, as their UTF-8 text (``base64:<data>`` when they are
    no UTF-8, as the recorder writes bytes); anything else is sent as JSON, what JSON cannot
    hold as its nearest text (a set as a list, bytes as above, a date in ISO 8601, anything
    else by ``str``): the tool has run, and its result must not turn into a failure the loop
    might retry. An exception (including arguments that are not JSON) is recorded as the tool call
    failing, then raised.

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
        output = result if isinstance(result, str) else _json_text(result)
        if isinstance(result, bytes | bytearray | memoryview):
            output = bytes_text(result)  # text the tool read: sent as a str result is
        done: dict[str, Any] = tool.completed(
            {"type": "function_call_output", "call_id": call_id, "output": output}
        )
    return done


def _json_text(result: Any) -> str:
    """A tool's result as the JSON text the model is sent (its ``str`` when not even the
    nearest JSON exists: keys that are not text, a cycle)."""
    try:
        return json.dumps(to_plain(result), default=_nearest_json)
    except (TypeError, ValueError, RecursionError):
        return str(result)


def _nearest_json(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes_text(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)
