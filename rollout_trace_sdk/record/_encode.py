"""Event lines in bulk, byte-identical to :func:`rollout_trace_sdk.model.codec.event_line`.

The codec goes through cattrs' dispatch twice per event (envelope, then the payload union) and
serialises the envelope's ids again for every line. Here each payload class gets a small
generated function that builds its dict directly (tagged unions still go through the codec's
hooks), and the envelope is assembled from byte fragments:
the part after the wall time (rollout, thread and turn ids) is cached per (thread, turn), so a
line costs one small payload dict, one ``orjson.dumps`` and one ``%`` format. The bytes are the
same as the codec's because every fragment is ``orjson`` output for the same values in the
same key order (checked against the whole corpus in the tests).

Lines are appended to one ``bytearray``: keeping thousands of small ``bytes`` objects alive
until a join costs more than encoding them (fresh memory for each).
"""

from __future__ import annotations

import logging
import time
import typing
from collections.abc import Callable
from typing import Any, Final

import attrs
import orjson

from ..model import codec, event_tags
from ..model import events as ev
from ..model.layout import right_sized
from ._fields import as_status, as_text
from ._held import TO_HOOK
from ._values import ValueEncoder

log = logging.getLogger("rollout_trace_sdk")


def _ref(ref: ev.RawPayloadRef) -> dict[str, Any]:
    return {"raw_payload_id": ref.raw_payload_id, "kind": {"type": ref.kind}, "path": ref.path}


_PLAIN: Final = (str, int, typing.Any)
#: fields the codec leaves out when they hold their default (``None``)
_OMITTED_WHEN_NONE: Final = {
    (ev.HistoryItemAccepted, "agent_message_payload"),
    (ev.HistoryItemAcceptedV3, "agent_message_payload"),
    (ev.HistoryItemAcceptedV3, "tool_output_payload"),
    (ev.InferenceStartedV3, "warmup_context_payload"),
    (ev.InferenceStartedV3, "stripped_tool_output_ids"),
}


def _field_expr(
    cls: type[Any], name: str, tp: Any, env: dict[str, Any], schema: int = ev.SCHEMA_VERSION
) -> str:
    """Python source for one field's JSON value (``o`` is the payload object)."""
    value = f"o.{name}"
    args = typing.get_args(tp)
    optional = type(None) in args
    inner = [a for a in args if a is not type(None)] if optional else [tp]
    if len(inner) == 1:
        base = inner[0]
        # a string or status of another type or value is recorded as one (and counted):
        # the type hints are not checked when the agent calls, and a reducer refuses it
        if base is str:
            check = f"{value}.__class__ is str" + (f" or {value} is None" if optional else "")
            return f"({value} if {check} else _as_text({value}))"
        if typing.get_origin(base) is typing.Literal:
            allowed = typing.get_args(base)
            name = f"_allowed_{cls.__name__}_{name}"
            env[name] = frozenset(allowed)
            check = f"{value}.__class__ is str and {value} in {name}"
            check += f" or {value} is None" if optional else ""
            return f"({value} if {check} else _as_status({value}, {allowed!r}))"
        if base in _PLAIN:
            return value
        if base is ev.RawPayloadRef:
            return f"(None if {value} is None else _ref({value}))" if optional else f"_ref({value})"
        if typing.get_origin(base) is list and typing.get_args(base) == (ev.RawPayloadRef,):
            return f"[_ref(x) for x in {value}]"
    # tagged unions (tool call kind, requester, summary): the codec's own hooks
    hook = f"_hook_{cls.__name__}_{name}"
    env[hook] = unstructure = codec.converter_for(schema).get_unstructure_hook(tp)
    if tp in _MOSTLY_CONSTANT:
        env[hook] = _by_identity(unstructure)
    elif tp is ev.ToolCallSummary:
        env[hook] = _summary(unstructure)
    return f"(None if {value} is None else {hook}({value}))" if optional else f"{hook}({value})"


#: Field types whose values are mostly a few shared objects (the kinds of the tool table, the
#: model requester): their JSON is remembered per object.
_MOSTLY_CONSTANT: Final = (ev.ToolCallKind, ev.ToolCallRequester)
_MEMO_SIZE: Final = 64


