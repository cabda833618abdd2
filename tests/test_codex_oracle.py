"""``tests/codex_oracle.py``: which Codex a bundle is for, whatever its manifest says."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.codex_oracle import bundle_schema


@pytest.mark.parametrize(
    ("written", "schema"),
    [('{"schema_version": 3}', 3), ('{"schema_version": {"a": 1}}', 2), ("[]", 2), ("{", 2)],
)
def test_the_schema_a_manifest_names(tmp_path: Path, written: str, schema: int) -> None:
    (tmp_path / "manifest.json").write_text(written)
    assert bundle_schema(tmp_path) == schema
