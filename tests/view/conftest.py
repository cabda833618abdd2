"""Fixtures for the viewer (the demo bundles are in tests/conftest.py): a failing variant as a
state.json, and headless Chromium through Playwright (the system's browser, never a download)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from ..conftest import CONFORMANCE, CONFORMANCE_V3, conformance_bundles
from ..conftest import PLANTED_ERROR as PLANTED_ERROR


def write_page(source: Path, target: Path) -> str:
    """``rollout-trace view SOURCE -o TARGET`` (a bundle or a state file): the page's URI."""
    from rollout_trace_sdk.cli import main

    assert main(["view", str(source), "-o", str(target)], out=io.StringIO()) == 0
    return target.as_uri()


def touch_later(path: Path) -> None:
    """A modification time 5 s later: what the recorder's next append does to the served
    page's change token."""
    later = path.stat().st_mtime_ns + 5_000_000_000
    os.utime(path, ns=(later, later))


def _recorded_in_child(script: str, root: Path, *args: str, schema: str | None = None) -> Path:
    """The bundle ``script`` records under ``root`` (it prints its directory), run in a child
    process: Playwright keeps an event loop running in the test thread. ``schema``: the
    ``ROLLOUT_TRACE_SCHEMA`` it records with (else the default)."""
    env = {**os.environ, "ROLLOUT_TRACE_SCHEMA": schema} if schema is not None else None
    done = subprocess.run(
        [sys.executable, "-c", script, str(root), *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return Path(done.stdout.strip())


def plain_transcript(state: Any, **kwargs: Any) -> str:
    """``show``'s plain text of a state (``transcript_lines`` options as keywords)."""
    from rollout_trace_sdk.view.show import render_plain, transcript_lines

    out = io.StringIO()
    render_plain(transcript_lines(state, **kwargs), out)
    return out.getvalue()


def reduced_state_file(bundle: Path) -> Path:
    """The bundle's ``state.json`` (a state file in its bundle: the payloads are at hand)."""
    from rollout_trace_sdk.cli import main

    assert main(["reduce", str(bundle)], out=io.StringIO(), err=io.StringIO()) == 0
    return bundle / "state.json"


def line_of(text: str, needle: str) -> tuple[int, str]:
    """The one line of ``text`` holding ``needle``, and its number."""
    found = [(n, line) for n, line in enumerate(text.splitlines()) if needle in line]
    assert len(found) == 1, (needle, text)
    return found[0]


async def open_tool_call_state(root: Path) -> Any:
    """The state of a rollout still being recorded under ``root``: its agent runs a tool call
    (``c_open``) started 5 ms after a completed inference call, not ended yet."""
    from rollout_trace_sdk.record import open_rollout
    from rollout_trace_sdk.view.load import load_state

    async with open_rollout(root, model="m") as rollout, rollout.root.turn() as turn:
        call = turn.inference({"model": "m", "input": "hi"})
        call.completed(output_items=[{"role": "assistant", "content": "hello"}])
        await anyio.sleep(0.005)
        async with turn.tool_call("c_open", "exec_command", arguments={"cmd": "sleep"}):
            await rollout.flush()
            assert rollout.bundle_dir is not None
            return load_state(rollout.bundle_dir)


#: Codex's own code-mode bundles of both corpora (none when ../shared is not there): what the
#: page and the transcript show of code cells is checked on each.
CODE_MODE_BUNDLES = [
    b
    for corpus in (CONFORMANCE, CONFORMANCE_V3)
    for b in conformance_bundles(corpus)
    if b.parent.name.startswith("code_mode_")
]

#: A call id an agent made of terminal escapes: an OSC window title, then a background colour.
HOSTILE_ID = "call_\x1b]0;PWNED\x07\x1b[41mRED"
#: How ``visible.visible`` spells it.
HOSTILE_ID_SHOWN = "call_\\x1b]0;PWNED\\x07\\x1b[41mRED"


def hostile_id_bundle(root: Path) -> Path:
    """The Codex corpus's ``tool_end_unknown_call`` bundle with the unknown call id made
    :data:`HOSTILE_ID`: strict reduction fails quoting it, lenient reduction skips the event
    with a note quoting it (tests using it need ``needs_conformance``)."""
    bundle = root / "hostile"
    shutil.copytree(CONFORMANCE / "_errors" / "tool_end_unknown_call" / "bundle", bundle)
    log = bundle / "trace.jsonl"
    log.write_bytes(log.read_bytes().replace(b'"call_never_started"', orjson.dumps(HOSTILE_ID)))
    return bundle


#: The error a recorded tool call failed with: only its raw result payload holds it.
TOOL_ERROR = "permission denied: /etc/shadow <b>not bold</b>"

_FAILED_TOOL = """
import sys, anyio
from rollout_trace_sdk.record import open_rollout

async def main(root, error):
    call_item = {"type": "function_call", "name": "exec_command", "call_id": "c1", "arguments": "{}"}
    async with open_rollout(root, model="m") as rollout, rollout.root.turn() as turn:
        history = turn.accept({"type": "message", "role": "user", "content": "go"})
        async with turn.inference({"model": "m", "input": history}) as call:
            history += call.completed(output_items=[call_item])
        async with turn.tool_call("c1", "exec_command", arguments="{}") as tool:
            tool.failed(error)
    print(rollout.bundle_dir)

anyio.run(main, sys.argv[1], sys.argv[2])
"""


@pytest.fixture(scope="session")
def failed_tool_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recorded rollout whose one tool call ended with ``tool.failed(TOOL_ERROR)``. Recorded
    in a child process: Playwright keeps an event loop running in the test thread."""
    root = tmp_path_factory.mktemp("failed-tool")
    return _recorded_in_child(_FAILED_TOOL, root, TOOL_ERROR)


def skipping_bundle(demo_bundle: Path, root: Path) -> Path:
    """A copy of the demo bundle whose first tool call end names a call never started (its id
    :data:`HOSTILE_ID`): strict reduction refuses it, lenient reduction skips it with a note
    quoting the id."""
    bundle = root / "skipping"
    shutil.copytree(demo_bundle, bundle)
    (bundle / "state.json").unlink(missing_ok=True)
    lines = (bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)
    at = next(n for n, line in enumerate(lines) if b'"tool_call_ended"' in line)
    event = orjson.loads(lines[at])
    event["payload"]["tool_call_id"] = HOSTILE_ID
    lines[at] = orjson.dumps(event) + b"\n"
    (bundle / "trace.jsonl").write_bytes(b"".join(lines))
    return bundle


#: What a tool answered that no later request carried: the run stopped after the call (the
#: last call before ``max_turns`` was exceeded, ``stop_on_first_tool``).
UNSENT_RESULT = "rain, 7 C <b>not bold</b>"
#: Why that run's turn failed: only the bundle's protocol events (``error``, ``turn_complete``)
#: hold it.
TURN_ERROR = "Max turns (1) exceeded"

_STOPPED = """
import sys, anyio
from rollout_trace_sdk.record import open_rollout

async def main(root, result, error):
    call_item = {"type": "function_call", "name": "get_weather", "call_id": "c1", "arguments": '{"city":"Oslo"}'}
    async with open_rollout(root, model="m") as rollout, rollout.root.turn() as turn:
        history = turn.accept({"type": "message", "role": "user", "content": "weather?"})
        async with turn.inference({"model": "m", "input": history}) as call:
            history += call.completed(output_items=[call_item])
        async with turn.tool_call("c1", "get_weather", arguments='{"city":"Oslo"}') as tool:
            tool.completed({"type": "function_call_output", "call_id": "c1", "output": result})
        turn.end("failed", error=error)
        rollout.root.end("failed")  # as the Agents SDK processor ends a failed run's agent
    print(rollout.bundle_dir)

anyio.run(main, *sys.argv[1:])
"""


@pytest.fixture(scope="session", params=["2", "3"])
def stopped_bundle(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A recorded rollout (each schema) that stopped after a tool call: the call's result
    (:data:`UNSENT_RESULT`) is only in its raw result payload, no request carried it; its
    turn failed with :data:`TURN_ERROR`, then its agent. Recorded in a child process: Playwright keeps an
    event loop running in the test thread."""
    root = tmp_path_factory.mktemp("stopped")
    return _recorded_in_child(_STOPPED, root, UNSENT_RESULT, TURN_ERROR, schema=request.param)


#: The error a compaction request failed with: only its ``compaction_request_failed`` event
#: holds it.
COMPACTION_ERROR = "context_length_exceeded: compact what? <b>not bold</b>"

_FAILED_COMPACTION = """
import sys, anyio
from rollout_trace_sdk.record import open_rollout

async def main(root, error):
    async with open_rollout(root, model="m") as rollout, rollout.root.turn() as turn:
        history = turn.accept({"type": "message", "role": "user", "content": "go"})
        turn.compaction().request({"input": history}).failed(error)
    print(rollout.bundle_dir)

anyio.run(main, *sys.argv[1:])
"""


@pytest.fixture(scope="session")
def failed_compaction_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recorded rollout whose one compaction request failed with :data:`COMPACTION_ERROR`.
    Recorded in a child process: Playwright keeps an event loop running in the test thread."""
    root = tmp_path_factory.mktemp("failed-compaction")
    return _recorded_in_child(_FAILED_COMPACTION, root, COMPACTION_ERROR)


#: The sources of :func:`cells_bundle`'s two code cells, and the error the second failed with.
OK_SOURCE = "\n  const r = await tools.exec_command({cmd: 'echo quokka'});\ntext(r.output);\n"
BAD_SOURCE = "const x = wombat.length;\ntext(String(x));\n"
BAD_ERROR = "ReferenceError: wombat is not defined"

_CELLS = """
import sys, anyio
from rollout_trace_sdk.record import open_rollout

OK, BAD, ERROR = sys.argv[2], sys.argv[3], sys.argv[4]

def custom(call_id, source):
    return {"type": "custom_tool_call", "call_id": call_id, "name": "exec", "input": source}

def said(text):
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}

async def main(root):
    async with open_rollout(root, model="m") as rollout, rollout.root.turn() as turn:
        history = turn.accept({"type": "message", "role": "user", "content": "go"})
        async with turn.inference({"model": "m", "input": history}) as call:
            history += call.completed(output_items=[custom("cell_ok", OK)])
        async with turn.tool_call("cell_ok", "exec", input=OK) as tool:
            cell = tool.code_cell("1", OK)
            async with cell.tool_call(
                "nested-1", "exec_command", runtime_tool_id="t1", arguments={"cmd": "echo quokka"}
            ) as nested:
                nested.completed_value({"output": "quokka"})
            cell.finished([{"type": "input_text", "text": "quokka"}])
            output = {"type": "custom_tool_call_output", "call_id": "cell_ok", "output": "quokka"}
            history.append(tool.completed(output))
        async with turn.inference({"model": "m", "input": history}) as call:
            history += call.completed(output_items=[custom("cell_bad", BAD)])
        async with turn.tool_call("cell_bad", "exec", input=BAD) as tool:
            cell = tool.code_cell("2", BAD)
            cell.finished(error_text=ERROR)
            output = {"type": "custom_tool_call_output", "call_id": "cell_bad", "output": "Script failed: " + ERROR}
            history.append(tool.completed(output))
        async with turn.inference({"model": "m", "input": history}) as call:
            history += call.completed(output_items=[said("done")])
    print(rollout.bundle_dir)

anyio.run(main, sys.argv[1])
"""


@pytest.fixture(scope="session")
def cells_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recorded rollout with two code cells: one that completed (its source's first line is
    blank, then ``const r = …``; one nested tool call) and one that failed while its exec call
    completed. Recorded in a child process: Playwright keeps an event loop running in the test
    thread."""
    root = tmp_path_factory.mktemp("cells")
    return _recorded_in_child(_CELLS, root, OK_SOURCE, BAD_SOURCE, BAD_ERROR)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: $ROLLOUT_TRACE_ARTIFACTS, else a session temp directory."""
    chosen = os.environ.get("ROLLOUT_TRACE_ARTIFACTS")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("view-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def chromium_path() -> str | None:
    """The system Chromium: $ROLLOUT_TRACE_CHROMIUM, or chromium / chromium-browser on PATH."""
    chosen = os.environ.get("ROLLOUT_TRACE_CHROMIUM")
    if chosen:
        return chosen
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module: Playwright's sync API keeps an event loop marked running
    in this thread while it is open, which would break later tests that run their own loop."""
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "no Chromium on this machine (scripts/test.sh installs Debian's `chromium` when it "
            "runs as root with apt-get; or set ROLLOUT_TRACE_CHROMIUM)"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


class Page:
    """A browser page that records console errors and uncaught exceptions."""

    def __init__(
        self, browser: Any, width: int = 1500, height: int = 900, *, csp: bool = False
    ) -> None:
        # The page's Content-Security-Policy forbids evaluating text as script, which
        # Playwright's wait_for_function does with an expression: pages bypass it, except
        # those of the tests that check what it forbids (``csp=True``).
        self.page = browser.new_page(
            viewport={"width": width, "height": height}, bypass_csp=not csp
        )
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, url: str, timeout: float = 60_000) -> Any:
        self.page.goto(url)
        # a function, not an expression: it runs under the page's CSP too (``csp=True``)
        self.page.wait_for_function("() => window.__rt && window.__rt.ready", timeout=timeout)
        return self.page

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    opened = Page(browser)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def csp_page(browser: Any) -> Iterator[Page]:
    """A page under its own Content-Security-Policy (``page`` bypasses it)."""
    opened = Page(browser, csp=True)
    try:
        yield opened
    finally:
        opened.close()
