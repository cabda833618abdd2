"""The top-level package re-exports the public API and loads each half only when used."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rollout_trace_sdk


@pytest.mark.parametrize("name", rollout_trace_sdk.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(rollout_trace_sdk, name) is not None
    assert name in dir(rollout_trace_sdk)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = rollout_trace_sdk.nope


def test_reducer_does_not_import_the_recorder() -> None:
    code = (
        "import sys, rollout_trace_sdk; rollout_trace_sdk.reduce_bundle; "
        "import rollout_trace_sdk.cli; "
        "print(any(m.startswith('rollout_trace_sdk.record') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_type_checking_imports_mirror_the_public_table() -> None:
    """The imports type checkers see name exactly the table's names, from the same homes."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(rollout_trace_sdk))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
    )
    seen = {
        alias.asname: "." + (node.module or "")
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert seen == rollout_trace_sdk._PUBLIC


def test_version_comes_from_the_installed_distribution() -> None:
    """``__version__`` is the version pyproject.toml gives, read from package metadata."""
    from importlib.metadata import version

    assert rollout_trace_sdk.__version__ == version("rollout-trace-sdk")
    assert "__version__" in dir(rollout_trace_sdk)


_PUBLIC_MODULES = (
    "rollout_trace_sdk",
    "rollout_trace_sdk.record",
    "rollout_trace_sdk.record.redact",
    "rollout_trace_sdk.reduce",
    "rollout_trace_sdk.testing",
    "rollout_trace_sdk.integrations",
    "rollout_trace_sdk.integrations.openai",
    "rollout_trace_sdk.integrations.agents",
    "rollout_trace_sdk.export.parquet",
    "rollout_trace_sdk.export.query",
)


def test_every_public_name_is_in_the_docs() -> None:
    """Every name of a public module's ``__all__`` (docs/architecture.md, "What is public")
    is named in README.md or docs/: a public name nobody can find is not public."""
    import importlib
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    text = "\n".join(p.read_text() for p in [repo / "README.md", *(repo / "docs").glob("*.md")])
    missing = [
        f"{module}.{name}"
        for module in _PUBLIC_MODULES
        for name in importlib.import_module(module).__all__
        if not re.search(rf"\b{re.escape(name)}\b", text)
    ]
    assert not missing, missing


def test_every_public_method_is_in_the_docs() -> None:
    """Every public method and property of a public class (its own or inherited from one of
    ours) is named in README.md or docs/, as the class is: ``TokenUsage.to_payload`` and
    ``ExportSummary.max_rss_kb_by_pid`` were public and named nowhere (found by the docs
    audit)."""
    import importlib
    import inspect
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    text = "\n".join(p.read_text() for p in [repo / "README.md", *(repo / "docs").glob("*.md")])
    missing = []
    for module in _PUBLIC_MODULES:
        for name in importlib.import_module(module).__all__:
            obj = getattr(importlib.import_module(module), name)
            if not inspect.isclass(obj):
                continue
            for cls in obj.__mro__:
                if not cls.__module__.startswith("rollout_trace_sdk"):
                    continue
                for attr, value in vars(cls).items():
                    public = not attr.startswith("_")
                    method = inspect.isfunction(value) or isinstance(value, property)
                    if public and method and not re.search(rf"\b{attr}\b", text):
                        missing.append(f"{module}.{name}.{attr}")
    assert not missing, missing


def test_convert_bundle_is_public() -> None:
    """docs/reducing.md gives ``convert_bundle`` as the Python form of ``convert``."""
    import rollout_trace_sdk.reduce as reduce
    from rollout_trace_sdk.reduce.convert import convert_bundle

    assert "convert_bundle" in reduce.__all__
    assert reduce.convert_bundle is convert_bundle


def test_handle_attributes_are_the_documented_ones() -> None:
    """A public handle's public attributes are what docs/recording.md ("Handles") lists: a
    public slot is a promise, so an internal helper kept on a handle (once ``thread.ids``,
    the thread's ``ItemIds``) must have a leading underscore, and a real one must be named."""
    import inspect
    import re
    from pathlib import Path

    import rollout_trace_sdk.record as record
    from rollout_trace_sdk.record._handle import Emitter

    doc = (Path(__file__).resolve().parent.parent / "docs" / "recording.md").read_text()
    named = set(re.findall(r"`(?:[a-z_]+\.)?([a-z_]+)`", doc))
    undocumented = [
        f"{name}.{slot}"
        for name in record.__all__
        if inspect.isclass(cls := getattr(record, name)) and issubclass(cls, Emitter)
        for klass in cls.__mro__
        for slot in getattr(klass, "__slots__", ())
        if not slot.startswith("_") and slot not in named
    ]
    assert not undocumented, undocumented
