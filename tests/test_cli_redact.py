"""``rollout-trace redact``: a redacted copy keeps no planted secret and still reduces, with our
reducer and with Codex 0.169, to the same state; in place or as a copy, with what it refuses,
leaves out and counts."""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.model import layout
from rollout_trace_sdk.redact_bundle import OutputExists, RedactBundleError, redact_bundle
from tests.cli_redact_support import SECRETS, all_bytes, plant, record_demo, run, state_of
from tests.codex_oracle import codex_bin, codex_reduce, needs_codex
from tests.conftest import conformance_bundles, needs_conformance
from tests.planted_secrets import TWELVE


def test_planted_secrets_land_before_and_not_after(tmp_path: Path) -> None:
    bundle = record_demo(tmp_path)
    plant(bundle)
    before = all_bytes(bundle)
    assert all(secret.encode() in before for secret in SECRETS.values())
    state_of(bundle)  # the planted bundle is healthy

    code, out, err = run("redact", bundle, "-o", tmp_path / "clean")
    assert code == 0, err
    clean = tmp_path / "clean"
    assert out.splitlines()[0] == str(clean)
    after = all_bytes(clean)
    leaked = [name for name, secret in SECRETS.items() if secret.encode() in after]
    assert leaked == []
    assert all_bytes(bundle) == before  # the source is untouched
    state = orjson.loads(state_of(clean))
    assert state["threads"]
    # the counts are in the bundle, as a warning just before recording_completed
    lines = [orjson.loads(x) for x in (clean / "trace.jsonl").read_bytes().splitlines()]
    assert [x["seq"] for x in lines] == list(range(1, len(lines) + 1))
    assert lines[-1]["payload"]["type"] == "recording_completed"
    warning = lines[-2]["payload"]
    assert warning["event_type"] == "warning"
    message = orjson.loads((clean / warning["event_payload"]["path"]).read_bytes())["message"]
    assert "redacted" in message and "sk_key 2" in message


