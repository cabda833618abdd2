"""OpenAI SDK streams, recorded as they are read: the SDK's ``AsyncStream`` / ``Stream`` (and
the ``responses.stream(...)`` block) get their class swapped for a recording subclass, so
``isinstance`` and every attribute work as before, and the first delta, the terminal event,
an early close or a broken read end the inference call once."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any, Final

import attrs

from ..record._guard import quietly
from ..record._plain import to_plain
from ..record.inference import InferenceCall
from ..record.turns import Turn
from ._answers import ended_by, finish

#: The protocol event a stream's first delta records.
FIRST_TOKEN_EVENT: Final = "rollout_trace_first_token"


def _text(value: Any) -> str:
    """A streamed delta's text field: "" when absent (or not text)."""
    return value if isinstance(value, str) else ""


def _wrapped_error(event: Any) -> Any:
    """An ``error`` event as openai before 1.97.2 yields it, as the error event, else ``None``.
    Those versions parse an SSE ``event: error`` as ``{"event": "error", "data": <the
    event>}`` into the first model of the event union (no ``type``): the error's message was
    missed and the call ended "stream ended before the response completed" instead."""
    data = getattr(event, "data", None)
    if getattr(event, "event", None) != "error" or not isinstance(data, Mapping):
        return None
    return SimpleNamespace(message=data.get("message"))


#: The fields of a ``reasoning_details`` entry its deltas continue (the rest: the latest said).
_DETAIL_TEXT: Final = ("text", "summary", "data")


def _add_details(entries: list[dict[str, Any]], deltas: Any) -> None:
    """OpenRouter's streamed ``reasoning_details`` put together as a whole answer has them:
    each delta's entries continue the entry of their ``index`` (one without an index, the
    last entry when it is of its type), their text, summary or encrypted data appended;
    a new index or type starts an entry."""
    for delta in deltas if isinstance(deltas, list) else ():
        if not isinstance(delta, dict):
            continue
        index, kind = delta.get("index"), delta.get("type")
        entry = None
        if isinstance(index, int):
            entry = next(
                (e for e in entries if (e.get("index"), e.get("type")) == (index, kind)), None
            )
        elif entries and entries[-1].get("type") == kind:
            entry = entries[-1]
        if entry is None:
            entries.append(dict(delta))
            continue
        for key, value in delta.items():
            if key in _DETAIL_TEXT and isinstance(value, str):
                before = entry.get(key)
                entry[key] = (before if isinstance(before, str) else "") + value
            elif value is not None:
                entry[key] = value


