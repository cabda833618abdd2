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


def fresh_copy(bundle: Path, target: Path) -> Path:
    """A copy of ``bundle`` at ``target`` without its ``state.json``, to change: the commands
    would read a state newer than the bundle instead of the changed bundle."""
    shutil.copytree(bundle, target, ignore=shutil.ignore_patterns("state.json"))
    return target


def crash_cut(bundle: Path, target: Path) -> Path:
    """:func:`fresh_copy` whose log a kill cut two thirds in, in the middle of a line."""
    log = fresh_copy(bundle, target) / "trace.jsonl"
    log.write_bytes(log.read_bytes()[: log.stat().st_size * 2 // 3])
    return target


def read_tables(directory: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, in a canonical order (to compare two exports)."""
    return {
        table: run(directory, f"SELECT * FROM {table} ORDER BY ALL")[1] for table in TABLE_NAMES
    }


def counts_by_trace(directory: Path, table: str) -> dict[str, int]:
    """Rows of ``table`` per trace id."""
    rows = run(directory, f"SELECT trace_id, count(*) FROM {table} GROUP BY trace_id")[1]
    return {str(trace): int(n) for trace, n in rows}