def test_modes_and_idempotence(tmp_path: Path) -> None:
    bundle = record_demo(tmp_path)
    plant(bundle)
    report = redact_bundle(bundle, tmp_path / "once")
    assert report.total >= len(SECRETS)
    for path in [tmp_path / "once", *(tmp_path / "once").rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    again = redact_bundle(tmp_path / "once", tmp_path / "twice")
    assert again.total == 0 and not again.recorded
    assert all_bytes(tmp_path / "once") == all_bytes(tmp_path / "twice")


def test_in_place_replaces_the_bundle(tmp_path: Path) -> None:
    bundle = record_demo(tmp_path)
    plant(bundle)
    code, _, err = run("redact", bundle, "--in-place")
    assert code == 0, err
    after = all_bytes(bundle)
    assert not any(secret.encode() in after for secret in SECRETS.values())
    assert sorted(p.name for p in bundle.parent.iterdir()) == [bundle.name]  # no leftovers
    state_of(bundle)


@pytest.mark.parametrize("in_place", [False, True])
def test_a_reduced_state_beside_the_log_is_the_redacted_bundles_own(
    tmp_path: Path, in_place: bool
) -> None:
    """A state.json the bundle held was redacted as text and kept: the state of the bundle
    before (no redaction counts among its protocol events, the old retained sizes), which a
    reader of state.json took for the redacted bundle's (found by user35). It is now the
    reduction of the redacted bundle, the same bytes ``reduce`` writes for it."""
    bundle = record_demo(tmp_path)
    plant(bundle)
    code, _, err = run("reduce", bundle)
    assert code == 0, err
    target = bundle if in_place else tmp_path / "copy"
    code, _, err = run("redact", bundle, *(["--in-place"] if in_place else ["-o", target]))
    assert code == 0, err
    kept = (target / layout.STATE_FILE).read_bytes()
    assert not any(secret.encode() in kept for secret in SECRETS.values())
    code, _, err = run("reduce", target, "-o", tmp_path / "fresh.json")
    assert code == 0, err
    assert kept == (tmp_path / "fresh.json").read_bytes()
    assert stat.S_IMODE((target / layout.STATE_FILE).stat().st_mode) == 0o600


def test_a_signal_while_the_old_copy_is_removed_leaves_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM as ``--in-place`` removed the old copy: the unredacted copy stayed hidden
    beside the bundle, and the command said "terminated" (found by review). The swap and
    the removal finish first; the signal still ends the command after them."""
    import signal

    bundle = record_demo(tmp_path)
    plant(bundle)
    real = shutil.rmtree

    def interrupted(path: Any, *args: Any, **kwargs: Any) -> None:
        if ".old" in str(path):
            os.kill(os.getpid(), signal.SIGTERM)  # held until the removal is done
        real(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", interrupted)
    code, _, err = run("redact", bundle, "--in-place")
    assert code == 143 and "terminated" in err
    assert sorted(p.name for p in bundle.parent.iterdir()) == [bundle.name]  # no old copy
    after = all_bytes(bundle)
    assert not any(secret.encode() in after for secret in SECRETS.values())


_SWAP_SIGNALLED = """
import os, shutil, signal, sys
from rollout_trace_sdk.redact_bundle import redact_bundle

real = shutil.rmtree


def interrupted(path, *args, **kwargs):
    if ".old" in str(path):
        os.kill(os.getpid(), signal.SIGTERM)  # at its default disposition: held, then fatal
    real(path, *args, **kwargs)


shutil.rmtree = interrupted
redact_bundle(sys.argv[1], None, in_place=True)
print("went on")
"""


def test_a_program_redacting_in_place_still_dies_of_a_stop_signal_after_the_swap(
    tmp_path: Path,
) -> None:
    """``redact_bundle(in_place=True)`` called by a program that left SIGTERM at its default
    (no CLI handler): a SIGTERM during the swap is held, then ends the process as it would
    have, once the old copy is gone. Only the CLI's case was tested: swallowing a held
    signal whose disposition was the default passed (mut30)."""
    import signal
    import subprocess
    import sys

    bundle = record_demo(tmp_path)
    plant(bundle)
    child = subprocess.run(
        [sys.executable, "-c", _SWAP_SIGNALLED, str(bundle)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGTERM, child.stderr
    assert "went on" not in child.stdout
    assert sorted(p.name for p in bundle.parent.iterdir()) == [bundle.name]  # no old copy
    after = all_bytes(bundle)
    assert not any(secret.encode() in after for secret in SECRETS.values())


def test_refusals_leave_everything_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = record_demo(tmp_path)
    before = all_bytes(bundle)
    outside = tmp_path / "outside.json"
    outside.write_bytes(b'{"password": "x1y2z3"}')
    (bundle / "payloads" / "999.json").symlink_to(outside)
    code, _, err = run("redact", bundle, "-o", tmp_path / "clean")
    assert code == 1 and "999.json" in err and "symlink" in err
    assert not (tmp_path / "clean").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    (bundle / "payloads" / "999.json").unlink()
    os.mkfifo(bundle / "payloads" / "998.json")
    with pytest.raises(RedactBundleError, match=r"998\.json.*FIFO"):
        redact_bundle(bundle, tmp_path / "clean")
    (bundle / "payloads" / "998.json").unlink()
    assert all_bytes(bundle) == before
    log = bundle / "trace.jsonl"
    log.rename(tmp_path / "log.jsonl")
    log.symlink_to(tmp_path / "log.jsonl")
    code, _, err = run("redact", bundle, "-o", tmp_path / "clean")
    assert code == 1 and "trace.jsonl" in err and "symlink" in err
    log.unlink()
    (tmp_path / "log.jsonl").rename(log)
    assert all_bytes(bundle) == before
    code, _, err = run("redact", bundle, "-o", bundle)
    assert code == 2 and "already exists; give a new directory" in err  # as convert says
    code, _, err = run("redact", tmp_path / "missing")
    assert code == 1 and "missing" in err
    code, _, _ = run("redact", bundle, "-o", tmp_path / "x", "--in-place")
    assert code == 2
    monkeypatch.chdir(tmp_path)
    for output in ("-", ""):  # made a directory named "-"; "" meant the default output
        with pytest.raises(RedactBundleError, match="give a new directory"):
            redact_bundle(bundle, output)
    assert not (tmp_path / "-").exists() and not Path(f"{bundle}-redacted").exists()


@needs_codex
def test_codex_reduces_the_redacted_bundle_to_our_state(tmp_path: Path) -> None:
    bundle = record_demo(tmp_path)
    plant(bundle)
    assert redact_bundle(bundle, tmp_path / "clean").recorded
    ok, stderr, state = codex_reduce(tmp_path / "clean")
    assert ok, stderr
    assert state == orjson.loads(state_of(tmp_path / "clean"))


@needs_conformance
@pytest.mark.parametrize("bundle", conformance_bundles(), ids=lambda b: b.parent.name)
def test_corpus_bundles_still_reduce_after_redaction(bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    report = redact_bundle(copy, tmp_path / "clean")
    state = state_of(tmp_path / "clean")
    if not report.total:  # nothing to redact: the very same state as before
        assert state == state_of(copy)
    if codex_bin() is not None:
        ok, stderr, codex_state = codex_reduce(tmp_path / "clean")
        assert ok, stderr
        assert codex_state == orjson.loads(state)


def test_resent_items_still_link_after_redaction(tmp_path: Path) -> None:
    """The same secret becomes the same placeholder in every copy of a resent message, so the
    redacted bundle reduces to the very graph the original did, text aside."""
    bundle = record_demo(tmp_path)
    task = b"Episode 0: exercise the shell and a helper agent."
    secret = SECRETS["sk_proj"].encode()
    copies = 0
    for path in [*(bundle / "payloads").iterdir(), bundle / "trace.jsonl"]:
        data = path.read_bytes()
        copies += data.count(task)
        path.write_bytes(data.replace(task, task + b" key " + secret))
    assert copies >= 3  # the first user message, resent with every request
    report = redact_bundle(bundle, tmp_path / "clean")
    assert report.counts["sk_key"] == copies
    placeholders = set(
        re.findall(rb"\[REDACTED:sk_key:[0-9a-f]{8}\]", all_bytes(tmp_path / "clean"))
    )
    assert len(placeholders) == 1
    [placeholder] = placeholders
    clean = orjson.loads(state_of(tmp_path / "clean"))
    original = orjson.loads(state_of(bundle).replace(secret, placeholder))
    # the one difference: the redaction summary's payload
    summary = orjson.loads((tmp_path / "clean" / "trace.jsonl").read_bytes().splitlines()[-2])
    del clean["raw_payloads"][summary["payload"]["event_payload"]["raw_payload_id"]]
    assert clean == original


def test_a_symlink_to_a_bundle_names_the_bundle(tmp_path: Path) -> None:
    """``reduce`` and ``convert`` follow a symlink to a bundle; ``redact`` refused it."""
    bundle = record_demo(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(bundle)
    code, _, err = run("redact", link, "-o", tmp_path / "clean")
    assert code == 0, err
    assert state_of(tmp_path / "clean") == state_of(bundle)


def test_a_file_no_part_of_the_bundle_is_left_out_of_a_copy_and_kept_in_place(
    tmp_path: Path,
) -> None:
    """A stray file (notes, a log of the agent's run) may hold anything: copied into the
    redacted copy as it was, its secrets went wherever the copy was handed (found by review
    review20). It is left out of a copy, stays in the source, and ``--in-place`` keeps it
    (deleting it would lose it); both name it."""
    bundle = record_demo(tmp_path)
    secret = "sk-proj-" + "A1b2C3d4" * 6
    (bundle / "notes.txt").write_text(f"key {secret}\n")
    code, _, err = run("redact", bundle, "-o", tmp_path / "clean")
    assert code == 0 and "left out notes.txt: not a bundle file" in err
    assert not (tmp_path / "clean" / "notes.txt").exists()
    assert secret in (bundle / "notes.txt").read_text()
    code, _, err = run("redact", bundle, "--in-place")
    assert code == 0 and "kept without redaction (not a bundle file): notes.txt" in err
    assert secret in (bundle / "notes.txt").read_text()


def test_a_killed_recorders_space_reserve_is_dropped_without_a_note(tmp_path: Path) -> None:
    """A bundle whose recorder was killed keeps its ``.space-reserve`` (disk held for the
    closing records, no data): no copy takes it, in place or not, and no note calls it "not
    a bundle file, so not redacted" as if something were left unredacted."""
    bundle = record_demo(tmp_path)
    (bundle / layout.SPACE_RESERVE).write_bytes(bytes(4096))
    code, _, err = run("redact", bundle, "-o", tmp_path / "clean")
    assert code == 0 and layout.SPACE_RESERVE not in err
    assert not (tmp_path / "clean" / layout.SPACE_RESERVE).exists()
    code, _, err = run("redact", bundle, "--in-place")
    assert code == 0 and layout.SPACE_RESERVE not in err
    assert not (bundle / layout.SPACE_RESERVE).exists()


def test_a_viewer_page_is_left_out_not_copied(tmp_path: Path) -> None:
    """``view.html`` embeds every payload as it was: copied, the secrets survived
    ``redact --in-place`` in it (found by review)."""
    bundle = record_demo(tmp_path)
    plant(bundle)
    assert main(["view", str(bundle)]) == 0
    assert (bundle / "view.html").exists()
    code, _, err = run("redact", bundle, "--in-place")
    assert code == 0 and "left out view.html" in err
    assert not (bundle / "view.html").exists()
    assert "view.html" not in err.split("left out", 1)[0]  # not "copied without redaction"


def test_an_unclosed_bundle_gets_the_counts_after_its_last_line(tmp_path: Path) -> None:
    """A recording cut short (no recording_completed) still gets its counts, appended."""
    bundle = record_demo(tmp_path)
    plant(bundle)
    log = bundle / "trace.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-1]))  # drop recording_completed
    report = redact_bundle(bundle, tmp_path / "clean")
    assert report.recorded
    out = [orjson.loads(x) for x in (tmp_path / "clean" / "trace.jsonl").read_bytes().splitlines()]
    assert len(out) == len(lines)
    assert out[-1]["seq"] == out[-2]["seq"] + 1
    assert out[-1]["payload"]["event_type"] == "warning"
    assert orjson.loads(state_of(tmp_path / "clean"))["threads"]
    if codex_bin() is not None:
        ok, stderr, _ = codex_reduce(tmp_path / "clean")
        assert ok, stderr


def test_blank_lines_at_the_end_stay_last_and_the_counts_go_before_them(tmp_path: Path) -> None:
    """Codex accepts blank lines at the end of the log; the counts were silently left out of
    such a bundle (found by review)."""
    bundle = record_demo(tmp_path)
    plant(bundle)
    log = bundle / "trace.jsonl"
    log.write_bytes(log.read_bytes() + b"\n  \n")
    report = redact_bundle(bundle, tmp_path / "clean")
    assert report.recorded and report.total
    text = (tmp_path / "clean" / "trace.jsonl").read_bytes()
    assert text.endswith(b"}\n\n  \n")
    out = [orjson.loads(x) for x in text.splitlines() if x.strip()]
    assert out[-1]["payload"]["type"] == "recording_completed"
    assert out[-2]["payload"]["event_type"] == "warning"
    if codex_bin() is not None:
        ok, stderr, _ = codex_reduce(tmp_path / "clean")
        assert ok, stderr


def test_a_torn_last_line_is_kept_and_no_counts_are_added(tmp_path: Path) -> None:
    bundle = record_demo(tmp_path)
    log = bundle / "trace.jsonl"
    log.write_bytes(log.read_bytes()[:-20])  # a crash mid-line
    report = redact_bundle(bundle, tmp_path / "clean")
    assert not report.recorded
    assert (tmp_path / "clean" / "trace.jsonl").read_bytes() == log.read_bytes()
    plant(bundle)
    code, _, err = run("redact", bundle, "-o", tmp_path / "again")
    assert code == 0 and "the counts are not recorded in the bundle" in err


def test_an_output_inside_the_bundle_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = record_demo(tmp_path)
    before = all_bytes(bundle)
    code, _, err = run("redact", bundle, "-o", bundle / "inside")
    assert code == 2 and "inside the bundle" in err
    assert all_bytes(bundle) == before
    monkeypatch.chdir(bundle)  # "." names the bundle: the copy goes beside it, not into it
    code, printed, _ = run("redact", ".")
    assert code == 0 and printed.splitlines()[0] == f"{bundle.resolve()}-redacted"
    assert all_bytes(bundle) == before


def test_the_api_refuses_an_output_inside_the_bundle(tmp_path: Path) -> None:
    """``redact_bundle`` itself refuses a copy inside its source (the CLI asks first, so only
    the API meets this check: dropping it passed every redact test, mut33). Made there, the
    copy would sit in the bundle as a stray directory, unredacted secrets beside it. A link
    outside the bundle naming a directory inside it is refused too."""
    bundle = record_demo(tmp_path)
    before = all_bytes(bundle)
    with pytest.raises(RedactBundleError, match="is inside the bundle"):
        redact_bundle(bundle, bundle / "inside")
    (bundle / "sub").mkdir()
    before = all_bytes(bundle)
    (tmp_path / "link").symlink_to(bundle / "sub")
    with pytest.raises(RedactBundleError, match="is inside the bundle"):
        redact_bundle(bundle, tmp_path / "link" / "copy")
    assert all_bytes(bundle) == before


@pytest.mark.parametrize("name", ["run.html", "run.json"])
def test_a_page_or_json_below_the_log_is_a_stray_file(tmp_path: Path, name: str) -> None:
    """Only an ``.html`` file beside the log is a page ``view`` made (left out, made again by
    ``view``), and only a ``.json`` file beside the log or in ``payloads/`` is a bundle file
    (redacted); one in another folder of the bundle is a stray file like any other: left out
    of a copy, kept as it is by ``--in-place`` (left out, it was lost for good), named either
    way, and only as what it is. Leaving out every ``.html`` file, redacting every ``.json``
    file, or naming a copy's strays as kept passed every redact test (mut33)."""
    bundle = record_demo(tmp_path)
    secret = "sk-proj-" + "A1b2C3d4" * 6
    text = f'{{"key": "{secret}"}}\n'
    (bundle / "notes").mkdir()
    (bundle / "notes" / name).write_text(text)
    code, _, err = run("redact", bundle, "-o", tmp_path / "clean")
    assert code == 0 and f"left out notes/{name}: not a bundle file" in err
    assert "a page holding the payloads" not in err and "kept without redaction" not in err
    assert not (tmp_path / "clean" / "notes" / name).exists()
    code, _, err = run("redact", bundle, "--in-place")
    assert code == 0 and f"kept without redaction (not a bundle file): notes/{name}" in err
    assert "left out" not in err
    assert (bundle / "notes" / name).read_text() == text


def test_the_api_refuses_a_dangling_link_as_an_existing_output(tmp_path: Path) -> None:
    """A link whose target is missing is an output that exists: refused as such, before any
    work, and left as it was (checking exists() alone, which follows the link, passed every
    redact test: the CLI asks lexists first, the API had no test; mut33)."""
    bundle = record_demo(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "missing")
    with pytest.raises(OutputExists, match="already exists"):
        redact_bundle(bundle, link)
    assert link.is_symlink() and not (tmp_path / "missing").exists()
    assert sorted(os.listdir(tmp_path)) == sorted([bundle.relative_to(tmp_path).parts[0], "link"])


def test_in_place_refuses_a_bundle_still_being_recorded(tmp_path: Path) -> None:
    """``redact --in-place`` swapped a bundle out from under its live recorder, which went on
    writing into the removed files: a demo run redacted mid-way kept 21,491 of its 121,507
    events, exit 0 (found by review cli21). An unclosed bundle is refused in place; the
    recorder then closes it whole, and a copy (``-o``) is made as before."""
    from rollout_trace_sdk.record import open_rollout

    secret = TWELVE["sk_proj"]

    async def record() -> Path:
        async with open_rollout(tmp_path / "traces", redact=False) as rollout:
            assert rollout.bundle_dir is not None
            async with rollout.root.turn() as turn:
                user = {"role": "user", "content": [{"type": "input_text", "text": secret}]}
                turn.accept({"type": "message", **user})
            await rollout.flush()
            before = all_bytes(rollout.bundle_dir)
            code, _, err = run("redact", rollout.bundle_dir, "--in-place")
            assert (
                code == 1
                and "was not closed by its recorder (recording: still being recorded" in err
            )
            assert "-o DIR" in err and all_bytes(rollout.bundle_dir) == before
            code, _, err = run("redact", rollout.bundle_dir, "-o", tmp_path / "copy")
            assert code == 0, err
        return rollout.bundle_dir

    bundle = anyio.run(record)
    last = (bundle / "trace.jsonl").read_bytes().splitlines()[-1]
    assert orjson.loads(last)["payload"]["type"] == "recording_completed"
    code, _, err = run("redact", bundle, "--in-place")  # closed now: replaced
    assert code == 0, err
    assert secret.encode() not in all_bytes(bundle)


def test_in_place_refuses_a_bundle_a_killed_recorder_left(tmp_path: Path) -> None:
    """A live recorder and a killed one leave the same log (no ``recording_completed``):
    neither is replaced in place; the message says how to redact it (a copy)."""
    bundle = record_demo(tmp_path)
    log = bundle / "trace.jsonl"
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:-1]))
    before = all_bytes(bundle)
    with pytest.raises(RedactBundleError, match="not closed by its recorder"):
        redact_bundle(bundle, in_place=True)
    assert all_bytes(bundle) == before
    assert redact_bundle(bundle, tmp_path / "copy").output == tmp_path / "copy"


