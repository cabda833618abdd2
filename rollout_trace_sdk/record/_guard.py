"""No recording call raises into the agent: every public method of a live handle is guarded.

A handle's methods take the agent's values as they come, and a value the type hints do not
allow (``None`` where a list belongs, a word where a status belongs) could make one of them
fail half-way. Rather than trust each method to check each argument, the base class wraps
every public method of every live handle class once, when the class is made: a method that
raises ends with a :class:`RecorderWarning` naming it and the error, the failure is counted
in the bundle's loss report (``recording calls that failed``), and the caller gets what the
handle's disabled twin answers for the same arguments (a null handle, the items handed
back), or ``None``. ``async with`` blocks guard their bodies inline, with
:func:`call_failed` (a wrapper coroutine per enter and exit cost ~3 µs a tool call):
entering still enters, leaving never adds an exception of its own. Cancellation and other
``BaseException`` s pass through untouched: they are the agent's, not the recorder's. The
two calls every tool call makes (``Turn.tool_call``, ``ToolCall.completed``) guard their
bodies inline too (:func:`guards_itself`).

What a failed call had already recorded stays; what it had not is missing, and the handle
it belonged to is still ended by its block or by the rollout's close.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from typing import Any, Final, TypeVar

from ._text import text_of
from ._warnings import recorder_warning

F = TypeVar("F", bound=Callable[..., Any])

#: live handle class -> its disabled twin's one instance (see ``runtime.NullLifecycle``)
TWINS: Final[dict[type, object]] = {}
#: public methods that guard their own bodies (:func:`guards_itself`)
_SELF_GUARDED: Final[set[object]] = set()


def guard_methods(cls: type) -> None:
    """Wrap the public methods ``cls`` defines itself. Its ``async with`` methods guard
    their bodies inline (a wrapper coroutine per enter and exit costs more than the rest of
    a tool call's guarding together): they call :func:`call_failed` themselves."""
    for name, value in list(vars(cls).items()):
        if inspect.isfunction(value) and not name.startswith("_") and value not in _SELF_GUARDED:
            setattr(cls, name, _guarded(name, value))


def guards_itself(method: F) -> F:
    """Mark a public method whose body is one ``try`` handing what it raises to
    :func:`guard_failure`: :func:`guard_methods` leaves it unwrapped. For the calls every tool call
    makes only (``Turn.tool_call``, ``ToolCall.completed``): the wrapper's frame and the
    keyword arguments passed on again cost ~1.3k instructions a tool call, 0.6 % of it."""
    _SELF_GUARDED.add(method)
    return method


def guard_failure(handle: Any, name: str, exc: Exception, args: Any, kwargs: Any) -> Any:
    """What a guard does when ``handle``'s method ``name``, called with ``args`` and
    ``kwargs`` (``self`` left out), raised ``exc``: count and warn (:func:`call_failed`), and
    answer as the handle's disabled twin answers the same call."""
    call_failed(handle, name, exc)
    return _twin_answer(handle, name, args, kwargs)


def _guarded(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` behind the guard, as a function of the same parameters: no ``*args`` /
    ``**kwargs`` packing on the way in (a generic wrapper cost 0.25 µs a call, 15% of a
    point event's whole cost); the failure path gathers them again for the twin."""
    params = list(inspect.signature(method).parameters.values())
    env: dict[str, Any] = {"__m": method, "__cf": call_failed, "__tw": _twin_answer, "__n": name}
    head: list[str] = []
    passed: list[str] = []
    positional: list[str] = []
    keyword: list[str] = []
    star = False
    for k, param in enumerate(params):
        pname = param.name
        if pname.startswith("__"):  # would shadow the wrapper's own names: keep it generic
            return _guarded_generic(name, method)
        default = ""
        if param.default is not inspect.Parameter.empty:
            env[f"__d{k}"] = param.default
            default = f"=__d{k}"
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            star = True
            head.append(f"*{pname}")
            passed.append(f"*{pname}")
            positional.append(f"*{pname}")
        elif param.kind is inspect.Parameter.VAR_KEYWORD:
            head.append(f"**{pname}")
            passed.append(f"**{pname}")
            keyword.append(f"**{pname}")
        elif param.kind is inspect.Parameter.KEYWORD_ONLY:
            if not star:
                head.append("*")
                star = True
            head.append(f"{pname}{default}")
            passed.append(f"{pname}={pname}")
            keyword.append(f"{pname!r}: {pname}")
        else:  # positional (or keyword): passed by position, as the twin takes them too
            head.append(f"{pname}{default}")
            passed.append(pname)
            if k:  # not ``self``
                positional.append(pname)
            if param.kind is inspect.Parameter.POSITIONAL_ONLY and (
                k + 1 == len(params) or params[k + 1].kind is not param.kind
            ):
                head.append("/")
    if not params:
        return _guarded_generic(name, method)
    this = params[0].name
    source = (
        f"def guarded({', '.join(head)}):\n"
        f"    try:\n"
        f"        return __m({', '.join(passed)})\n"
        f"    except Exception as __e:\n"
        f"        __cf({this}, __n, __e)\n"
        f"        return __tw({this}, __n, ({', '.join(positional)}{',' if positional else ''}),"
        f" {{{', '.join(keyword)}}})\n"
    )
    exec(compile(source, f"<guarded {method.__qualname__}>", "exec"), env)
    return functools.wraps(method)(env["guarded"])


def _guarded_generic(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            call_failed(self, name, exc)
            return _twin_answer(self, name, args, kwargs)

    return guarded


def call_failed(handle: Any, name: str, exc: Exception) -> None:
    """A call of ``handle``'s method ``name`` failed with ``exc``: count it in the bundle
    and say which call failed (the caller goes on as if it had recorded nothing more)."""
    # a handle without a runtime has no bundle to count in
    with contextlib.suppress(Exception):
        handle._rt.sink.values.note("call", warn=False)
    warn_failed(f"{type(handle).__name__}.{name}", exc)


def warn_failed(what: str, exc: Exception) -> None:
    """Say that recording ``what`` failed with ``exc`` and the agent goes on (one wording
    for every guard; one kind of warning per ``what``, a method's or a part's name)."""
    recorder_warning(
        f"rollout trace: {what} failed ({type(exc).__name__}: {text_of(exc)[:200]}); "
        "the agent goes on",
        kind=f"{what} failed",
    )


def _twin_answer(handle: Any, name: str, args: Any, kwargs: Any) -> Any:
    """What the disabled twin of ``handle``'s class answers to the same call, or None."""
    for cls in type(handle).__mro__:
        twin = TWINS.get(cls)
        if twin is not None:
            try:
                return getattr(twin, name)(*args, **kwargs)
            except Exception:
                return None
    return None


def quietly(what: str) -> Callable[[F], F]:
    """A decorator for recording code that runs inside the agent's own calls (an
    integration's hooks on a client's stream, say): an exception it raises becomes a
    :class:`RecorderWarning` naming ``what``, and the function returns ``None``.

    Args:
        what: what the function records, for the warning.

    Returns:
        The decorator.
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                warn_failed(f"recording {what}", exc)
                return None

        return guarded  # type: ignore[return-value]

    return decorate
