"""Each command's ``--help`` (``_cli_help.py``): its usage examples are shown, fit an 80-column
terminal, and run, every one of them, on a demo traces root, so none can go stale."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

import rollout_trace_sdk
from rollout_trace_sdk._cli_help import EXAMPLES
from rollout_trace_sdk.cli import build_parser, main
from tests.loopback import LoopbackServer, QuietHandler

#: The directory this package is imported from: the commands the examples run use it too.
PACKAGE_ROOT = Path(rollout_trace_sdk.__file__).resolve().parents[1]


def _commands() -> list[str]:
    parser = build_parser()
    (commands,) = (a for a in parser._actions if a.dest == "command")
    assert isinstance(commands.choices, dict)
    return list(commands.choices)


def _help(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main([command, "--help"]) == 0
    return capsys.readouterr().out


def _examples(help_text: str) -> list[str]:
    """The example lines a help shows, as a user would copy them (the comment left out)."""
    shown = help_text.split("\nexamples:\n", 1)[1]
    lines = []
    for line in shown.splitlines():
        if not line.startswith("  "):
            break
        lines.append(line.split("  #", 1)[0].strip())
    return lines


def test_every_command_shows_its_examples_each_on_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--help`` had no example of a real invocation (found by polish32): every command
    shows its own, each example on one line of an 80-column terminal (a wrapped one could
    not be copied)."""
    monkeypatch.setenv("COLUMNS", "80")
    assert set(_commands()) == set(EXAMPLES)
    for command in _commands():
        text = _help(command, capsys)
        assert _examples(text) == [e.split("  #", 1)[0].strip() for e in EXAMPLES[command]]
        for example in EXAMPLES[command]:
            assert f"\n  {example}\n" in text, (command, example)
            assert example.startswith(f"rollout-trace {command} ")


def test_a_narrow_terminal_wraps_an_example_under_itself(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Too wide for the terminal, an example goes on indented under itself, not at the
    margin where it would read as the next example: four columns in from the example, also
    for one whose comment starts past half the width (a hang of five columns there, the
    first line alone checked with ``startswith``, passed: mut43)."""
    monkeypatch.setenv("COLUMNS", "40")
    lines = _help("export", capsys).split("\nexamples:\n", 1)[1].splitlines()
    assert lines[0].startswith("  rollout-trace export ")
    assert lines[1].startswith("      ") and lines[1].strip()
    more = [line for line in lines if line.strip() and not line.startswith("  rollout-trace ")]
    assert any("  # " in line for line in more)  # a comment past half the width
    assert {len(line) - len(line.lstrip()) for line in more} == {6}


class _Receiver(QuietHandler):
    """An OTLP/HTTP receiver: takes every POST, keeping its path."""

    paths: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _run_example(argv: list[str], cwd: Path, env: dict[str, str]) -> str | None:
    """Run one example's command as a process of its own: None if it did its work, else why
    not. ``--serve`` runs until Ctrl-C, so its page is fetched, then it gets SIGINT, on a free
    port (others may hold the default); ``--endpoint`` sends to a receiver of ours on one."""
    command = [sys.executable, "-m", "rollout_trace_sdk", *argv]
    if "--serve" in argv:
        return _serve([*command, "--port", "0"], cwd, env)
    if "--endpoint" in argv:
        with LoopbackServer(_Receiver) as server:
            host, port = server.server.server_address[:2]
            at = command.index("--endpoint") + 1
            assert command[at] == "http://localhost:4318", command
            command[at] = f"http://{host!s}:{port}"
            _Receiver.paths = []
            why = _exit_zero(command, cwd, env)
            if why is None and _Receiver.paths[:1] != ["/v1/traces"]:
                why = f"the receiver had {_Receiver.paths}"
            return why
    return _exit_zero(command, cwd, env)


def _exit_zero(command: list[str], cwd: Path, env: dict[str, str]) -> str | None:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    return None if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip()}"


def _serve(command: list[str], cwd: Path, env: dict[str, str]) -> str | None:
    """Start the server, fetch the page it says it serves, then Ctrl-C it (exit 130)."""
    import signal
    import urllib.request

    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "serving BUNDLE at URL (Ctrl-C to stop)"
        if " at http://" not in line:
            process.kill()
            return f"no URL served: {line!r} {process.communicate(timeout=60)[1].strip()}"
        url = line.split(" at ", 1)[1].split()[0]
        with urllib.request.urlopen(url, timeout=60) as page:
            if page.status != 200 or b"<html" not in page.read(4096).lower():
                return f"{url}: no page"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        return None if process.returncode == 130 else f"exit {process.returncode}: {err}"
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_every_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each example every ``--help`` shows, run as a user runs it (a process of its own, in a
    directory where ``demo --out traces`` made the traces root), in the commands' order
    (``export`` makes the tables ``query`` reads): each one exits 0."""
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), "COLUMNS": "80"}
    env.pop("ROLLOUT_TRACE_SCHEMA", None)
    failed = []
    ran = 0
    for command in EXAMPLES:
        for example in _examples(_help(command, capsys)):
            argv = shlex.split(example)
            assert argv[0] == "rollout-trace"
            ran += 1
            why = _run_example(argv[1:], tmp_path, env)
            if why is not None:
                failed.append(f"{example}: {why}")
    assert failed == []
    assert ran == sum(map(len, EXAMPLES.values()))
    assert (tmp_path / "tables" / "_export.json").is_file()  # query read a real export
