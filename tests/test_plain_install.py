"""The package as a user installs it: ``pip install .`` with no extras, in a fresh venv.

The test environment has every extra and its dependencies (trio brings sniffio, httpx brings
more): an import of something the package does not declare passes every other test and
breaks a plain install. One did: every rollout's close imported ``sniffio``, which anyio 4 no
longer installs, and ``rollout-trace demo`` from a fresh clone ended in "internal error".
"""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def plain_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding this package and its declared dependencies only (no extras)."""
    home = tmp_path_factory.mktemp("plain") / "venv"
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    if installed.returncode != 0:
        pytest.skip(f"cannot install the package here: {installed.stderr[-500:]}")
    return home


def _run(home: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ROLLOUT_TRACE_SCHEMA")}
    return subprocess.run(
        [str(home / "bin" / "rollout-trace"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
    )


def test_the_readme_demo_and_the_reading_commands_run(plain_venv: Path, tmp_path: Path) -> None:
    demo = _run(plain_venv, "demo", "--out", "traces", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    (bundle,) = (tmp_path / "traces").glob("trace-*")
    for command in (
        ["validate", str(bundle)],
        ["reduce", str(bundle), "-o", str(tmp_path / "state.json")],
        ["summary", str(bundle)],
        ["show", str(bundle)],
        ["view", str(bundle), "-o", str(tmp_path / "view.html")],
        ["convert", str(bundle), "--to", "2", "-o", str(tmp_path / "v2")],
        ["export", str(bundle), "--format", "perfetto", "-o", str(tmp_path / "trace.json")],
    ):
        done = _run(plain_venv, *command, cwd=tmp_path)
        assert done.returncode == 0, (command, done.stderr)
        assert "internal error" not in done.stderr, (command, done.stderr)
    # the test environment's extras are not here (trio is one)
    probe = subprocess.run(
        [str(plain_venv / "bin" / "python"), "-c", "import trio"], capture_output=True, timeout=60
    )
    assert probe.returncode != 0
