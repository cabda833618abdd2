"""The Responses API's WebSocket mode (``client.responses.connect()``), recorded: the SDK's
connection manager and the connection it opens get their class swapped for a recording
subclass (as streams do, see ``_streams.swapped``), so every attribute works as before.

What the loop sends and what it receives are both watched:

* a ``response.create`` sent inside a turn starts an inference call with that request (the
  envelope's ``type`` and ``stream_id`` left out, as ``create``'s client options are). The
  response's events are followed by the stream recorder of the HTTP path
  (``_streams.Recorder``) until its terminal event, which ends the call as a stream's does;
* responses run one at a time per *lane* (``stream_id``; the API processes a lane's
  requests first in, first out and echoes the lane on their events), so a lane's events go
  to its running response, and a ``response.created`` starts the lane's oldest
  ``response.create`` still waiting;
* an ``error`` event fails the running (or waiting) call of the lane it names (the API
  echoes the request's ``stream_id``; one naming none: the only lane busy, else the
  default one) with the error's ``code: message``; the connection closing under a read
  fails every open call with the close's text, the loop closing it cancels them (an
  exception leaving the connection's ``with`` block, or raised opening it, ends them by
  that exception);
* a ``response.steer`` sent inside a turn is remembered; the server's
  ``response.steer.accepted`` for it (matched by the steered response's id, in order)
  accepts its input into the turn's history, as Codex records steered input mid-turn
  (``history_item_accepted``). Accepted input the API has not yet put into a response
  is recorded first in the input of the next ``response.create`` continuing the steered
  response (``previous_response_id``), which is where the API puts it (the loop is told
  not to send it again). A ``response.steer.pending`` records nothing (the input was
  already accepted); a ``response.steer.failed`` records nothing either (one refused
  before acceptance is forgotten; one that fails after acceptance stays accepted: the
  trace format has no way to take an item back out of a history), but input it returns
  uncommitted is no longer put first in a continuation's recorded input: the API gives
  it back for the loop to send itself;
* a ``response.created`` nobody asked for, whose ``previous_response_id`` is a response
  steered input was accepted for, is the API's automatic successor: it is recorded as an
  inference of the steered response's turn whose request is that response's request
  continued from it (``previous_response_id``) with the accepted input, which is what
  the API says a successor inherits.

A response whose ``response.create`` was sent outside a turn (or by ``send_raw`` with text
that is not JSON) is not recorded, nor are its events. Over a WebSocket no per-request
header can be added: the call id header HTTP requests carry is not sent. Recording never
raises into the loop and never changes what the SDK sends or returns.
"""

from __future__ import annotations

import collections
import functools
import json
import time
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any, Final

import attrs

from ..record._guard import quietly
from ..record._plain import to_plain
from ..record.current import current_turn
from ..record.inference import InferenceCall
from ..record.runtime import outcome_of
from ..record.turns import Turn
from ._answers import ended_by, response_error
from ._sent import sent_request
from ._streams import Recorder, swapped

#: Fields of a ``response.create`` event that are the WebSocket envelope, not the request.
_ENVELOPE: Final = frozenset({"type", "stream_id"})
#: The events that end a response.
_TERMINAL: Final = frozenset({"response.completed", "response.incomplete", "response.failed"})


@attrs.define(eq=False)
class _Call:
    """One recorded response on a lane: its request, its turn and the recorder of its
    events."""

    request: dict[str, Any]
    turn: Turn
    recorder: Recorder
    call: InferenceCall
    response_id: str | None = None


_Lane = str | None


