"""Public names say why they exist and what they take and give (docs/architecture.md, "What
is public"): the recorder's handles and functions, the reducer, the model, the testing kit and
the integrations. A class's public methods (class and static methods too) are checked wherever
they are defined, so a method a handle inherits from a private base counts as the handle's own;
a class's docstring must be its own (``inspect.getdoc`` would lend it a base's).

Every public class of ``model/`` is checked, found module by module on disk (the vocabulary
classes live in ``payload_refs``, ``thread_events``, ``state_tools``, ... and are re-exported by
``events`` and ``state``): 51 of them and 7 of their methods had no docstring (found by the docs
audit)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

import rollout_trace_sdk
import rollout_trace_sdk.export.parquet as parquet_export
import rollout_trace_sdk.export.query as query_export
import rollout_trace_sdk.integrations as integrations
import rollout_trace_sdk.integrations.agents as agents_integration
import rollout_trace_sdk.integrations.openai as openai_integration
import rollout_trace_sdk.model as model
import rollout_trace_sdk.record as record
import rollout_trace_sdk.record.redact as redact
import rollout_trace_sdk.reduce as reduce
import rollout_trace_sdk.testing as testing


def _public() -> Iterator[tuple[str, Any]]:
    for name in rollout_trace_sdk.__all__:
        if name != "__version__":
            yield name, getattr(rollout_trace_sdk, name)
    for module in (
        record,
        redact,
        reduce,
        testing,
        integrations,
        openai_integration,
        agents_integration,
        parquet_export,
        query_export,
    ):
        for name in module.__all__:
            yield f"{module.__name__}.{name}", getattr(module, name)
    for module in _model_modules():
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and not name.startswith("_")
                and obj.__module__ == module.__name__
            ):
                yield f"{module.__name__}.{name}", obj


def _model_modules() -> Iterator[ModuleType]:
    """Every module of ``model/`` without an underscore in its name: one added later is
    checked without being listed here."""
    for info in pkgutil.walk_packages(model.__path__, f"{model.__name__}."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            yield importlib.import_module(info.name)


def _callables(name: str, obj: Any) -> Iterator[tuple[str, Callable[..., Any] | property]]:
    if inspect.isfunction(obj):
        yield name, obj
    elif inspect.isclass(obj) and obj.__module__.startswith("rollout_trace_sdk"):
        seen: set[str] = set()
        for cls in obj.__mro__:  # inherited methods are public on the handle too
            if not cls.__module__.startswith("rollout_trace_sdk"):
                continue
            for attr, value in vars(cls).items():
                if attr.startswith("_") or attr in seen:
                    continue
                seen.add(attr)
                if isinstance(value, classmethod | staticmethod):
                    value = value.__func__
                if inspect.isfunction(value):
                    yield f"{name}.{attr}", value
                elif isinstance(value, property) and value.fget is not None:
                    yield f"{name}.{attr}", value  # a docstring; it takes and gives nothing


def _problems(name: str, fn: Callable[..., Any] | property) -> list[str]:
    doc = inspect.getdoc(fn) or ""
    if not doc:
        return [f"{name}: no docstring"]
    if isinstance(fn, property):
        return []
    signature = inspect.signature(fn)
    problems = []
    if any(p not in ("self", "cls") for p in signature.parameters) and "Args:" not in doc:
        problems.append(f"{name}: no Args:")
    if signature.return_annotation not in ("None", None, inspect.Signature.empty) and (
        "Returns:" not in doc
    ):
        problems.append(f"{name}: no Returns:")
    return problems


# constants and type aliases are documented by their comments in the module
PUBLIC = [(n, o) for n, o in _public() if inspect.isclass(o) or inspect.isfunction(o)]


@pytest.mark.parametrize(("name", "obj"), PUBLIC, ids=[name for name, _ in PUBLIC])
def test_public_name_is_documented(name: str, obj: Any) -> None:
    own = obj.__dict__.get("__doc__") if inspect.isclass(obj) else inspect.getdoc(obj)
    assert own, f"{name} has no docstring"
    problems = [p for each, fn in _callables(name, obj) for p in _problems(each, fn)]
    assert not problems, problems


def test_every_public_function_of_the_model_says_what_it_is() -> None:
    """The model's functions (codec, serde_read, layout, ...) are the format's rules in code:
    each has a docstring, though not the Args/Returns of the public API (17 had none)."""
    missing = [
        f"{module.__name__}.{name}"
        for module in _model_modules()
        for name, obj in vars(module).items()
        if inspect.isfunction(obj)
        and not name.startswith("_")
        and obj.__module__ == module.__name__
        and not (obj.__doc__ or "").strip()
    ]
    assert not missing, missing