def _by_identity(unstructure: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``unstructure`` remembering its result for the first :data:`_MEMO_SIZE` objects it sees
    (kept alive, so an ``id`` stays theirs; frozen, so the result stays right). The JSON is
    shared between lines and must not be changed (nothing here does)."""
    memo: dict[int, tuple[Any, Any]] = {}

    def cached(value: Any) -> Any:
        hit = memo.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        out = unstructure(value)
        if len(memo) < _MEMO_SIZE:
            memo[id(value)] = (value, out)
        return out

    return cached


def _summary(unstructure: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The summary union's hook, with its common variant (generic) built directly."""

    def summary(value: Any) -> Any:
        if value.__class__ is ev.GenericSummary:
            return generic_summary(value.label, value.input_preview, value.output_preview)
        return unstructure(value)

    return summary


def generic_summary(
    label: str, input_preview: str | None, output_preview: str | None = None
) -> dict[str, Any]:
    """The JSON of ``GenericSummary(label, input_preview, output_preview)`` (the summary
    union's common variant, built directly: the tool call's start, queued flat, has no
    summary object)."""
    return {
        "type": "generic",
        "label": label,
        "input_preview": input_preview,
        "output_preview": output_preview,
    }


def _compile(
    cls: type[Any], tag: str, schema: int = ev.SCHEMA_VERSION
) -> Callable[[Any], dict[str, Any]]:
    """A function building the payload dict for ``cls`` directly: the codec's result, without
    its per-call dispatch (checked equal for every variant by the tests). Schema 3 writes
    references with ``shard`` / ``capture`` / ``parts``."""
    hints = codec.field_hints(cls)
    v3 = schema == ev.SCHEMA_VERSION_V3
    env: dict[str, Any] = {
        "_ref": codec.ref_to_dict_v3 if v3 else _ref,
        "_as_text": as_text,
        "_as_status": as_status,
    }
    items = [f'"type": {tag!r}']
    tail = []
    for field in attrs.fields(cls):
        expr = _field_expr(cls, field.name, hints[field.name], env, schema)
        if (cls, field.name) in _OMITTED_WHEN_NONE:
            tail.append(f"    if o.{field.name} is not None:\n        d[{field.name!r}] = {expr}")
        else:
            items.append(f"{field.name!r}: {expr}")
    source = "def build(o):\n    d = {" + ", ".join(items) + "}\n"
    source += "".join(line + "\n" for line in tail) + "    return d\n"
    exec(compile(source, f"<payload dict {tag}>", "exec"), env)
    return env["build"]  # type: ignore[no-any-return]


def _encoder(build: Callable[[Any], dict[str, Any]]) -> Callable[[Any], bytes]:
    """``build``'s dict as JSON bytes in one call (what the writer does for every event it
    queues; ``orjson`` may raise, and the writer's slow path then decides)."""
    dumps = orjson.dumps

    def encode(o: Any) -> bytes:
        return right_sized(dumps(build(o), None, TO_HOOK))

    return encode


_HOOKS: Final[dict[type[Any], Callable[[Any], dict[str, Any]]]] = {
    cls: _compile(cls, tag) for tag, cls in event_tags.EVENT_TYPES.items()
}
#: Schema 3: every class of its tag table (schema-2 classes too: the recorder may hand the
#: plain ``HistoryItemAccepted``, which schema 3 writes the same way).
_HOOKS_V3: Final[dict[type[Any], Callable[[Any], dict[str, Any]]]] = {
    cls: _compile(cls, tag, ev.SCHEMA_VERSION_V3)
    for tag, cls in [*event_tags.EVENT_TYPES.items(), *event_tags.EVENT_TYPES_V3.items()]
}

#: The same, each giving the JSON bytes (see :meth:`LineEncoder.encoders`).
_ENCODERS: Final = {cls: _encoder(build) for cls, build in _HOOKS.items()}
_ENCODERS_V3: Final = {cls: _encoder(build) for cls, build in _HOOKS_V3.items()}

#: Payload classes holding mutable values (lists, arbitrary JSON): they are serialised at call
#: time, since the caller may change them after recording. Every other payload class is
#: frozen and holds only strings, numbers and frozen objects, so it can be encoded later.
MUTABLE_PAYLOADS: Final[frozenset[type[Any]]] = frozenset({ev.Other})

#: A queued event: (seq, wall_time_unix_ms, thread_id, codex_turn_id, payload object, or the
#: payload's JSON bytes), or an event queued flat: (seq, wall_time_unix_ms, thread_id,
#: codex_turn_id, a builder's index, its values...), see :data:`FLAT_BUILDERS`.
QueuedEvent = tuple[Any, ...]

#: How the hottest recording calls queue their events (``RecordQueue.event_flat``): not as an
#: event object, nor encoded, but as one tuple of the envelope (seq, wall time, thread and
#: turn ids), a builder's index here and the values it makes the event's ``payload`` object
#: of (strings, numbers, ``None``; a reference as the items of its ``_known_refs.freeze``
#: tuple, last, or one ``None`` for none). The writer builds the object when it writes the
#: line, the builder given the whole queued tuple (its values from :data:`FLAT_AT` on). The
#: call keeps only what it must (values that cannot change), and the collector stops tracking
#: such a record at its first look, as it does an encoded one: a tuple is untracked when
#: nothing in it is tracked, and that pass sees a tuple held by the queue before the tuples
#: only it holds (it moves those behind their holder), so a record nesting its payload
#: (and that its reference) lost one level a collection and reached the older generations
#: (per 10,000 tool calls: one full collection of ~30 ms, and middle ones ~1 ms each).
#: Each builder gives what :func:`payload_dict` gives for the event the tuple stands for
#: (checked by the tests).
FLAT_BUILDERS: Final[list[Callable[[tuple[Any, ...]], dict[str, Any]]]] = []
#: Where a flat event's values start in its queued tuple (after the envelope and the index).
FLAT_AT: Final = 5


def flat_builder(build: Callable[[tuple[Any, ...]], dict[str, Any]]) -> int:
    """Register ``build`` (a queued flat event to its payload object); its index, which the
    queued tuple holds after the envelope."""
    FLAT_BUILDERS.append(build)
    return len(FLAT_BUILDERS) - 1


def flat_ref(fields: tuple[Any, ...], at: int = 0) -> dict[str, Any]:
    """``codec.ref_to_dict_v3`` of the reference ``_known_refs.freeze`` made ``fields[at:]``
    of (a reference is last in a flat event), without making it again."""
    return flat_ref_at(at)(fields)


#: flat_ref for a reference at a given index, made once per index (see :func:`flat_ref_at`)
_FLAT_REFS: dict[int, Callable[[tuple[Any, ...]], dict[str, Any]]] = {}


def flat_ref_at(at: int) -> Callable[[tuple[Any, ...]], dict[str, Any]]:
    """:func:`flat_ref` for a reference at index ``at`` (a builder's, fixed), its indices
    constants: the usual shapes (no capture; no parts, or one part with neither capture nor
    parts: a tool result over its item) directly, any other through :func:`_flat_ref`."""
    made = _FLAT_REFS.get(at)
    if made is not None:
        return made
    a = at
    source = "def flat_ref(f):\n" + _ref_statements(a, "r", optional=False) + "    return r\n"
    env: dict[str, Any] = {"_flat_ref": _flat_ref}
    exec(compile(source, f"<flat reference at {a}>", "exec"), env)
    made = _FLAT_REFS[at] = env["flat_ref"]
    return made  # type: ignore[no-any-return]


def _ref_statements(a: int, out: str, *, optional: bool) -> str:
    """Source setting ``out`` to :func:`flat_ref` of a queued tuple ``f`` at index ``a`` (the
    usual shapes directly, see :func:`flat_ref_at`); ``optional``: ``None`` when the tuple
    holds one ``None`` there (no reference; a payload id is never ``None``)."""
    ref = f'{{"raw_payload_id": f[{a}], "kind": {{"type": f[{a + 1}]}}, "shard": f[{a + 3}]'
    part = f'{{"raw_payload_id": f[{a + 6}], "kind": {{"type": f[{a + 7}]}}, "shard": f[{a + 9}]}}'
    source = f"    if f[{a}] is None:\n        {out} = None\n    el" if optional else "    "
    source += f"""if f[{a + 4}] is None and not f[{a + 5}]:
        {out} = {ref}}}
    elif f[{a + 4}] is None and f[{a + 5}] == 1 and len(f) == {a + 12} and f[{a + 10}] is None:
        {out} = {ref}, "parts": [{part}]}}
    else:
        {out} = _flat_ref(f, {a})[0]
"""
    return source


def _flat_ref(fields: tuple[Any, ...], at: int) -> tuple[dict[str, Any], int]:
    payload_id, kind, _path, shard, capture, count = fields[at : at + 6]
    out: dict[str, Any] = {"raw_payload_id": payload_id, "kind": {"type": kind}, "shard": shard}
    if capture is not None:
        out["capture"] = codec.capture_to_dict(capture)
    at += 6
    if count:
        parts = []
        for _ in range(count):
            part, at = _flat_ref(fields, at)
            parts.append(part)
        out["parts"] = parts
    return out, at


def _payload_source(cls: type[Any], values: list[str]) -> tuple[str, str]:
    """The statements building ``cls``'s payload object from its fields' JSON values (source
    expressions, in the order the class declares them) into ``d`` and returning it: the type
    tag, the keys and what is left out when ``None`` as :func:`payload_dict` writes them in
    schema 3. Returns the tag and the source."""
    tag = {c: t for t, c in [*event_tags.EVENT_TYPES.items(), *event_tags.EVENT_TYPES_V3.items()]}[
        cls
    ]
    names = [field.name for field in attrs.fields(cls)]
    assert len(values) == len(names), (cls, values)
    items = [f'"type": {tag!r}']
    tail = []
    for name, value in zip(names, values, strict=True):
        if (cls, name) in _OMITTED_WHEN_NONE:
            tail.append(f"    if {value} is not None:\n        d[{name!r}] = {value}\n")
        else:
            items.append(f"{name!r}: {value}")
    return tag, "    d = {" + ", ".join(items) + "}\n" + "".join(tail) + "    return d\n"


def flat_payload(cls: type[Any]) -> Callable[..., dict[str, Any]]:
    """The payload object of an event of ``cls`` from its fields' JSON values, given in the
    order the class declares them: the type tag, the keys and what is left out when ``None``
    as :func:`payload_dict` writes them in schema 3 (a flat builder's last step)."""
    count = len(attrs.fields(cls))
    tag, body = _payload_source(cls, [f"v{k}" for k in range(count)])
    source = f"def build({', '.join(f'v{k}' for k in range(count))}):\n" + body
    env: dict[str, Any] = {}
    exec(compile(source, f"<flat payload {tag}>", "exec"), env)
    return env["build"]  # type: ignore[no-any-return]


def flat_event(
    cls: type[Any], values: list[str], ref_at: int, *, optional: bool, env: dict[str, Any]
) -> int:
    """Register a flat builder (:func:`flat_builder`) made in one function: the payload object
    of ``cls`` (:func:`flat_payload`) from ``values``, its fields' JSON values as source
    expressions over the queued tuple ``f`` (names from ``env``), where ``"REF"`` stands for
    the reference flat at ``ref_at`` (:func:`flat_ref`; ``optional``: one ``None`` there for
    none). Each builder, its payload function and its reference were three Python calls a
    line (three lines a tool call); the index, which the queued tuple holds."""
    tag, body = _payload_source(cls, ["ref" if v == "REF" else v for v in values])
    source = "def build(f):\n" + _ref_statements(ref_at, "ref", optional=optional) + body
    scope: dict[str, Any] = {**env, "_flat_ref": _flat_ref}
    exec(compile(source, f"<flat event {tag}>", "exec"), scope)
    return flat_builder(scope["build"])


def flat_hook(cls: type[Any], field: str) -> Callable[[Any], Any]:
    """The JSON of field ``field`` of ``cls`` (a tagged union's, through the codec's hook, as
    :func:`payload_dict` writes it in schema 3): for a flat builder's union fields."""
    hint = codec.field_hints(cls)[field]
    env: dict[str, Any] = {}
    _field_expr(cls, field, hint, env, ev.SCHEMA_VERSION_V3)
    return env[f"_hook_{cls.__name__}_{field}"]  # type: ignore[no-any-return]


#: A line is ``_LINE % (seq, after the seq, payload JSON)``, where "after the seq" is
#: ``_AFTER_SEQ % (wall time, context)`` (the envelope's fields in Codex's order); that part
#: is the same for every line of one millisecond and (thread, turn), so it is made once for
#: a run of such lines (one ``%`` of three values a line instead of four: ~0.15 µs).
_LINE_FORMAT: Final = b'{"schema_version":%d,"seq":%%d%%b%%b}\n'
_LINE: Final = _LINE_FORMAT % ev.SCHEMA_VERSION
_LINE_V3: Final = _LINE_FORMAT % ev.SCHEMA_VERSION_V3
_AFTER_SEQ: Final = b',"wall_time_unix_ms":%d%b'
_CONTEXTS_KEPT: Final = 4096
_CLOCK_EVERY: Final = 8
_NO_END: Final = 1 << 62
_NOTHING: Final = object()


def payload_dict(payload: ev.EventPayload, schema: int = ev.SCHEMA_VERSION) -> dict[str, Any]:
    """The payload's JSON object, exactly as the codec builds it for ``schema``."""
    hooks = _HOOKS_V3 if schema == ev.SCHEMA_VERSION_V3 else _HOOKS
    return hooks[payload.__class__](payload)


class LineEncoder:
    """Encodes the events of one rollout (its id is in every line)."""

    __slots__ = ("_contexts", "_head", "_hooks", "_rollout", "_values")

    def __init__(
        self, rollout_id: str, values: ValueEncoder | None = None, schema: int = ev.SCHEMA_VERSION
    ) -> None:
        v3 = schema == ev.SCHEMA_VERSION_V3
        self._hooks = _HOOKS_V3 if v3 else _HOOKS
        self._head = _LINE_V3 if v3 else _LINE
        self._values = values or ValueEncoder()
        self._rollout = b',"rollout_id":' + orjson.dumps(rollout_id)
        self._contexts: dict[tuple[str | None, str | None], bytes] = {}

    def _context(self, key: tuple[str | None, str | None]) -> bytes:
        if len(self._contexts) >= _CONTEXTS_KEPT:
            self._contexts.clear()
        thread_id, turn_id = key
        fragment = self._contexts[key] = b"".join(
            (
                self._rollout,
                b',"thread_id":',
                _id_json(thread_id, self._values),
                b',"codex_turn_id":',
                _id_json(turn_id, self._values),
                b',"payload":',
            )
        )
        return fragment

    @property
    def encoders(self) -> dict[type[Any], Callable[[Any], bytes]]:
        """Payload class -> its ``payload`` JSON bytes, for this encoder's schema (fast,
        may raise: :meth:`payload_bytes` is the path that never does)."""
        return _ENCODERS_V3 if self._hooks is _HOOKS_V3 else _ENCODERS

    def payload_bytes(self, payload: ev.EventPayload) -> bytes:
        """The ``payload`` object of ``payload``'s line (the writer may encode it at enqueue);
        a value JSON cannot hold follows the value encoder's rules."""
        fields = self._hooks[payload.__class__](payload)
        try:
            return orjson.dumps(fields, None, TO_HOOK)
        except (TypeError, RecursionError):
            return _lenient(fields, self._values)

    def encode_into(
        self, buf: bytearray, events: list[QueuedEvent], start: int = 0, until_ns: int = _NO_END
    ) -> int:
        """Append lines for ``events[start:]`` to ``buf``, stopping early once the
        ``perf_counter_ns`` clock passes ``until_ns`` (checked every few lines); return the
        index of the first event not yet encoded."""
        contexts = self._contexts
        hooks = self._hooks
        flat = FLAT_BUILDERS
        dumps = orjson.dumps
        head = self._head
        clock = time.perf_counter_ns
        end = len(events)
        i = start
        # the part after the seq of the last line, and what it was made of
        after_seq = b""
        last_wall: int | None = None
        last_thread: object = _NOTHING
        last_turn: object = _NOTHING
        while i < end:
            stop = min(i + _CLOCK_EVERY, end)
            for event in events[i:stop]:
                wall = event[1]
                thread_id = event[2]
                turn_id = event[3]
                payload = event[4]
                if wall != last_wall or thread_id is not last_thread or turn_id is not last_turn:
                    key = (thread_id, turn_id)
                    context = contexts.get(key) or self._context(key)
                    after_seq = _AFTER_SEQ % (wall, context)
                    last_wall, last_thread, last_turn = wall, thread_id, turn_id
                if payload.__class__ is bytes:
                    body = payload
                else:
                    if payload.__class__ is int:  # queued flat: the index of its builder
                        fields = flat[payload](event)
                    else:
                        fields = hooks[payload.__class__](payload)
                    try:
                        body = dumps(fields, None, TO_HOOK)
                    except (TypeError, RecursionError):
                        body = _lenient(fields, self._values)
                buf += head % (event[0], after_seq, body)
            i = stop
            if clock() >= until_ns:
                break
        return i

    def line(self, event: QueuedEvent) -> bytes:
        buf = bytearray()
        self.encode_into(buf, [event])
        return bytes(buf)


def _id_json(value: str | None, values: ValueEncoder) -> bytes:
    """An envelope id (a thread's, a turn's) as JSON: a string or null. Another value, or a
    string with a lone surrogate, follows the value encoder's rules (and counts): an id
    that cannot be written must not stop the log (every line holds one)."""
    if value is None or value.__class__ is str:
        try:
            return orjson.dumps(value)
        except TypeError:
            return values.compact(value)
    return values.compact(as_text(value))


def _lenient(fields: dict[str, Any], values: ValueEncoder) -> bytes:
    """A payload that broke the types (an object where a string belongs, an integer beyond 64
    bits, a lone surrogate): its seq is taken, so it must still become a line. The value
    encoder's rules apply (and count)."""
    return values.compact(fields)


def encode_line(rollout_id: str, event: QueuedEvent) -> bytes:
    """One line (tests and one-offs; the writer reuses a :class:`LineEncoder`)."""
    return LineEncoder(rollout_id).line(event)
