"""The ``export`` command's own reporting (export/commands.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rollout_trace_sdk.cli import main

from ..conftest import needs_conformance
from ..view.conftest import HOSTILE_ID_SHOWN, hostile_id_bundle


@needs_conformance
@pytest.mark.parametrize(("lenient", "code"), [([], 1), (["--lenient"], 0)])
def test_a_bundles_error_is_reported_with_control_characters_spelled_out(
    lenient: list[str], code: int, tmp_path: Path
) -> None:
    """The reducer's error quotes the agent's call id: a failed (or lenient) bundle's line on
    standard error must not carry its ESC and BEL to the terminal."""
    bundle = hostile_id_bundle(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    argv = ["export", str(bundle), "--to", str(tmp_path / "tables"), "--jobs", "1", *lenient]
    assert main(argv, out=out, err=err) == code
    assert f"unknown call {HOSTILE_ID_SHOWN} (" in err.getvalue()
    assert not any(ch in err.getvalue() for ch in "\x1b\x07")
