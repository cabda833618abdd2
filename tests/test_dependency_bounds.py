"""The lower bounds ``pyproject.toml`` declares are the ones the README's "Tested versions"
table says were tested: a bound raised or lowered without testing it (and saying so) fails
here. The installs themselves are too slow for CI (a venv per bound)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: The extras a user installs for a feature (test, dev and peers are ours).
FEATURES = ("openai", "agents", "analytics", "ray", "otel")


def _declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in FEATURES:
        specs += project["optional-dependencies"][extra]
    return {s.replace(" ", "") for s in specs if not s.startswith("rollout-trace-sdk")}


def _tabled() -> set[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("### Tested versions", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return {spec for row in rows for spec in re.findall(r"`([A-Za-z0-9_.-]+>=[^`]+)`", row)}


def test_the_tested_versions_table_names_every_declared_bound() -> None:
    declared, tabled = _declared(), _tabled()
    assert declared == tabled, (sorted(declared - tabled), sorted(tabled - declared))


def test_duckdb_before_2_0_1_comes_with_pytz() -> None:
    """duckdb up to 2.0.0 hands out a time-zoned timestamp through pytz, which it does not
    install: every query of a time failed with "Required module 'pytz' failed to import"
    (found by review, at the declared duckdb>=1.1)."""
    bound = next(s for s in _declared() if s.startswith("duckdb>="))
    version = tuple(int(part) for part in bound.removeprefix("duckdb>=").split("."))
    if version < (2, 0, 1):
        assert any(s.startswith("pytz>=") for s in _declared())


def test_the_test_extra_repeats_the_feature_bounds() -> None:
    """The test extra spells the feature extras' packages again: with the same bounds."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    by_name = {re.split(r"[<>=!~]", s, maxsplit=1)[0]: s for s in _declared()}
    for spec in project["optional-dependencies"]["test"]:
        name = re.split(r"[<>=!~]", spec, maxsplit=1)[0]
        if name in by_name:
            assert spec.replace(" ", "") == by_name[name], spec
