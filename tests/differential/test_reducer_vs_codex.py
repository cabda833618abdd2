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
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from ..codex_oracle import codex_bin, run_codex
from .codec_driver import write_bundle
from .script import Script, scripts

EXAMPLES = int(os.environ.get("DIFFERENTIAL_EXAMPLES", "120"))
EXAMPLES_V3 = int(os.environ.get("DIFFERENTIAL_EXAMPLES", "60"))


def _codex() -> str | None:
    return codex_bin(2)


def _ours(bundle: Path) -> tuple[bytes | None, str | None]:
    from rollout_trace_sdk.reduce import ReduceError, reduce_bundle, state_bytes

    try:
        return state_bytes(reduce_bundle(bundle)), None
    except ReduceError as exc:
        return None, exc.codex_text()


def _theirs(
    codex: str, bundle: Path, out: Path, schema: int = 2
) -> tuple[bytes | None, str | None]:
    proc = run_codex(bundle, out, schema=schema)
    if proc.returncode == 0:
        return out.read_bytes(), None
    return None, proc.stderr.decode("utf-8", "replace").strip()


def assert_same_reduction(codex: str, bundle: Path, schema: int = 2) -> None:
    out = bundle.parent / "codex_state.json"
    theirs_state, theirs_error = _theirs(codex, bundle, out, schema)
    ours_state, ours_error = _ours(bundle)
    if theirs_error is not None or ours_error is not None:
        assert ours_error is not None, f"Codex refused the bundle, we did not: {theirs_error}"
        assert theirs_error is not None, f"we refused the bundle, Codex did not: {ours_error}"
        assert ours_error.splitlines()[0] == theirs_error.splitlines()[0]
        return
    if ours_state != theirs_state:
        assert ours_state is not None and theirs_state is not None
        keep = os.environ.get("DIFFERENTIAL_KEEP")
        if keep:
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(bundle, keep)
        path = first_difference(orjson.loads(ours_state), orjson.loads(theirs_state))
        raise AssertionError(f"states differ first at {path}")


def first_difference(ours: Any, theirs: Any, path: str = "$") -> str:
    """The JSON path of the first place two values differ, with both sides shown."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        if list(ours) != list(theirs):
            return f"{path}: keys {list(ours)} != {list(theirs)}"
        for key in ours:
            if ours[key] != theirs[key]:
                return first_difference(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        for n, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            if a != b:
                return first_difference(a, b, f"{path}[{n}]")
    return f"{path}: ours {ours!r:.300} != codex {theirs!r:.300}"


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
        assert_same_reduction(codex, bundle, schema=3)
