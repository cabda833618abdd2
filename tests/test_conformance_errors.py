"""Every broken bundle of ``_errors/`` fails with Codex's exact text, or reduces to Codex's state.

Both corpora: ``conformance/_errors`` against Codex 0.169 (schema 2) and
``conformance-v3/_errors`` against Codex 0.171 (schema 3). Deliberate differences (we refuse
what Codex follows, we say more than Codex does, or we read a schema the other Codex refuses)
are listed in ``OURS`` with the text we print instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rollout_trace_sdk.model.state import state_bytes
from rollout_trace_sdk.reduce import ReduceError, reduce_bundle
from tests.conftest import CONFORMANCE, CONFORMANCE_V3


def _cases(corpus: Path) -> list[str]:
    errors = corpus / "_errors"
    if not errors.is_dir():
        return []
    return sorted(p.name for p in errors.iterdir() if (p / "result.json").is_file())


ERRORS = CONFORMANCE / "_errors"
ERRORS_V3 = CONFORMANCE_V3 / "_errors"
CASES = _cases(CONFORMANCE)
CASES_V3 = _cases(CONFORMANCE_V3)
ALL_CASES = [(ERRORS, c) for c in CASES] + [(ERRORS_V3, c) for c in CASES_V3]

_REFUSED = "bundle files are read only as regular files inside the bundle"
#: case -> (headline, a fragment of our cause) where we deliberately differ from Codex.
OURS: dict[str, tuple[str, str]] = {
    "payload_path_traversal": ("open payload raw_payload:4", "'../../etc/passwd'"),
    "payload_absolute_path": ("open payload raw_payload:4", "'/etc/hostname'"),
    "payload_path_outside_bundle": ("open payload raw_payload:4", "'../outside.json'"),
    "missing_manifest": ("read bundle/manifest.json", "No such file or directory (os error 2)"),
    # A 0.169 bundle relabelled 3: we read schema 3 (as 0.171 does, v3.md §15), whose references
    # carry a shard; these carry a path only, so they count as omitted.
    "schema_v3": ("payload omitted by size limit", ""),
}
#: The same for ``conformance-v3/_errors``.
OURS_V3: dict[str, tuple[str, str]] = {
    "missing_manifest": ("read bundle/manifest.json", "No such file or directory (os error 2)"),
    # A 0.171 bundle relabelled 2: we read schema 2 (as 0.169 does), whose references need the
    # path these lack: a parse error naming the field rather than 0.171's version gate.
    "schema_v2": ("parse trace event line 2", "missing field `path`"),
}


def _outcome() -> tuple[str, ReduceError | bytes]:
    """Run on the relative path ``bundle`` (from the case directory), as Codex was run."""
    try:
        return "reduced", state_bytes(reduce_bundle("bundle"))
    except ReduceError as exc:
        return "error", exc


def _codex_text(error: ReduceError) -> str:
    return error.codex_text()


@pytest.mark.conformance
@pytest.mark.skipif(not ALL_CASES, reason="no ../shared conformance corpus")
@pytest.mark.parametrize(
    ("errors", "case"), ALL_CASES, ids=[f"{e.parent.name}/{c}" for e, c in ALL_CASES]
)
def test_error_case_matches_codex(errors: Path, case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case_dir = errors / case
    result = json.loads((case_dir / "result.json").read_text())
    monkeypatch.chdir(case_dir)
    kind, got = _outcome()
    ours = OURS_V3 if errors == ERRORS_V3 else OURS

    if case in ours:
        headline, fragment = ours[case]
        assert isinstance(got, ReduceError), f"{case}: expected our refusal, got {kind}"
        assert got.message == headline
        assert fragment == "" or (got.cause is not None and fragment in got.cause)
        if case.startswith("payload_"):
            assert got.cause is not None and _REFUSED in got.cause
        return

    if result["exit_code"] != 0:
        expected = (case_dir / "expected_error.txt").read_text().rstrip("\n")
        assert isinstance(got, ReduceError), f"{case}: Codex fails, we returned a state"
        assert _codex_text(got) == expected
        return

    if kind == "error":
        raise AssertionError(f"{case}: Codex accepts, we fail with {got!r}")
    assert got == (case_dir / "reduced_state.json").read_bytes()


@pytest.mark.skipif(not CASES, reason="../shared/conformance is not present")
def test_every_case_is_covered() -> None:
    """The corpus and this test agree on which cases exist (35 as of Codex 0.169.0)."""
    assert len(CASES) >= 35
    assert set(OURS) <= set(CASES)


@pytest.mark.skipif(not CASES_V3, reason="../shared/conformance-v3 is not present")
def test_every_v3_case_is_covered() -> None:
    """42 cases as of Codex 0.171.0."""
    assert len(CASES_V3) >= 42
    assert set(OURS_V3) <= set(CASES_V3)
