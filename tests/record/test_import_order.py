"""``record/`` reads in one order: no module imports, at load time, one that imports it back.

The handles refer to each other (a thread makes turns, a turn makes tool calls, a tool call
makes code cells, a code cell makes tool calls again, a tool call spawns threads), so a few
references must go the other way: those are imported inside the function that needs them,
or only for type checking, never when the module loads. These tests keep it so.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import rollout_trace_sdk.record as record

RECORD = Path(record.__file__).parent
MODULES = sorted(p.stem for p in RECORD.glob("*.py") if p.stem != "__init__")


#: The imports that go back up the reading order, each inside the one function that needs it:
#: a tool call starts a code cell (which makes tool calls: ``_tool_runtime.code_cell``), and a
#: disabled tool call's ``code_cell`` returns the disabled cell (``tools._null_code_cell``) and
#: its ``spawn_agent`` the disabled thread (``_agent_tools.null_thread``).
DEFERRED_BACK_EDGES = {
    ("_tool_runtime", "code_cells"),
    ("tools", "code_cells"),
    ("_agent_tools", "threads"),
}


def _imports(module: str, *, deferred: bool = False) -> set[str]:
    """The ``record`` modules ``module`` imports when it loads (outside function bodies and
    ``if TYPE_CHECKING:`` blocks), by name; with ``deferred``, also those its functions
    import when called."""
    tree = ast.parse((RECORD / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in _executed(tree.body, deferred):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is None:
                found.update(alias.name for alias in node.names)
            else:
                found.add(node.module.split(".")[0])
    return found & set(MODULES)


def _executed(body: list[ast.stmt], deferred: bool) -> Iterator[ast.AST]:
    for node in body:
        if not deferred and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue  # runs when called, not when the module loads
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from _executed(node.orelse, deferred)
            continue
        yield node
        for field in ("body", "orelse", "finalbody"):  # class bodies, try blocks, ...
            yield from _executed(getattr(node, field, None) or [], deferred)
        for handler in getattr(node, "handlers", None) or []:
            yield from _executed(handler.body, deferred)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (as a path that returns to its start), or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)) is not None:
            return found
    return None


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_record_modules_import_each_other_in_one_direction() -> None:
    graph = {module: _imports(module) for module in MODULES}
    assert graph["turns"] >= {"tools", "inference", "compactions"}  # the walk sees imports
    assert _cycle(graph) is None


def test_only_the_listed_imports_go_back_up() -> None:
    """Counting the imports made inside functions too, the only way back is the listed one."""
    graph = {module: _imports(module, deferred=True) for module in MODULES}
    assert all(target in graph[source] for source, target in DEFERRED_BACK_EDGES)
    for source, target in DEFERRED_BACK_EDGES:
        graph[source].discard(target)
    assert _cycle(graph) is None


#: Run in a fresh interpreter: load each ``record`` module first, with no other ``record``
#: module loaded and without the package's ``__init__`` (which imports them all in one order).
_LOAD_EACH_FIRST = """
import importlib, sys, types
import rollout_trace_sdk
root, names = sys.argv[1], sys.argv[2:]
failed = []
for name in names:
    for loaded in [m for m in sys.modules if m.startswith("rollout_trace_sdk.record")]:
        del sys.modules[loaded]
    package = types.ModuleType("rollout_trace_sdk.record")
    package.__path__ = [root]
    sys.modules["rollout_trace_sdk.record"] = package
    try:
        importlib.import_module("rollout_trace_sdk.record." + name)
    except Exception as exc:
        failed.append(f"{name}: {exc!r}")
print("\\n".join(failed))
"""


def test_each_record_module_loads_first() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_EACH_FIRST, str(RECORD), *MODULES],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == ""
