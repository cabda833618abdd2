"""The package keeps the project's module size: no module over 600 lines, one job each
(docs/architecture.md). Checked for export/ alone first, after parquet.py had grown to 621
lines with the listing and the manifest in it (found by review); record/tools.py then grew to
618 with nothing checking the rest of the package."""

from __future__ import annotations

from pathlib import Path

import rollout_trace_sdk

_LIMIT = 600


def test_no_module_is_over_the_limit() -> None:
    """Every ``rollout_trace_sdk/**/*.py`` (the static/ and demo/ files included)."""
    package = Path(rollout_trace_sdk.__file__).parent
    sizes = {
        str(p.relative_to(package)): len(p.read_text(encoding="utf-8").splitlines())
        for p in package.rglob("*.py")
    }
    assert len(sizes) > 150
    assert {name: n for name, n in sizes.items() if n > _LIMIT} == {}
