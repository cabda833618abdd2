"""``rollout-trace query``: DuckDB views over an export, the ready-made queries (each one run on
rollouts where its answer is known), output formats and errors."""

from __future__ import annotations

import importlib.util
import io
import re
import shutil
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.export.parquet import ExportOptions, run_export
from rollout_trace_sdk.export.query import RECIPES, run
from rollout_trace_sdk.export.schema import TABLES

from ..conftest import CONFORMANCE_V3, needs_conformance_v3
from ..doc_blocks import python_blocks, run_block

DOCS = Path(__file__).resolve().parents[2] / "docs" / "exports.md"


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _recipe(export_dir: Path, name: str) -> list[dict[str, Any]]:
    columns, rows = run(export_dir, RECIPES[name][1])
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _agent_paths(state: Any) -> dict[str, str]:
    return {t["thread_id"]: t["agent_path"] for t in state["threads"].values()}


def test_tokens_per_agent(export_dir: Path, demo_state: Any) -> None:
    paths = _agent_paths(demo_state)
    expected: dict[str, list[int]] = {}
    for call in demo_state["inference_calls"].values():
        totals = expected.setdefault(paths[call["thread_id"]], [0, 0, 0])
        totals[0] += 3
        totals[1] += 3 * call["usage"]["input_tokens"]
        totals[2] += 3 * call["usage"]["output_tokens"]
    got = {
        r["agent_path"]: [r["inference_calls"], r["input_tokens"], r["output_tokens"]]
        for r in _recipe(export_dir, "tokens-per-agent")
    }
    assert got == expected and len(got) >= 2


def test_tool_failure_rates(export_dir: Path, demo_state: Any) -> None:
    rows = {r["tool_name"]: r for r in _recipe(export_dir, "tool-failure-rates")}
    failed_tool = demo_state["tool_calls"]["call_0_sum"]
    name = run(
        export_dir, "SELECT DISTINCT tool_name FROM tool_calls WHERE tool_call_id = 'call_0_sum'"
    )[1][0][0]
    same = [t for t in demo_state["tool_calls"].values() if t["kind"] == failed_tool["kind"]]
    assert rows[name]["calls"] == 3 * len(same) and rows[name]["failed"] == 1
    assert rows[name]["failure_rate"] == pytest.approx(1 / (3 * len(same)), abs=1e-3)
    others = [r for n, r in rows.items() if n != name]
    assert others and all(r["failed"] == 0 for r in others)


def test_slowest_inference_calls(export_dir: Path, demo_state: Any) -> None:
    rows = _recipe(export_dir, "slowest-inference-calls")
    durations = sorted(
        (
            c["execution"]["ended_at_unix_ms"] - c["execution"]["started_at_unix_ms"]
            for c in demo_state["inference_calls"].values()
        ),
        reverse=True,
    )
    expected = sorted(durations * 3, reverse=True)[:20]
    assert [r["duration_ms"] for r in rows] == expected


def test_silent_sub_agents(export_dir: Path, demo_state: Any) -> None:
    rows = _recipe(export_dir, "silent-sub-agents")
    helpers = sorted(
        t["agent_path"]
        for t in demo_state["threads"].values()
        if t["origin"].get("parent_thread_id")
    )
    assert [r["trace_id"] for r in rows] == ["trace-silent"] * len(helpers)
    assert [r["agent_path"] for r in rows] == helpers
    assert all(r["source"].endswith("silent.json") for r in rows)


def test_copies_of_a_bundle_count_once_each(
    demo_bundle: Path, demo_state: Any, tmp_path: Path
) -> None:
    """Two copies of one bundle share every id: joined by ``trace_id`` alone, each copy's
    rows met the other's, and the recipes counted N copies N² times (found by review)."""
    from tests.export.tables_util import copies

    sources = copies(demo_bundle, tmp_path / "bundles", 2)
    out = tmp_path / "out"
    assert not run_export([str(s) for s in sources], ExportOptions(to=str(out)), jobs=1).failed
    calls = {r["agent_path"]: r["inference_calls"] for r in _recipe(out, "tokens-per-agent")}
    paths = _agent_paths(demo_state)
    expected: dict[str, int] = {}
    for call in demo_state["inference_calls"].values():
        expected[paths[call["thread_id"]]] = expected.get(paths[call["thread_id"]], 0) + 2
    assert calls == expected
    slowest = _recipe(out, "slowest-inference-calls")
    keys = [(r["source"], r["inference_call_id"]) for r in slowest]
    assert len(keys) == len(set(keys))  # each call once per copy


