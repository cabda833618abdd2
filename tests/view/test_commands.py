"""The ``view``/``show``/``summary`` commands' own rules (view/commands.py): what reaches
standard error, where the page goes by default, what ``--port`` accepts."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.view.commands import summary_json

from ..conftest import CONFORMANCE, CONFORMANCE_V3, needs_conformance
from ..held_log import held_open, needs_proc, unclosed_bundle
from .conftest import HOSTILE_ID_SHOWN, hostile_id_bundle, skipping_bundle


def _run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@needs_conformance
@pytest.mark.parametrize("command", ["show", "summary", "view"])
def test_lenient_notes_spell_out_control_characters(command: str, tmp_path: Path) -> None:
    """A note quotes the skipped event's id, which the agent chose: its ESC and BEL must not
    retitle or recolour the terminal."""
    bundle = hostile_id_bundle(tmp_path)
    extra = ["-o", str(tmp_path / "page.html")] if command == "view" else []
    code, _, err = _run(command, "--lenient", bundle, *extra)
    assert code == 0
    assert "lenient: skipped 1 thing(s):" in err and HOSTILE_ID_SHOWN in err
    assert not any(ch in err for ch in "\x1b\x07")


def test_the_default_page_never_replaces_the_state_it_was_made_from(
    demo_bundle: Path, tmp_path: Path
) -> None:
    """``view run.html`` (a state file) would write ``run.html``: refused, the state kept."""
    state = tmp_path / "run.html"
    assert _run("reduce", demo_bundle, "-o", state)[0] == 0
    before = state.read_bytes()
    code, out, err = _run("view", state)
    assert (code, out) == (2, "")
    assert (
        err
        == f"rollout-trace view: refusing to overwrite the input {state}; name another with -o FILE\n"
    )
    assert state.read_bytes() == before
    code, out, _ = _run("view", state, "-o", tmp_path / "page.html")
    assert (code, out) == (0, f"{tmp_path / 'page.html'}\n")


@pytest.mark.parametrize("port", ["70000", "-1", "65536"])
def test_a_port_out_of_range_is_a_usage_error(
    port: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("view", tmp_path, "--serve", "--port", port)[0] == 2
    err = capsys.readouterr().err  # argparse writes to sys.stderr
    assert "argument --port:" in err and "internal error" not in err


def test_paths_are_spelled_out(
    demo_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``view`` named the page it wrote and the bundle it serves with their control
    characters raw: a path is named by whoever made it (found by review)."""
    from rollout_trace_sdk.view.serve import ViewServer

    named = "page\x1b]0;PWNED\x07\u202e.html"
    shown = "page\\x1b]0;PWNED\\x07\\u202e.html"
    code, out, err = _run("view", demo_bundle, "-o", tmp_path / named)
    assert (code, out, err) == (0, f"{tmp_path}/{shown}\n", "")
    state = tmp_path / named.replace("page", "state")  # its default page is itself
    assert _run("reduce", demo_bundle, "-o", state)[0] == 0
    code, out, err = _run("view", state)
    assert code == 2 and shown.replace("page", "state") in err and "\x1b" not in err

    bundle = tmp_path / "bundle\x1b[41m"
    shutil.copytree(demo_bundle, bundle)
    monkeypatch.setattr(ViewServer, "serve_forever", lambda self: None)
    code, out, _ = _run("view", bundle, "--serve", "--port", "0")
    assert code == 0 and out.startswith(f"serving {tmp_path}/bundle\\x1b[41m at http://")


@pytest.mark.parametrize("command", ["show", "summary", "view"])
def test_a_path_that_cannot_be_read_is_named_as_typed(command: str) -> None:
    """``view https://x/y`` said "read https:/x/y": the page's command made a ``Path`` of its
    argument before reading it, which folds the double slash. Every command names the path as
    the user typed it, as ``reduce`` (and Codex) do."""
    code, out, err = _run(command, "https://example.invalid/run")
    assert (code, out) == (1, "")
    assert err.startswith("Error: read https://example.invalid/run")


