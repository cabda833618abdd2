from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONFORMANCE = REPO.parent / "shared" / "conformance"


def conformance_bundles() -> list[Path]:
    """Every bundle directory of the Codex corpus (empty when the corpus is absent)."""
    if not CONFORMANCE.is_dir():
        return []
    return sorted(
        p.parent for p in CONFORMANCE.glob("*/*/manifest.json") if p.parts[-3] != "_errors"
    )


needs_conformance = pytest.mark.skipif(
    not CONFORMANCE.is_dir(), reason="../shared/conformance is not present"
)
