"""Hostile bundles through the real CLI, in a subprocess with a timeout: every command ends with
a clear error (never a hang, a traceback or "internal error") and reads nothing outside.

Each case here was found by adversarial testing and failed (hung, read outside, or crashed)
before the confined reader.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.codex_oracle import needs_codex, run_codex
from tests.conftest import conformance_bundles, needs_conformance
from tests.reduce.test_bundle import make_bundle

#: Generous: a hang is what we look for, and the machine is shared.
TIMEOUT = 120
COMMANDS = (
    ("reduce",),
    ("reduce", "--lenient"),
    ("validate",),
    ("summary",),
)


def cli(*argv: str | Path, cwd: Path | None = None) -> tuple[int, str]:
    """Run ``python -m rollout_trace_sdk``; returns (exit code, stdout + stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "ROLLOUT_TRACE_DEBUG"}
    done = subprocess.run(
        [sys.executable, "-m", "rollout_trace_sdk", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd,
        env=env,
    )
    return done.returncode, done.stdout + done.stderr


def assert_clean_refusal(code: int, text: str) -> None:
    assert code in (1, 2), text
    assert "Traceback" not in text and "internal error" not in text, text


def _run(command: tuple[str, ...], bundle: Path, tmp_path: Path) -> tuple[int, str]:
    if command[0] == "reduce":
        return cli(*command, bundle, "-o", tmp_path / "out.json")
    return cli(*command, bundle)


def _single_exec(tmp_path: Path) -> Path:
    source = next(b for b in conformance_bundles() if b.parent.name == "single_exec")
    bundle = tmp_path / "bundle"
    shutil.copytree(source, bundle)
    (bundle / "expected_state.json").unlink(missing_ok=True)
    return bundle


@pytest.mark.parametrize("name", ["manifest.json", "trace.jsonl", "payloads/1.json"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_fifo_in_the_bundle_never_hangs(
    tmp_path: Path, name: str, command: tuple[str, ...]
) -> None:
    bundle = make_bundle(tmp_path)
    (bundle / name).unlink()
    os.mkfifo(bundle / name)
    code, text = _run(command, bundle, tmp_path)
    assert_clean_refusal(code, text)
    assert "FIFO" in text and name in text


@pytest.mark.parametrize("name", ["manifest.json", "trace.jsonl"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_symlink_out_of_the_bundle_is_never_followed(
    tmp_path: Path, name: str, command: tuple[str, ...]
) -> None:
    bundle = make_bundle(tmp_path)
    outside = tmp_path / f"outside-{name}"
    (bundle / name).rename(outside)
    os.symlink(outside, bundle / name)
    code, text = _run(command, bundle, tmp_path)
    assert_clean_refusal(code, text)
    assert "symlink" in text and name in text


def test_a_nul_byte_in_a_payload_path_is_a_clear_error(tmp_path: Path) -> None:
    from tests.reduce.test_bundle import event_lines

    lines = event_lines().replace(b'"payloads/1.json"', b'"payloads/1.json\\u0000x"')
    bundle = make_bundle(tmp_path, lines)
    for command in COMMANDS:
        code, text = _run(command, bundle, tmp_path)
        if "--lenient" in command:
            # a path no file can have is passed over as a missing file is, and said (fuzz26)
            assert code == 0 and "Traceback" not in text, text
            assert "skipped" in text
        else:
            assert_clean_refusal(code, text)
        assert "NUL" in text and "raw_payload:1" in text


def _with_extra_field(bundle: Path, extra: str) -> None:
    log = bundle / "trace.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    lines[0] = lines[0].rstrip(b"\n")[:-1] + b',"extra":' + extra.encode() + b"}\n"
    log.write_bytes(b"".join(lines))


@needs_conformance
def test_a_5000_digit_integer_is_accepted_as_codex_does(tmp_path: Path) -> None:
    bundle = _single_exec(tmp_path)
    _with_extra_field(bundle, "9" * 5000)
    (bundle / "payloads" / "1.json").write_bytes(b'{"x": -' + b"7" * 5000 + b"}")
    code, text = cli("reduce", bundle, "-o", tmp_path / "ours.json")
    assert code == 0, text


@needs_codex
@needs_conformance
def test_a_5000_digit_integer_reduces_to_codexs_bytes(tmp_path: Path) -> None:
    bundle = _single_exec(tmp_path)
    _with_extra_field(bundle, "9" * 5000)
    (bundle / "payloads" / "1.json").write_bytes(b'{"x": -' + b"7" * 5000 + b"}")
    assert run_codex(bundle, tmp_path / "codex.json").returncode == 0
    assert cli("reduce", bundle, "-o", tmp_path / "ours.json")[0] == 0
    assert (tmp_path / "ours.json").read_bytes() == (tmp_path / "codex.json").read_bytes()


#: Codex 0.169.0's text for a payload nested 128 levels or more (serde_json's recursion limit),
#: read from the real binary.
_TOO_DEEP = (
    "Error: parse payload raw_payload:4\n\nCaused by:\n"
    "    recursion limit exceeded at line 1 column 128"
)


@needs_conformance
@pytest.mark.parametrize("depth", [128, 200, 100_000])
def test_a_payload_nested_too_deeply_is_refused_with_serdes_text(
    tmp_path: Path, depth: int
) -> None:
    bundle = _single_exec(tmp_path)
    (bundle / "payloads" / "4.json").write_bytes(b"[" * depth + b"]" * depth)
    code, text = cli("reduce", "bundle", "-o", tmp_path / "ours.json", cwd=tmp_path)
    assert code == 1
    assert text.startswith(_TOO_DEEP + "\n"), text


@needs_codex
@needs_conformance
@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 127 + b"]" * 127,
        b"[" * 200 + b"]" * 200,
        b'{"a": \n' * 130 + b"1" + b"}" * 130,
        b'{"x":"[[[[", "a":' + b'[{"b":' * 70 + b"1" + b"}]" * 70 + b"}",
    ],
    ids=["127", "200", "objects-by-line", "mixed-with-strings"],
)
def test_nesting_limit_matches_codex(tmp_path: Path, payload: bytes) -> None:
    bundle = _single_exec(tmp_path)
    (bundle / "payloads" / "4.json").write_bytes(payload)
    codex = run_codex(bundle, tmp_path / "codex.json", schema=2)
    assert codex.returncode == 1
    code, text = cli("reduce", bundle, "-o", tmp_path / "ours.json")
    assert code == 1
    assert text.startswith(codex.stderr.decode().rstrip("\n") + "\n")


# --- found by the crafted fuzz cases, checked against Codex 0.169.0 ------------------------------


def _after_completion(bundle: Path, line: bytes) -> None:
    with (bundle / "trace.jsonl").open("ab") as log:
        log.write(line)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"garbage\n", "Error: trace event after recording completed"),
        (b"x" * 100_000, "Error: trace event after recording completed"),
        (
            b"\xff\xfe\n",
            "Error: read trace event line 7\n\nCaused by:\n    stream did not contain valid UTF-8",
        ),
        (b" \t\n\n", None),
    ],
    ids=["garbage", "torn-garbage", "not-utf8", "blank"],
)
def test_a_line_after_recording_completed_is_refused_before_it_is_parsed(
    tmp_path: Path, line: bytes, expected: str | None
) -> None:
    bundle = make_bundle(tmp_path)
    _after_completion(bundle, line)
    code, text = cli("reduce", bundle, "-o", tmp_path / "s.json")
    if expected is None:
        assert code == 0, text
    else:
        assert code == 1 and text.startswith(expected + "\n"), text


