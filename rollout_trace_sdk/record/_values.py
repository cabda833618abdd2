"""Any value an agent hands the recorder, as JSON bytes: never an exception, never silent.

Agents record what their model and tools produced, and that is not always JSON: a set, raw
bytes, a NaN, a 21-digit integer the model wrote, a dict that contains itself, an item nested
thousands deep, an SDK object. The recorder must neither raise into the agent nor write a file
Codex refuses, so every value goes through :class:`ValueEncoder`:

* **Fast path.** ``orjson.dumps`` with a ``default`` hook. What orjson takes as it is (dicts
  with string keys, lists, tuples, str, int within 64 bits, float, bool, None, UUIDs, enums)
  costs nothing extra.
* **The hook** (:func:`_own_hook`) converts only what runs none of the agent's code: sets
  into lists, bytes into ``"base64:<data>"`` strings, datetimes in a zone orjson knows into
  its text. It refuses the rest: orjson holds pointers into the containers it is writing
  without holding them, and the agent's code run from the hook may change them.
* **The slow path**, taken when orjson refuses the whole value (the hook refused something,
  an integer beyond 64 bits, a non-string key, a cycle, nesting beyond its own limit of 254,
  a string holding a lone surrogate) or, in the writer's worker thread, when a payload file
  shows nesting beyond :data:`MAX_DEPTH` (:meth:`ValueEncoder.cut_too_deep`): one walk from
  Python, over copies of each list and dict, builds a copy JSON can hold, converting pydantic
  models (``model_dump(mode="json")``), dataclasses and attrs classes into their dict form,
  other mappings into dicts and other sequences (a ``UserList``, a ``deque``) into lists
  (faithful, not counted; read with bounded work, all they hold too, see ``_held`` and
  ``_held_tree``), datetimes in a zone of the agent's own into orjson's text
  (``_held.held_datetime``); anything else becomes ``"<unserialisable TypeName: repr>"``
  (repr cut to 200 characters by ``clip``). orjson writes the copy, or the standard library
  when it holds an integer beyond 64 bits (integers keep their exact digits, which Codex
  reads). Non-string keys become ``str(key)`` (a ``str`` subclass's, an enum member's, its
  string, not counted); a container met again on its own path becomes
  ``"<cycle: dict>"``; a container nested deeper than :data:`MAX_DEPTH` becomes
  ``"<truncated: nested deeper than 100 levels>"`` (Codex's JSON reader refuses nesting beyond
  128); NaN and the infinities become ``null`` (as orjson writes them on the fast path, where
  they are not counted); lone surrogates become U+FFFD.

Every change that loses information is counted by kind (:attr:`ValueEncoder.counts`); the
writer puts the counts in the bundle's loss report and a :class:`RecorderWarning` is issued
for the first of each kind (once per process: ``_warnings.recorder_warning``).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import math
import os
import sys
import threading
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs
import orjson

from .._signals import raise_interrupt
from ..model.layout import right_sized
from ._depth import (
    COMPACT_TOO_DEEP_MIN_SIZE,
    COUNT_UP_TO,
    DEFER_CHECK_UP_TO,
    PRETTY,
    TOO_DEEP_MARK,
    TOO_DEEP_MIN_SIZE,
    nests_too_deep,
)
from ._depth import MAX_DEPTH as MAX_DEPTH
from ._held import TO_HOOK, held_datetime, held_fields, model_dumped
from ._held_tree import Marked, held_tree
from ._text import base64_text, cycle_text, int_digits, too_deep_text, unserialisable_text
from ._warnings import RecorderWarning as RecorderWarning
from ._warnings import recorder_warning

#: Fewer bits than an integer of N digits has at least, per digit (log2(10) = 3.32...): an
#: integer of more bits than (limit - 1) times this may be too long for Python's writer.
_BITS_PER_DIGIT: Final = 3.3

#: Loss kinds and how the report names them.
KIND_TEXT: Final[dict[str, str]] = {
    "set": "sets recorded as lists",
    "bytes": "bytes recorded as base64 text",
    "object": "unserialisable objects recorded as their type and repr",
    "key": "non-string keys recorded as strings",
    "cycle": "cycles cut (recorded as '<cycle: ...>')",
    "depth": f"values nested deeper than {MAX_DEPTH} levels cut",
    "float": "NaN or infinite numbers recorded as null",
    "surrogate": "strings with lone surrogates repaired",
    "bigint": "integers beyond 64 bits recorded as text where Codex parses the item",
    "mistyped": "values of another type than the trace holds recorded as that type",
    "call": "recording calls that failed on their arguments (recorded in part)",
    "renamed": "turn and tool call ids used twice in the rollout made unique (and runtime "
    "cell ids used twice in a thread)",
    "call id": "calls recorded under <id>#2, #3, ... because an earlier call had their call "
    "id (the agent's copies keep the model's ids)",
    "wait": "invocations of a tool named wait without a cell_id left out (schema 2 reads it "
    "as code mode's)",
    "after end": "turns, threads, calls, runtimes, agent activities and history acceptances "
    "started on a turn, thread, tool call or code cell that had ended (not recorded)",
    "cell": "code cells not recorded: a second cell for one exec call",
    "late end": "ending calls on a call, cell, session or request that had already ended (its "
    "turn's end, an earlier ending) not recorded",
    "not an item": "history items that are not objects (a bare string, a number) not recorded",
    "usage": "token usages of a shape no counter is read from (a number, a string, a list) "
    "recorded as none",
    "left open": "turns still open when the rollout closed (never ended: no `async with` "
    "block left, no `turn.end()`, or an integration's run that never finished), recorded as "
    "cancelled",
    "agent name": "task names Codex refuses as an agent name (only a-z, 0-9 and _; not root) "
    "recorded in that alphabet",
}


class ValueEncoder:
    """Encodes agent values for one writer, counting what it could not keep as it was.

    The bytes it returns are right-sized (``model.layout.right_sized``): the queue keeps
    them as they are.

    Safe to call from any thread: the counters are guarded by a lock taken only when a
    value needed changing.

    The hook's conversions count once orjson wrote all the value (refused, the slow path
    converts and counts it all): the hook notes them in :attr:`pending` by thread, a pass that
    succeeds counts them (:meth:`note_pending`), :meth:`_slow` drops them. The loop and the
    worker (events' slow path) may encode at once: each takes its own thread's notes only."""

    __slots__ = ("_lock", "_warned", "closed", "counts", "default", "noted", "pending")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self.closed = False  #: the loss report is written: what is noted now is in no bundle
        #: the hook orjson calls for types it does not know (bound once: no per-call cost)
        self.default = self._default
        self.pending: dict[int, list[str]] = {}  #: a thread's id → its pass's hook's kinds
        self.noted = False  #: whether :attr:`pending` holds any (a bool: the cheapest test)

    # --- public ---------------------------------------------------------------------------

    def pretty(self, value: Any) -> bytes:
        """A payload file's bytes (2-space indent, as Codex writes them). Nesting between
        :data:`MAX_DEPTH` and orjson's own limit is cut later, off the recording call, by
        :meth:`cut_too_deep` (the writer's worker thread runs it on every payload)."""
        try:
            data = orjson.dumps(value, self.default, PRETTY)
            if self.noted:
                self.note_pending()
            return right_sized(data)
        except (TypeError, RecursionError, ValueError) as exc:
            self.interrupted(exc)
            return self._slow(value, indent=2)

    def cut_too_deep(self, data: bytes) -> bytes:
        """``data`` (a payload file) with nesting beyond :data:`MAX_DEPTH` cut. One C-speed
        search tells whether there is any; only then is the JSON read back and rewritten."""
        if len(data) <= TOO_DEEP_MIN_SIZE or TOO_DEEP_MARK not in data:
            return data
        try:
            return self._slow(json.loads(data), indent=2)
        except Exception:  # cannot happen for our own output; never fail the write for it
            return data

    def compact(self, value: Any) -> bytes:
        """One-line JSON (event fields, function-call argument strings)."""
        try:
            data = orjson.dumps(value, self.default, TO_HOOK)
            if self.noted:
                self.note_pending()
            return right_sized(data)
        except (TypeError, RecursionError, ValueError) as exc:
            self.interrupted(exc)
            return self._slow(value, indent=None)

    def refused_compact(self, value: Any) -> bytes:
        """:meth:`compact` of a value orjson has just refused (with :attr:`default`, as
        :meth:`compact` calls it): its slow path alone. Calling :meth:`compact` again would
        count the hook's conversions (a set, bytes) once more (a pass that succeeded: the
        caller calls :meth:`note_pending`)."""
        return self._slow(value, indent=None)

    def compact_payload(self, value: Any) -> bytes:
        """A schema-3 payload body: :meth:`compact`, with nesting beyond :data:`MAX_DEPTH`
        cut as in payload files. Codex 0.171 parses every payload (templates spliced) with
        serde_json, which refuses 128 levels; compact text has no indentation to find deep
        nesting by (:meth:`cut_too_deep`), so text long enough to hold it is checked (see
        ``_depth.nests_too_deep``)."""
        try:
            data = right_sized(orjson.dumps(value, self.default, TO_HOOK))
        except (TypeError, RecursionError, ValueError) as exc:
            self.interrupted(exc)
            return self._slow(value, indent=None)  # which cuts deep nesting itself
        size = len(data)
        if (
            size >= COMPACT_TOO_DEEP_MIN_SIZE
            # every level opens a bracket: fewer brackets (strings' included) cannot nest
            # that deep; counting them is the cheaper test on short text only
            and (size > COUNT_UP_TO or data.count(b"[") + data.count(b"{") > MAX_DEPTH)
            and _too_deep(value, size, interrupted=self.interrupted)
        ):
            return self._slow(value, indent=None)  # (which counts the hook's conversions)
        if self.noted:
            self.note_pending()
        return data

    def compact_body(self, value: Any) -> tuple[bytes, bool]:
        """:meth:`compact_payload` for the event loop: the text, and whether its depth check
        is still to be done (by :meth:`cut_too_deep_text`, in the worker thread).

        That check costs the loop more than writing the text does (a walk, then the text
        written again with indentation) and almost never finds anything; the worker can do
        it from the text alone, because the value may change once the call returns but the
        text cannot. Short text is checked here (counting brackets is cheap), and so is very
        long text (see ``_depth.DEFER_CHECK_UP_TO``)."""
        try:
            data = right_sized(orjson.dumps(value, self.default, TO_HOOK))
        except (TypeError, RecursionError, ValueError) as exc:
            self.interrupted(exc)
            return self._slow(value, indent=None), False  # which cuts deep nesting itself
        size = len(data)
        check = False
        if size < COMPACT_TOO_DEEP_MIN_SIZE:
            pass
        elif size <= COUNT_UP_TO:
            if data.count(b"[") + data.count(b"{") > MAX_DEPTH and _too_deep(
                value, size, interrupted=self.interrupted
            ):
                return self._slow(value, indent=None), False
        elif size <= DEFER_CHECK_UP_TO:
            check = True
        elif _too_deep(value, size, interrupted=self.interrupted):
            return self._slow(value, indent=None), False
        if self.noted:
            self.note_pending()
        return data, check

    def cut_too_deep_text(self, data: bytes) -> bytes:
        """``data`` (compact text :meth:`compact_body` wrote) with nesting beyond
        :data:`MAX_DEPTH` cut, read back from the text (worker thread). Values the encoder
        converted are plain JSON by now, so nothing is counted twice."""
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:  # cannot happen for our own output; keep it as it is
            return data
        return self._slow(value, indent=None) if _too_deep(value, len(data)) else data

    def for_parsed_item(self, value: Any) -> Any:
        """``value`` as Codex can parse it into a typed item (an ``agent_message``): there,
        serde refuses integers beyond 64 bits, so they become their digits as a string
        (counted). Everything else is left (and counted) to :meth:`pretty`."""
        try:
            orjson.dumps(value, _plain_default, TO_HOOK)
            return value
        except (TypeError, RecursionError, ValueError) as exc:
            raise_interrupt(exc)
            return _Sanitiser(self.note, big_ints_as_text=True).walk(value, 0, set())

    def lost_text(self) -> str:
        """What the report says about approximations (empty when there were none)."""
        with self._lock:
            counts = dict(self.counts)
        return ", ".join(f"{n} {KIND_TEXT[kind]}" for kind, n in sorted(counts.items()))

    def after_fork(self) -> None:
        """In a forked child: the lock may have been held by a thread the child lacks."""
        self._lock = threading.Lock()
        self.pending, self.noted = {}, False  # (notes of threads the child lacks)

    def interrupted(self, exc: BaseException) -> None:
        """:func:`raise_interrupt` for this encoder's orjson passes: an interrupt raised in
        its hook is raised again, this thread's notes of that pass dropped (the value is
        not recorded); for a true refusal it returns (the slow path drops them too)."""
        if self.noted:
            self.note_pending(count=False)
        raise_interrupt(exc)

    def note_pending(self, *, count: bool = True) -> None:
        """Count (or drop) what the hook converted in this thread's last orjson pass."""
        with self._lock:  # (noted stays true while any thread's notes are pending)
            kinds = self.pending.pop(threading.get_ident(), None)
            self.noted = bool(self.pending)
        for kind in kinds if count and kinds else ():
            self.note(kind)

    # --- internals ------------------------------------------------------------------------

    def note(self, kind: str, *, warn: bool = True, says: str | None = None) -> None:
        """Count one change of ``kind``; the first of each kind warns (unless the caller
        issues a warning of its own: ``warn=False``), or ``says`` it more plainly, once."""
        key = kind if says is None else says
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            first = key not in self._warned
            self._warned.add(key)
        if first and warn:
            where = "the rollout had closed: not recorded, not counted" if self.closed else None
            where = where or "counted in the bundle's loss report"
            said = f"rollout trace: {says or KIND_TEXT[kind]} ({where})"
            recorder_warning(said, kind=f"loss: {key}" + (" after close" if self.closed else ""))

    def _default(self, obj: Any) -> Any:
        return _own_hook(obj, self._note_later)

    def _note_later(self, kind: str) -> None:
        with self._lock:
            self.pending.setdefault(threading.get_ident(), []).append(kind)
            self.noted = True

    def _slow(self, value: Any, *, indent: int | None) -> bytes:
        """``value`` read from Python: it converts and counts all, so drops the hook's notes."""
        if self.noted:
            self.note_pending(count=False)
        sanitiser = _Sanitiser(self.note)
        safe = sanitiser.walk(value, 0, set())
        if not sanitiser.long_ints:
            # plain JSON now: orjson writes it as the fast path writes what it takes (a
            # model read here gives the text it gave there), unless an integer is beyond
            # 64 bits, whose digits the standard library writes
            with contextlib.suppress(TypeError):
                return orjson.dumps(safe, None, orjson.OPT_INDENT_2 if indent else 0)
        separators = (",", ": ") if indent else (",", ":")
        text = json.dumps(
            safe, indent=indent, ensure_ascii=False, allow_nan=False, separators=separators
        )
        for mark, digits in sanitiser.long_ints.items():
            text = text.replace(json.dumps(mark), digits, 1)
        return text.encode()


def _plain_default(obj: Any) -> Any:
    return _own_hook(obj, _ignore)


_too_deep: Final = functools.partial(nests_too_deep, hook=_plain_default)


class _ReadInPython(TypeError):
    """What the fast path's hook raises for a value whose reading runs the agent's code: the
    encoder then takes the slow path, which reads it (:func:`_convert`) from Python."""


#: The zones whose offset orjson reads without running the agent's code.
_SAFE_ZONES: Final = (type(None), datetime.timezone, zoneinfo.ZoneInfo)
_DATETIMES: Final = (datetime.datetime, datetime.date, datetime.time)


def _own_hook(obj: Any, note: Any) -> Any:
    """The fast path's ``default`` hook: what it converts without running the agent's code
    (its ``Mistyped``, bytes, sets, datetimes in a zone orjson knows); anything else is
    refused (:class:`_ReadInPython`), for the slow path to read.

    orjson holds pointers into the containers it is writing, without a reference, while the
    hook runs: the agent's code run from here (a ``repr``, a ``model_dump``, a mapping's
    ``__len__``, a property) that emptied one of them made orjson read freed memory (a
    segmentation fault), and one that kept adding to one never ended. Read from Python, the
    slow path holds what it reads."""
    cls = type(obj)
    if cls is Mistyped:
        note("mistyped")
        return obj.value
    if cls is bytes or cls is bytearray or cls is memoryview:
        try:
            text = base64_text(obj)
        except ValueError:  # a released memoryview
            raise _ReadInPython(cls.__name__) from None
        note("bytes")
        return text
    if cls is set or cls is frozenset:
        note("set")
        return list(obj)
    if cls in _DATETIMES and type(getattr(obj, "tzinfo", None)) in _SAFE_ZONES:
        written = held_datetime(obj)
        if written is not None:
            return written
    raise _ReadInPython(cls.__name__)


class Mistyped:
    """An event field's value of another type than the field holds, with what is recorded
    instead. orjson does not know this class, so a line holding one takes the value
    encoder's path, which counts it (``mistyped``) and writes :attr:`value`."""

    __slots__ = ("value",)

    def __init__(self, value: str | int) -> None:
        self.value = value


def _convert(obj: Any, note: Any) -> Any:
    """One object orjson does not know, as something it may know (see the module doc)."""
    if obj.__class__ is Mistyped:
        note("mistyped")
        return obj.value
    if obj.__class__ is Marked:
        note(obj.kind)
        return obj.text
    text = held_datetime(obj)
    if text is not None:
        return text
    dump = getattr(obj, "model_dump", None)
    if callable(dump) and not isinstance(obj, type):
        try:
            return model_dumped(dump)
        except Exception:
            pass
    if attrs.has(obj.__class__):
        return attrs.asdict(obj, recurse=False)
    fields = held_fields(obj)  # (canonical_bytes': orjson's own order is not sorted)
    if fields is not None:
        return fields
    if isinstance(obj, Mapping) or (
        isinstance(obj, Sequence) and not isinstance(obj, str | bytes | bytearray | memoryview)
    ):
        # another mapping, or a UserList, a deque, a range: what it holds, read with all it
        # holds within one bound (see _held_tree)
        held = held_tree(obj, MAX_DEPTH)
        if held.__class__ is not Marked:
            return held
        note(held.kind)
        return held.text
    if isinstance(obj, set | frozenset):
        note("set")
        return list(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        with contextlib.suppress(ValueError):  # a released memoryview: an object
            text = base64_text(obj)
            note("bytes")
            return text
    note("object")
    return unserialisable_text(obj)


class _Sanitiser:
    """One walk building a copy the standard JSON writer takes (the slow path). An integer
    too long for the writer (past Python's digit limit) is held by a placeholder string in
    the copy, replaced by its digits once written (:attr:`long_ints`)."""

    __slots__ = ("big_ints_as_text", "long_ints", "note")

    def __init__(self, note: Any, *, big_ints_as_text: bool = False) -> None:
        self.note = note
        self.big_ints_as_text = big_ints_as_text
        #: placeholder → the integer's digits
        self.long_ints: dict[str, str] = {}

    def walk(self, value: Any, depth: int, path: set[int]) -> Any:
        cls = value.__class__
        if cls is int and not -(2**63) <= value < 2**64:
            if self.big_ints_as_text:
                self.note("bigint")
                return int_digits(value)
            limit = sys.get_int_max_str_digits()
            if limit and value.bit_length() > (limit - 1) * _BITS_PER_DIGIT:
                mark = f"\x00int {len(self.long_ints)} {os.urandom(8).hex()}\x00"
                self.long_ints[mark] = int_digits(value)
                return mark
            return value
        if value is None or cls is bool or cls is int:
            return value
        if cls is str:
            return self._text(value)
        if cls is float:
            if math.isfinite(value):
                return value
            self.note("float")
            return None
        if isinstance(value, dict | list | tuple):
            return self._container(value, depth, path)
        if isinstance(value, str):
            return self._text(str(value))
        if isinstance(value, bool | int):
            return self.walk(int(value), depth, path)  # (an IntEnum beyond 64 bits too)
        if isinstance(value, float):
            return self.walk(float(value), depth, path)
        try:  # orjson's own types (UUID, enum, datetime in a zone it knows) first
            return self.walk(orjson.loads(orjson.dumps(value, _refuse, TO_HOOK)), depth, path)
        except (TypeError, RecursionError, ValueError) as exc:
            raise_interrupt(exc)
        if depth > MAX_DEPTH:
            self.note("depth")
            return too_deep_text(MAX_DEPTH)
        # converted, it is a new container each time: a value holding itself (a UserList in
        # itself, a node's parent) is known by its own id (else 2 items made 2**50 walks)
        key = id(value)
        if key in path:
            self.note("cycle")
            return cycle_text(value)
        path.add(key)
        try:
            return self.walk(_convert(value, self.note), depth + 1, path)
        finally:
            path.discard(key)

    # The depth and cycle checks are walk's for a converted object again, left inline: this
    # runs for every dict and list of every value recorded (a shared check is a call more
    # each), and its bound is one level lower (a converted object is walked at depth + 1).
    def _container(self, value: Any, depth: int, path: set[int]) -> Any:
        if depth >= MAX_DEPTH:
            self.note("depth")
            return too_deep_text(MAX_DEPTH)
        key = id(value)
        if key in path:
            self.note("cycle")
            return cycle_text(value)
        path.add(key)
        try:
            # read from copies taken in C (a subclass's own hooks not run): the agent's code
            # run by the walk (a repr, a model_dump) may change the container being read
            if isinstance(value, dict):
                out: dict[str, Any] = {}
                for k, v in list(dict.items(value)):
                    out[self._key(k)] = self.walk(v, depth + 1, path)
                return out
            items = list.copy(value) if isinstance(value, list) else tuple.__iter__(value)
            return [self.walk(v, depth + 1, path) for v in items]
        finally:
            path.discard(key)

    def _key(self, key: Any) -> str:
        if key.__class__ is str:
            return self._text(key)  # type: ignore[no-any-return]
        if isinstance(key, str):  # a str subclass (an enum member): the string it is
            return self._text(str.__str__(key))  # type: ignore[no-any-return]
        self.note("key")
        try:
            return self._text(str(key))  # type: ignore[no-any-return]
        except Exception:
            return f"<key {key.__class__.__qualname__}>"

    def _text(self, text: str) -> Any:
        try:
            text.encode()
        except UnicodeEncodeError:
            self.note("surrogate")
            return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
        return text


def canonical_bytes(value: Any) -> bytes:
    """Sorted-key compact JSON for content digests (item ids). Never raises, counts nothing:
    an id only needs the same bytes for the same content. What orjson does not know is
    converted as payloads convert it (a mapping or a model as the dict it holds), so an item
    gets the id of the JSON it is recorded as. Dataclasses too: orjson writes their fields
    in the order declared whatever ``OPT_SORT_KEYS`` says, so a content part held by one
    gave another id than the same part as a dict."""
    option = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | TO_HOOK
    try:
        return orjson.dumps(value, option=option, default=_plain_default)
    except (TypeError, RecursionError, ValueError) as exc:
        raise_interrupt(exc)
        safe = _Sanitiser(_ignore).walk(value, 0, set())
        with contextlib.suppress(TypeError):  # (as in ValueEncoder._slow)
            return orjson.dumps(safe, option=orjson.OPT_SORT_KEYS)
        return json.dumps(safe, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _ignore(kind: str) -> None:
    return None


def _refuse(obj: Any) -> Any:
    """An orjson ``default`` taking nothing but a datetime in a zone orjson knows."""
    return _own_hook(obj, _ignore) if type(obj) in _DATETIMES else _refuse_all(obj)


def _refuse_all(obj: Any) -> Any:
    raise TypeError(type(obj).__name__)
