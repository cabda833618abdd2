"""The items of a container the agent holds in a type of its own (a ``Mapping`` that is no
dict, a ``Sequence`` that is no list nor tuple), read with bounded work; a dataclass's
fields; a datetime's text; whether a request's items are those sent before, asked without
letting an ``==`` of the agent's raise (:func:`same_items`). (The interrupt a signal raised
inside one of our orjson hooks, which orjson hands back as a refusal, is
``_signals.raise_interrupt``'s.)

Such a container may make its items as they are read rather than hold them: a
``range(10**9)``, a library's lazy sequence, or a broken one whose ``__getitem__`` never
raises ``IndexError`` (its iteration never ends). Reading one whole took the recording call
seconds and gigabytes, or never returned. So a container is read only when it claims at most
:data:`MAX_HELD_ITEMS` items (``len``), and no further than one item past what it claims;
what cannot be read so (its hooks raise, it claims more, it yields more than it claims) is
``None``, and the caller records it as an unserialisable object (counted ``object``).
Pure: no I/O, never raises.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import orjson

__all__ = [
    "MAX_HELD_ITEMS",
    "TO_HOOK",
    "held_datetime",
    "held_dict",
    "held_fields",
    "held_list",
    "known_hook",
    "model_dumped",
    "plain_json",
    "same_items",
]

#: The orjson option of every encoding of the agent's values: dataclasses and datetimes go
#: to the encoder's ``default`` hook (:func:`held_fields`, :func:`held_datetime`: the same
#: text) instead of orjson's own writer, which kills the process (a segmentation fault,
#: orjson 3.13.0) on a ``slots`` dataclass whose field has no value yet and on a datetime
#: whose time zone raises when asked its offset (it reads the answer it did not get).
#: Passed by position (``dumps(v, hook, option)``): as a keyword it costs ~0.1 µs a call.
TO_HOOK: Final = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME

#: :func:`plain_json`'s check: nothing orjson would hand a hook, and no subclass of dict,
#: list, str or int (orjson reads those in C, their own methods unasked; a subclass whose
#: methods tell of other items is read by the caller as orjson writes it).
_PLAIN_ONLY: Final = TO_HOOK | orjson.OPT_PASSTHROUGH_SUBCLASS

#: The most items read from a container of the agent's own type (a list of this many
#: pointers is 8 MB; a longer one is no JSON a trace can carry whole anyway).
MAX_HELD_ITEMS: Final = 1_000_000


def held_list(value: Sequence[Any], limit: int = MAX_HELD_ITEMS) -> list[Any] | None:
    """``value``'s items as a list; ``None`` when it cannot be read within the bound (or
    within ``limit`` items)."""
    try:
        size = len(value)
        if not 0 <= size <= limit:
            return None
        items = list(itertools.islice(iter(value), size + 1))
    except Exception:  # its own hooks raise (MemoryError too)
        return None
    return items if len(items) <= size else None


def held_dict(value: Mapping[Any, Any], limit: int = MAX_HELD_ITEMS) -> dict[Any, Any] | None:
    """``value`` as a dict (what ``dict(value)`` reads: its keys, then each key's value);
    ``None`` when it cannot be read within the bound (or within ``limit`` items)."""
    try:
        size = len(value)
        if not 0 <= size <= limit:
            return None
        keys = list(itertools.islice(iter(value.keys()), size + 1))
        if len(keys) > size:
            return None
        return {key: value[key] for key in keys}
    except Exception:  # its own hooks raise (MemoryError too)
        return None


def held_fields(value: Any) -> dict[str, Any] | None:
    """A dataclass instance as the dict orjson writes it (the recorder's payloads are orjson's
    text, so an item's id and the plain form readers see are that text's); ``None`` for what
    is no dataclass instance (a dataclass itself is a type) or cannot be read.

    orjson's rule: an instance with a ``__dict__`` (a class without ``__slots__``) is its
    ``__dict__`` in insertion order, attributes set after ``__init__`` included; otherwise its
    declared fields in order; either way without the names starting with ``_`` (private by
    convention, as pydantic leaves its private attributes out of a dump). A field with no
    value yet (``init=False`` and no default) makes the instance unreadable, as orjson
    refuses it."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return None
    try:
        attributes = getattr(value, "__dict__", None)
        if attributes.__class__ is dict and "__slots__" not in type(value).__dict__:
            return {k: v for k, v in attributes.items() if not _private(k)}
        return {
            field.name: getattr(value, field.name)
            for field in dataclasses.fields(value)
            if not _private(field.name)
        }
    except Exception:  # a field with no value, a property that raises
        return None


def _private(name: Any) -> bool:
    """Whether orjson leaves a dataclass's attribute ``name`` out."""
    return name.__class__ is not str or name[:1] == "_"


#: Time zones whose offset is read without running the agent's code (orjson's own types).
_SAFE_ZONES: Final = (datetime.timezone, zoneinfo.ZoneInfo)


def held_datetime(value: Any) -> str | None:
    """A ``datetime``, ``date`` or ``time`` (exactly one: orjson writes no subclass) as the
    text orjson writes for it (RFC 3339); ``None`` for anything else, and for what orjson
    refuses or cannot read (a ``time`` with a zone; a zone whose offset raises, is no
    ``timedelta``, or is a day or more).

    orjson asks a zone of the agent's own for its offset and reads the answer without
    looking: a zone that raises killed the process, one that answers something else wrote
    bytes of that object as the offset. Here the offset is asked as orjson asks it (a
    pendulum zone through the datetime, a pytz zone after ``normalize``), checked, and
    written by orjson from a fixed zone with that offset: the same text."""
    cls = value.__class__
    if cls is datetime.date:
        return orjson.dumps(value)[1:-1].decode()
    if cls is not datetime.datetime and cls is not datetime.time:
        return None
    zone = value.tzinfo
    if zone is None or zone.__class__ in _SAFE_ZONES:
        try:
            return orjson.dumps(value)[1:-1].decode()
        except TypeError:  # a time with a zone
            return None
    if cls is datetime.time:
        return None
    try:
        if hasattr(zone, "convert"):  # pendulum
            offset = value.utcoffset()
        elif hasattr(zone, "normalize"):  # pytz
            offset = zone.normalize(value).utcoffset()
        elif hasattr(zone, "dst"):
            offset = zone.utcoffset(value)
        else:
            return None  # orjson refuses a zone it knows no way to ask
        fixed = None if offset is None else datetime.timezone(offset)
        return orjson.dumps(value.replace(tzinfo=fixed))[1:-1].decode()
    except Exception:  # the zone raises, or its offset is no timedelta or too large
        return None


def known_hook(value: Any) -> Any:
    """An orjson ``default`` for encodings that take only what orjson knows: a dataclass
    and a datetime as orjson would write them (:func:`held_fields`, :func:`held_datetime`),
    anything else refused as orjson refuses it.

    Raises:
        TypeError: ``value`` is neither a readable dataclass instance nor a datetime.
    """
    fields = held_fields(value)
    if fields is not None:
        return fields
    text = held_datetime(value)
    if text is None:
        raise TypeError(f"Type is not JSON serializable: {value.__class__.__name__}")
    return text


def model_dumped(dump: Callable[..., Any], **options: Any) -> Any:
    """A pydantic model's ``model_dump(mode="json", by_alias=True, **options)`` without its
    serializer warnings: they would reach the agent's output for what tracing did (the SDK's
    parsed responses warn on every dump of their generic field). A ``model_dump`` that takes
    no ``warnings`` (or no ``by_alias``) is called without them. By its aliases: a field is
    named as its JSON names it, as the OpenAI SDK sends it and the server sent it (a
    function call's ``async``, a JSON schema format's ``schema``, which the SDK's models hold
    as ``async_`` / ``schema_``). The fields the model names in ``__api_exclude__``
    are left out: the OpenAI SDK's parsed answers hold what ``parse`` read (``parsed``,
    ``parsed_arguments``) there, which the server never sent and the SDK never sends back.

    Args:
        dump: the bound ``model_dump`` method.
        **options: passed on (``exclude_none``).

    Returns:
        What the dump returns (it raises what the dump raises).
    """
    model = getattr(dump, "__self__", None)
    # looked up on the class first: a miss on a pydantic instance runs its __getattr__
    if getattr(model.__class__, "__api_exclude__", None) is not None:
        exclude = getattr(model, "__api_exclude__", None)
        if exclude:
            options["exclude"] = exclude
    try:
        return dump(mode="json", warnings=False, by_alias=True, **options)
    except TypeError:
        return dump(mode="json", **options)


def plain_json(value: dict[Any, Any] | list[Any]) -> bool:
    """Whether ``value`` is plain JSON at every depth (orjson writes it as it is, running
    none of the agent's code), told by one pass in C."""
    try:
        orjson.dumps(value, None, _PLAIN_ONLY)
    except Exception:  # a TypeError, as orjson refuses what it does not take
        return False
    return True


def same_items(new: Sequence[Any], old: list[Any]) -> bool:
    """Whether a request starts with the items sent last time: how the recorder tells a
    growing conversation from a new one.

    ``new == old``, identity first (C speed); a value whose ``==`` raises (an array that
    refuses to be a bool) only means "not the same".

    Args:
        new: the items to compare (a prefix of the new request).
        old: the items recorded before.

    Returns:
        Whether they are equal.
    """
    if new.__class__ is not list:
        new = list(new)
    try:
        return bool(new == old)
    except Exception:
        return False
