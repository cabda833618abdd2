"""``rollout-trace query DIR "SQL"``: embedded DuckDB over an export directory's tables.

Each table is a view named like the table over the files of ``DIR/<table>/`` the export's
manifest names (its bundles' parts and packs: a file a killed run left, or wrote and had not
named yet, is not read); a table no bundle had rows for is an empty view with the documented
columns, so a query never fails because,
say, no rollout used code cells. The ready-made queries (``--recipe``) are the ones
docs/exports.md shows; the tests run each of them.

Output: a table on a terminal, CSV otherwise, or ``--format csv|json|parquet``; Parquet goes
to ``-o FILE`` (or ``-o -``, standard output). ``-o`` follows every command's output rules: a
file is replaced whole, and neither the export's own files nor a directory is written.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
from pathlib import Path
from typing import Any, Final, TextIO

import orjson

from .._signals import raise_interrupt
from .schema import TABLE_NAMES, arrow_schema

__all__ = ["connect", "run"]

#: name → (what it answers, SQL). docs/exports.md shows each one verbatim.
RECIPES: Final[dict[str, tuple[str, str]]] = {
    "tokens-per-agent": (
        "inference calls and tokens per agent path, over all rollouts",
        """SELECT CASE WHEN p.agent_path = t.agent_path
            THEN t.agent_path || ' (sub-agent)' ELSE t.agent_path END AS agent_path,
       count(*) AS inference_calls,
       sum(i.input_tokens) AS input_tokens,
       sum(i.cached_input_tokens) AS cached_input_tokens,
       sum(i.output_tokens) AS output_tokens
FROM inference_calls i
JOIN threads t USING (source, trace_id, thread_id)
LEFT JOIN threads p
  ON p.source = t.source AND p.trace_id = t.trace_id AND p.thread_id = t.parent_thread_id
GROUP BY 1
ORDER BY output_tokens DESC, agent_path""",
    ),
    "tool-failure-rates": (
        "per tool: calls, failures (failed status or non-zero exit code) and the rate",
        """SELECT c.tool_name,
       count(*) AS calls,
       count(*) FILTER (WHERE c.status = 'failed' OR o.exit_code <> 0) AS failed,
       round(count(*) FILTER (WHERE c.status = 'failed' OR o.exit_code <> 0)
             / count(*), 3) AS failure_rate
FROM tool_calls c
LEFT JOIN terminal_operations o
  ON o.source = c.source AND o.trace_id = c.trace_id
 AND o.operation_id = c.terminal_operation_id
GROUP BY c.tool_name
ORDER BY failure_rate DESC, calls DESC, c.tool_name""",
    ),
    "slowest-inference-calls": (
        "the 20 slowest model calls, with their rollout",
        """SELECT i.source, i.inference_call_id, i.model, i.duration_ms,
       i.input_tokens, i.output_tokens
FROM inference_calls i
WHERE i.duration_ms IS NOT NULL
ORDER BY i.duration_ms DESC, i.source, i.trace_id, i.inference_call_id
LIMIT 20""",
    ),
    "silent-sub-agents": (
        "sub-agents that never reported back (no agent_result edge from their thread)",
        """SELECT t.source, t.trace_id, t.agent_path, t.thread_id, t.status
FROM threads t
WHERE t.parent_thread_id IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM interaction_edges e
    WHERE e.source = t.source AND e.trace_id = t.trace_id
      AND e.kind = 'agent_result'
      AND e.source_thread_id = t.thread_id)
ORDER BY t.source, t.agent_path""",
    ),
    "tripped-guardrails": (
        "runs where an Agents SDK guardrail tripped: the agent, the guardrail, its error",
        """SELECT g.source, g.trace_id, r.status, t.agent_path, g.name AS guardrail,
       g.error_text, g.ended_at
FROM guardrails g
JOIN rollouts r USING (source, trace_id)
LEFT JOIN threads t USING (source, trace_id, thread_id)
WHERE g.triggered
ORDER BY g.source, g.trace_id, g.seq""",
    ),
    "failed-tool-call-requests": (
        "what the model was sent when it asked for each failed tool call: the items of that "
        "request, in order",
        """WITH asked AS (
  SELECT c.source, c.trace_id, c.tool_call_id, c.tool_name, p.id AS inference_call_id
  FROM tool_calls c
  JOIN conversation_items i
    ON i.source = c.source AND i.trace_id = c.trace_id AND i.thread_id = c.thread_id
   AND i.call_id = c.model_visible_call_id AND i.kind LIKE '%call',
  UNNEST(i.produced_by) AS u(p)
  WHERE c.status = 'failed' AND p.type = 'inference'
), sent AS (
  SELECT a.*, unnest(r.request_item_ids) AS item_id,
         generate_subscripts(r.request_item_ids, 1) AS position
  FROM asked a
  JOIN inference_calls r USING (source, trace_id, inference_call_id)
)
SELECT s.source, s.tool_call_id, s.tool_name, s.inference_call_id, s.position,
       s.item_id, m.role, m.kind, left(m.text, 200) AS text
