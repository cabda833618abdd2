"""Whether a ``state.json`` read from disk has the shape a reduced state has, checked before
anything shows it: a file is input like any other, and a wrong type deep inside (an id that
is a map, a time that is text) must be refused naming where, not fail halfway through a
page.

The shape comes from the state model's own classes (``model.state``): each field's JSON type
as its annotation says. Only types are checked: missing keys (older states lack newer ones),
unknown keys and values of open vocabularies (statuses, kinds) are left to the readers.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Literal, get_args, get_origin

import attrs

from ..model import state as st
from ..reduce.errors import ReduceError

#: What a JSON value is called in messages.
_NAMES: Final = {
    dict: "a map",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def refuse_unless_state(state: Any, source: str | Path) -> None:
    """Refuse a parsed state file that is not shaped as a reduced state.

    Args:
        state: the parsed file.
        source: its path, named in the error.

    Raises:
        ReduceError: no ``threads`` map, or a value of the wrong type (named by its path).
    """
    if not isinstance(state, dict) or not isinstance(state.get("threads"), dict):
        raise ReduceError(f"{source} is not a reduced state (no `threads`)", file=str(source))
    problem = state_shape_error(state)
    if problem is not None:
        raise ReduceError(f"{source} is not a reduced state", cause=problem, file=str(source))


def state_shape_error(state: Any) -> str | None:
    """Where ``state`` (parsed JSON) first differs in type from a reduced state, worded as
    ``tool_calls.call_1.thread_id: expected a string, found a map``; None when it does not.

    Args:
        state: the parsed ``state.json``.

    Returns:
        The first difference, or None.
    """
    if _valid(st.RolloutTrace)(state):  # the common case, without building any path
        return None
    return _check(state, st.RolloutTrace, "")


Valid = Callable[[Any], bool]
_VALID: dict[Any, Valid] = {}
_ANY: Final[Valid] = lambda value: True  # noqa: E731


def _valid(hint: Any) -> Valid:
    """A fast yes/no check of ``hint``'s JSON shape (:func:`_check`'s rules; it says where)."""
    found = _VALID.get(hint)
    if found is None:
        found = _VALID[hint] = _make_valid(hint)
    return found


def _make_valid(hint: Any) -> Valid:
    origin = get_origin(hint)
    if hint is Any:
        return _ANY
    if origin in (typing.Union, types.UnionType):
        others = [o for o in get_args(hint) if o is not type(None)]
        nullable = len(others) < len(get_args(hint))
        inner = _valid(others[0]) if len(others) == 1 else (lambda value: type(value) is dict)
        return (lambda value: value is None or inner(value)) if nullable else inner
    if origin is Literal:
        kinds = frozenset(type(a) for a in get_args(hint))
        return lambda value: type(value) in kinds
    if origin in (list, tuple):
        item = _valid(get_args(hint)[0]) if get_args(hint) else _ANY
        if item is _ANY:
            return lambda value: type(value) is list
        return lambda value: type(value) is list and all(map(item, value))
    if origin is dict:
        entry = _valid(get_args(hint)[1])
        return lambda value: type(value) is dict and all(map(entry, value.values()))
    if isinstance(hint, type) and attrs.has(hint):
        if hint.__module__ != st.__name__:
            return lambda value: type(value) is dict
        fields = [(name, _valid(field_hint)) for name, field_hint in _fields(hint)]

        def record(value: Any) -> bool:
            return type(value) is dict and all(
                name not in value or check(value[name]) for name, check in fields
            )

        return record
    if hint is float:
        return lambda value: type(value) in (int, float)
    if isinstance(hint, type):
        return lambda value: type(value) is hint
    return _ANY


def _found(value: Any) -> str:
    return _NAMES.get(type(value), type(value).__name__)


def _expected(value: Any, hint: Any, where: str, what: str) -> str:
    return f"{where or 'the state'}: expected {what}, found {_found(value)}"


def _check(value: Any, hint: Any, where: str) -> str | None:
    origin = get_origin(hint)
    if hint is Any:
        return None
    if origin in (typing.Union, types.UnionType):
        options = get_args(hint)
        if value is None:
            return None if type(None) in options else _expected(value, hint, where, "a value")
        others = [o for o in options if o is not type(None)]
        if len(others) == 1:
            return _check(value, others[0], where)
        # a tagged union of records (conversation parts, requests): a map is all we ask
        return None if isinstance(value, dict) else _expected(value, hint, where, "a map")
    if origin is Literal:
        kinds = {type(a) for a in get_args(hint)}
        if type(value) in kinds:
            return None
        return _expected(value, hint, where, _NAMES.get(next(iter(kinds)), "a value"))
    if origin in (list, tuple):
        if not isinstance(value, list):
            return _expected(value, hint, where, "a list")
        inner = get_args(hint)[0] if get_args(hint) else Any
        for index, item in enumerate(value):
            problem = _check(item, inner, f"{where}[{index}]")
            if problem is not None:
                return problem
        return None
    if origin is dict:
        if not isinstance(value, dict):
            return _expected(value, hint, where, "a map")
        inner = get_args(hint)[1]
        for key, item in value.items():
            problem = _check(item, inner, f"{where}.{key}" if where else key)
            if problem is not None:
                return problem
        return None
    if isinstance(hint, type) and attrs.has(hint):
        if not isinstance(value, dict):
            return _expected(value, hint, where, "a map")
        if hint.__module__ != st.__name__:  # the events' payload references: a map is enough
            return None
        for name, field_hint in _fields(hint):
            if name in value:
                problem = _check(value[name], field_hint, f"{where}.{name}" if where else name)
                if problem is not None:
                    return problem
        return None
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(hint, type):
        ok = isinstance(value, hint)
    else:
        return None
    return None if ok else _expected(value, hint, where, _NAMES.get(hint, hint.__name__))


#: Fields whose JSON is not their annotation's (``to_json`` reshapes them).
_JSON_HINTS: Final[dict[tuple[type, str], Any]] = {
    (st.ConversationItem, "body"): dict[str, list[st.ConversationPart]],  # {"parts": [...]}
}
_HINTS: dict[type, list[tuple[str, Any]]] = {}


def _fields(cls: type) -> list[tuple[str, Any]]:
    found = _HINTS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls, vars(st))
        found = _HINTS[cls] = [
            (f.name, _JSON_HINTS.get((cls, f.name), hints[f.name])) for f in attrs.fields(cls)
        ]
    return found
