"""The package's layers, checked from the source: what each part of ``rollout_trace_sdk``
imports of the others (at load time, inside a function or for type checkers alike), against
docs/architecture.md's rules. The model is the vocabulary both halves share and imports
neither; the reducer never imports the recorder nor the recorder the reducer; the viewer,
the exports and the testing kit sit on the reducer's side; the integrations and the demo call
the recorder. tests/test_public_api.py and tests/view/test_layers.py check what a command
loads at run time; this reads every import, including those no test happens to run."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rollout_trace_sdk"

#: each layer's parts of the package it may import (besides its own modules). The shared
#: private helpers: ``_attrs_code`` (the command line's cache of generated code, asked for by
#: the model's generated readers), ``_flock`` (the lazy fcntl import of the writer's log lock
#: and the readers' liveness probe), ``_signals`` (the stop signals the recorder and the
#: commands unwind, and those ``convert`` holds back while it removes its work directory;
#: the Ctrl-C orjson hands back from a ``default`` hook, for the recorder's hooks, the
#: integrations' and ``query``'s; it imports nothing of the package), ``_pool`` (the process pool of export's default engine, which
#: ``validate ROOT --jobs`` shares; it imports nothing of the package), ``_private_dirs`` (the
#: 0700 folders a bundle's and an export's parents, and the demo's traces root, are made; it
#: imports the model alone).
ALLOWED: dict[str, set[str]] = {
    "model": {"_attrs_code"},
    "record": {"model", "_flock", "_signals", "_private_dirs"},
    "reduce": {"model", "_flock", "_signals"},
    "testing": {"model", "reduce"},
    "view": {"model", "reduce", "outputs", "_signals"},
    "export": {
        "model",
        "reduce",
        "view",
        "outputs",
        "sources",
        "__init__",
        "_pool",
        "_private_dirs",
        "_signals",
    },
    "integrations": {"model", "record", "_signals"},
    "demo": {"model", "record", "_private_dirs"},
}

#: the modules the model may import from the standard library and its dependencies: no file,
#: process or network I/O (``os`` for ``fsencode``/``fsdecode`` of a work name alone)
_MODEL_IO = {"io", "pathlib", "shutil", "subprocess", "socket", "tempfile", "glob", "fcntl"}
_MODEL_OS = {"fsencode", "fsdecode", "fspath"}


def _units(package: Path) -> set[str]:
    """The package's parts: each subpackage and each top-level module, by name."""
    return {p.stem for p in package.glob("*.py")} | {
        p.parent.name for p in package.glob("*/__init__.py")
    }


def _unit_of(module: str) -> str:
    """``rollout_trace_sdk.record.tools`` → ``record``; the package itself → ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path, package: Path) -> Iterator[tuple[int, str]]:
    """Every module of the package ``path`` imports (line, dotted name), relative ones
    resolved; ``from .. import x`` names ``x`` when it is a part of the package."""
    here = list(path.relative_to(package.parent).with_suffix("").parts)[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "rollout_trace_sdk":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.split(".")[0] == "rollout_trace_sdk":
                module = node.module
            else:
                continue
            if node.module is None or module == "rollout_trace_sdk":
                for alias in node.names:
                    yield node.lineno, f"{module}.{alias.name}"
            else:
                yield node.lineno, module


def _breaches(layer: str, allowed: set[str], package: Path = PACKAGE) -> list[str]:
    """Each import of a ``layer`` module reaching a part of ``package`` outside ``allowed``."""
    units = _units(package)
    found = []
    for path in sorted((package / layer).rglob("*.py")):
        for line, module in _imports(path, package):
            target = _unit_of(module)
            if target not in units:
                target = "__init__"  # a name of the package's own namespace (__version__)
            if target != layer and target not in allowed:
                found.append(f"{path.relative_to(package)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_what_it_may(layer: str) -> None:
    breaches = _breaches(layer, ALLOWED[layer])
    assert not breaches, breaches


def test_the_check_sees_a_breach(tmp_path: Path) -> None:
    """The reader of imports finds a reducer module importing the recorder, in each form."""
    fake = tmp_path / "rollout_trace_sdk"
    for part in ("model", "record", "reduce"):
        (fake / part).mkdir(parents=True)
        (fake / part / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "reduce" / "bad.py").write_text(
        "from ..record import writer\n"
        "def f():\n"
        "    import rollout_trace_sdk.record.tools\n"
        "    from .. import record\n"
        "from ..model import events\n"
    )
    breaches = _breaches("reduce", ALLOWED["reduce"], fake)
    assert [b.split(" imports ")[0] for b in breaches] == [
        "reduce/bad.py:1",
        "reduce/bad.py:3",
        "reduce/bad.py:4",
    ]


def test_every_part_of_the_package_has_a_rule_or_is_on_top() -> None:
    """A new subpackage gets its row in ``ALLOWED``: one without a rule would import anything
    unseen. The top-level modules are the command line's and the public namespace's, on top
    of everything."""
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert subpackages == set(ALLOWED)


def test_the_model_does_no_io() -> None:
    """docs/architecture.md: the model is the vocabulary, no I/O: no file, process or socket
    module, no ``open()``, nothing of ``os`` but a file name's encoding."""
    found = []
    for path in sorted((PACKAGE / "model").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.relative_to(PACKAGE)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                found += [f"{where} {a.name}" for a in node.names if a.name in _MODEL_IO]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                if (node.module or "").split(".")[0] in _MODEL_IO:
                    found.append(f"{where} {node.module}")
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open":
                found.append(f"{where} open()")
            elif (
                isinstance(node, ast.Attribute)
                and getattr(node.value, "id", None) == "os"
                and node.attr not in _MODEL_OS
            ):
                found.append(f"{where} os.{node.attr}")
    assert not found, found
