"""Public names say why they exist and what they take and give (docs/architecture.md, "What
is public"). The recorder's handles are checked where they live (record/ is being reworked
into one handle base); this covers the reducer, the model and the testing kit."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import rollout_trace_sdk
import rollout_trace_sdk.integrations.openai as openai_integration
import rollout_trace_sdk.reduce as reduce
import rollout_trace_sdk.testing as testing


def _public() -> Iterator[tuple[str, Any]]:
    for name in rollout_trace_sdk.__all__:
        home = rollout_trace_sdk._PUBLIC.get(name, "")
        if home != ".record" and name != "__version__":
            yield name, getattr(rollout_trace_sdk, name)
    for module in (reduce, testing, openai_integration):
        for name in module.__all__:
            yield f"{module.__name__}.{name}", getattr(module, name)


def _callables(name: str, obj: Any) -> Iterator[tuple[str, Callable[..., Any]]]:
    if inspect.isfunction(obj):
        yield name, obj
    elif inspect.isclass(obj) and obj.__module__.startswith("rollout_trace_sdk"):
        for attr, value in vars(obj).items():
            if not attr.startswith("_") and inspect.isfunction(value):
                yield f"{name}.{attr}", value


def _problems(name: str, fn: Callable[..., Any]) -> list[str]:
    doc = inspect.getdoc(fn) or ""
    if not doc:
        return [f"{name}: no docstring"]
    signature = inspect.signature(fn)
    problems = []
    if any(p != "self" for p in signature.parameters) and "Args:" not in doc:
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
    assert inspect.getdoc(obj), f"{name} has no docstring"
    problems = [p for each, fn in _callables(name, obj) for p in _problems(each, fn)]
    assert not problems, problems