@needs_codex
@needs_conformance
@pytest.mark.parametrize("line", [b"garbage\n", b"\xff\n", b"{}\n"])
def test_a_line_after_recording_completed_matches_codex(tmp_path: Path, line: bytes) -> None:
    bundle = _single_exec(tmp_path)
    _after_completion(bundle, line)
    codex = run_codex(bundle, tmp_path / "codex.json", schema=2)
    code, text = cli("reduce", bundle, "-o", tmp_path / "ours.json")
    assert (code, codex.returncode) == (1, 1)
    assert text.startswith(codex.stderr.decode().rstrip("\n") + "\n")


@needs_conformance
@pytest.mark.parametrize(
    ("literal", "cause"),
    [
        (b"3" * 5_000, "number out of range at line 1 column 5026"),
        (b"1e400", "number out of range at line 1 column 31"),
        (b"18446744073709551616", "invalid type: floating point `1.8446744073709552e+19`"),
    ],
)
def test_a_number_beyond_f64_in_a_typed_field_is_out_of_range(
    tmp_path: Path, literal: bytes, cause: str
) -> None:
    bundle = _single_exec(tmp_path)
    log = bundle / "trace.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"seq":3', b'"seq":' + literal)
    log.write_bytes(b"".join(lines))
    code, text = cli("reduce", bundle, "-o", tmp_path / "ours.json")
    assert code == 1
    assert text.startswith(f"Error: parse trace event line 3\n\nCaused by:\n    {cause}"), text


