"""``rollout-trace redact``: a redacted copy keeps no planted secret and still reduces, with our
reducer and with Codex 0.169, to the same state."""

from __future__ import annotations

import functools
import io
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
from rollout_trace_sdk.redact_bundle import RedactBundleError, redact_bundle
from rollout_trace_sdk.reduce import ReduceError, reduce_bundle
from tests.codex_oracle import codex_bin, codex_reduce, needs_codex
from tests.conftest import (
    CONFORMANCE_V3,
    conformance_bundles,
    needs_conformance,
    needs_conformance_v3,
)
from tests.planted_secrets import TWELVE

SECRETS = TWELVE


def run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _demo(tmp_path: Path) -> Path:
    code, out, _ = run("demo", "--out", tmp_path / "demo")
    assert code == 0
    return Path(out.splitlines()[0])


def plant(bundle: Path) -> None:
    """Put the secrets where a careless agent would: a tool's output, a tool result dict, a
    tool call's arguments (payload and the log line's input preview)."""
    s = SECRETS
    text = (
        f"$ env\nOPENAI_API_KEY={s['sk_proj']}\nANTHROPIC_API_KEY={s['sk_ant']}\n"
        f"aws_access_key_id,aws_secret_access_key\n{s['aws_id']},{s['aws_secret']}\n"
        f"Cookie: session={s['session_cookie']}; csrftoken={s['csrf_cookie']}\n"
        f"Set-Cookie: id={s['set_cookie']}; Path=/; HttpOnly\n"
        f"GITHUB_TOKEN={s['github']}\n"
    )
    planted_output = planted_args = False
    for path in sorted((bundle / "payloads").iterdir(), key=lambda p: int(p.stem)):
        doc = orjson.loads(path.read_bytes())
        item: Any = doc.get("response_item") if isinstance(doc, dict) else None
        invoked = doc.get("payload") if isinstance(doc, dict) and "tool_name" in doc else None
        if not planted_output and _is(item, "function_call_output"):
            item["output"] = f"{item['output']}\n{text}"
            doc["metadata"] = {"api_key": s["api_key_field"], "db": {"password": s["password"]}}
            planted_output = True
        elif not planted_args and isinstance(invoked, dict) and "arguments" in invoked:
            invoked["arguments"] = _arguments()
            planted_args = True
        else:
            continue
        path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    assert planted_output and planted_args
    log = bundle / "trace.jsonl"
    lines = log.read_bytes().splitlines()
    for i, raw in enumerate(lines):
        line = orjson.loads(raw)
        if line["payload"]["type"] == "tool_call_started":
            line["payload"]["summary"]["input_preview"] = _arguments()[:160]
            lines[i] = orjson.dumps(line)
            break
    log.write_bytes(b"\n".join(lines) + b"\n")


def _arguments() -> str:
    return orjson.dumps({"cmd": _curl(), "api_key": SECRETS["api_key_arg"]}).decode()


def _curl() -> str:
    return f'curl -H "Authorization: Bearer {SECRETS["bearer"]}" https://api.example.com/v1'


def _is(doc: Any, kind: str) -> bool:
    return isinstance(doc, dict) and doc.get("type") == kind and isinstance(doc.get("output"), str)


def _all_bytes(bundle: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(bundle.rglob("*")) if p.is_file())


def _state(bundle: Path) -> bytes:
    from rollout_trace_sdk.model.state import state_bytes

    return state_bytes(reduce_bundle(bundle))


