"""Reduce a bundle with the real Codex binary when one is available (the oracle).

Tests find Codex through ``$CODEX_BIN`` or ``codex`` on PATH and skip what needs it otherwise::

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


def codex_bin() -> str | None:
    """``$CODEX_BIN`` if it names an existing file, else ``codex`` on PATH, else ``None``."""
    env = os.environ.get("CODEX_BIN")
    if env:
        return env if Path(env).is_file() else None
    return shutil.which("codex")


needs_codex = pytest.mark.skipif(
    codex_bin() is None, reason="no Codex binary (set CODEX_BIN or put codex on PATH)"
)


def codex_reduce(bundle: Path, timeout: float = 300) -> tuple[bool, str, dict[str, Any] | None]:
    """Run ``codex debug trace-reduce`` on ``bundle``, writing outside it (the bundle stays as
    it was). Returns (succeeded, Codex's stderr, the parsed state or ``None``).

    Call it only when :func:`codex_bin` found a binary (e.g. under ``@needs_codex``).
    """
    binary = codex_bin()
    if binary is None:
        raise RuntimeError("codex_reduce needs a Codex binary (CODEX_BIN or codex on PATH)")
    with tempfile.TemporaryDirectory(prefix="codex-oracle-") as tmp:
        out = Path(tmp) / "state.json"
        result = subprocess.run(
            [binary, "debug", "trace-reduce", str(bundle), "-o", str(out)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        ok = result.returncode == 0 and out.is_file()
        state = orjson.loads(out.read_bytes()) if ok else None
    return ok, result.stderr, state
