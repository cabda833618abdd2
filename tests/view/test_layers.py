"""The viewer is on the reducer's side: viewing or showing a bundle never loads the recorder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_view_and_show_do_not_import_the_recorder(demo_bundle: Path, tmp_path: Path) -> None:
    code = (
        "import sys, io\n"
        "from rollout_trace_sdk.cli import main\n"
        f"assert main(['view', {str(demo_bundle)!r}, '-o', {str(tmp_path / 'p.html')!r}], out=io.StringIO()) == 0\n"
        f"assert main(['show', {str(demo_bundle)!r}], out=io.StringIO()) == 0\n"
        "import rollout_trace_sdk.view.serve\n"
        "print(sorted(m for m in sys.modules if m.startswith('rollout_trace_sdk.record')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_view_writes_a_page_and_refuses_bad_input(demo_bundle: Path, tmp_path: Path) -> None:
    import io

    from rollout_trace_sdk.cli import main

    out, err = io.StringIO(), io.StringIO()
    assert main(["view", str(demo_bundle), "-o", str(tmp_path / "page.html")], out=out) == 0
    assert (tmp_path / "page.html").read_text().startswith("<!doctype html>")
    assert main(["view", str(tmp_path / "nothing")], out=out, err=err) == 1
    assert "nothing" in err.getvalue() and "Traceback" not in err.getvalue()
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    err = io.StringIO()
    assert main(["view", str(bad)], out=out, err=err) == 1
    assert "not a reduced state" in err.getvalue()