def test_planted_secrets_land_before_and_not_after(tmp_path: Path) -> None:
    bundle = _demo(tmp_path)
    plant(bundle)
    before = _all_bytes(bundle)
    assert all(secret.encode() in before for secret in SECRETS.values())
    _state(bundle)  # the planted bundle is healthy

    code, out, err = run("redact", bundle, "-o", tmp_path / "clean")
    assert code == 0, err
    clean = tmp_path / "clean"
    assert out.splitlines()[0] == str(clean)
    after = _all_bytes(clean)
    leaked = [name for name, secret in SECRETS.items() if secret.encode() in after]
    assert leaked == []
    assert _all_bytes(bundle) == before  # the source is untouched
    state = orjson.loads(_state(clean))
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
    bundle = _demo(tmp_path)
    plant(bundle)
    report = redact_bundle(bundle, tmp_path / "once")
    assert report.total >= len(SECRETS)
    for path in [tmp_path / "once", *(tmp_path / "once").rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    again = redact_bundle(tmp_path / "once", tmp_path / "twice")
    assert again.total == 0 and not again.recorded
    assert _all_bytes(tmp_path / "once") == _all_bytes(tmp_path / "twice")


def test_in_place_replaces_the_bundle(tmp_path: Path) -> None:
    bundle = _demo(tmp_path)
    plant(bundle)
    code, _, err = run("redact", bundle, "--in-place")
    assert code == 0, err
    after = _all_bytes(bundle)
    assert not any(secret.encode() in after for secret in SECRETS.values())
    assert sorted(p.name for p in bundle.parent.iterdir()) == [bundle.name]  # no leftovers
    _state(bundle)


def test_a_signal_while_the_old_copy_is_removed_leaves_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM as ``--in-place`` removed the old copy: the unredacted copy stayed hidden
    beside the bundle, and the command said "terminated" (found by review). The swap and
    the removal finish first; the signal still ends the command after them."""
    import signal

    bundle = _demo(tmp_path)
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
    after = _all_bytes(bundle)
    assert not any(secret.encode() in after for secret in SECRETS.values())


def test_refusals_leave_everything_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = _demo(tmp_path)
    before = _all_bytes(bundle)
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
    assert _all_bytes(bundle) == before
    log = bundle / "trace.jsonl"
    log.rename(tmp_path / "log.jsonl")
    log.symlink_to(tmp_path / "log.jsonl")
    code, _, err = run("redact", bundle, "-o", tmp_path / "clean")
    assert code == 1 and "trace.jsonl" in err and "symlink" in err
    log.unlink()
    (tmp_path / "log.jsonl").rename(log)
    assert _all_bytes(bundle) == before
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
    bundle = _demo(tmp_path)
    plant(bundle)
    assert redact_bundle(bundle, tmp_path / "clean").recorded
    ok, stderr, state = codex_reduce(tmp_path / "clean")
    assert ok, stderr
    assert state == orjson.loads(_state(tmp_path / "clean"))


@needs_conformance
@pytest.mark.parametrize("bundle", conformance_bundles(), ids=lambda b: b.parent.name)
def test_corpus_bundles_still_reduce_after_redaction(bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    report = redact_bundle(copy, tmp_path / "clean")
    state = _state(tmp_path / "clean")
    if not report.total:  # nothing to redact: the very same state as before
        assert state == _state(copy)
    if codex_bin() is not None:
        ok, stderr, codex_state = codex_reduce(tmp_path / "clean")
        assert ok, stderr
        assert codex_state == orjson.loads(state)


def test_resent_items_still_link_after_redaction(tmp_path: Path) -> None:
    """The same secret becomes the same placeholder in every copy of a resent message, so the
    redacted bundle reduces to the very graph the original did, text aside."""
    bundle = _demo(tmp_path)
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
        re.findall(rb"\[REDACTED:sk_key:[0-9a-f]{8}\]", _all_bytes(tmp_path / "clean"))
    )
    assert len(placeholders) == 1
    [placeholder] = placeholders
    clean = orjson.loads(_state(tmp_path / "clean"))
    original = orjson.loads(_state(bundle).replace(secret, placeholder))
    # the one difference: the redaction summary's payload
    summary = orjson.loads((tmp_path / "clean" / "trace.jsonl").read_bytes().splitlines()[-2])
    del clean["raw_payloads"][summary["payload"]["event_payload"]["raw_payload_id"]]
    assert clean == original


_V3 = conformance_bundles(CONFORMANCE_V3)


@needs_conformance_v3
@pytest.mark.parametrize("bundle", _V3, ids=[b.parent.name for b in _V3])
def test_schema_3_corpus_bundles_still_reduce_after_redaction(bundle: Path, tmp_path: Path) -> None:
    """Shards are decompressed, redacted record by record and written back: nothing in the
    corpus is a secret, so the state is the very same, with our reducer and Codex 0.171."""
    report = redact_bundle(bundle, tmp_path / "clean")
    assert report.total == 0
    state = _state(tmp_path / "clean")
    assert state == _state(bundle)
    if codex_bin(3) is not None:
        ok, stderr, codex_state = codex_reduce(tmp_path / "clean")
        assert ok, stderr
        assert codex_state == orjson.loads(state)


def _record_v3(root: Path, **options: Any) -> Path:
    from tests.record.test_recorder_redaction import record

    return anyio.run(functools.partial(record, root, 3, redact=False, **options))


def test_schema_3_planted_secrets_are_redacted_and_items_still_link(tmp_path: Path) -> None:
    from tests.record.test_recorder_redaction import SECRETS as PLANTED
    from tests.record.test_recorder_redaction import bundle_files, found, linked

    bundle = _record_v3(tmp_path / "rec")
    assert set(found(bundle_files(bundle))) == set(PLANTED)
    report = redact_bundle(bundle, tmp_path / "clean")
    assert report.recorded and report.total >= len(PLANTED)
    files = bundle_files(tmp_path / "clean")
    assert found(files) == {}
    for name, data in files.items():
        assert (tmp_path / "clean" / name).stat().st_mode & 0o777 == 0o600
        assert not name.endswith(".zst") or data  # shards hold records
    clean = orjson.loads(_state(tmp_path / "clean"))
    assert linked(clean) == linked(orjson.loads(_state(bundle)))
    if codex_bin(3) is not None:
        ok, stderr, codex_state = codex_reduce(tmp_path / "clean")
        assert ok, stderr
        assert codex_state == clean


def test_schema_3_truncated_bodies_state_their_new_length(tmp_path: Path) -> None:
    """Redaction changes a truncated body's length: the references citing it are updated,
    so both reducers still find ``retained_bytes`` equal to what is stored."""
    bundle = _record_v3(tmp_path / "rec", max_payload_bytes=300)
    assert b'"status":"truncated"' in (bundle / "trace.jsonl").read_bytes()
    report = redact_bundle(bundle, tmp_path / "clean")
    assert report.total
    retained = re.compile(rb'"retained_bytes":(\d+)')
    before = retained.findall((bundle / "trace.jsonl").read_bytes())
    after = retained.findall((tmp_path / "clean" / "trace.jsonl").read_bytes())
    assert len(before) == len(after) and before != after  # some bodies changed length
    assert orjson.loads(_state(tmp_path / "clean"))["threads"]
    if codex_bin(3) is not None:
        ok, stderr, _ = codex_reduce(tmp_path / "clean")
        assert ok, stderr


def test_a_truncated_body_that_grows_past_its_original_size_stays_readable(
    tmp_path: Path,
) -> None:
    """Placeholders are longer than the keys they replace: a prefix cut a few bytes short of
    its whole grew past ``original_bytes``, and both reducers refused the redacted bundle
    ("invalid retained length"; found by review)."""
    import json

    from rollout_trace_sdk.record import open_rollout

    async def record() -> Path:
        out = "AKIAZ7QW3RTY5UIOP2AS " * 8 + "z" * (1000 - 8 * 21 + 3)
        async with (
            open_rollout(
                tmp_path / "rec", schema_version=3, max_payload_bytes=1000, redact=False
            ) as rollout,
            rollout.root.turn() as turn,
            turn.tool_call("c1", "exec_command", arguments=json.dumps({})) as tool,
        ):
            tool.completed({"type": "function_call_output", "call_id": "c1", "output": out})
        assert rollout.bundle_dir is not None
        return Path(rollout.bundle_dir)

    bundle = anyio.run(record)
    redact_bundle(bundle, tmp_path / "clean")
    sizes = re.findall(
        rb'"original_bytes":(\d+),"retained_bytes":(\d+)',
        (tmp_path / "clean" / "trace.jsonl").read_bytes(),
    )
    assert sizes and all(int(kept) < int(whole) for whole, kept in sizes)
    assert orjson.loads(_state(tmp_path / "clean"))["recording_status"]
    if codex_bin(3) is not None:
        ok, stderr, _ = codex_reduce(tmp_path / "clean")
        assert ok, stderr


def test_a_corrupt_shard_is_refused_naming_it(tmp_path: Path) -> None:
    bundle = _record_v3(tmp_path / "rec")
    shard = next((bundle / "payloads").glob("*.zst"))
    shard.write_bytes(b"not zstd at all")
    code, _, err = run("redact", bundle, "-o", tmp_path / "clean")
    assert code == 1 and shard.name in err and "zstd" in err
    assert not (tmp_path / "clean").exists()


def test_a_stray_file_named_like_a_shard_is_not_a_second_shard(tmp_path: Path) -> None:
    """Codex opens ``000001.zst``; a ``1.zst`` beside it was taken for shard 1 again and the
    command failed with "File exists" (found by review). It is a stray file as any other."""
    bundle = _record_v3(tmp_path / "rec")
    shutil.copy(bundle / "payloads" / "000001.zst", bundle / "payloads" / "1.zst")
    report = redact_bundle(bundle, tmp_path / "clean")
    assert report.not_copied == ("payloads/1.zst",)
    assert orjson.loads(_state(tmp_path / "clean"))["threads"]  # the real shard 1 reads


def test_a_record_cut_short_at_a_shards_end_is_named(tmp_path: Path) -> None:
    """A crash while a record was written leaves part of it at the shard's end: the copy
    left it out without a word (found by review)."""
    import zstandard

    from rollout_trace_sdk.model.layout import SHARD_RECORD_HEADER

    bundle = _record_v3(tmp_path / "rec")
    shard = max((bundle / "payloads").glob("*.zst"))
    partial = SHARD_RECORD_HEADER.pack(5, 4000) + b"raw_9" + b"x" * 40
    with shard.open("ab") as handle:
        handle.write(zstandard.ZstdCompressor().compress(partial))
    code, _, err = run("redact", bundle, "-o", tmp_path / "clean")
    assert code == 0
    assert f"note: payloads/{shard.name} ended in a record cut short (55 bytes" in err
    assert orjson.loads(_state(tmp_path / "clean"))["threads"]


def test_a_missing_shard_keeps_its_number_and_an_unfinished_one_is_named(
    tmp_path: Path,
) -> None:
    """The counts' shard took the number of a shard the log cites but the disk lacked, so
    the copy's error spoke of a missing payload instead of a missing shard; and a shard
    left unfinished by a crash was finished in the copy without a word (found by review)."""
    import zstandard

    bundle = _record_v3(tmp_path / "rec")
    shard = max((bundle / "payloads").glob("*.zst"))
    begun = zstandard.ZstdCompressor(write_checksum=True).compress(b"x" * 64)[:9]
    with shard.open("ab") as handle:
        handle.write(begun)
    code, _, err = run("redact", bundle, "-o", tmp_path / "unfinished")
    assert code == 0
    assert f"note: payloads/{shard.name} was not finished (a crash or a full disk" in err
    shard.unlink()
    report = redact_bundle(bundle, tmp_path / "missing")
    assert report.recorded
    assert not (tmp_path / "missing" / "payloads" / shard.name).exists()
    with pytest.raises(ReduceError) as info:
        reduce_bundle(tmp_path / "missing")
    assert info.value.message.startswith("open shard ")


def test_a_symlink_to_a_bundle_names_the_bundle(tmp_path: Path) -> None:
    """``reduce`` and ``convert`` follow a symlink to a bundle; ``redact`` refused it."""
    bundle = _demo(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(bundle)
    code, _, err = run("redact", link, "-o", tmp_path / "clean")
    assert code == 0, err
    assert _state(tmp_path / "clean") == _state(bundle)


def test_a_file_no_part_of_the_bundle_is_left_out_of_a_copy_and_kept_in_place(
    tmp_path: Path,
) -> None:
    """A stray file (notes, a log of the agent's run) may hold anything: copied into the
    redacted copy as it was, its secrets went wherever the copy was handed (found by review
    review20). It is left out of a copy, stays in the source, and ``--in-place`` keeps it
    (deleting it would lose it); both name it."""
    bundle = _demo(tmp_path)
    secret = "sk-proj-" + "A1b2C3d4" * 6
    (bundle / "notes.txt").write_text(f"key {secret}\n")
    code, _, err = run("redact", bundle, "-o", tmp_path / "clean")
    assert code == 0 and "left out notes.txt: not a bundle file" in err
    assert not (tmp_path / "clean" / "notes.txt").exists()
    assert secret in (bundle / "notes.txt").read_text()
    code, _, err = run("redact", bundle, "--in-place")
    assert code == 0 and "kept without redaction (not a bundle file): notes.txt" in err
    assert secret in (bundle / "notes.txt").read_text()


def test_a_viewer_page_is_left_out_not_copied(tmp_path: Path) -> None:
    """``view.html`` embeds every payload as it was: copied, the secrets survived
    ``redact --in-place`` in it (found by review)."""
    bundle = _demo(tmp_path)
    plant(bundle)
    assert main(["view", str(bundle)]) == 0
    assert (bundle / "view.html").exists()
    code, _, err = run("redact", bundle, "--in-place")
    assert code == 0 and "left out view.html" in err
    assert not (bundle / "view.html").exists()
    assert "view.html" not in err.split("left out", 1)[0]  # not "copied without redaction"


def test_an_unclosed_bundle_gets_the_counts_after_its_last_line(tmp_path: Path) -> None:
    """A recording cut short (no recording_completed) still gets its counts, appended."""
    bundle = _demo(tmp_path)
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
    assert orjson.loads(_state(tmp_path / "clean"))["threads"]
    if codex_bin() is not None:
        ok, stderr, _ = codex_reduce(tmp_path / "clean")
        assert ok, stderr


def test_blank_lines_at_the_end_stay_last_and_the_counts_go_before_them(tmp_path: Path) -> None:
    """Codex accepts blank lines at the end of the log; the counts were silently left out of
    such a bundle (found by review)."""
    bundle = _demo(tmp_path)
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
    bundle = _demo(tmp_path)
    log = bundle / "trace.jsonl"
    log.write_bytes(log.read_bytes()[:-20])  # a crash mid-line
    report = redact_bundle(bundle, tmp_path / "clean")
    assert not report.recorded
    assert (tmp_path / "clean" / "trace.jsonl").read_bytes() == log.read_bytes()
    plant(bundle)
    code, _, err = run("redact", bundle, "-o", tmp_path / "again")
    assert code == 0 and "the counts are not recorded in the bundle" in err


@needs_conformance_v3
def test_the_counts_take_an_id_no_payload_has(tmp_path: Path) -> None:
    """Payloads a size limit omitted have no record, only their id in the log: the counts'
    payload must not take one (``raw_payload:42`` was given twice, which Codex refuses)."""
    from tests.reduce.v3_bundles import copy_bundle, edit_shard

    bundle = copy_bundle("capture_total_limit_multi_step", tmp_path)
    assert b'"status":"omitted"' in (bundle / "trace.jsonl").read_bytes()
    secret = b"AKIAABCDEFGHIJKLMNOP "
    edit_shard(
        bundle,
        1,
        lambda records: {
            k: v.replace(b"Process exited", secret + b"Process exited") for k, v in records.items()
        },
    )
    cited = set(re.findall(rb'"raw_payload_id":"([^"]+)"', (bundle / "trace.jsonl").read_bytes()))
    assert redact_bundle(bundle, tmp_path / "clean").recorded
    log = (tmp_path / "clean" / "trace.jsonl").read_bytes().splitlines()
    warning = orjson.loads(log[-2])["payload"]["event_payload"]["raw_payload_id"]
    assert warning.encode() not in cited
    reduce_bundle(tmp_path / "clean")
    if codex_bin(3) is not None:
        ok, stderr, _ = codex_reduce(tmp_path / "clean")
        assert ok, stderr


def test_an_output_inside_the_bundle_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = _demo(tmp_path)
    before = _all_bytes(bundle)
    code, _, err = run("redact", bundle, "-o", bundle / "inside")
    assert code == 2 and "inside the bundle" in err
    assert _all_bytes(bundle) == before
    monkeypatch.chdir(bundle)  # "." names the bundle: the copy goes beside it, not into it
    code, printed, _ = run("redact", ".")
    assert code == 0 and printed.splitlines()[0] == f"{bundle.resolve()}-redacted"
    assert _all_bytes(bundle) == before


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
            before = _all_bytes(rollout.bundle_dir)
            code, _, err = run("redact", rollout.bundle_dir, "--in-place")
            assert code == 1 and "was not closed by its recorder (unclosed" in err
            assert "-o DIR" in err and _all_bytes(rollout.bundle_dir) == before
            code, _, err = run("redact", rollout.bundle_dir, "-o", tmp_path / "copy")
            assert code == 0, err
        return rollout.bundle_dir

    bundle = anyio.run(record)
    last = (bundle / "trace.jsonl").read_bytes().splitlines()[-1]
    assert orjson.loads(last)["payload"]["type"] == "recording_completed"
    code, _, err = run("redact", bundle, "--in-place")  # closed now: replaced
    assert code == 0, err
    assert secret.encode() not in _all_bytes(bundle)


def test_in_place_refuses_a_bundle_a_killed_recorder_left(tmp_path: Path) -> None:
    """A live recorder and a killed one leave the same log (no ``recording_completed``):
    neither is replaced in place; the message says how to redact it (a copy)."""
    bundle = _demo(tmp_path)
    log = bundle / "trace.jsonl"
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:-1]))
    before = _all_bytes(bundle)
    with pytest.raises(RedactBundleError, match="not closed by its recorder"):
        redact_bundle(bundle, in_place=True)
    assert _all_bytes(bundle) == before
    assert redact_bundle(bundle, tmp_path / "copy").output == tmp_path / "copy"