FROM sent s
LEFT JOIN conversation_items m USING (source, trace_id, item_id)
ORDER BY s.source, s.trace_id, s.tool_call_id, s.inference_call_id, s.position""",
    ),
    "uninstalled-compactions": (
        "compaction requests whose compaction was never installed (failed, or cut off)",
        """SELECT r.source, r.thread_id, r.compaction_id, r.compaction_request_id,
       r.status, r.model, r.duration_ms
FROM compaction_requests r
WHERE r.installed_at IS NULL
ORDER BY r.source, r.trace_id, r.started_at, r.compaction_request_id""",
    ),
    "compacted-items": (
        "the items each compaction replaced and the items that replaced them, in order",
        """WITH sides AS (
  SELECT source, trace_id, compaction_id, 'replaced' AS side,
         unnest(input_item_ids) AS item_id,
         generate_subscripts(input_item_ids, 1) AS position
  FROM compactions
  UNION ALL
  SELECT source, trace_id, compaction_id, 'replacement' AS side,
         unnest(replacement_item_ids) AS item_id,
         generate_subscripts(replacement_item_ids, 1) AS position
  FROM compactions
)
SELECT s.source, s.compaction_id, s.side, s.position, s.item_id,
       m.role, m.kind, left(m.text, 200) AS text
FROM sides s
LEFT JOIN conversation_items m USING (source, trace_id, item_id)
ORDER BY s.source, s.trace_id, s.compaction_id, s.side = 'replacement', s.position""",
    ),
    "capture-limited-items": (
        "items a capture limit cut, per rollout: items, items naming a cut payload, items "
        "without text",
        """SELECT c.source, c.trace_id,
       count(*) AS items,
       count(*) FILTER (WHERE len(c.cut_payload_ids) > 0) AS cut_items,
       count(*) FILTER (WHERE c.text IS NULL) AS items_without_text
FROM conversation_items c
GROUP BY c.source, c.trace_id
HAVING count(*) FILTER (WHERE len(c.cut_payload_ids) > 0) > 0
ORDER BY cut_items DESC, c.source, c.trace_id""",
    ),
    "capture-limited-rollouts": (
        "every rollout a capture limit cut: its payloads, those truncated or omitted, the "
        "bytes left out",
        """SELECT p.source, p.trace_id,
       count(*) AS payloads,
       count(*) FILTER (WHERE p.capture_status = 'truncated') AS truncated,
       count(*) FILTER (WHERE p.capture_status = 'omitted') AS omitted,
       sum(p.original_bytes - coalesce(p.retained_bytes, 0)) AS bytes_left_out
