from __future__ import annotations

from pathlib import Path

import pytest

from tests.reduce.builder import Scenario


@pytest.fixture
def bundle(tmp_path: Path) -> Scenario:
    return Scenario(tmp_path / "bundle")
