"""reduce_and_compare against the real Codex binaries: agreement, refusals, and the messages
a failing comparison gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.reduce import ReduceError
from rollout_trace_sdk.testing import (
    ROOT_THREAD,
    BundleBuilder,
    Comparison,
    first_difference,
    reduce_and_compare,
)
from tests.codex_oracle import codex_bin, needs_codex
from tests.doc_blocks import python_blocks, run_block


def _refused_bundle(root: Path) -> Path:
    """A turn on a thread that never started: both reducers refuse it."""
    b = BundleBuilder(root)
    b.event(ev.RolloutStarted("trace-1", ROOT_THREAD))
    b.event(ev.CodexTurnStarted("turn-1", "no-such-thread"), thread="no-such-thread")
    return b.close()


@needs_codex
def test_both_refuse_with_the_same_text_even_with_rust_backtrace_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A backtrace would follow Codex's message; the helper must unset it for the child.
    monkeypatch.setenv("RUST_BACKTRACE", "1")
    result = reduce_and_compare(_refused_bundle(tmp_path / "b"), str(codex_bin(2)))
    assert result.ours is None and result.codex is None and result.error is not None
    assert result.same and result.same_text, result.explain()
    assert "backtrace" not in result.codex_stderr.lower()
    assert not (tmp_path / "b" / "state.json").exists()  # Codex wrote elsewhere


@needs_codex
def test_codexs_warning_about_its_home_is_not_part_of_its_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Codex prints a warning before its error when it cannot make its home's PATH aliases
    (a home under the temporary folder, as here; or runs at once contending for its lock,
    as the test suite's helpers did): the error texts compared unequal."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CODEX_HOME", str(home))
    result = reduce_and_compare(_refused_bundle(tmp_path / "b"), str(codex_bin(2)))
    assert result.codex_stderr.startswith("Error: "), result.codex_stderr
    assert result.same and result.same_text, result.explain()


def test_differing_states_are_explained_by_json_path(tmp_path: Path) -> None:
    result = Comparison(tmp_path, b'{"a":{"b":1}}', None, b'{"a":{"b":2}}', "", 0)
    assert not result.same
    assert "$.a.b: ours 1 != codex 2" in result.explain()


def test_a_refusal_against_a_success_is_not_the_same(tmp_path: Path) -> None:
    result = Comparison(tmp_path, None, ReduceError("boom"), b"{}", "", 0)
    assert not result.same
    assert "we refused: Error: boom" in result.explain()


def test_headline_agreement_is_not_whole_text_agreement(tmp_path: Path) -> None:
    error = ReduceError("open payload raw_payload:1", cause="our own words")
    stderr = "Error: open payload raw_payload:1\n\nCaused by:\n    No such file\n"
    result = Comparison(tmp_path, None, error, None, stderr, 1)
    assert result.same and not result.same_text


def test_first_difference_sees_key_order() -> None:
    assert (
        first_difference({"a": 1, "b": 2}, {"b": 2, "a": 1}) == "$: keys ['a', 'b'] != ['b', 'a']"
    )
    assert first_difference([1, [2, 3]], [1, [2, 4]]) == "$[1][1]: ours 3 != codex 4"


@needs_codex
def test_a_headline_holding_a_unicode_line_separator_is_one_line(tmp_path: Path) -> None:
    # Codex's message names the thread as given; U+2028 in it is no line break (str.splitlines
    # would have cut Codex's headline there and found it unlike ours)
    b = BundleBuilder(tmp_path / "b")
    b.event(ev.RolloutStarted("trace-1", ROOT_THREAD))
    b.event(ev.CodexTurnStarted("turn-1", "no\u2028thread"), thread="no\u2028thread")
    result = reduce_and_compare(b.close(), str(codex_bin(2)))
    assert result.error is not None and "no\u2028thread" in result.error.message
    assert result.same and result.same_text, result.explain()


def test_the_docs_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/testing.md's example builds a bundle that Codex 0.171 reduces as we do, with the
    binary it names as a placeholder replaced by this machine's."""
    binary = codex_bin(3)
    if binary is None:
        pytest.skip("no Codex binary for schema 3 (set CODEX3_BIN)")
    block = python_blocks()["testing.md: from rollout_trace_sdk.model import events as ev"]
    assert "/path/to/codex-0.171" in block
    monkeypatch.chdir(tmp_path)
    said = run_block(block.replace("/path/to/codex-0.171", binary), {})
    assert not said and (tmp_path / "out" / "bundle" / "manifest.json").is_file()
