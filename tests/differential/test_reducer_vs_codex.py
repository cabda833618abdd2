"""Differential test: generated bundles reduce to the same state with our reducer and Codex's
(or both refuse them, with the same message): schema-2 bundles against Codex 0.169, schema-3
bundles (shards, templates, acceptance payloads, and with ``capture`` cut or left-out payloads)
against Codex 0.171. CI runs a fixed seed and a bounded number of examples; set
DIFFERENTIAL_EXAMPLES to run more."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from rollout_trace_sdk.testing import reduce_and_compare

from ..codex_oracle import codex_bin
from .codec_driver import write_bundle
from .script import Script, scripts

EXAMPLES = int(os.environ.get("DIFFERENTIAL_EXAMPLES", "120"))
EXAMPLES_V3 = int(os.environ.get("DIFFERENTIAL_EXAMPLES", "60"))


def _codex() -> str | None:
    return codex_bin(2)


def assert_same_reduction(codex: str, bundle: Path) -> None:
    result = reduce_and_compare(bundle, codex)
    if not result.same:
        keep = os.environ.get("DIFFERENTIAL_KEEP")
        if keep:
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(bundle, keep)
        raise AssertionError(result.explain())


@pytest.mark.codex
@pytest.mark.skipif(_codex() is None, reason="no Codex binary (CODEX_BIN or codex on PATH)")
@seed(20261124)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=False,
    suppress_health_check=list(HealthCheck),
)
@given(scripts())
def test_generated_bundles_reduce_like_codex(script: Script) -> None:
    pytest.importorskip("rollout_trace_sdk.reduce.replay")
    codex = _codex()
    assert codex is not None
    with tempfile.TemporaryDirectory() as tmp:
        bundle = write_bundle(script, Path(tmp))
        assert_same_reduction(codex, bundle)


@pytest.mark.codex
@pytest.mark.skipif(codex_bin(3) is None, reason="no Codex 0.171 binary (CODEX3_BIN)")
@seed(20261202)
@settings(
    max_examples=EXAMPLES_V3,
    deadline=None,
    derandomize=False,
    suppress_health_check=list(HealthCheck),
)
@given(scripts(), st.booleans())
def test_generated_v3_bundles_reduce_like_codex(script: Script, capture: bool) -> None:
    codex = codex_bin(3)
    assert codex is not None
    with tempfile.TemporaryDirectory() as tmp:
        bundle = write_bundle(script, Path(tmp), schema=3, capture=capture)
        assert_same_reduction(codex, bundle)