def test_the_count_line_says_files_written_not_files_with_secrets(tmp_path: Path) -> None:
    """``2 secrets redacted in 75 files`` (newuser26, two secrets planted in one payload of a
    schema-2 bundle) read as secrets spread over 75 files: 75 is every file the copy wrote.
    The line now says the secrets, then the files checked; one secret is ``1 secret``."""
    from tests.reduce.test_bundle import make_bundle

    bundle = make_bundle(tmp_path)
    (bundle / "payloads" / "2.json").write_bytes(
        b'{"type": "x", "note": "OPENAI_API_KEY=%s"}' % SECRETS["sk_proj"].encode()
    )
    code, out, err = run("redact", bundle, "-o", tmp_path / "clean")
    assert code == 0, err
    # the manifest, the log and two payloads (the copy adds a third: the counts)
    assert re.fullmatch(r"1 secret redacted \(\w+ 1\); 4 files checked", out.splitlines()[1]), out
    record = record_demo(tmp_path / "demo")
    plant(record)
    code, out, err = run("redact", record, "-o", tmp_path / "clean2")
    assert code == 0, err
    line = out.splitlines()[1]
    assert re.fullmatch(r"\d+ secrets redacted \(.+\); \d+ files checked", line), line


def test_a_manifest_codex_reads_past_orjson_is_redacted(tmp_path: Path) -> None:
    """An unknown manifest field holding bytes that are not UTF-8 is skipped unread by
    Codex's manifest reader (serde's ``ignore_str``), and ``reduce`` now reads past it too
    (fuzz26); ``redact`` said the manifest was "not a JSON object" and refused the bundle."""
    bundle = record_demo(tmp_path)
    manifest = bundle / "manifest.json"
    raw = manifest.read_bytes().rstrip()
    assert raw.endswith(b"}")
    manifest.write_bytes(raw[:-1] + b',"zz_extra":"\xc3("}\n')
    before = state_of(bundle)
    code, _, err = run("redact", bundle, "-o", tmp_path / "copy")
    assert code == 0, err
    assert state_of(tmp_path / "copy") == before