FROM raw_payloads p
GROUP BY p.source, p.trace_id
HAVING count(*) FILTER (WHERE p.capture_status IS NOT NULL) > 0
ORDER BY bytes_left_out DESC, p.source, p.trace_id""",
    ),
}

FORMATS: Final = ("table", "csv", "json", "parquet")


class QueryError(Exception):
    """The directory is not an export or DuckDB refused the query (message for the user)."""


def connect(directory: str | Path) -> Any:
    """An in-memory DuckDB connection with one view per table of the export in ``directory``.

    Args:
        directory: a local directory written by ``rollout-trace export --to``.

    Returns:
        The ``duckdb.DuckDBPyConnection``, its progress bar off (it would print to standard
        output, among the results).

    Raises:
        QueryError: ``directory`` is not a directory, or holds no export.
    """
    import duckdb
    import pyarrow.dataset

    from .export_dir import MANIFEST_NAME

    root = Path(directory)
    if not root.is_dir():
        raise QueryError(f"{directory}: not a directory")
    if not (root / MANIFEST_NAME).is_file():
        # any other directory would answer every query with nothing, plausibly
        raise QueryError(
            f"{directory}: not an export (no {MANIFEST_NAME}); make one with "
            f"rollout-trace export BUNDLE --to {directory}"
        )
    tables = _files(root)
    con = duckdb.connect()
    # DuckDB draws a progress bar on standard output (a terminal or not) for a query past
    # 2 s: a line of it came before `query`'s CSV or JSON (over 21,000 parts; export29).
    # Printing stays off even if the SQL sets progress_bar_time, which turns the bar on.
    con.execute("SET enable_progress_bar = false; SET enable_progress_bar_print = false")
    for table in TABLE_NAMES:
        parts = root / table
        files = tables[table]
        if files and not _GLOB_CHARS.intersection(str(parts)):
            # DuckDB reads the parts itself: through an Arrow dataset a query held ~90 KB
            # per part (6,000 parts: 630 MB and 2.8 s for a count, 171 MB and 1.1 s this
            # way; measured by review rl20). Each name is also a pattern to DuckDB, which
            # is why a folder whose path has a pattern character is read as below.
            listed = ", ".join(_sql_text(name) for name in files)
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{listed}])")
        elif files:
            # the files by name through Arrow, not a DuckDB pattern: a directory named
            # "runs[1]" or "a*" is no glob
            con.register(table, pyarrow.dataset.dataset(files, format="parquet"))
        else:
            con.register(f"_empty_{table}", arrow_schema(table).empty_table())
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM _empty_{table}")
    return con


#: Characters DuckDB reads as a pattern in a file name.
_GLOB_CHARS: Final = frozenset("*?[]{}")


def _sql_text(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


#: Sources named when a directory holds parts of another tables version.
_NAMED: Final = 3


def _files(root: Path) -> dict[str, list[str]]:
    """The paths of each table's files the manifest names (parts and packs), sorted.

    Raises:
        QueryError: the directory holds parts of another tables version, or a file the
            manifest names is missing (a directory changed by hand).
    """
    from .export_dir import ExportDir, live_files

    manifest = ExportDir(str(root)).read_manifest()
    _refuse_other_versions(root, manifest)
    files: dict[str, list[str]] = {}
    missing = []
    for table, named in live_files(manifest).items():
        try:
            there = set(os.listdir(root / table))
        except FileNotFoundError:
            there = set()
        missing += [f"{table}/{name}" for name in named if name not in there]
        files[table] = sorted(str(root / table / name) for name in named if name in there)
    if missing:
        # rows of some bundles would be silently missing from every answer
        raise QueryError(
            f"{root}: {len(missing)} file(s) its manifest names are missing, e.g. "
            f"{sorted(missing)[0]}; any export to {root} forgets their bundles (exported "
            "again by a run given their sources)"
        )
    return files


def _refuse_other_versions(root: Path, manifest: dict[str, Any]) -> None:
    """Refuse a directory holding parts another tables version wrote: their columns differ
    from this version's, and the views would read one part's columns for all (a column
    missing, a table empty, with no error; found by review). Any export to the directory
    exports them again."""
    from .export_dir import other_version
    from .schema import TABLES_VERSION

    others = other_version(manifest)
    if not others:
        return
    versions = sorted({str(e.get("tables_version", "unrecorded")) for e in others.values()})
    sources = sorted(str(e.get("source")) for e in others.values())
    named = "".join(f"\n  {s}" for s in sources[:_NAMED])
    more = f"\n  ... and {len(sources) - _NAMED} more" if len(sources) > _NAMED else ""
    raise QueryError(
        f"{root}: {len(sources)} bundle(s) were exported by another version of the tables "
        f"({', '.join(versions)}; this is {TABLES_VERSION}), whose columns differ:{named}{more}\n"
        f"  export to {root} again (any SOURCE: it exports them again too), e.g. "
        f"rollout-trace export {sources[0]} --to {root}"
    )


def run(directory: str | Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sql`` over an export.

    Args:
        directory: the export's directory (``export --to DIR``) or its URL.
        sql: a DuckDB query over the tables (views named as the tables are).

    Returns:
        The column names and the rows.

    Raises:
        QueryError: bad directory or a DuckDB error.
    """
    import duckdb

    con = connect(directory)
    try:
        rel = con.sql(sql)
        if rel is None:
            return [], []
        return list(rel.columns), rel.fetchall()
    except duckdb.Error as exc:
        raise QueryError(str(exc)) from None
    finally:
        con.close()


def add_parser(commands: Any) -> None:
    """Add ``query`` to the CLI's subparsers."""
    query = commands.add_parser(
        "query", help="run SQL (DuckDB) over an export's Parquet tables", epilog=recipe_list()
    )
    query.add_argument("directory", metavar="DIR", help="directory written by export --to")
    query.add_argument("sql", metavar="SQL", nargs="?", help="the query (views named as tables)")
    query.add_argument(
        "--recipe",
        choices=sorted(RECIPES),
        metavar="NAME",
        help="run a ready-made query (listed below)",
    )
    query.add_argument("--format", choices=FORMATS, help="default: table on a terminal, else csv")
    query.add_argument("-o", "--output", metavar="FILE", help="write here (parquet needs it)")


