from __future__ import annotations

from pathlib import Path

import pytest

from tests.reduce.builder import BundleBuilder


@pytest.fixture
def bundle(tmp_path: Path) -> BundleBuilder:
    return BundleBuilder(tmp_path / "bundle")
