"""The ``rollout-trace`` CLI, run in-process through ``main(argv)`` with captured streams."""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from rollout_trace_sdk.cli import main
from tests.codex_oracle import bundle_schema, codex_bin, run_codex
from tests.conftest import CONFORMANCE, conformance_bundles, needs_conformance
from tests.reduce.test_bundle import event_lines, make_bundle

ERRORS = CONFORMANCE / "_errors"


def run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _corpus_bundle(name: str) -> Path:
    for bundle in conformance_bundles():
        if bundle.parent.name == name:
            return bundle
    raise AssertionError(f"no corpus bundle {name}")


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "bundle"
    shutil.copytree(src, dst)
    (dst / "expected_state.json").unlink(missing_ok=True)
    return dst


# --- usage --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv", [["frobnicate"], ["reduce"], ["demo"], ["demo", "--out", "x", "--scale", "two"]]
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(*argv)[0] == 2
    assert "usage:" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--help")[0] == 0
    assert "reduce" in capsys.readouterr().out


def test_python_dash_m_is_the_same_cli(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "rollout_trace_sdk", "validate", str(bundle)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK ")


def test_python_dash_m_of_the_cli_module_runs_the_command_too(tmp_path: Path) -> None:
    """``python -m rollout_trace_sdk.cli validate B`` ran the module and nothing else: no
    output, exit 0, as if the bundle had been checked. It is the command, as ``python -m
    rollout_trace_sdk`` is, a refusal included."""
    bundle = make_bundle(tmp_path)
    module = [sys.executable, "-m", "rollout_trace_sdk.cli"]
    done = subprocess.run([*module, "validate", str(bundle)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK ")
    missing = subprocess.run(
        [*module, "validate", str(tmp_path / "missing")], capture_output=True, text=True
    )
    assert missing.returncode == 1
    assert "missing" in missing.stderr
    assert "RuntimeWarning" not in done.stderr + missing.stderr


# --- reduce ---------------------------------------------------------------------------------------


def test_reduce_loads_only_what_reducing_needs(tmp_path: Path) -> None:
    """Start-up is most of reducing a small bundle: the command must not import the
    recorder, the exports, the viewer's page and transcript, or its model, nor ``hashlib``
    (OpenSSL, 3.5 ms), ``shutil`` (bz2 and lzma, 2 ms), ``importlib.metadata`` (13 ms) or
    the converter (``cattrs`` and ``typing_extensions``, ~12 ms: events are read through
    ``model.structure``), which it has no use for; nor, for a schema-2 bundle, schema 3's
    shards and ``zstandard`` (~1.5 ms); nor ``decimal`` (~1.4 ms with ``numbers``: only a
    float in a payload's value spelled as Rust prints it needs it)."""
    bundle = make_bundle(tmp_path)
    code = (
        "import sys; from rollout_trace_sdk.cli import main; "
        f"assert main(['reduce', {str(bundle)!r}, '-o', {str(tmp_path / 'o.json')!r}]) == 0; "
        "print(sorted(m for m in sys.modules if m.startswith(('rollout_trace_sdk.record', "
        "'rollout_trace_sdk.export', 'rollout_trace_sdk.view.show', "
        "'rollout_trace_sdk.view.model', 'rollout_trace_sdk.view.html', 'rich', "
        "'hashlib', 'shutil', 'importlib.metadata', 'cattrs', 'typing_extensions', 'decimal', "
        "'rollout_trace_sdk.model.codec', 'rollout_trace_sdk.reduce.shards', 'zstandard'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize("entry", [True, False])
def test_only_the_command_lines_own_process_is_tuned(tmp_path: Path, entry: bool) -> None:
    """`rollout-trace` (main() with no argv: the console script, python -m) keeps attrs' code
    between runs and freezes what reduce imported; a program calling main(argv) gets neither
    (frozen objects are lost to gc.get_referrers, and attrs is its own)."""
    bundle = make_bundle(tmp_path)
    argv = ["reduce", str(bundle), "-o", str(tmp_path / "o.json")]
    call = "main()" if entry else f"main({argv!r})"
    code = (
        "import gc, sys; from rollout_trace_sdk.cli import main; "
        f"sys.argv = ['rollout-trace', *{argv!r}]; code = {call}; "
        "from rollout_trace_sdk import _attrs_code; "
        "print(code, gc.get_freeze_count() > 0, _attrs_code._installed is not None)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split()[-3:] == ["0", str(entry), str(entry)], done.stderr


@needs_conformance
def test_reduce_writes_codexs_bytes_to_the_default_path(tmp_path: Path) -> None:
    src = _corpus_bundle("single_exec")
    bundle = _copy(src, tmp_path)
    code, out, err = run("reduce", bundle)
    assert (code, err) == (0, "")
    assert out == f"{bundle}/state.json\n"
    assert (bundle / "state.json").read_bytes() == (src / "expected_state.json").read_bytes()


@needs_conformance
def test_reduce_overwrites_an_existing_output(tmp_path: Path) -> None:
    src = _corpus_bundle("single_exec")
    target = tmp_path / "out.json"
    target.write_text("old")
    code, out, _ = run("reduce", src, "-o", target)
    assert code == 0 and out == f"{target}\n"
    assert target.read_bytes() == (src / "expected_state.json").read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temp file left behind


@pytest.mark.parametrize("name", ["manifest.json", "trace.jsonl", "payloads/9.json", "payloads"])
def test_reduce_never_writes_over_the_bundle(tmp_path: Path, name: str) -> None:
    bundle = make_bundle(tmp_path)
    before = {p: p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    code, out, err = run("reduce", bundle, "-o", bundle / name)
    assert code == 2 and out == ""
    assert "rollout-trace reduce: " in err
    assert {p: p.read_bytes() for p in bundle.rglob("*") if p.is_file()} == before


@needs_conformance
@pytest.mark.parametrize(
    "case", ["truncated_last_line", "missing_payload", "unknown_thread_id", "seq_gap"]
)
def test_reduce_errors_print_codexs_text_then_where(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ERRORS / case)
    code, out, err = run("reduce", "bundle", "-o", tmp_path / "state.json")
    expected = (ERRORS / case / "expected_error.txt").read_text().rstrip("\n")
    assert (code, out) == (1, "")
    assert err.startswith(expected + "\n")
    assert "\n  at " in err
    assert "Traceback" not in err
    assert not (tmp_path / "state.json").exists()


@needs_conformance
def test_reduce_error_location_names_line_and_seq(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ERRORS / "seq_gap")
    _, _, err = run("reduce", "bundle", "-o", tmp_path / "s.json")
    assert err.rstrip().endswith("at bundle/trace.jsonl:13, seq 18")


def test_a_payload_read_for_an_event_names_the_payload_and_the_events_seq(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A payload an event cites that does not parse: the file is the payload's, and the seq
    says which event read it (dropping the seq when no trace line is known passed every CLI
    test, mut31)."""
    make_bundle(tmp_path)
    (tmp_path / "bundle" / "payloads" / "1.json").write_text('{"model": ')
    monkeypatch.chdir(tmp_path)
    code, _, err = run("reduce", "bundle", "-o", tmp_path / "s.json")
    assert code == 1 and err.startswith("Error: parse payload raw_payload:1\n")
    assert "\n  at bundle/payloads/1.json (event at seq 2)\n" in err


@needs_conformance
def test_reduce_errors_spell_out_control_characters_at_the_terminal(tmp_path: Path) -> None:
    """The error quotes an agent-controlled id: printed with its escapes spelled out, while
    the exception keeps Codex's exact text."""
    from rollout_trace_sdk.reduce import reduce_bundle
    from rollout_trace_sdk.reduce.errors import ReduceError
    from tests.view.conftest import HOSTILE_ID, HOSTILE_ID_SHOWN, hostile_id_bundle

    bundle = hostile_id_bundle(tmp_path)
    code, _, err = run("reduce", bundle, "-o", tmp_path / "s.json")
    assert code == 1
    assert err.startswith(f"Error: tool call end referenced unknown call {HOSTILE_ID_SHOWN}\n")
    assert not any(ch in err for ch in "\x1b\x07")
    with pytest.raises(ReduceError) as raised:
        reduce_bundle(bundle)
    assert HOSTILE_ID in raised.value.codex_text()


def test_reduce_of_a_missing_directory_names_the_manifest(tmp_path: Path) -> None:
    code, _, err = run("reduce", tmp_path / "nope")
    assert code == 1
    assert err.startswith(f"Error: read {tmp_path}/nope/manifest.json\n")


def test_lenient_reduce_of_a_killed_recording(tmp_path: Path) -> None:
    data = event_lines()
    bundle = make_bundle(tmp_path, data[:-25])  # torn last line, no recording_completed
    strict = run("reduce", bundle, "-o", tmp_path / "strict.json")
    assert strict[0] == 1 and "parse trace event line 6" in strict[2]
    code, out, err = run("reduce", bundle, "--lenient", "-o", tmp_path / "lenient.json")
    assert code == 0, err
    assert out == f"{tmp_path / 'lenient.json'}\n"
    assert "lenient: skipped 1 thing(s):" in err and "trace.jsonl:6" in err
    state = orjson.loads((tmp_path / "lenient.json").read_bytes())
    assert state["recording_complete"] is False
    assert state["status"] == "completed"  # rollout_ended (line 5) made it to disk


def test_lenient_reduce_with_a_missing_trailing_payload(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    (bundle / "payloads" / "2.json").unlink()
    assert run("reduce", bundle, "-o", tmp_path / "s.json")[0] == 1
    code, _, err = run("reduce", bundle, "--lenient", "-o", tmp_path / "s.json")
    assert code == 0, err
    assert "raw_payload:2" in err


# --- validate -------------------------------------------------------------------------------------


def test_validate_ok(tmp_path: Path) -> None:
    code, out, _ = run("validate", make_bundle(tmp_path))
    assert code == 0, out
    assert out.startswith("OK ") and "6 events, 2 payloads" in out


@needs_conformance
@pytest.mark.parametrize("bundle", conformance_bundles(), ids=lambda p: p.parent.name)
def test_every_corpus_bundle_validates(bundle: Path) -> None:
    code, out, _ = run("validate", bundle)
    assert code == 0, out


def test_validate_lists_every_problem_with_file_and_line(tmp_path: Path) -> None:
    lines = event_lines().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"seq":3', b'"seq":9')
    lines[3] = b"{oops\n"
    del lines[-1]  # no recording_completed
    bundle = make_bundle(tmp_path, b"".join(lines))
    (bundle / "payloads" / "7.json").write_bytes(b"{}")
    code, out, err = run("validate", bundle)
    assert code == 1
    log = f"{bundle}/trace.jsonl"
    assert f"{log}:3: missing or reordered trace event 3 (seq 9)\n" in out
    assert f"{log}:4: parse trace event line 4: key must be a string at line 1 column 2\n" in out
    # line 4 was the thread_ended event
    assert f"{log}:2: thread 01a20c59-0000-7000-8000-000000000001 started here never ended" in out
    assert f"{log}: no recording_completed event (recording not closed)\n" in out
    # the recording was not closed: a payload after every cited one is what a kill leaves
    assert f"{bundle}/payloads: 1 payload file not cited by any event (7.json): the " in out
    assert "problem(s)" in err


def test_validate_refuses_escaping_and_missing_payloads(tmp_path: Path) -> None:
    data = event_lines().replace(b'"path":"payloads/1.json"', b'"path":"../x.json"')
    bundle = make_bundle(tmp_path, data)
    (bundle / "payloads" / "2.json").unlink()
    code, out, _ = run("validate", bundle)
    assert code == 1
    assert (
        f"{bundle}/../x.json: open payload raw_payload:1: refusing path '../x.json': it climbs"
        in out
    )
    assert (
        f"{bundle}/payloads/2.json: open payload raw_payload:2: No such file or directory "
        "(os error 2) (cited at trace.jsonl line 3, seq 3)\n"
    ) in out


def test_validate_of_a_missing_directory(tmp_path: Path) -> None:
    """Worded as ``reduce`` words it (tests/test_cli_sources.py compares the two)."""
    code, out, err = run("validate", tmp_path / "nope")
    assert (code, out) == (1, "")
    assert err.startswith(f"Error: read {tmp_path}/nope/manifest.json\n")


# --- summary --------------------------------------------------------------------------------------


@needs_conformance
def test_summary_of_a_state_file() -> None:
    state = _corpus_bundle("multi_agent_v2_lifecycle") / "expected_state.json"
    code, out, _ = run("summary", state, "--json")
    assert code == 0
    summary = orjson.loads(out)
    assert summary["totals"]["threads"] == 2
    assert [a["agent_path"] for a in summary["agents"]] == ["/root", "/root/worker"]
    assert summary["totals"]["tool_calls"]["total"] == 9
    assert summary["totals"]["interaction_edges"]["by_kind"]["spawn_agent"] == 1
    assert summary["totals"]["tokens"]["input_tokens"] == 12_078


@needs_conformance
def test_summary_of_a_bundle_reduces_it_first() -> None:
    code, out, err = run("summary", _corpus_bundle("single_exec"))
    assert code == 0 and err.startswith("summary: reduced ")
    assert "exec_command" in out and "turns" in out


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]"])
def test_summary_refuses_what_is_not_a_state(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    code, out, err = run("summary", path)
    assert (code, out) == (1, "")
    assert str(path) in err and "Traceback" not in err


def test_summary_of_a_missing_file(tmp_path: Path) -> None:
    code, _, err = run("summary", tmp_path / "missing.json")
    assert code == 1 and "No such file or directory (os error 2)" in err


# --- demo -----------------------------------------------------------------------------------------


def test_demo_rejects_a_zero_scale(tmp_path: Path) -> None:
    assert run("demo", "--out", tmp_path, "--scale", "0")[0] == 2


def test_demo_rejects_a_negative_fail_every(tmp_path: Path) -> None:
    code, _, err = run("demo", "--out", tmp_path / "t", "--fail-every", "-1")
    assert code == 2 and "--fail-every must be 0" in err
    assert not (tmp_path / "t").exists()


def test_demo_fail_every_says_what_failed(tmp_path: Path) -> None:
    """`demo --fail-every 2` records a rollout whose `summary` counts the failures."""
    code, out, err = run("demo", "--out", tmp_path / "t", "--fail-every", "2")
    assert code == 0, err
    bundle = out.splitlines()[0]
    code, out, err = run("summary", bundle, "--json")
    assert code == 0, err
    # cat, ping (fails), sum, spawn (fails: no helper), wait, close (fails)
    assert orjson.loads(out)["totals"]["tool_calls"]["by_status"] == {"completed": 3, "failed": 3}


def test_lenient_reduce_skips_an_event_whose_handler_payload_is_missing(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    (bundle / "payloads" / "1.json").unlink()  # thread metadata, read by thread_started
    code, _, err = run("reduce", bundle, "--lenient", "-o", tmp_path / "s.json")
    assert code == 0, err
    assert "raw_payload:1" in err


def test_reduce_output_is_private_to_its_owner(tmp_path: Path) -> None:
    """state.json holds prompt text and tool output: 0600, whatever the umask."""
    bundle = make_bundle(tmp_path)
    assert run("reduce", bundle, "-o", tmp_path / "s.json")[0] == 0
    assert (tmp_path / "s.json").stat().st_mode & 0o777 == 0o600


def test_real_demo_bundle_validates_and_reduces(tmp_path: Path) -> None:
    code, out, err = run("demo", "--out", tmp_path / "demo", "--scale", "1")
    assert code == 0, err
    bundle_line, counts_line, *next_steps = out.splitlines()
    bundle = Path(bundle_line)
    assert bundle.parent == tmp_path / "demo"
    assert re.fullmatch(r"[\d,]+ events, [\d,]+ payloads, [\d,]+ bytes \(scale 1\)", counts_line)
    # the commands it suggests run as given on the bundle it wrote
    suggested = [line.split("#")[0].split() for line in next_steps if "rollout-trace" in line]
    assert [words[1] for words in suggested] == ["show", "summary", "view", "reduce"]
    for words in suggested[:2]:
        assert words[2:] == [str(tmp_path / "demo"), "--latest"]
        code, out, err = run(*words[1:])
        assert code == 0, err
        rollout_id = bundle.name[-36:]
        assert f"{rollout_id[:8]}…{rollout_id[-4:]}" in out  # the newest bundle: the demo's
    assert run("validate", bundle)[0] == 0
    code, _, err = run("reduce", bundle, "-o", tmp_path / "ours.json")
    assert code == 0, err
    if codex_bin(bundle_schema(bundle)):
        assert run_codex(bundle, tmp_path / "codex.json").returncode == 0
        assert (tmp_path / "ours.json").read_bytes() == (tmp_path / "codex.json").read_bytes()


def test_validate_names_a_line_that_is_not_utf8(tmp_path: Path) -> None:
    lines = event_lines().splitlines(keepends=True)
    lines[1] = b'{"x":"\xff"}\n'
    bundle = make_bundle(tmp_path, b"".join(lines))
    code, out, _ = run("validate", bundle)
    assert code == 1
    assert (
        f"{bundle}/trace.jsonl:2: read trace event line 2: stream did not contain valid UTF-8\n"
    ) in out


def test_lenient_reduce_skips_what_a_missing_payload_takes_with_it(tmp_path: Path) -> None:
    """The inference whose request never reached the disk is skipped, and so is its completion,
    which refers to a call the replay never saw; everything else is reduced."""
    from tests.differential.codec_driver import write_bundle
    from tests.differential.script import Script, StepScript, TurnScript

    step = StepScript(False, False, "hi", None, (), "completed", (True,), None, 5, 5)
    turn = TurnScript("go", True, (step, step), "none", "completed", None)
    bundle = write_bundle(Script((turn,)), tmp_path)
    events = [orjson.loads(line) for line in (bundle / "trace.jsonl").read_bytes().splitlines()]
    started = [e for e in events if e["payload"]["type"] == "inference_started"][1]
    (bundle / started["payload"]["request_payload"]["path"]).unlink()

    assert run("reduce", bundle, "-o", tmp_path / "strict.json")[0] == 1
    code, _, err = run("reduce", bundle, "--lenient", "-o", tmp_path / "s.json")
    assert code == 0, err
    assert f"(seq {started['seq']}): skipped payload missing" in err
    assert "skipped not reducible: inference completion referenced unknown call" in err
    state = orjson.loads((tmp_path / "s.json").read_bytes())
    assert len(state["inference_calls"]) == 1
    assert state["status"] == "completed"


def test_version_names_the_installed_release(capsys: pytest.CaptureFixture[str]) -> None:
    """``--version`` prints the package version from its metadata and exits 0."""
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"rollout-trace {version('rollout-trace-sdk')}\n"


def test_no_arguments_prints_the_help() -> None:
    """A bare ``rollout-trace`` shows every command instead of a terse usage error."""
    code, out, _ = run()
    assert code == 2
    assert out.startswith("usage: rollout-trace") and "reduce" in out and "demo" in out


def test_a_reader_that_stops_early_is_not_an_error(tmp_path: Path) -> None:
    """``rollout-trace show BUNDLE | head``: a closed pipe ends the command quietly, exit 0."""
    assert run("demo", "--out", tmp_path, "--scale", "30")[0] == 0
    [bundle] = [p for p in tmp_path.iterdir() if p.is_dir()]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rollout_trace_sdk", "show", str(bundle)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(100)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, stderr
    assert "error" not in stderr.lower()


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(found[0].choices)


def test_a_command_of_this_module_parses_without_the_viewer_and_export_parsers() -> None:
    """`reduce` builds only this module's parsers (start-up time); its arguments and help are
    the same as in the whole parser, which `--help` and the other commands still get."""
    from rollout_trace_sdk.cli import build_parser

    whole, own = build_parser(), build_parser("reduce")
    assert {"view", "show", "export", "query"} <= _commands(whole).keys()
    assert not {"view", "show", "export", "query"} & _commands(own).keys()
    assert _commands(own)["reduce"].format_help() == _commands(whole)["reduce"].format_help()
    argv = ["reduce", "B", "-o", "-", "--latest"]
    assert vars(own.parse_args(argv)) == vars(whole.parse_args(argv))
    assert "export" in _commands(build_parser("export"))


def test_a_command_given_first_parses_with_its_own_parser_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`rollout-trace reduce ...` builds the reduce parser only; its help, usage errors and
    arguments are the whole parser's."""
    from rollout_trace_sdk.cli import build_parser

    whole, alone = build_parser(), build_parser("reduce", alone=True)
    assert _commands(alone).keys() == {"reduce"}
    assert _commands(alone)["reduce"].format_help() == _commands(whole)["reduce"].format_help()
    assert _commands(alone)["reduce"].format_usage() == _commands(whole)["reduce"].format_usage()
    argv = ["reduce", "B", "-o", "-", "--latest"]
    assert vars(alone.parse_args(argv)) == vars(whole.parse_args(argv))
    code, _, _ = run("-h", "reduce")  # a top-level option first: the list of commands
    printed = capsys.readouterr().out
    assert code == 0 and printed == build_parser("reduce").format_help()
    assert "validate" in printed


@pytest.mark.parametrize("columns", [None, "100", "0", "wide"])
def test_help_is_laid_out_as_argparse_lays_it_out(
    monkeypatch: pytest.MonkeyPatch, columns: str | None
) -> None:
    """The parsers' formatter finds the width without ``shutil``: the same width as
    argparse's own (``COLUMNS``, else the terminal's, else 80). (Descriptions and epilogs
    are filled a line at a time, which argparse does not do: that part is ours on both
    sides, so the width is what is compared.)"""
    from rollout_trace_sdk._cli_help import Formatter
    from rollout_trace_sdk.cli import build_parser

    class ArgparseWidth(argparse.HelpFormatter):
        _fill_text = Formatter._fill_text

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    whole = build_parser()
    for parser in [whole, *_commands(whole).values()]:
        ours = parser.format_help()
        parser.formatter_class = ArgparseWidth
        assert ours == parser.format_help()


def test_an_empty_path_is_a_usage_error() -> None:
    code, _, err = run("summary", "")
    assert code == 2 and "empty path" in err


def test_every_command_and_flag_is_in_the_docs() -> None:
    """Each subcommand and each of its flags (long and short spellings) is named in README.md
    or docs/ (found by the docs audit: ``--output`` was named nowhere). That every
    ``rollout-trace CMD ... --flag`` a page shows is one CMD has is
    tests/test_docs.py::test_named_commands_and_options_exist."""
    from rollout_trace_sdk.cli import build_parser

    repo = Path(__file__).resolve().parent.parent
    text = "\n".join(p.read_text() for p in [repo / "README.md", *(repo / "docs").glob("*.md")])
    commands = _commands(build_parser())
    flags = {
        name: {o for a in parser._actions for o in a.option_strings} - {"-h", "--help"}
        for name, parser in commands.items()
    }
    missing = [f"rollout-trace {c}" for c in commands if f"rollout-trace {c}" not in text]
    missing += [
        f"{c} {flag}"
        for c, options in flags.items()
        for flag in options
        if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text)
    ]
    assert not missing, missing


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (
            ["convert", "--to", "3", "-o", "{tmp}/copy"],
            "  (rollout-trace convert --lenient converts the rest)\n",
        ),
        (
            ["export", "--format", "perfetto", "-o", "{tmp}/p.json"],
            "  (rollout-trace export --lenient exports the rest)\n",
        ),
        (["export", "--format", "otlp", "-o", "{tmp}/o.jsonl"], " (--lenient exports the rest)\n"),
        (["export", "--to", "{tmp}/tables", "--jobs", "1"], " (--lenient exports the rest)\n"),
    ],
    ids=["convert", "perfetto", "otlp", "parquet"],
)
def test_a_crash_cut_log_refused_says_what_lenient_does(
    argv: list[str], hint: str, tmp_path: Path
) -> None:
    """After a process was killed mid-line (newuser26), ``convert`` and every ``export``
    format refused its bundle in Codex's words and said nothing of ``--lenient``, which reads
    all but the cut line; each now says it, and does what it says."""
    pytest.importorskip("pyarrow")
    pytest.importorskip("opentelemetry.sdk")
    bundle = make_bundle(tmp_path)
    log = bundle / "trace.jsonl"
    log.write_bytes(log.read_bytes()[:-20])  # the last line cut
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, _, err = run(argv[0], bundle, *argv[1:])
    assert code == 1 and "EOF while parsing" in err
    assert hint in err, err
    code, _, err = run(argv[0], bundle, "--lenient", *argv[1:])
    assert code == 0, err


def test_help_gives_every_default_an_option_has() -> None:
    """An option that stands for a value when not given says which in its ``--help``
    (``view --port`` did not say 8765, which only docs/viewing.md gave; found by docs27)."""
    from rollout_trace_sdk.cli import build_parser

    commands = _commands(build_parser())
    unsaid = [
        f"{name} {action.option_strings[0]}"
        for name, parser in commands.items()
        for action in parser._actions
        if action.option_strings
        and not any(action.default is x for x in (None, False, True, argparse.SUPPRESS))
        and f"default {action.default}" not in (action.help or "")
    ]
    assert not unsaid, unsaid


def test_demo_help_says_where_the_bundle_goes_and_its_schema() -> None:
    """``demo --out`` names a traces root (the bundle is made under it), and its schema follows
    ROLLOUT_TRACE_SCHEMA as every recording's does: the help said 'directory for the bundle'."""
    from rollout_trace_sdk.cli import build_parser

    demo = _commands(build_parser())["demo"].format_help()
    assert "traces root" in demo and "ROLLOUT_TRACE_SCHEMA=2" in demo
