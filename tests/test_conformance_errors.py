"""Every broken bundle of ``_errors/`` fails with Codex's exact text, or reduces to Codex's state.

Deliberate differences (we refuse what Codex follows, or we say more than Codex does) are listed
in ``OURS`` with the text we print instead. Cases whose outcome is decided during replay need
the reducer's ``reduce_bundle``; until it exists they are checked as far as the bundle reader
goes and skipped beyond that, saying why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.reduce.bundle import Bundle
from rollout_trace_sdk.reduce.errors import ReduceError
from tests.conftest import CONFORMANCE, needs_conformance

ERRORS = CONFORMANCE / "_errors"
CASES = (
    sorted(p.name for p in ERRORS.iterdir() if (p / "result.json").is_file())
    if (ERRORS.is_dir())
    else []
)

_REFUSED = "payloads are read only from inside the bundle"
#: case -> (headline, a fragment of our cause) where we deliberately differ from Codex.
OURS: dict[str, tuple[str, str]] = {
    "payload_path_traversal": ("open payload raw_payload:4", "'../../etc/passwd'"),
    "payload_absolute_path": ("open payload raw_payload:4", "'/etc/hostname'"),
    "payload_path_outside_bundle": ("open payload raw_payload:4", "'../outside.json'"),
    "missing_manifest": ("read bundle/manifest.json", "No such file or directory (os error 2)"),
}


def _reducer() -> Any:
    try:
        from rollout_trace_sdk.reduce import reduce_bundle
    except ImportError:
        return None
    return reduce_bundle


def _outcome(case_dir: Path) -> tuple[str, ReduceError | bytes | None]:
    """Run in the case directory on the relative path ``bundle``, as Codex was run."""
    reduce_bundle = _reducer()
    try:
        if reduce_bundle is None:
            bundle = Bundle.open("bundle")
            for _ in bundle.events():
                pass
            return "drained", None
        from rollout_trace_sdk.model.state import state_bytes

        return "reduced", state_bytes(reduce_bundle("bundle"))
    except ReduceError as exc:
        return "error", exc


def _codex_text(error: ReduceError) -> str:
    return error.codex_text()


@needs_conformance
@pytest.mark.conformance
@pytest.mark.parametrize("case", CASES)
def test_error_case_matches_codex(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case_dir = ERRORS / case
    result = json.loads((case_dir / "result.json").read_text())
    monkeypatch.chdir(case_dir)
    kind, got = _outcome(case_dir)

    if case in OURS:
        headline, fragment = OURS[case]
        if kind == "drained":
            pytest.skip("decided during replay: needs rollout_trace_sdk.reduce.reduce_bundle")
        assert isinstance(got, ReduceError), f"{case}: expected our refusal, got {kind}"
        assert got.message == headline
        assert got.cause is not None and fragment in got.cause
        if case.startswith("payload_"):
            assert _REFUSED in got.cause
        return

    if result["exit_code"] != 0:
        expected = (case_dir / "expected_error.txt").read_text().rstrip("\n")
        if kind == "drained":
            pytest.skip("decided during replay: needs rollout_trace_sdk.reduce.reduce_bundle")
        assert isinstance(got, ReduceError), f"{case}: Codex fails, we returned a state"
        assert _codex_text(got) == expected
        return

    if kind == "error":
        raise AssertionError(f"{case}: Codex accepts, we fail with {got!r}")
    if kind == "drained":
        pytest.skip("success case: comparing the state needs reduce_bundle")
    assert got == (case_dir / "reduced_state.json").read_bytes()


@needs_conformance
def test_every_case_is_covered() -> None:
    """The corpus and this test agree on which cases exist (35 as of Codex 0.169.0)."""
    assert len(CASES) >= 35
    assert set(OURS) <= set(CASES)
