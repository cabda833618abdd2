"""Serde's reading rules at the edges, each pinned by an edited copy of a corpus bundle and the
exact text Codex printed for it (0.169 for schema 2, 0.171 for schema 3), found by the mutation
differential (``tests/differential/test_mutants_vs_codex.py``): numbers serde_json keeps as
text, enums read through buffered ``Content`` (by index, as one-key maps, as sequences), keys
given twice, defaulted fields given as null, numbers cut off by the end of the text (the
``Value`` parser's "EOF" against the ``IgnoredAny`` walk's "invalid number"), collab events
given as sequences, which payloads a handler never reads, and a few
reducer checks whose place or wording differs between the two Codex versions. When the
matching Codex binary is here, it is asked too."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from rollout_trace_sdk.reduce import ReduceError, reduce_bundle, state_bytes
from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin
from tests.conftest import CONFORMANCE, CONFORMANCE_V3
from tests.reduce.serde_edges_lines import LINE_CASES
from tests.reduce.serde_edges_payloads import PAYLOAD_CASES
from tests.reduce.serde_edges_structs import STRUCT_CASES
from tests.reduce.serde_edges_support import Case, apply_edit

CASES = [*LINE_CASES, *PAYLOAD_CASES, *STRUCT_CASES]


def _edited(case: Case, tmp_path: Path) -> Path | None:
    corpus = CONFORMANCE_V3 if case.schema == 3 else CONFORMANCE
    found = sorted((corpus / case.scenario).glob("trace-*"))
    if not found:
        return None
    bundle = tmp_path / "bundle"
    shutil.copytree(found[0], bundle, ignore=shutil.ignore_patterns("expected_state.json"))
    apply_edit(bundle, case.file, case.old, case.new)
    return bundle


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_edge_reads_as_codex_read_it(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = _edited(case, tmp_path)
    if bundle is None:
        pytest.skip("the conformance corpus is not present")
    monkeypatch.chdir(tmp_path)  # errors name the bundle as Codex was given it: "bundle"
    relative = Path("bundle")
    if case.expected is None:
        state = state_bytes(reduce_bundle(relative))
        if "newline" in case.name:  # the one edit that leaves the state short of complete
            assert b'"recording_complete": false' in state or b'"unclosed"' in state
    else:
        with pytest.raises(ReduceError) as info:
            reduce_bundle(relative)
        assert info.value.codex_text() == case.expected
    codex = codex_bin(case.schema)
    if codex is not None and os.environ.get("SERDE_EDGES_WITHOUT_CODEX") is None:
        result = reduce_and_compare(relative, codex)
        assert result.same_text, result.explain()
