"""Reduce a bundle with the real Codex binary when one is available (the oracle).

Each bundle schema has its own oracle: Codex 0.169.0 reads only schema 2 and Codex 0.171.0
only schema 3. Tests find them through ``$CODEX_BIN`` (schema 2) and ``$CODEX3_BIN``
(schema 3); ``codex`` on PATH stands in for schema 2. What needs a missing binary is skipped::

    from tests.codex_oracle import codex_bin, codex_reduce, needs_codex

    ok, stderr, state = codex_reduce(bundle)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.testing import reduce_and_compare, run_codex_reduce

#: The environment variable that names the oracle for each bundle schema.
ORACLE_ENV = {2: "CODEX_BIN", 3: "CODEX3_BIN"}


def codex_bin(schema: int = 2) -> str | None:
    """The Codex binary that reads ``schema``, or ``None`` when this machine has none.

    Args:
        schema: the bundle schema the binary must read (2 or 3).

    Returns:
        ``$CODEX_BIN`` / ``$CODEX3_BIN`` if it names an existing file; for schema 2 also
        ``codex`` on PATH; else ``None``.
    """
    env = os.environ.get(ORACLE_ENV[schema])
    if env:
        return env if Path(env).is_file() else None
    return shutil.which("codex") if schema == 2 else None


def bundle_schema(bundle: Path) -> int:
    """The ``schema_version`` a bundle's manifest declares (2 when it cannot be read)."""
    try:
        value = orjson.loads((bundle / "manifest.json").read_bytes()).get("schema_version")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return 2
    # a mutated manifest may say anything there (an object is not even hashable)
    return value if isinstance(value, int) and value in ORACLE_ENV else 2


def needs_codex_for(schema: int) -> pytest.MarkDecorator:
    """Skip a test when the oracle for ``schema`` is missing."""
    return pytest.mark.skipif(
        codex_bin(schema) is None,
        reason=f"no Codex binary for schema {schema} (set {ORACLE_ENV[schema]})",
    )


needs_codex = needs_codex_for(2)
needs_codex3 = needs_codex_for(3)


def run_codex(
    bundle: Path, out: Path, *, schema: int | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[bytes]:
    """Run ``codex debug trace-reduce bundle -o out`` with the oracle for the bundle's schema.

    ``RUST_BACKTRACE`` is removed from the child's environment, so error texts are Codex's
    message alone.
    """
    schema = bundle_schema(bundle) if schema is None else schema
    binary = codex_bin(schema)
    if binary is None:
        raise RuntimeError(f"no Codex binary for schema {schema} ({ORACLE_ENV[schema]})")
    return run_codex_reduce(bundle, binary, out, timeout=timeout)


def codex_reduce(
    bundle: Path, timeout: float = 300, *, schema: int | None = None
) -> tuple[bool, str, dict[str, Any] | None]:
    """Run ``codex debug trace-reduce`` on ``bundle``, writing outside it (the bundle stays as
    it was). Returns (succeeded, Codex's stderr, the parsed state or ``None``).

    Call it only when :func:`codex_bin` found a binary for the bundle's schema.
    """
    with tempfile.TemporaryDirectory(prefix="codex-oracle-") as tmp:
        out = Path(tmp) / "state.json"
        result = run_codex(bundle, out, schema=schema, timeout=timeout)
        ok = result.returncode == 0 and out.is_file()
        state = orjson.loads(out.read_bytes()) if ok else None
    return ok, result.stderr.decode("utf-8", "replace"), state


def reduced_by_both(bundle: Path) -> dict[str, Any]:
    """The state our reducer and the Codex of ``bundle``'s schema both reduce it to, byte
    for byte (:func:`rollout_trace_sdk.testing.reduce_and_compare`); the test is skipped
    when that Codex is missing."""
    binary = codex_bin(bundle_schema(bundle))
    if binary is None:
        pytest.skip(f"no Codex binary for schema {bundle_schema(bundle)}")
    comparison = reduce_and_compare(bundle, binary)
    assert comparison.same, comparison.explain()
    assert comparison.codex is not None
    state: dict[str, Any] = orjson.loads(comparison.codex)
    return state
