"""How query prints a result as a table: cells as literal text with control characters spelled
out, no part of a value hidden however narrow the terminal, values of several lines ruled off,
more columns than fit printed a row at a time (the queries: test_query.py)."""

from __future__ import annotations

import io
from typing import Any

import pytest


def _table_rows(text: str) -> list[list[str]]:
    """Each row of a printed table, its cells' lines joined back together (rows of more
    than one line are separated by rules; without rules a row is a line)."""
    rows: list[list[str]] = []
    block: list[list[str]] = []
    ruled = "├" in text
    body = text.split("╇", 1)[1].split("\n", 1)[1]  # below the header
    for line in body.splitlines():
        if line.startswith("│"):
            block.append([cell.strip() for cell in line.strip("│").split("│")])
        if block and (line.startswith(("├", "└")) or not ruled):
            rows.append(["".join(parts).strip() for parts in zip(*block, strict=True)])
            block = []
    return rows


@pytest.mark.parametrize("width", [80, 60, 160])
def test_a_table_narrower_than_its_values_hides_no_part_of_them(width: int) -> None:
    """On an 80-column terminal a long ``source`` read ``/work/scra…`` in every row: rows
    that differed only at the end looked the same (review cli26). A value too long for its
    column is folded onto more lines, rules between the rows say where each ends, and
    joined back every cell is the whole value."""
    from rollout_trace_sdk.export.query import _print

    columns = ["rollout_id", "source", "status", "input_tokens", "tool_calls"]
    rows: list[tuple[Any, ...]] = [
        (
            f"01a24970-{n}",
            f"/work/scratch/runs/exp1/traces/trace-0a1b2c3d4e5f6a7b-{n:04x}",
            "ok",
            n,
            7,
        )
        for n in range(3)
    ]
    out = io.StringIO()
    _print("table", columns, rows, out, width=width)
    text = out.getvalue()
    assert "…" not in text and max(map(len, text.splitlines())) <= width
    assert _table_rows(text) == [[str(v) for v in row] for row in rows]
    assert text.endswith("3 row(s)\n")


def test_a_value_of_several_lines_in_a_table_that_fits_is_ruled_off() -> None:
    """A cell holding a newline takes two lines though nothing is folded: rules between the
    rows say where each ends (only folded tables were tried: ruling only those passed, mut31)."""
    from rollout_trace_sdk.export.query import _print

    out = io.StringIO()
    _print("table", ["text", "n"], [("first\nsecond", 1), ("third", 2)], out, width=160)
    text = out.getvalue()
    assert "├" in text
    assert _table_rows(text) == [["firstsecond", "1"], ["third", "2"]]


def _records(text: str) -> list[dict[str, str]]:
    """Each record of a result printed a row at a time: its ``column  value`` lines, a value
    folded over more lines joined back together."""
    records: list[dict[str, str]] = []
    name = ""
    for line in text.splitlines():
        if line.startswith("row "):
            records.append({})
        elif line.startswith("│") and records:
            left, right = (cell.strip() for cell in line.strip("│").split("│"))
            name = left or name
            records[-1][name] = records[-1].get(name, "") + right
    return records


@pytest.mark.parametrize(("count", "width"), [(31, 80), (31, 160), (12, 40)])
def test_more_columns_than_the_width_shows_are_printed_a_row_at_a_time(
    count: int, width: int
) -> None:
    """``SELECT * FROM tool_calls`` (32 columns) on an 80-column terminal: folded into the
    width, every column was drawn blank, its name and values gone without a mark (20
    columns: the last one; review26). A result whose columns cannot each have a few
    characters is printed a row at a time, a line a column."""
    from rollout_trace_sdk.export.query import _print

    columns = [f"column_{k}" for k in range(count)]
    rows = [tuple(f"/work/runs/r{n}/trace-{k:02d}" for k in range(count)) for n in range(2)]
    out = io.StringIO()
    _print("table", columns, rows, out, width=width)
    text = out.getvalue()
    assert "…" not in text and max(map(len, text.splitlines())) <= width
    assert _records(text) == [dict(zip(columns, row, strict=True)) for row in rows]
    assert text.endswith("2 row(s)\n")
    out = io.StringIO()
    _print("table", columns, [], out, width=width)  # no rows: the columns are still named
    assert "".join(out.getvalue().split()) == "columns:" + ",".join(columns) + "0row(s)"


def test_a_table_that_fits_keeps_one_line_a_row() -> None:
    from rollout_trace_sdk.export.query import _print

    out = io.StringIO()
    _print("table", ["a", "b"], [(1, "x"), (2, "y")], out, width=80)
    assert "├" not in out.getvalue() and len(out.getvalue().splitlines()) == 7