def recipe_list() -> str:
    """What ``query --help`` says of the ready-made queries: each one's name and what it
    answers (the names alone said nothing; found by polish32).

    Returns:
        A heading and a line per recipe, in name order.
    """
    wide = max(map(len, RECIPES))
    lines = [f"  {name:<{wide}}  {RECIPES[name][0]}" for name in sorted(RECIPES)]
    return "recipes (--recipe NAME; their SQL is in docs/exports.md):\n" + "\n".join(lines)


def cmd_query(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the query and print or write its result (``-o`` by the rules of every command's
    output, :func:`~..view.commands.write_named`; ``-o -`` is standard output)."""
    if (args.sql is None) == (args.recipe is None):
        print("rollout-trace query: give SQL or --recipe NAME (one of them)", file=err)
        return 2
    sql = args.sql if args.sql is not None else RECIPES[args.recipe][1]
    from ..outputs import names_standard_output

    named = args.output not in (None, "-")
    if named and names_standard_output(str(args.output), out):
        named = False  # ``-o /dev/stdout`` writes where ``-o -`` does: a terminal too (review40)
    fmt = args.format or ("table" if out.isatty() and not named else "csv")
    if fmt == "parquet" and not args.output:
        print("rollout-trace query: --format parquet needs -o FILE (or -o -)", file=err)
        return 2
    why = _export_file(args.directory, args.output) if named else None
    if why is not None:
        print(f"rollout-trace query: {why}", file=err)
        return 2
    try:
        import duckdb  # noqa: F401
    except ImportError:
        print(
            "rollout-trace query: needs duckdb: pip install '.[analytics]' in a checkout",
            file=err,
        )
        return 2
    try:
        if fmt == "parquet":
            data = _parquet_bytes(args.directory, sql)
        else:
            columns, rows = run(args.directory, sql)
    except QueryError as exc:  # it may quote paths and data: control characters spelled out
        from ..view.visible import visible

        print(visible(f"rollout-trace query: {exc}"), file=err)
        return 1
    except OSError as exc:
        print(f"rollout-trace query: {exc.filename or args.directory}: {exc.strerror}", file=err)
        return 1
    if fmt != "parquet":
        if not named and fmt == "csv" and out.isatty():
            _print_csv_to_terminal(columns, rows, out)
            return 0
        if not named:
            _print(fmt, columns, rows, out)
            return 0
        text = io.StringIO()
        _print(fmt, columns, rows, text)
        data = text.getvalue().encode("utf-8")
    from ..view.commands import write_named

    output = str(args.output)
    return write_named("query", [args.directory], output, Path(output), lambda: [data], out, err)


def _export_file(directory: str, output: str) -> str | None:
    """Why ``output`` must not be written: one of the queried export's own files, or of an
    export around it (:func:`~..outputs.export_file`). None when it may be written."""
    from ..outputs import export_file

    return export_file(Path(output), Path(directory))


def _parquet_bytes(directory: str, sql: str) -> bytes:
    """The query's result as a Parquet file (whole, so it is written or replaced in one step).

    Raises:
        QueryError: DuckDB refused the query, or Parquet has no type for a column of the result
            (an ``INTERVAL``).
    """
    import duckdb
    import pyarrow
    import pyarrow.parquet as pq

    con = connect(directory)
    try:
        rel = con.sql(sql)
        if rel is None:
            raise QueryError("the statement returned no result to write")
        fetch = getattr(rel, "to_arrow_table", None) or rel.fetch_arrow_table
        table = fetch()
    except duckdb.Error as exc:
        raise QueryError(str(exc)) from None
    finally:
        con.close()
    sink = pyarrow.BufferOutputStream()
    try:
        pq.write_table(table, sink)
    except pyarrow.ArrowException as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise QueryError(f"cannot write the result as Parquet: {first}") from None
    return bytes(sink.getvalue().to_pybytes())


def _cell(value: Any) -> str:
    """A value as text: scalars as themselves, lists and structs as JSON."""
    if value is None:
        return ""
    if isinstance(value, list | dict | tuple):
        return _json(value).decode()
    return str(value)


def _json(value: Any, option: int = 0) -> bytes:
    """``value`` as JSON, what orjson has no writer for (a ``Decimal``, an interval) as its
    text; a Ctrl-C that lands while a value is turned into text ends the command as Ctrl-C
    does (orjson hands it back as a ``TypeError``: an internal error, exit 1)."""
    try:
        return orjson.dumps(value, default=str, option=option)
    except TypeError as exc:
        raise_interrupt(exc)
        raise


def _literal(text: str) -> Any:
    """A table cell as it is: rich would read ``[/]`` or ``[link=...]`` in agent text as
    markup (an error, a hyperlink), and ESC or OSC sequences would reach the terminal."""
    from rich.text import Text

    from ..view.visible import visible

    return Text(visible(text))


def _print_csv_to_terminal(columns: list[str], rows: list[tuple[Any, ...]], out: TextIO) -> None:
    """CSV for a terminal's reader: agent text's control characters spelled, as the table
    spells them (an id holding ``ESC ]0;…`` retitled the terminal; review39). Written
    elsewhere (a pipe, ``-o``), the data are left as they are."""
    from ..view.visible import visible

    text = io.StringIO()
    _print("csv", columns, rows, text)
    out.write(visible(text.getvalue()))


def _print(
    fmt: str,
    columns: list[str],
    rows: list[tuple[Any, ...]],
    out: TextIO,
    *,
    width: int | None = None,
) -> None:
    """Print the result as ``fmt``; a table ``width`` columns wide (default: the terminal's
    on standard output, else 160)."""
    if fmt == "json":
        from ..view.visible import json_visible

        # the controls JSON leaves raw (DEL, C1, bidi, invisible) escaped: the same value, as
        # summary --json and ls --json write it, and inert on a terminal (review39)
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        text = _json(records, orjson.OPT_INDENT_2).decode()
        out.write(json_visible(text) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(v) for v in row])
    else:
        _print_table(columns, rows, out, width)


def _print_table(
    columns: list[str], rows: list[tuple[Any, ...]], out: TextIO, width: int | None
) -> None:
    """The result as a table that hides nothing: a cell too long for its column is folded
    onto more lines, never cut (cut at the end, paths of one root read ``/work/scra…`` in
    every row, so different rows looked the same; found by review cli26), and once any row
    takes more than one line a rule between the rows says where each ends. A result with
    more columns than the width can show (``SELECT *`` of a table of 31 columns on 80: folded
    in, every column was drawn blank, its name and values gone; review26) is printed a row at a
    time instead, a line a column."""
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table

    if width is None and out is not sys.stdout:
        width = 160
    elif width is None:  # not rich's own: COLUMNS=0 was 0 columns, nothing printed
        from ..outputs import terminal_width

        width = terminal_width()
    console = Console(file=out, width=width)
    cells = [[_literal(_cell(v)) for v in row] for row in rows]
    names = [_literal(name) for name in columns]
    if not _fits(names, cells, console.width):
        _print_records(console, names, cells)
    else:
        table = Table(show_lines=False)
        for name in names:
            table.add_column(header=name, overflow="fold")
        for row_cells in cells:
            table.add_row(*row_cells)
        wide = console.options.update(max_width=1 << 20)  # the width it takes, unclamped
        folded = Measurement.get(console, wide, table).maximum > console.width
        table.show_lines = folded or any("\n" in cell.plain for row in cells for cell in row)
        console.print(table)
    console.print(f"{len(rows)} row(s)")


#: The fewest characters a folded column is given (fewer when all it holds is shorter): below
#: that a value reads as a ladder of single characters.
_NARROWEST: Final = 8
#: What a table adds to each column (a border and a space either side), and once (its edge).
_COLUMN_EDGES: Final = 3


def _fits(names: list[Any], cells: list[list[Any]], width: int) -> bool:
    """Whether a table of these columns fits ``width`` with each column at least
    :data:`_NARROWEST` characters wide (or as wide as its longest line)."""
    from rich.cells import cell_len

    need = 1
    for k, name in enumerate(names):
        texts = [name.plain, *(row[k].plain for row in cells)]
        longest = max(cell_len(line) for text in texts for line in text.split("\n"))
        need += min(longest, _NARROWEST) + _COLUMN_EDGES
        if need > width:
            return False
    return True


def _print_records(console: Any, names: list[Any], cells: list[list[Any]]) -> None:
    """Each row as ``row N`` over a two-column table of its columns' names and values, a
    value too long for the width folded onto more lines."""
    from rich.table import Table
    from rich.text import Text

    if not cells:  # no row to name them: the columns, so an empty result still says them
        console.print(Text("columns: ").append(Text(", ").join(names)))
    for n, row_cells in enumerate(cells, 1):
        console.print(f"row {n}", highlight=False)
        record = Table(show_header=False)
        record.add_column(overflow="fold", style="bold")
        record.add_column(overflow="fold")
        for name, cell in zip(names, row_cells, strict=True):
            record.add_row(name, cell)
        console.print(record)