@pytest.mark.parametrize("command", ["show", "summary", "view", "reduce"])
def test_a_crash_cut_log_refused_says_lenient_shows_the_rest(
    command: str, demo_bundle: Path, tmp_path: Path
) -> None:
    """``view`` of a bundle whose recorder was killed mid-line printed Codex's refusal and
    nothing else, though ``--lenient`` shows all but the cut line; the commands for looking at
    a rollout now say so, and so does ``reduce`` (newuser26: a user after a kill ran
    ``reduce`` and was told nothing), after Codex's refusal and where it happened; an error
    that is not about a log event (a missing bundle) says nothing of --lenient."""
    bundle = tmp_path / "cut"
    shutil.copytree(demo_bundle, bundle)
    (bundle / "state.json").unlink(missing_ok=True)
    log = bundle / "trace.jsonl"
    data = log.read_bytes()
    log.write_bytes(data[: data.rindex(b"\n", 0, len(data) - 1) + 40])  # the last line cut
    extra = ["-o", str(tmp_path / "out")] if command in ("view", "reduce") else []
    code, _, err = _run(command, bundle, *extra)
    assert code == 1 and "EOF while parsing" in err
    verb = "reduces" if command == "reduce" else "shows"
    assert err.endswith(f"  (rollout-trace {command} --lenient {verb} the rest)\n"), err
    code, _, err = _run(command, tmp_path / "missing", *extra)
    assert code != 0 and "--lenient" not in err


def _middle_line_dropped(bundle: Path) -> None:
    """A seq gap: lenient reduction refuses it as strict reduction does."""
    lines = (bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)
    (bundle / "trace.jsonl").write_bytes(b"".join(lines[:6] + lines[7:]))


def _middle_line_unparsable(bundle: Path) -> None:
    """A line mid-log that is not JSON (it ends with its newline: no crash cut it)."""
    lines = (bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)
    lines[6] = lines[6][:40] + b"\n"
    (bundle / "trace.jsonl").write_bytes(b"".join(lines))


@pytest.mark.parametrize("command", ["show", "summary", "view"])
@pytest.mark.parametrize("damage", ["gap", "unparsable", "unknown call"])
def test_the_lenient_hint_only_where_lenient_shows_the_rest(
    command: str, damage: str, demo_bundle: Path, tmp_path: Path
) -> None:
    """The hint followed any refusal with a log line: a seq gap or a bad line mid-log, which
    ``--lenient`` refuses the same, said ``--lenient shows the rest``. Now it is said exactly
    when the same command with ``--lenient`` succeeds (an event replay cannot apply: a call's
    end naming a call never started)."""
    if damage == "unknown call":
        bundle = skipping_bundle(demo_bundle, tmp_path)
    else:
        bundle = tmp_path / "damaged"
        shutil.copytree(demo_bundle, bundle)
        (bundle / "state.json").unlink(missing_ok=True)
        {"gap": _middle_line_dropped, "unparsable": _middle_line_unparsable}[damage](bundle)
    extra = ["-o", str(tmp_path / "out")] if command == "view" else []
    code, _, err = _run(command, bundle, *extra)
    assert code == 1
    lenient_code, _, _ = _run(command, "--lenient", bundle, *extra)
    assert ("--lenient shows the rest" in err) == (lenient_code == 0)


def _error_bundles() -> list[Path]:
    """Codex's own refused bundles, both corpora (none when ../shared is not there)."""
    return [
        case / "bundle"
        for corpus in (CONFORMANCE, CONFORMANCE_V3)
        if corpus.is_dir()
        for case in sorted((corpus / "_errors").iterdir())
        if (case / "bundle").is_dir()
    ]


