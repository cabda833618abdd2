"""README.md, CHANGELOG.md and docs/ point at things that exist: links between pages (and their
anchors), files of the repository named in backticks, and the tests docs/guarantees.md and
the other pages cite as ``tests/….py::test_name``. A page that cites a renamed test or a moved
file says something no one can check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCE = re.compile(r"^\s*```.*?^\s*```", re.M | re.S)


def _prose(page: Path) -> str:
    return _FENCE.sub("", page.read_text())


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lowercased, punctuation dropped, spaces as dashes."""
    headings = re.findall(r"^#+\s+(.*)$", _FENCE.sub("", page.read_text()), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_links_resolve(page: Path) -> None:
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", _prose(page)):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        lost_anchor = bool(anchor) and linked.suffix == ".md" and anchor not in _anchors(linked)
        if not linked.exists() or lost_anchor:
            broken.append(target)
    assert not broken, broken


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_named_files_and_tests_exist(page: Path) -> None:
    text = page.read_text()
    missing = []
    named = (
        r"`((?:tests|benchmarks|scripts|examples|docs|rollout_trace_sdk)/[\w/.\-]+?)(?:::(\w+))?`"
    )
    for path, test in re.findall(named, text):
        if "X" in Path(path).stem:  # a pattern (`tests/reduce/test_X.py`), not a file
            continue
        file = REPO / path.rstrip(".")
        if not file.exists():
            missing.append(path)
        elif test and not re.search(rf"^(?:async )?def {test}\b", file.read_text(), re.M):
            missing.append(f"{path}::{test}")
    assert not missing, missing


def _environment_variables() -> set[str]:
    """Every variable the package reads from the environment, and those scripts/test.sh takes."""
    names: set[str] = set()
    for module in (REPO / "rollout_trace_sdk").rglob("*.py"):
        text = module.read_text()
        names.update(re.findall(r"os\.environ(?:\.get\(|\[)\s*\"([A-Z][A-Z0-9_]+)\"", text))
        names.update(re.findall(r"^\w*_ENV: Final = \"([A-Z][A-Z0-9_]+)\"", text, re.M))
        for group in re.findall(r"^\w*_ENV_VARS: Final = \(([^)]*)\)", text, re.M):
            names.update(re.findall(r"\"([A-Z][A-Z0-9_]+)\"", group))
    script = (REPO / "scripts" / "test.sh").read_text()
    names.update(re.findall(r"\$\{([A-Z][A-Z0-9_]+):-", script))
    return names - {"TMPDIR"}  # the system's, read by tempfile and pytest alike


def test_environment_variables_are_documented() -> None:
    """An environment variable the package (or the test command) reads is one a user can find:
    ROLLOUT_TRACE_DEBUG (an internal error's traceback) was read by the CLI and named nowhere
    but in its own error message (found by docs24)."""
    names = _environment_variables()
    assert {"ROLLOUT_TRACE_ROOT", "ROLLOUT_TRACE_SCHEMA", "ROLLOUT_TRACE_DEBUG"} <= names
    text = "\n".join(page.read_text() for page in PAGES if page.name != "CHANGELOG.md")
    assert not sorted(n for n in names if not re.search(rf"\b{n}\b", text))
