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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, Literal, get_args, get_origin

import attrs

from ..model import codec
from ..model import state as st
from ..model.state_execution import ANCHOR_ID_FIELDS
from ..model.tool_events import SUMMARY_TYPES, ToolCallSummary
from ..reduce.errors import ReduceError

#: The state's own classes (its nodes, whatever module of ``model`` declares them), checked
#: field by field; any other attrs class a field holds is one of the events'.
_NODES: Final = frozenset(
    node for node in (getattr(st, name) for name in st.__all__) if isinstance(node, type)
)
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


def not_json(raw: bytes, source: str | Path) -> ReduceError:
    """The error for a state file that is not JSON, in serde's words (as the reducer words a
    log line's): one wording from every command that reads a state (``summary`` said serde's,
    ``show``/``view``/``export`` orjson's, for one file).

    Args:
        raw: the file's bytes.
        source: the file as the user named it.

    Returns:
        The error to raise.
    """
    from ..model.serde_errors import syntax_error

    cause = syntax_error(raw) or "not JSON"
    return ReduceError(f"parse state {source}", cause=cause, file=str(source))


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
    miss = _checker(st.RolloutTrace)(state)
    if miss is None:
        return None
    where = ""
    for step in reversed(miss.path):
        where += f"[{step}]" if isinstance(step, int) else (f".{step}" if where else step)
    return f"{where or 'the state'}: expected {miss.expected}, found {miss.found}"


class _Miss:
    """A value of the wrong type: what was expected, what was found, and the path to it (built
    on the way back up, innermost step first, so a state that fits builds no path at all)."""

    __slots__ = ("expected", "found", "path")

    def __init__(self, value: Any, expected: str) -> None:
        self.expected = expected
        self.found = _NAMES.get(type(value), type(value).__name__)
        self.path: list[str | int] = []


Check = Callable[[Any], _Miss | None]
_CHECKS: dict[Any, Check] = {}


def _fits(value: Any) -> None:
    return None


def _checker(hint: Any) -> Check:
    """The check of ``hint``'s JSON shape, made once per hint."""
    found = _CHECKS.get(hint)
    if found is None:
        found = _CHECKS[hint] = _make_checker(hint)
    return found


def _make_checker(hint: Any) -> Check:
    origin = get_origin(hint)
    if hint is Any:
        return _fits
    if hint is st.TraceAnchor:  # its id under the key its type names (``to_json``)
        return _tagged(
            {tag: _record([(key, _checker(str))]) for tag, key in ANCHOR_ID_FIELDS.items()}
        )
    if hint in _TAGGED:
        variants = _TAGGED[hint].items()
        return _tagged({tag: _record(list(_field_checks(cls))) for tag, cls in variants})
    if origin in (typing.Union, types.UnionType):
        others = [o for o in get_args(hint) if o is not type(None)]
        # a tagged union of records (conversation parts, requests): a map is all we ask
        inner = _checker(others[0]) if len(others) == 1 else _checker(dict[str, Any])
        if len(others) == len(get_args(hint)):
            return inner
        return lambda value: None if value is None else inner(value)
    if origin is Literal:
        kinds = frozenset(type(a) for a in get_args(hint))
        what = _NAMES.get(type(get_args(hint)[0]), "a value")
        return lambda value: None if type(value) in kinds else _Miss(value, what)
    if origin in (list, tuple):
        return _container(list, _checker(get_args(hint)[0]) if get_args(hint) else _fits)
    if origin is dict:
        return _container(dict, _checker(get_args(hint)[1]))
    if isinstance(hint, type) and attrs.has(hint):
        if hint not in _NODES:  # the events' payload references and tool kinds: a map is enough
            return _container(dict, _fits)
        return _record(list(_field_checks(hint)))
    if hint is float:
        return lambda value: None if type(value) in (int, float) else _Miss(value, _NAMES[float])
    if isinstance(hint, type):
        what = _NAMES.get(hint, hint.__name__)
        return lambda value: None if type(value) is hint else _Miss(value, what)
    return _fits


#: Tagged unions whose variants the readers take field by field (``show`` cuts a tool call's
#: previews as text): each variant checked by its ``type`` tag, as interaction edges' anchors
#: are (their ids are looked up). Any other tagged union is only asked to be a map.
_TAGGED: Final[dict[Any, dict[str, type[Any]]]] = {ToolCallSummary: SUMMARY_TYPES}


def _field_checks(cls: type) -> Iterator[tuple[str, Check]]:
    return ((name, _checker(hint)) for name, hint in _fields(cls))


def _tagged(variants: dict[str, Check]) -> Check:
    """A map whose ``type`` is text and that passes the check of the variant it names (an
    unknown tag: any map, left to the readers as other open vocabularies are)."""

    def check(value: Any) -> _Miss | None:
        if type(value) is not dict:
            return _Miss(value, _NAMES[dict])
        tag = value.get("type")
        if type(tag) is not str:
            if "type" not in value:
                return None
            miss = _Miss(tag, _NAMES[str])
            miss.path.append("type")
            return miss
        variant = variants.get(tag)
        return None if variant is None else variant(value)

    return check


def _container(kind: type, item: Check) -> Check:
    """A list or map whose items all pass ``item``: checked at C speed (``any`` over ``map``;
    a miss is truthy), and walked again only to say which item missed."""
    what = _NAMES[kind]

    def check(value: Any) -> _Miss | None:
        if type(value) is not kind:
            return _Miss(value, what)
        if item is _fits:
            return None
        box: Any = value  # a list or a dict now (``type(...) is kind`` narrows it to object)
        if not any(map(item, box if kind is list else box.values())):
            return None
        for step, each in enumerate(box) if kind is list else box.items():
            miss = item(each)
            if miss is not None:
                miss.path.append(step)
                return miss
        return None  # pragma: no cover - the first pass found a miss

    return check


def _record(fields: list[tuple[str, Check]]) -> Check:
    """A record of the state model: a map whose present fields pass their checks."""

    def check(value: Any) -> _Miss | None:
        if type(value) is not dict:
            return _Miss(value, _NAMES[dict])
        for name, field in fields:
            if name in value:
                miss = field(value[name])
                if miss is not None:
                    miss.path.append(name)
                    return miss
        return None

    return check


#: Fields whose JSON is not their annotation's (``to_json`` reshapes them).
_JSON_HINTS: Final[dict[tuple[type, str], Any]] = {
    (st.ConversationItem, "body"): dict[str, list[st.ConversationPart]],  # {"parts": [...]}
}
_HINTS: dict[type, list[tuple[str, Any]]] = {}


def _fields(cls: type) -> list[tuple[str, Any]]:
    found = _HINTS.get(cls)
    if found is None:
        hints = codec.field_hints(cls)
        found = _HINTS[cls] = [
            (f.name, _JSON_HINTS.get((cls, f.name), hints[f.name])) for f in attrs.fields(cls)
        ]
    return found