@attrs.define(eq=False)
class Lanes:
    """What one connection has sent and is running, lane by lane. A ``None`` entry is a
    response asked for outside a turn: its events are followed (to keep the lane's order)
    but not recorded."""

    _waiting: dict[_Lane, collections.deque[_Call | None]] = attrs.Factory(dict)
    _running: dict[_Lane, _Call | None] = attrs.Factory(dict)
    _ended: dict[str, _Call] = attrs.Factory(dict)  # ended steered responses, by id
    _steers: dict[str, collections.deque[tuple[Turn, list[Any]]]] = attrs.Factory(dict)
    #: accepted input still queued at the API, by response id: (the steer's id, its items)
    _steered: dict[str, list[tuple[str | None, list[Any]]]] = attrs.Factory(dict)

    # --- what the loop sends -------------------------------------------------------------

    @quietly("a WebSocket event sent")
    def sent(self, event: Any) -> InferenceCall | None:
        """The loop sends ``event`` (a client event: an SDK object, a dict or JSON text).
        Returns the inference call a ``response.create`` started, if any."""
        body = _client_event(event)
        if not isinstance(body, Mapping):
            return None
        kind = body.get("type")
        turn = current_turn()
        if kind == "response.steer":
            target = body.get("previous_response_id")
            if turn is not None and isinstance(target, str):
                queue = self._steers.setdefault(target, collections.deque())
                queue.append((turn, _input_items(body.get("input"))))
            return None
        if kind != "response.create":
            return None
        entry = None
        if turn is not None:
            request = sent_request({k: v for k, v in body.items() if k not in _ENVELOPE})
            previous = request.get("previous_response_id")
            if isinstance(previous, str) and previous in self._steered:
                # the API puts the input still queued for that response first
                steered = _queued(self._steered.pop(previous))
                self._ended.pop(previous, None)
                request["input"] = [*steered, *_input_items(request.get("input"))]
            entry = _start(turn, request)
        lane = body.get("stream_id")
        self._waiting.setdefault(lane if isinstance(lane, str) else None, collections.deque())
        self._waiting[lane if isinstance(lane, str) else None].append(entry)
        return entry.call if entry is not None else None

    @quietly("a WebSocket event not sent")
    def unsent(self, call: InferenceCall | None, exc: BaseException) -> None:
        """Sending the ``response.create`` that started ``call`` raised: it never left."""
        if call is None:
            return
        for queue in self._waiting.values():
            for entry in list(queue):
                if entry is not None and entry.call is call:
                    queue.remove(entry)
        ended_by(call, exc)

    # --- what the loop receives ----------------------------------------------------------

    @quietly("a WebSocket event received")
    def received(self, event: Any) -> None:
        """The loop received server ``event`` (parsed by the SDK)."""
        kind = getattr(event, "type", None)
        if not isinstance(kind, str):
            return
        if kind.startswith("response.steer."):
            self._steer_event(kind, getattr(event, "steer", None))
            return
        if kind == "error":
            self._error(event)
            return
        lane = getattr(event, "stream_id", None)
        lane = lane if isinstance(lane, str) else None
        if kind == "response.created":
            self._created(lane, getattr(event, "response", None))
        if lane not in self._running:
            return
        entry = self._running[lane]
        if entry is not None:
            entry.recorder.see(event)
        if kind in _TERMINAL:
            del self._running[lane]
            if entry is not None:
                self._keep_if_steered(entry)

    def _keep_if_steered(self, entry: _Call) -> None:
        """An ended response is kept (its request is what the API's automatic successor
        inherits) only while steering may make a successor of it: a connection lives long,
        and its requests hold whole histories."""
        ended = entry.response_id
        if ended is not None and (self._steered.get(ended) or self._steers.get(ended)):
            self._ended[ended] = entry

    def _created(self, lane: _Lane, response: Any) -> None:
        response_id = getattr(response, "id", None)
        previous = getattr(response, "previous_response_id", None)
        queue = self._waiting.get(lane)
        # a waiting request continuing the steered response takes its queued input itself
        head = queue[0] if queue else None
        asked = bool(queue) and (
            head is None or head.request.get("previous_response_id") == previous
        )
        if isinstance(previous, str) and previous in self._steered and not asked:
            entry = self._successor(previous)  # the API's own continuation of a steer
        elif queue:
            entry = queue.popleft()
        else:
            entry = None  # a response this connection did not ask for while recording
        if entry is not None and isinstance(response_id, str):
            entry.response_id = response_id
        self._running[lane] = entry

    def _successor(self, previous: str) -> _Call | None:
        accepted = _queued(self._steered.pop(previous))
        before = self._ended.pop(previous, None)
        if before is None:
            return None
        request = {**before.request, "previous_response_id": previous, "input": accepted}
        return _start(before.turn, request)

    def _steer_event(self, kind: str, steer: Any) -> None:
        target = getattr(steer, "previous_response_id", None)
        if not isinstance(target, str):
            return
        queue = self._steers.get(target)
        steer_id = getattr(steer, "id", None)
        if kind == "response.steer.accepted" and queue:
            turn, items = queue.popleft()
            accepted = turn.accept(*items)
            self._steered.setdefault(target, []).append((steer_id, accepted))
        elif kind == "response.steer.failed" and steer_id is None:
            if queue:
                queue.popleft()  # refused before it was accepted: nothing entered the history
        elif kind == "response.steer.failed":
            # accepted, then returned uncommitted for the loop to send itself: it stays in
            # the history, and is no longer the API's to put first in a continuation
            left = [queued for queued in self._steered.get(target, ()) if queued[0] != steer_id]
            if left:
                self._steered[target] = left
            else:
                self._steered.pop(target, None)
        if queue is not None and not queue:
            del self._steers[target]
        if not self._steered.get(target) and not self._steers.get(target):
            self._ended.pop(target, None)  # nothing will continue it now

    def _error(self, event: Any) -> None:
        lane = getattr(event, "stream_id", None)
        if not isinstance(lane, str):  # it names no lane: the only one busy, else the default
            busy = [lane for lane in {*self._running, *self._waiting} if self._open(lane)]
            lane = busy[0] if len(busy) == 1 else None
        if lane in self._running:
            entry = self._running.pop(lane)
        else:  # refused before it started
            queue = self._waiting.get(lane)
            entry = queue.popleft() if queue else None
        if entry is not None:
            text = response_error(event)
            entry.recorder.see(SimpleNamespace(type="error", message=text))

    def _open(self, lane: _Lane) -> bool:
        return lane in self._running or bool(self._waiting.get(lane))

    # --- the connection's end ------------------------------------------------------------

    def _open_calls(self) -> list[_Call]:
        calls = [entry for entry in self._running.values() if entry is not None]
        calls += [entry for queue in self._waiting.values() for entry in queue if entry]
        self._running.clear()
        self._waiting.clear()
        return calls

    @quietly("a WebSocket connection lost")
    def broken(self, exc: BaseException) -> None:
        """Reading raised: the connection closing under a read fails every open call
        (their responses are lost, even if the SDK reconnects); anything else (a
        cancelled read, which the SDK says loses nothing) leaves them running."""
        if any(cls.__name__ == "ConnectionClosed" for cls in type(exc).__mro__):
            for entry in self._open_calls():
                entry.recorder.broken(exc)

    @quietly("a WebSocket connection left")
    def left(self, exc: BaseException) -> None:
        """The connection's block ended by ``exc`` (or opening the connection raised it):
        every open call ends by it, failed with its text (cancelled by a cancellation), as
        a stream's block left by an exception ends its call."""
        for entry in self._open_calls():
            entry.recorder.broken(exc)

    @quietly("a WebSocket connection closed")
    def closed(self) -> None:
        """The loop closed the connection: its open calls are cancelled."""
        for entry in self._open_calls():
            entry.recorder.closed()