@needs_conformance
def test_the_lenient_hint_on_codexs_refused_bundles() -> None:
    """Over Codex's error corpora, 41 of the 67 refusals had the hint wrong (a seq gap, a
    duplicate line hinted; a missing payload, a cut shard not). Now a refusal with the hint is
    one ``--lenient`` gets past (it succeeds, or stops at a later, other refusal), and one
    without it is one ``--lenient`` repeats word for word."""
    wrong = []
    for bundle in _error_bundles():
        code, _, err = _run("summary", bundle)
        if code == 0:
            continue  # refused by `reduce` only (a state file it would write)
        lenient_code, _, lenient_err = _run("summary", "--lenient", bundle)
        first = err.splitlines()[0]
        got_past = lenient_code == 0 or not lenient_err.startswith(first + "\n")
        if ("--lenient shows the rest" in err) != got_past:
            wrong.append(f"{bundle.parent.name}: {first}")
    assert not wrong


def test_a_page_that_cannot_be_written_says_why(demo_bundle: Path, tmp_path: Path) -> None:
    """``view -o`` into a directory that is not there fails with 1 and says why on standard
    error, naming the path: with that message dropped the command failed silently and no
    test saw it (mutation audit mut40)."""
    page = tmp_path / "missing" / "page.html"
    code, out, err = _run("view", demo_bundle, "-o", page)
    assert (code, out) == (1, "")
    assert err.startswith(f"rollout-trace view: cannot write {page}: "), err
    assert "No such file or directory" in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_view_says_on_a_terminal_that_it_is_reducing_the_bundle(
    demo_bundle_200: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``view -o`` (and ``show``) reduced a large bundle with nothing printed until the page's
    path: they draw the bar ``reduce`` and ``summary`` draw, on a terminal only (here past no
    delay: the bundle reduces in under a second)."""
    from rollout_trace_sdk.view import progress

    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    monkeypatch.delenv("TERM", raising=False)
    err = _Terminal()
    page = tmp_path / "page.html"
    assert main(["view", str(demo_bundle_200), "-o", str(page)], out=io.StringIO(), err=err) == 0
    assert "reducing trace-" in err.getvalue()  # the bundle's name, cut to the width
    assert _run("view", demo_bundle_200, "-o", page)[2] == ""  # piped: nothing


def test_summary_json_past_64_bits_is_laid_out_as_orjson_lays_it_out() -> None:
    """A count past 64 bits goes through the standard library (orjson refuses it): the text is
    the same as orjson's for a count that fits, two-space indented, the number aside (found
    by mutation audit mut48: the fallback's indent was never looked at)."""
    fits = summary_json({"totals": {"tokens": [1, {"input_tokens": 7}]}})
    wide = summary_json({"totals": {"tokens": [1, {"input_tokens": 2**64}]}})
    assert wide == fits.replace("7", str(2**64)) and '\n  "totals"' in fits


@needs_proc
@pytest.mark.parametrize("command", ["show", "summary", "view"])
def test_a_bundle_a_lockless_writer_holds_is_still_recording(command: str, tmp_path: Path) -> None:
    """A bundle another process holds open for writing, without a lock, as Codex writes its
    own: ``still recording``, as one our recorder writes, not ``recording unclosed`` as if the
    writer had crashed (review status49); once the writer is gone, unclosed. ``summary`` says
    so too of the ``state.json`` ``reduce`` wrote in the bundle."""
    bundle = unclosed_bundle(tmp_path / "bundle")
    page = tmp_path / "page.html"
    extra = ["-o", str(page)] if command == "view" else []

    def said() -> str:
        code, out, err = _run(command, bundle, *extra)
        assert code == 0, err
        if command != "view":
            return out.splitlines()[0]
        (meta,) = re.findall(r'"recording":"(\w+)"', page.read_text())
        return "· still recording" if meta == "recording" else f"· recording {meta}"

    with held_open(bundle):
        assert "· still recording" in said()
        if command == "summary":
            assert _run("reduce", bundle)[0] == 0
            assert "· still recording" in said()
    assert "· recording unclosed" in said()
