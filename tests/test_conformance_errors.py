"""Every broken bundle of ``_errors/`` fails with Codex's exact text, or reduces to Codex's state.

Deliberate differences (we refuse what Codex follows, or we say more than Codex does) are listed
in ``OURS`` with the text we print instead.
"""

from __future__ import annotations

import json

import pytest

from rollout_trace_sdk.model.state import state_bytes
from rollout_trace_sdk.reduce import ReduceError, reduce_bundle
from tests.conftest import CONFORMANCE, needs_conformance

ERRORS = CONFORMANCE / "_errors"
CASES = (
    sorted(p.name for p in ERRORS.iterdir() if (p / "result.json").is_file())
    if (ERRORS.is_dir())
    else []
)

_REFUSED = "bundle files are read only as regular files inside the bundle"
#: case -> (headline, a fragment of our cause) where we deliberately differ from Codex.
OURS: dict[str, tuple[str, str]] = {
    "payload_path_traversal": ("open payload raw_payload:4", "'../../etc/passwd'"),
    "payload_absolute_path": ("open payload raw_payload:4", "'/etc/hostname'"),
    "payload_path_outside_bundle": ("open payload raw_payload:4", "'../outside.json'"),
    "missing_manifest": ("read bundle/manifest.json", "No such file or directory (os error 2)"),
}


def _outcome() -> tuple[str, ReduceError | bytes]:
    """Run on the relative path ``bundle`` (from the case directory), as Codex was run."""
    try:
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
    kind, got = _outcome()

    if case in OURS:
        headline, fragment = OURS[case]
        assert isinstance(got, ReduceError), f"{case}: expected our refusal, got {kind}"
        assert got.message == headline
        assert got.cause is not None and fragment in got.cause
        if case.startswith("payload_"):
            assert _REFUSED in got.cause
        return

    if result["exit_code"] != 0:
        expected = (case_dir / "expected_error.txt").read_text().rstrip("\n")
        assert isinstance(got, ReduceError), f"{case}: Codex fails, we returned a state"
        assert _codex_text(got) == expected
        return

    if kind == "error":
        raise AssertionError(f"{case}: Codex accepts, we fail with {got!r}")
    assert got == (case_dir / "reduced_state.json").read_bytes()


@needs_conformance
def test_every_case_is_covered() -> None:
    """The corpus and this test agree on which cases exist (35 as of Codex 0.169.0)."""
    assert len(CASES) >= 35
    assert set(OURS) <= set(CASES)