def _start(turn: Turn, request: dict[str, Any]) -> _Call:
    call = turn.inference(request)
    recorder = Recorder(turn, call, "responses", time.perf_counter_ns(), None)
    return _Call(request, turn, recorder, call)


def _client_event(event: Any) -> Any:
    """A client event as plain data; ``send_raw``'s text parsed (``None`` if not JSON)."""
    if not isinstance(event, (str, bytes, bytearray)):
        return to_plain(event)
    try:
        return json.loads(event)
    except ValueError:
        return None


def _queued(steers: list[tuple[str | None, list[Any]]]) -> list[Any]:
    """The items of accepted steers, in the order they were accepted."""
    return [item for _, items in steers for item in items]


def _input_items(given: Any) -> list[Any]:
    """An ``input`` (a steer's or a request's) as the items it adds (text is one user
    message, as the API reads it)."""
    if isinstance(given, str):
        part = {"type": "input_text", "text": given}
        return [{"type": "message", "role": "user", "content": [part]}]
    return list(given) if isinstance(given, list) else []


# --- the SDK's classes, recording ----------------------------------------------------------


def _lanes(connection: Any) -> Lanes:
    lanes = getattr(connection, "_rollout_trace_lanes", None)
    if not isinstance(lanes, Lanes):
        lanes = Lanes()
        connection._rollout_trace_lanes = lanes
    return lanes


def _async_connection(base: Any) -> dict[str, Any]:
    """Methods of a recording subclass of the SDK's ``AsyncResponsesConnection``: ``recv``
    (and iteration) reads through ``recv_bytes``, the resource's ``create`` / ``steer``
    through ``send``, so these see everything. A message read by ``recv`` is seen as the
    event ``recv`` parsed, not parsed a second time (~120 µs an event, measured)."""

    async def recv(self: Any) -> Any:
        self._rollout_trace_in_recv = True
        try:
            event = await base.recv(self)
        finally:
            self._rollout_trace_in_recv = False
        _lanes(self).received(event)
        return event

    async def send(self: Any, event: Any) -> None:
        await _sending(self, base.send, event)

    async def send_raw(self: Any, data: Any) -> None:
        await _sending(self, base.send_raw, data)

    async def recv_bytes(self: Any) -> Any:
        lanes = _lanes(self)
        try:
            message = await base.recv_bytes(self)
        except BaseException as exc:
            lanes.broken(exc)
            raise
        _seen(self, lanes, message)
        return message

    async def close(self: Any, **kwargs: Any) -> None:
        _lanes(self).closed()
        await base.close(self, **kwargs)

    return {
        "send": send,
        "send_raw": send_raw,
        "recv": recv,
        "recv_bytes": recv_bytes,
        "close": close,
    }


