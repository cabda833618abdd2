"""``rollout-trace show`` on a real terminal (a pseudo-terminal of a set width)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")


def _on_terminal(args: list[str], columns: int, env: dict[str, str]) -> str:
    """What ``rollout-trace ARGS`` writes to a terminal ``columns`` wide."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    clean = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    with subprocess.Popen(
        [sys.executable, "-m", "rollout_trace_sdk", *args],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env={**clean, "TERM": "xterm-256color", **env},
    ) as child:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the child is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert child.wait() == 0
    os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_no_color_keeps_the_wrapping(demo_bundle: Path) -> None:
    """With NO_COLOR set, ``show`` on a terminal printed unwrapped plain text, lines of 130
    characters that a 60-column terminal broke with no indentation; NO_COLOR takes the colour
    away (no escape codes at all), not the wrapping (found by review at COLUMNS=60)."""
    coloured = _on_terminal(["show", str(demo_bundle)], 60, {})
    plain = _on_terminal(["show", str(demo_bundle)], 60, {"NO_COLOR": "1"})
    assert "\x1b[" in coloured and "\x1b" not in plain
    lines = plain.splitlines()
    assert max(len(line) for line in lines) <= 60
    assert lines[0].startswith("rollout ") and lines[1].strip()  # the header, wrapped
    # continuation lines keep their entry's indentation
    deep = [n for n, line in enumerate(lines) if line.startswith("      args: ")]
    assert deep and any(lines[n + 1].startswith("      ") for n in deep)


def test_columns_zero_is_the_terminals_width_not_nothing(demo_bundle: Path) -> None:
    """``COLUMNS=0`` (a terminal whose size is not set yet; some CI shells export it) reached
    rich, which took it as 0 columns: ``show`` on a terminal printed nothing at all and exited
    0. The width is the terminal's, as with ``COLUMNS`` unset."""
    unset = _on_terminal(["show", str(demo_bundle)], 60, {})
    zero = _on_terminal(["show", str(demo_bundle)], 60, {"COLUMNS": "0"})
    assert zero == unset
    assert zero.count("\n") > 10


def test_a_terminal_of_no_size_yet_is_80_columns(demo_bundle: Path) -> None:
    """A terminal whose size is not set yet reports 0 columns (a pseudo-terminal just made,
    a serial console): with ``COLUMNS`` unset or 0 too, ``show`` prints at 80 columns,
    not at none (which printed nothing at all)."""
    sizeless = _on_terminal(["show", str(demo_bundle)], 0, {"COLUMNS": "0"})
    assert sizeless == _on_terminal(["show", str(demo_bundle)], 80, {})
    assert sizeless.count("\n") > 10


def test_summary_on_a_terminal_wraps_at_its_width(demo_bundle: Path) -> None:
    """``summary`` on a terminal takes the width ``show`` does (``outputs.terminal_width``):
    the terminal's, with ``COLUMNS`` unset or 0, and ``COLUMNS`` when it is set."""
    narrow = _on_terminal(["summary", str(demo_bundle)], 60, {"NO_COLOR": "1"})
    assert narrow == _on_terminal(
        ["summary", str(demo_bundle)], 60, {"NO_COLOR": "1", "COLUMNS": "0"}
    )
    assert max(len(line) for line in narrow.splitlines()) <= 60
    wide = _on_terminal(["summary", str(demo_bundle)], 60, {"NO_COLOR": "1", "COLUMNS": "140"})
    assert max(len(line) for line in wide.splitlines()) > 60


@pytest.mark.parametrize("env", [{}, {"NO_COLOR": "1"}], ids=["colour", "no-colour"])
def test_lines_are_not_padded_to_the_terminals_width(
    demo_bundle: Path, env: dict[str, str]
) -> None:
    """Each line ends where its text does: every line was padded with spaces to the
    terminal's width (rich's padding), so a terminal made narrower afterwards (which reflows
    what it printed) broke each line in two, and a copied line carried its trailing blanks
    (found by review user43, following agents on a 40-column terminal)."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", _on_terminal(["show", str(demo_bundle)], 60, env))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 60
    assert [line for line in lines if line.endswith(" ")] == []
    deep = [n for n, line in enumerate(lines) if line.startswith("      args: ")]
    assert deep and any(lines[n + 1].startswith("      ") for n in deep)