def test_docs_show_every_recipe_and_every_column() -> None:
    text = DOCS.read_text()
    blocks = re.findall(r"```sql\n(.*?)\n```", text, flags=re.S)
    for _, sql in RECIPES.values():
        assert sql in blocks
    for table, columns in TABLES.items():
        section = text.split(f"### `{table}`", 1)[1].split("\n### ", 1)[0]
        for name, kind, _ in columns:
            assert f"| `{name}` | {kind} |" in section, (table, name)


def test_help_says_what_each_recipe_does_as_the_docs_do(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``query --help`` listed the recipes' names alone (found by polish32): each is listed
    with what it answers, from its definition, and docs/exports.md heads its SQL with the
    same words."""
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["query", "--help"]) == 0
    shown = capsys.readouterr().out.split("\nrecipes (--recipe NAME", 1)[1]
    docs = DOCS.read_text()
    for name, (what, _) in RECIPES.items():
        assert re.search(rf"\n  {re.escape(name)} +{re.escape(what)}\n", shown), name
        assert f"**{what[0].upper()}{what[1:]}** (`--recipe {name}`" in docs, name


def test_every_sql_block_of_the_docs_runs(export_dir: Path) -> None:
    blocks = re.findall(r"```sql\n(.*?)\n```", DOCS.read_text(), flags=re.S)
    assert len(blocks) >= len(RECIPES)  # the recipes at least, each in a block of its own
    for sql in blocks:
        run(export_dir, sql)  # raises on a query DuckDB refuses


def test_formats(export_dir: Path, tmp_path: Path) -> None:
    sql = "SELECT trace_id, started_at, lenient_notes FROM rollouts ORDER BY trace_id"
    code, out, err = _cli("query", str(export_dir), sql, "--format", "csv")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "trace_id,started_at,lenient_notes" and len(lines) == 4
    assert lines[2].startswith("trace-failing,") and lines[2].endswith(",[]")
    code, out, _ = _cli("query", str(export_dir), sql, "--format", "json")
    records = orjson.loads(out)
    assert code == 0 and [r["trace_id"] for r in records][1:] == ["trace-failing", "trace-silent"]
    assert "T" in records[0]["started_at"]
    target = tmp_path / "r.parquet"
    code, out, _ = _cli("query", str(export_dir), sql, "--format", "parquet", "-o", str(target))
    table = pq.read_table(target)
    assert (
        code == 0
        and table.num_rows == 3
        and str(table.schema.field("started_at").type).startswith("timestamp")
    )
    code, out, _ = _cli(
        "query", str(export_dir), "--recipe", "silent-sub-agents", "--format", "table"
    )
    assert code == 0 and "agent_path" in out and "1 row(s)" in out


def test_a_slow_query_prints_its_result_alone(export_dir: Path) -> None:
    """DuckDB draws a progress bar on standard output, a terminal or not, for a query past
    2 s: a line of it came before the JSON of a query over 21,000 parts (export29). Here the
    query sets the bar's delay to 0 (which turns the bar on) and lasts long enough to draw it;
    the CLI runs in a process of its own, since DuckDB writes to the descriptor, not ``out``."""
    import subprocess
    import sys

    sql = (
        "SET progress_bar_time = 0; SELECT count(*) AS n "
        "FROM range(30000000) AS t(i), rollouts WHERE i % 7 = 1"
    )
    n = 3 * len(range(1, 30000000, 7))
    for fmt in ("json", "csv"):
        argv = ["query", str(export_dir), sql, "--format", fmt]
        done = subprocess.run(
            [sys.executable, "-m", "rollout_trace_sdk", *argv],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert (done.returncode, done.stderr) == (0, "")
        if fmt == "json":
            assert orjson.loads(done.stdout) == [{"n": n}]
        else:
            assert done.stdout.splitlines() == ["n", str(n)]


def test_empty_tables_are_typed_views(export_dir: Path) -> None:
    columns, rows = run(export_dir, "SELECT * FROM code_cells")
    assert rows == [] and columns == [name for name, _, _ in TABLES["code_cells"]]


def test_errors(export_dir: Path, tmp_path: Path) -> None:
    code, _, err = _cli("query", str(export_dir), "SELECT nope FROM rollouts")
    assert code == 1 and err.startswith("rollout-trace query: ") and "nope" in err
    assert "Traceback" not in err
    code, _, err = _cli("query", str(tmp_path / "missing"), "SELECT 1")
    assert code == 1 and "not a directory" in err
    code, _, err = _cli("query", str(export_dir))
    assert code == 2 and "--recipe" in err
    code, _, err = _cli("query", str(export_dir), "SELECT 1", "--format", "parquet")
    assert code == 2 and "-o FILE" in err


def test_a_directory_named_like_a_pattern_is_read_by_name(export_dir: Path, tmp_path: Path) -> None:
    # DuckDB took "runs[1]/rollouts/*.parquet" as a glob and found nothing
    odd = tmp_path / "runs[1]*"
    shutil.copytree(export_dir, odd)
    code, out, err = _cli(
        "query", str(odd), "SELECT count(*) AS n FROM rollouts", "--format", "csv"
    )
    assert (code, err) == (0, "") and out.splitlines() == ["n", "3"]


def test_a_pattern_named_directory_is_not_read_as_its_neighbour(
    export_dir: Path, tmp_path: Path
) -> None:
    """DuckDB reads each name it is given as a pattern, and one that matches a file reads
    that file: ``runs[1]/...`` read ``runs1/...`` beside it (an export whose rollouts are
    gone here), silently. Reading the parts by name through DuckDB passed the test above,
    whose pattern matched nothing (DuckDB then reads the name as it is; mut31)."""
    odd, neighbour = tmp_path / "runs[1]", tmp_path / "runs1"
    shutil.copytree(export_dir, odd)
    shutil.copytree(export_dir, neighbour)
    for part in (neighbour / "rollouts").glob("*.parquet"):
        pq.write_table(pq.read_table(part).slice(0, 0), part)
    query = "SELECT count(*) AS n FROM rollouts"
    assert _cli("query", str(neighbour), query, "--format", "csv")[1].splitlines() == ["n", "0"]
    code, out, err = _cli("query", str(odd), query, "--format", "csv")
    assert (code, err) == (0, "") and out.splitlines() == ["n", "3"]


@pytest.mark.parametrize("others", [3, 4])
def test_a_refusal_names_three_bundles_of_another_version_and_counts_the_rest(
    export_dir: Path, tmp_path: Path, others: int
) -> None:
    """Three sources are named, and only past three does "... and N more" follow ("... and 0
    more" under exactly three passed every test, mut31)."""
    from rollout_trace_sdk.export.export_dir import MANIFEST_NAME

    out = tmp_path / "out"
    shutil.copytree(export_dir, out)
    manifest = orjson.loads((out / MANIFEST_NAME).read_bytes())
    entries = manifest["bundles"]
    for entry in entries.values():
        entry["tables_version"] = 5
    if others == 4:
        key, entry = next(iter(entries.items()))
        entries[key[:-1] + ("0" if key[-1] != "0" else "1")] = {**entry, "source": "/gone/b"}
    (out / MANIFEST_NAME).write_bytes(orjson.dumps(manifest))
    code, stdout, err = _cli("query", str(out), "SELECT count(*) FROM rollouts")
    assert (code, stdout) == (1, "")
    assert f"{others} bundle(s) were exported by another version" in err
    assert len(re.findall(r"\n  /", err)) == 3
    assert ("... and 1 more" in err) == (others == 4) and "... and 0 more" not in err


def test_a_url_whose_filesystem_is_not_installed_is_a_clear_refusal(tmp_path: Path) -> None:
    if importlib.util.find_spec("adlfs") is not None:
        pytest.skip("adlfs is installed here")
    code, _, err = _cli("export", "--format", "parquet", str(tmp_path), "--to", "abfs://c/x")
    assert code == 2 and "Install adlfs" in err and "internal error" not in err


def test_an_export_into_a_bundle_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "manifest.json").write_text("{}")
    (bundle / "trace.jsonl").write_text("")
    for target in (bundle, bundle / "payloads" / "x"):
        code, _, err = _cli("export", "--format", "parquet", str(bundle), "--to", str(target))
        assert code == 2 and "is inside the bundle" in err
    assert sorted(p.name for p in bundle.iterdir()) == ["manifest.json", "trace.jsonl"]


def test_a_result_over_a_bundles_files_is_refused(export_dir: Path, tmp_path: Path) -> None:
    """``query -o BUNDLE/trace.jsonl`` replaced a bundle's log with a CSV (every command
    writing a file did; found by review cli21)."""
    from tests.reduce.test_bundle import make_bundle

    bundle = make_bundle(tmp_path)
    log = (bundle / "trace.jsonl").read_bytes()
    for target in (bundle / "trace.jsonl", bundle / "payloads" / "result.csv"):
        code, _, err = _cli("query", str(export_dir), "SELECT 1", "-o", str(target))
        assert code == 2 and f"of the bundle {bundle}" in err
    assert (bundle / "trace.jsonl").read_bytes() == log
    assert sorted(p.name for p in (bundle / "payloads").iterdir()) == ["1.json", "2.json"]


def _binary_out() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8")


def test_dash_is_standard_output_for_every_format(
    export_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where a file named "-" was made
    sql = "SELECT trace_id FROM rollouts ORDER BY trace_id"
    for fmt in ("csv", "json", "parquet"):
        out = _binary_out()
        err = io.StringIO()
        argv = ["query", str(export_dir), sql, "--format", fmt, "-o", "-"]
        assert main(argv, out=out, err=err) == 0, err.getvalue()
        out.flush()
        data = out.buffer.getvalue()  # type: ignore[attr-defined]
        assert b"trace-failing" in data
        if fmt == "parquet":
            assert pq.read_table(pa.BufferReader(data)).num_rows == 3
    assert not (tmp_path / "-").exists()


def test_an_existing_output_is_replaced_whole(export_dir: Path, tmp_path: Path) -> None:
    """Replaced by a rename, never truncated in place: a hard link to the old file (a reader
    holding it) keeps the old content."""
    for fmt in ("csv", "parquet"):
        target = tmp_path / f"r.{fmt}"
        target.write_text("old")
        (tmp_path / f"link.{fmt}").hardlink_to(target)
        code, out, _ = _cli(
            "query", str(export_dir), "SELECT 1 AS n", "--format", fmt, "-o", str(target)
        )
        assert (code, out) == (0, f"{target}\n")
        assert (tmp_path / f"link.{fmt}").read_text() == "old"
        assert target.read_bytes() != b"old"


def test_the_exports_own_files_are_refused(export_dir: Path) -> None:
    part = next((export_dir / "rollouts").glob("*.parquet"))
    before = part.read_bytes()
    for target in (part, export_dir / "rollouts" / "new.parquet", export_dir / "_export.json"):
        for fmt in ("csv", "parquet"):
            code, _, err = _cli(
                "query", str(export_dir), "SELECT 1", "--format", fmt, "-o", str(target)
            )
            assert code == 2 and "refusing" in err, (target, fmt, err)
    assert part.read_bytes() == before
    assert not (export_dir / "rollouts" / "new.parquet").exists()
    code, _, err = _cli("query", str(export_dir), "SELECT 1", "-o", str(export_dir))
    assert code == 2 and "is a directory" in err


def test_another_exports_files_are_refused_too(export_dir: Path, tmp_path: Path) -> None:
    """``query A ... -o B/rollouts/x.parquet`` wrote into another export's table, whose views
    then read the result as a part: B's rollouts counted one row more, silently (found by
    review). Only the queried export's own files were refused."""
    other = tmp_path / "other"
    shutil.copytree(export_dir, other)
    before = run(other, "SELECT count(*) FROM rollouts")[1]
    for target in (other / "rollouts" / "x.parquet", other / "_export.json"):
        for fmt in ("csv", "parquet"):
            code, _, err = _cli(
                "query", str(export_dir), "SELECT 1", "--format", fmt, "-o", str(target)
            )
            assert code == 2 and "refusing" in err and str(other) in err, (target, fmt, err)
    assert not (other / "rollouts" / "x.parquet").exists()
    assert run(other, "SELECT count(*) FROM rollouts")[1] == before
    # a directory named like a table elsewhere is no export's
    (tmp_path / "rollouts").mkdir()
    target = tmp_path / "rollouts" / "x.csv"
    assert _cli("query", str(export_dir), "SELECT 1", "-o", str(target))[0] == 0


def test_a_result_parquet_cannot_hold_is_a_clean_error(export_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "i.parquet"
    argv = ("query", str(export_dir), "SELECT INTERVAL 1 DAY AS d", "--format", "parquet")
    code, _, err = _cli(*argv, "-o", str(target))
    assert code == 1 and err.startswith("rollout-trace query: cannot write the result as Parquet")
    assert err.count("\n") == 1 and "internal error" not in err and not target.exists()


def test_capture_limited_items(capped_bundles: dict[str, Path], tmp_path: Path) -> None:
    """A recording whose every item a capture limit cut is listed with all of them; one whose
    limit left its items whole is not."""
    out = tmp_path / "out"
    sources = [str(capped_bundles["truncated"]), str(capped_bundles["omitted"])]
    assert not run_export(sources, ExportOptions(to=str(out)), jobs=1).failed
    rows = _recipe(out, "capture-limited-items")
    assert [(r["source"], r["items"], r["cut_items"], r["items_without_text"]) for r in rows] == [
        (str(capped_bundles["truncated"]), 10, 10, 10)
    ]


def test_capture_limited_rollouts(capped_bundles: dict[str, Path], tmp_path: Path) -> None:
    """Every rollout a capture limit cut, with what it lost, whether or not its items are
    whole: the items recipe misses a bundle ceiling that left out only requests and
    responses (Codex's own ``capture_total_limit_multi_step`` among them; found by review),
    though its title named "rollouts a capture limit cut"."""
    out = tmp_path / "out"
    sources = [str(capped_bundles["truncated"]), str(capped_bundles["omitted"])]
    assert not run_export(sources, ExportOptions(to=str(out)), jobs=1).failed
    rows = _recipe(out, "capture-limited-rollouts")
    expected = run(
        out,
        """SELECT source, count(*), count(*) FILTER (WHERE capture_status = 'truncated'),
                  count(*) FILTER (WHERE capture_status = 'omitted')
           FROM raw_payloads GROUP BY source""",
    )[1]
    got = [(r["source"], r["payloads"], r["truncated"], r["omitted"]) for r in rows]
    assert sorted(got) == sorted(expected)
    assert {r["source"] for r in rows} == set(sources)
    by_source = {r["source"]: r for r in rows}
    assert by_source[str(capped_bundles["omitted"])]["omitted"] > 0
    for r in rows:
        assert r["bytes_left_out"] > 0
    assert not _recipe(out, "capture-limited-items")[1:]  # the items recipe: one of the two


@needs_conformance_v3
def test_uninstalled_compactions(tmp_path: Path) -> None:
    """Codex 0.171's failed remote compaction is in no other table (``compactions`` holds the
    installed ones; found by review); an installed one is not listed."""
    [failed] = [p.resolve() for p in (CONFORMANCE_V3 / "compaction_remote_failed").glob("trace-*")]
    [installed] = [p.resolve() for p in (CONFORMANCE_V3 / "auto_compaction_remote").glob("trace-*")]
    out = tmp_path / "out"
    assert not run_export([str(failed), str(installed)], ExportOptions(to=str(out)), jobs=1).failed
    rows = _recipe(out, "uninstalled-compactions")
    assert [(r["source"], r["compaction_request_id"], r["status"], r["model"]) for r in rows] == [
        (str(failed), "compaction_request:1", "failed", "gpt-5.5")
    ]
    assert rows[0]["duration_ms"] == 42
    counts = run(out, "SELECT source, compactions, compaction_requests FROM rollouts ORDER BY 1")
    assert sorted(counts[1]) == sorted([(str(failed), 0, 1), (str(installed), 1, 1)])


def test_a_non_zero_exit_code_counts_as_a_failed_tool_call(demo_state: Any, tmp_path: Path) -> None:
    """``tool-failure-rates`` counts a command that exited non-zero as a failure though its
    tool call completed (the shell ran it; the command failed)."""
    state = orjson.loads(orjson.dumps(demo_state))
    op = next(o for o in state["terminal_operations"].values() if o.get("tool_call_id"))
    tool = state["tool_calls"][op["tool_call_id"]]
    assert tool["execution"]["status"] == "completed"
    op["result"]["exit_code"] = 2
    (tmp_path / "state.json").write_bytes(orjson.dumps(state))
    out = tmp_path / "out"
    assert not run_export([str(tmp_path / "state.json")], ExportOptions(to=str(out)), jobs=1).failed
    name = run(
        out, f"SELECT tool_name FROM tool_calls WHERE tool_call_id = '{op['tool_call_id']}'"
    )[1][0][0]
    rows = {r["tool_name"]: r for r in _recipe(out, "tool-failure-rates")}
    assert rows[name]["failed"] == 1


def test_a_null_is_an_empty_csv_cell(export_dir: Path) -> None:
    code, out, err = _cli("query", str(export_dir), "SELECT NULL AS n, 1 AS m", "--format", "csv")
    assert (code, err) == (0, "") and out.splitlines() == ["n,m", ",1"]


def _doc_queries(doc: str, heading: str) -> list[str]:
    """The SQL of each ``rollout-trace query tables "..."`` in the paragraph of ``doc`` that
    starts with ``heading``, up to the next heading."""
    text = (DOCS.parent / doc).read_text()
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    return re.findall(r'rollout-trace query tables "\n(.*?)"\n', section, flags=re.S)


def test_the_docs_failed_and_why_queries_answer_it(why_export: Path) -> None:
    """The queries docs/recording.md ("Which requests failed, and why") and docs/exports.md
    ("Why it failed") give, run as printed on rollouts recorded failing (both schemas):
    before the error texts had columns, the first one joined the protocol events' bodies
    (``--payload-text``) with JSON functions (review why27)."""
    [service] = _doc_queries("recording.md", "**Which requests failed, and why.**")
    code, out, err = _cli("query", str(why_export), service, "--format", "json")
    assert (code, err) == (0, "")
    assert orjson.loads(out) == [
        {"status": "failed", "why": "Boom: tool exploded on k0", "n": 2},
        {"status": "aborted", "why": "interrupted (cancel scope cancelled)", "n": 2},
    ]
    rollouts, tools, asked_by = _doc_queries("exports.md", "**Why it failed.**")
    assert sorted(run(why_export, rollouts)[1]) == [
        ("aborted", "interrupted (cancel scope cancelled)", 2),
        ("failed", "Boom: tool exploded on k0", 2),
    ]
    assert sorted(run(why_export, tools)[1]) == [
        ("apply_patch", "patch rejected:\nhunk 2 of 2 does not apply", 2),
        ("exec_command", "permission denied: /etc/shadow", 2),
    ]
    # the model request that asked for each failed call: the one the RolloutTrace names
    from rollout_trace_sdk import reduce_bundle

    _, rows = run(why_export, asked_by)
    got = {(row[0], row[1]): row[3] for row in rows}
    want = {
        (source, call): inference.inference_call_id
        for source in {row[0] for row in rows}
        for inference in reduce_bundle(source).inference_calls.values()
        for call in inference.tool_call_ids_started_by_response
        if (source, call) in got
    }
    assert len(got) == 4 and got == want


@pytest.mark.codex
def test_tokens_per_agent_keeps_a_sub_agent_codex_gave_its_parents_path(tmp_path: Path) -> None:
    """A real Codex 0.171 session with a multi-agent v1 sub-agent (review codexuser27): Codex
    records it with its parent's path, ``/root``, and the recipe counted its calls and tokens
    as the root's, so "how many tokens did each sub-agent use" had no sub-agent in it."""
    from rollout_trace_sdk.view.load import load_state
    from tests.codex_oracle import codex_bin
    from tests.live.agents_scenarios import AGENT_SCENARIOS
    from tests.live.recording import record

    codex = codex_bin(3)
    if codex is None:
        pytest.skip("no Codex 0.171 binary")
    scenario = next(s for s in AGENT_SCENARIOS if s.name == "multi_agent_v1_spawn_wait_close")
    [bundle] = record(codex, scenario, tmp_path / "codex")
    state = load_state(bundle)
    calls: dict[str, int] = {}
    for call in state["inference_calls"].values():
        key = "root" if call["thread_id"] == state["root_thread_id"] else "child"
        calls[key] = calls.get(key, 0) + 1
    assert {t["agent_path"] for t in state["threads"].values()} == {"/root"}
    out = tmp_path / "out"
    assert not run_export([str(bundle)], ExportOptions(to=str(out)), jobs=1).failed
    got = {r["agent_path"]: r["inference_calls"] for r in _recipe(out, "tokens-per-agent")}
    assert got == {"/root": calls["root"], "/root (sub-agent)": calls["child"]}


def test_the_python_block_of_the_docs_runs(
    export_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """exports.md's "From Python" block, run where its ``tables/`` is an export."""
    block = python_blocks()["exports.md: from rollout_trace_sdk.export.query import connect, run"]
    shutil.copytree(export_dir, tmp_path / "tables")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    assert not run_block(block, namespace)
    assert namespace["block_locals"]["rows"] == [(3,)]
    assert namespace["block_locals"]["con"].sql("SELECT count(*) FROM rollouts").fetchall() == [
        (3,)
    ]