async def _sending(connection: Any, send: Callable[..., Any], event: Any) -> None:
    """Send ``event``, seen as sent. A send that raises did not send, but for one cancelled
    while the message drains: ``websockets`` writes the message before it waits for the
    socket (and the SDK queues one it cannot send yet), so that request has left and its
    response will come: its call stays waiting for it, or the lane's next response would
    be taken for the next request's."""
    lanes = _lanes(connection)
    call = lanes.sent(event)
    try:
        if call is not None:
            await call.__aenter__()  # waits for the writer when the rollout says so
    except BaseException as exc:
        lanes.unsent(call, exc)
        raise
    try:
        await send(connection, event)
    except BaseException as exc:
        if outcome_of(exc) != "cancelled":
            lanes.unsent(call, exc)
        raise


def _sync_connection(base: Any) -> dict[str, Any]:
    """The same for the sync ``ResponsesConnection``: line for line, without ``await``."""

    def recv(self: Any) -> Any:
        self._rollout_trace_in_recv = True
        try:
            event = base.recv(self)
        finally:
            self._rollout_trace_in_recv = False
        _lanes(self).received(event)
        return event

    def send(self: Any, event: Any) -> None:
        _sync_sending(self, base.send, event)

    def send_raw(self: Any, data: Any) -> None:
        _sync_sending(self, base.send_raw, data)

    def recv_bytes(self: Any) -> Any:
        lanes = _lanes(self)
        try:
            message = base.recv_bytes(self)
        except BaseException as exc:
            lanes.broken(exc)
            raise
        _seen(self, lanes, message)
        return message

    def close(self: Any, **kwargs: Any) -> None:
        _lanes(self).closed()
        base.close(self, **kwargs)

    return {
        "send": send,
        "send_raw": send_raw,
        "recv": recv,
        "recv_bytes": recv_bytes,
        "close": close,
    }


def _sync_sending(connection: Any, send: Callable[..., Any], event: Any) -> None:
    lanes = _lanes(connection)
    call = lanes.sent(event)
    try:
        send(connection, event)
    except BaseException as exc:
        lanes.unsent(call, exc)
        raise


@quietly("a WebSocket message")
def _seen(connection: Any, lanes: Lanes, message: Any) -> None:
    """A message the loop read with ``recv_bytes`` itself (``recv`` shows its own event)."""
    if not getattr(connection, "_rollout_trace_in_recv", False):
        lanes.received(connection.parse_event(message))


_CONNECTIONS: dict[type, type] = {}
_MANAGERS: dict[type, type] = {}


def _connected(manager: Any, connection: Any, is_async: bool) -> Any:
    """The connection a manager opened, recording, with what the manager queued."""
    if connection is None:
        return None
    recording = swapped(
        connection, _async_connection if is_async else _sync_connection, _CONNECTIONS
    )
    # one record of the lanes for both: what the manager queued, what its block's end sees
    recording._rollout_trace_lanes = _lanes(manager)
    return recording


def _manager_methods(base: Any, is_async: bool) -> dict[str, Any]:
    """Methods of a recording subclass of the SDK's connection manager: what it queues
    before connecting (``send``) is seen as sent then, and the connection it opens (the
    ``with`` block's, or ``enter()``'s) records. Opening the connection failing, or the
    ``with`` block left by an exception, ends the calls still open by that exception (the
    connection's ``close()``, which the block's end calls next, would cancel them)."""

    def send(self: Any, event: Any) -> None:
        lanes = _lanes(self)
        call = lanes.sent(event)
        try:
            base.send(self, event)
        except BaseException as exc:
            lanes.unsent(call, exc)
            raise

    if is_async:

        async def enter(self: Any) -> Any:
            try:
                connection = await base.__aenter__(self)
            except BaseException as exc:
                _lanes(self).left(exc)
                raise
            return _connected(self, connection, is_async=True)

        async def leave(self: Any, kind: Any, exc: BaseException | None, tb: Any) -> Any:
            if exc is not None:
                _lanes(self).left(exc)
            return await base.__aexit__(self, kind, exc, tb)

        return {"send": send, "__aenter__": enter, "enter": enter, "__aexit__": leave}

    def sync_enter(self: Any) -> Any:
        try:
            connection = base.__enter__(self)
        except BaseException as exc:
            _lanes(self).left(exc)
            raise
        return _connected(self, connection, is_async=False)

    def sync_leave(self: Any, kind: Any, exc: BaseException | None, tb: Any) -> Any:
        if exc is not None:
            _lanes(self).left(exc)
        return base.__exit__(self, kind, exc, tb)

    return {"send": send, "__enter__": sync_enter, "enter": sync_enter, "__exit__": sync_leave}


def connect(original: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
    """``responses.connect``, recording what its connections carry."""

    @functools.wraps(original)
    def connect(*args: Any, **kwargs: Any) -> Any:
        manager = original(*args, **kwargs)
        return swapped(manager, functools.partial(_manager_methods, is_async=is_async), _MANAGERS)

    return connect