@needs_codex
@needs_conformance
@pytest.mark.parametrize("literal", [b"3" * 5_000, b"1e400", b"-1e400", b"18446744073709551616"])
def test_numbers_in_typed_fields_match_codex(tmp_path: Path, literal: bytes) -> None:
    bundle = _single_exec(tmp_path)
    log = bundle / "trace.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"seq":3', b'"seq":' + literal)
    log.write_bytes(b"".join(lines))
    codex = run_codex(bundle, tmp_path / "codex.json", schema=2)
    code, text = cli("reduce", bundle, "-o", tmp_path / "ours.json")
    assert (code, codex.returncode) == (1, 1)
    assert text.startswith(codex.stderr.decode().rstrip("\n") + "\n")


def test_summary_of_a_state_that_is_a_fifo_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "state.json")
    code, text = cli("summary", tmp_path / "state.json")
    assert_clean_refusal(code, text)
    assert "not a regular file" in text


# --- values nobody reads: serde's ignore_value, not its Value parser ------------------------------

_SKIPPED = {
    "trailing-comma-list": (b"[1,]", "expected value"),
    "trailing-comma-map": (b'{"a":1,}', "key must be a string"),
    "lone-surrogate": (b'"\\ud800"', None),
    "nested-100000": (b"[" * 100_000 + b"]" * 100_000, None),
    "bad-escape": (b'"a\\qb"', "invalid escape"),
}


def _skipped_value_bundles(tmp_path: Path, value: bytes) -> tuple[Path, Path]:
    """The value in an unknown field of an event line, and as a payload only the final check
    reads (raw_payload:2, a protocol event)."""
    in_line = make_bundle(tmp_path / "line")
    lines = (in_line / "trace.jsonl").read_bytes().splitlines(keepends=True)
    lines[0] = lines[0].rstrip(b"\n")[:-1] + b',"extra":' + value + b',"z":1}\n'
    (in_line / "trace.jsonl").write_bytes(b"".join(lines))
    in_payload = make_bundle(tmp_path / "payload")
    (in_payload / "payloads" / "2.json").write_bytes(value)
    return in_line, in_payload


@pytest.mark.parametrize("name", sorted(_SKIPPED))
def test_values_serde_only_skips_follow_ignore_rules(tmp_path: Path, name: str) -> None:
    value, error = _SKIPPED[name]
    for bundle in _skipped_value_bundles(tmp_path, value):
        code, text = cli("reduce", bundle, "-o", tmp_path / "s.json")
        if error is None:
            assert code == 0, text
        else:
            assert code == 1 and f"    {error} at line 1 column" in text, text


@needs_codex
@needs_conformance
@pytest.mark.parametrize("name", sorted(_SKIPPED))
def test_values_serde_only_skips_match_codex(tmp_path: Path, name: str) -> None:
    value = _SKIPPED[name][0]
    source = _single_exec(tmp_path)
    for where in ("line", "payload"):
        bundle = tmp_path / where
        shutil.copytree(source, bundle)
        if where == "line":
            log = bundle / "trace.jsonl"
            lines = log.read_bytes().splitlines(keepends=True)
            lines[0] = lines[0].rstrip(b"\n")[:-1] + b',"extra":' + value + b"}\n"
            log.write_bytes(b"".join(lines))
        else:
            (bundle / "payloads" / "2.json").write_bytes(value)
        codex = run_codex(bundle, tmp_path / f"{where}-codex.json", schema=2)
        code, text = cli("reduce", bundle, "-o", tmp_path / f"{where}-ours.json")
        assert code == codex.returncode, (where, text, codex.stderr)
        if code == 0:
            ours = (tmp_path / f"{where}-ours.json").read_bytes()
            assert ours == (tmp_path / f"{where}-codex.json").read_bytes()
        else:
            assert text.startswith(codex.stderr.decode().rstrip("\n") + "\n"), where


def test_a_payload_only_checked_at_the_end_must_be_utf8(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    (bundle / "payloads" / "2.json").write_bytes(b'"\xff"')
    code, text = cli("reduce", bundle, "-o", tmp_path / "s.json")
    assert code == 1
    assert text.startswith(
        "Error: read payload raw_payload:2\n\nCaused by:\n    stream did not contain valid UTF-8\n"
    )
