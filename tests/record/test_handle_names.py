"""Recorder handles and reduced-state nodes share eight names (``ToolCall``, ``InferenceCall``,
``AgentThread``, ...): the handle records one, the node is what the reducer made of it. The
top-level package exports the handles; the state is imported as a module (``st.ToolCall``)
wherever both are used, so one name never means two things in one file. This test keeps it so.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import rollout_trace_sdk.model.state as st
import rollout_trace_sdk.record as record

REPO = Path(__file__).resolve().parents[2]
SHARED = set(record.__all__) & {name for name in vars(st) if isinstance(vars(st)[name], type)}
#: ``model.state`` and the modules it re-exports nodes from (``state_tools``, ...).
_STATE_MODULE = re.compile(r"(^|\.)state(_\w+)?$")
_STATE_IMPORT = re.compile(r"\bstate(_\w+)? import\b")


def _imported_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Names a file imports from the state module, and from the recorder (or the package)."""
    state: set[str] = set()
    handles: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.module is None:
            continue
        names = {alias.asname or alias.name for alias in node.names}
        if _STATE_MODULE.search(node.module):
            state |= names
        elif node.module.endswith("record") or node.module == "rollout_trace_sdk":
            handles |= names
    return state, handles


def test_the_shared_names_are_known() -> None:
    assert {"ToolCall", "InferenceCall", "AgentThread", "CodeCell"} <= SHARED


def test_no_file_imports_a_handle_and_a_node_of_one_name() -> None:
    clashes = {}
    for folder in ("rollout_trace_sdk", "tests", "examples", "benchmarks"):
        for path in sorted((REPO / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if not _STATE_IMPORT.search(text):  # parse only the files that may import nodes
                continue
            state, handles = _imported_names(ast.parse(text))
            both = state & SHARED and handles & SHARED
            if both:
                clashes[str(path.relative_to(REPO))] = sorted(state & SHARED)
    assert clashes == {}