def test_the_report_of_a_schema2_copy_takes_a_number_no_payload_file_has(tmp_path: Path) -> None:
    """The redaction report's payload file is numbered past every ``N.json`` of the payloads
    directory, not only past the ids the log cites: a file no event cites (``3.json`` here,
    holding a secret) is redacted and kept, and the report goes to ``4.json`` (numbered past
    the cited ids alone, it met ``3.json`` and the copy failed: 'File exists')."""
    from tests.reduce.test_bundle import make_bundle

    bundle = make_bundle(tmp_path)
    stray = orjson.dumps({"password": "hunter2hunter2"}, option=orjson.OPT_INDENT_2)
    (bundle / "payloads" / "3.json").write_bytes(stray)
    report = redact_bundle(bundle, tmp_path / "clean")
    assert report.total == 1
    clean = tmp_path / "clean"
    assert sorted(os.listdir(clean / "payloads")) == ["1.json", "2.json", "3.json", "4.json"]
    assert b"hunter2" not in (clean / "payloads" / "3.json").read_bytes()
    assert b"redacted 1 secret in this trace" in (clean / "payloads" / "4.json").read_bytes()
    assert b'"path":"payloads/4.json"' in (clean / "trace.jsonl").read_bytes()


def test_a_second_signal_during_the_clean_up_leaves_no_work_directory(
    tmp_path: Path, demo_bundle: Path, monkeypatch: pytest.MonkeyPatch, signalled_twice: Any
) -> None:
    """As for ``convert``: a second signal while an interrupted copy was being removed
    (``timeout`` signals the command and its process group; Ctrl-C twice) left the hidden
    work directory half removed (found by review user35)."""
    from rollout_trace_sdk import redact_bundle as module

    source = tmp_path / "bundle"
    shutil.copytree(demo_bundle, source)
    monkeypatch.setattr(module, "_copy", signalled_twice)
    with pytest.raises(KeyboardInterrupt):
        redact_bundle(source, tmp_path / "out")
    assert os.listdir(tmp_path) == ["bundle"]
