"""Helpers for the Parquet export tests: bundle copies and reading an export back."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from rollout_trace_sdk.export.query import run
from rollout_trace_sdk.export.schema import TABLE_NAMES


def copies(bundle: Path, root: Path, count: int) -> list[Path]:
    """``count`` copies of ``bundle`` under ``root`` (distinct sources, same ids)."""
    out = []
    for n in range(count):
        target = root / f"copy{n:03d}" / bundle.name
        shutil.copytree(bundle, target)
        out.append(target)
    return out


def read_tables(directory: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, in a canonical order (to compare two exports)."""
    return {
        table: run(directory, f"SELECT * FROM {table} ORDER BY ALL")[1] for table in TABLE_NAMES
    }


def counts_by_trace(directory: Path, table: str) -> dict[str, int]:
    """Rows of ``table`` per trace id."""
    rows = run(directory, f"SELECT trace_id, count(*) FROM {table} GROUP BY trace_id")[1]
    return {str(trace): int(n) for trace, n in rows}