@attrs.define(eq=False)
class Recorder:
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
    _refusal: list[str] = attrs.Factory(list)  # Chat: a refusal's text so far
    _reasoning: list[str] = attrs.Factory(list)  # Chat: a server's reasoning text so far
    _details: list[dict[str, Any]] = attrs.Factory(list)  # Chat: OpenRouter's reasoning_details
    _function: dict[str, str] | None = None  # Chat: a legacy ``function_call`` so far
    _audio: str | None = None  # Chat: an audio answer's id (reported left out, as a whole one's)
    _calls: dict[int, dict[str, Any]] = attrs.Factory(dict)  # Chat: tool calls by index
    _order: list[dict[str, Any]] = attrs.Factory(list)  # Chat: tool calls as they came
    _others: set[int] = attrs.Factory(set)  # Chat: the other choices' indexes (``n`` > 1)
    _usage: Any = None
    _finished: bool = False  # Chat: a finish_reason was seen

    def __attrs_post_init__(self) -> None:
        self._call._when_abandoned(self.abandoned)

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
            event = _wrapped_error(event)
            if event is None:
                return
            kind = "error"
        if self._waiting_first and kind.endswith(".delta"):
            self._first_token()
        if kind == "response.output_item.done":
            self._items.append(getattr(event, "item", None))
        elif kind == "response.created":
            self._id = getattr(getattr(event, "response", None), "id", None)
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            finish(self._call, "responses", event.response, self._upstream)
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
        choice = None
        for each in choices:
            index = getattr(each, "index", None)
            if index in (0, None):
                if choice is None:
                    choice = each
            elif isinstance(index, int):
                self._others.add(index)
        if choice is None:
            return
        if getattr(choice, "finish_reason", None) is not None:
            self._finished = True
        delta = getattr(choice, "delta", None)
        if delta is None:
            return
        content = getattr(delta, "content", None)
        tool_calls = getattr(delta, "tool_calls", None)
        refusal = getattr(delta, "refusal", None)
        legacy = getattr(delta, "function_call", None)  # asked for with ``functions=``
        audio = getattr(delta, "audio", None)
        # servers running reasoning models stream their reasoning in a field of their own
        # (see requests._chat_reasoning): the first of them the delta holds
        reasoning = getattr(delta, "reasoning_content", None) or getattr(delta, "reasoning", None)
        details = getattr(delta, "reasoning_details", None)
        answered = content or tool_calls or refusal or legacy or audio or reasoning or details
        if self._waiting_first and answered:
            self._first_token()
        if isinstance(reasoning, str):
            self._reasoning.append(reasoning)
        if details:
            _add_details(self._details, to_plain(details))
        if audio is not None:  # openai 2 has no ``audio`` field in a delta: a dict, its extra
            audio_id = audio.get("id") if isinstance(audio, dict) else getattr(audio, "id", None)
            self._audio = self._audio or _text(audio_id)
        if isinstance(content, str) and content:
            self._text.append(content)
        if isinstance(refusal, str) and refusal:
            self._refusal.append(refusal)
        if legacy is not None:
            if self._function is None:
                self._function = {"name": "", "arguments": ""}
            self._function["name"] += _text(getattr(legacy, "name", None))
            self._function["arguments"] += _text(getattr(legacy, "arguments", None))
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
        if self._refusal:
            message["refusal"] = "".join(self._refusal)
        if self._reasoning:
            message["reasoning_content"] = "".join(self._reasoning)
        if self._details:
            message["reasoning_details"] = [dict(entry) for entry in self._details]
        if self._function is not None:
            message["function_call"] = dict(self._function)
        if self._audio is not None:
            message["audio"] = {"id": self._audio}
        if self._order:
            # by index, as the API numbers them; those without one where they came
            by_index = {id(slot): i for i, slot in self._calls.items()}
            message["tool_calls"] = sorted(
                self._order, key=lambda slot: by_index.get(id(slot), len(self._order))
            )
        return message

    def _partial(self) -> list[Any]:
        if self._api == "chat":
            answered = (
                self._text or self._refusal or self._order or self._reasoning or self._details
            )
            if answered or self._function is not None or self._audio is not None:
                return [self._message()]
            return []
        return self._items

    @quietly("the end of a stream")
    def ended(self) -> None:
        """The stream has no more events."""
        if self._call.ended:
            return
        if self._api == "chat":
            # as a whole completion: several choices are said to be left out but the first
            output: Any = [self._message()]
            if self._others:
                others = [{"index": index} for index in sorted(self._others)]
                output = {"choices": [{"index": 0, "message": output[0]}, *others]}
            self._call.completed(
                response_id=self._id,
                output_items=output,
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
            ended_by(self._call, exc, self._partial(), self._upstream)

    def reading(self) -> Recorder:
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

    @quietly("an abandoned stream")
    def abandoned(self, status: str) -> None:
        """The turn (or rollout) ended while the stream was neither read to its end nor
        closed: the call ends as its turn did, keeping what arrived."""
        if self._call.ended:
            return
        if self._api == "chat" and self._finished:
            self.ended()
            return
        end = self._call.failed if status == "failed" else self._call.cancelled
        end(
            "ended before the response",
            upstream_request_id=self._upstream,
            partial_items=self._partial(),
        )

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
        recorder: Recorder = self._rollout_trace_recorder
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
        recorder: Recorder = self._rollout_trace_recorder
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


def _helper_recorder(manager: Any) -> Recorder | None:
    """The recorder of the raw stream under a ``responses.stream`` block, if it records."""
    stream = getattr(getattr(manager, "_rollout_trace_stream", None), "_raw_stream", None)
    recorder = getattr(stream, "_rollout_trace_recorder", None)
    return recorder if isinstance(recorder, Recorder) else None


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


def stream_helper(original: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
    @functools.wraps(original)
    def stream(*args: Any, **kwargs: Any) -> Any:
        manager = original(*args, **kwargs)
        return swapped(
            manager, functools.partial(_helper_methods, is_async=is_async), _HELPER_CLASSES
        )

    return stream


_RECORDING_CLASSES: dict[type, type] = {}
_HELPER_CLASSES: dict[type, type] = {}


def swapped(obj: Any, methods: Callable[[Any], dict[str, Any]], made: dict[type, type]) -> Any:
    """``obj`` with its class swapped for a subclass (made once per SDK class, with the same
    name, and kept in ``made``: one table per kind of swap) holding ``methods(cls)``, so
    ``isinstance`` checks and every other attribute work as before. An object that refuses
    the swap is left as it is."""
    cls = type(obj)
    recording = made.get(cls)
    if recording is None:
        namespace = methods(cls)
        namespace["__module__"] = cls.__module__
        recording = type(cls.__name__, (cls,), namespace)
        made[cls] = recording
    with contextlib.suppress(TypeError, AttributeError):  # an SDK class with __slots__
        obj.__class__ = recording
    return obj


def recorded(stream: Any, recorder: Recorder, is_async: bool) -> Any:
    """``stream``, now recording: every event is shown to the recorder first (see
    :func:`swapped`). A stream that refuses the swap is still ended (cancelled) with its
    turn."""
    with contextlib.suppress(TypeError, AttributeError):
        stream._rollout_trace_recorder = recorder
    return swapped(stream, _async_methods if is_async else _sync_methods, _RECORDING_CLASSES)
