"""OS errors worded as Codex words them: Rust's ``(os error N)`` after musl's text, not glibc's."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.reduce.bundle import Bundle
from rollout_trace_sdk.reduce.errors import ReduceError
from rollout_trace_sdk.reduce.os_errors import _MUSL_TEXTS, os_error_text, strerror
from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin

from .test_bundle import make_bundle


def test_musl_words_differ_from_glibcs_where_they_differ() -> None:
    assert strerror(errno.ENAMETOOLONG) == "Filename too long"
    assert strerror(errno.ELOOP) == "Symbolic link loop"
    assert strerror(errno.EAGAIN) == "Resource temporarily unavailable"
    assert strerror(errno.ENOENT) == "No such file or directory"
    assert strerror(100_000) == "No error information"
    exc = OSError(errno.ENAMETOOLONG, "File name too long")
    assert os_error_text(exc) == f"Filename too long (os error {errno.ENAMETOOLONG})"


@pytest.mark.parametrize("schema", [2, 3])
def test_every_text_is_one_the_codex_binary_carries(schema: int) -> None:
    """The table is musl's as linked into Codex: each text is in the binary's string table."""
    binary = codex_bin(schema)
    if binary is None:
        pytest.skip(f"no Codex binary for schema {schema}")
    data = Path(binary).read_bytes()
    missing = [text for _, text in _MUSL_TEXTS if b"\x00" + text.encode() + b"\x00" not in data]
    assert not missing


def test_a_payload_path_past_the_name_limit_fails_as_codex_says(tmp_path: Path) -> None:
    root = make_bundle(tmp_path)
    ref = ev.RawPayloadRef("raw_payload:1", "session_metadata", "payloads/" + "x" * 300)
    with pytest.raises(ReduceError) as info:
        Bundle.open(root).load_payload(ref)
    assert info.value.cause == f"Filename too long (os error {errno.ENAMETOOLONG})"


def test_codex_reduces_a_bundle_citing_a_too_long_name_to_the_same_error(tmp_path: Path) -> None:
    binary = codex_bin(2)
    if binary is None:
        pytest.skip("no Codex binary for schema 2")
    root = make_bundle(tmp_path)
    log = root / "trace.jsonl"
    log.write_bytes(
        log.read_bytes().replace(b'"payloads/1.json"', b'"payloads/' + b"y" * 300 + b'"')
    )
    result = reduce_and_compare(root, binary, timeout=60)
    assert result.same_text, result.explain()
    assert result.error is not None and "Filename too long (os error 36)" in str(result.error.cause)
