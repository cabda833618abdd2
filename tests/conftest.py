from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: The Codex corpora: schema 2 (Codex 0.169.0) and schema 3 (Codex 0.171.0).
CONFORMANCE = REPO.parent / "shared" / "conformance"
CONFORMANCE_V3 = REPO.parent / "shared" / "conformance-v3"


def conformance_bundles(corpus: Path = CONFORMANCE) -> list[Path]:
    """Every bundle directory of a Codex corpus (empty when the corpus is absent)."""
    if not corpus.is_dir():
        return []
    return sorted(p.parent for p in corpus.glob("*/*/manifest.json") if p.parts[-3] != "_errors")


needs_conformance = pytest.mark.skipif(
    not CONFORMANCE.is_dir(), reason="../shared/conformance is not present"
)
needs_conformance_v3 = pytest.mark.skipif(
    not CONFORMANCE_V3.is_dir(), reason="../shared/conformance-v3 is not present"
)


# The recorder writes schema 3 by default. The tests written for schema 2 (and the fixtures
# and subprocesses that record for them, such as the viewer's demo bundles) pin it through
# the environment, set before any fixture runs; their expectations name schema-2 facts
# (payload files, ``path``, ``recording_complete``). Run with ``ROLLOUT_TRACE_SCHEMA=3`` to
# exercise schema 3 instead; schema-3 tests pass ``schema_version=3`` explicitly.
os.environ.setdefault("ROLLOUT_TRACE_SCHEMA", "2")
