"""Fixtures for the viewer: demo bundles (made once per session), a failing variant as a
state.json, and headless Chromium through Playwright (the system's browser, never a download)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.view.model import load_state


def make_demo(root: Path, scale: int) -> Path:
    """Record the demo (a real agent loop with real subprocesses) and return its bundle.

    In a child process: Playwright's sync API keeps an event loop marked running in this
    thread, and the demo runs its own."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rollout_trace_sdk",
            "demo",
            "--out",
            str(root),
            "--scale",
            str(scale),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return Path(done.stdout.splitlines()[0])


@pytest.fixture(scope="session")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo(tmp_path_factory.mktemp("demo1"), 1)


@pytest.fixture(scope="session")
def demo_bundle_200(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo(tmp_path_factory.mktemp("demo200"), 200)


@pytest.fixture(scope="session")
def demo_state_200(demo_bundle_200: Path) -> Any:
    return load_state(demo_bundle_200)


@pytest.fixture(scope="session")
def demo_state(demo_bundle: Path) -> Any:
    return load_state(demo_bundle)


#: The error text planted into a failed tool call (search and highlight must find it).
PLANTED_ERROR = "permission denied: /etc/shadow </script><b>not bold</b>"


@pytest.fixture(scope="session")
def failing_state(demo_state: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's state with one tool call failed and its output replaced by an error: the
    demo itself never fails, and a viewer must be shown a failure. The error text also
    carries markup, which the page must show as text."""
    state = orjson.loads(orjson.dumps(demo_state))
    tool = state["tool_calls"]["call_0_sum"]
    tool["execution"]["status"] = "failed"
    output = state["conversation_items"][tool["model_visible_output_item_ids"][0]]
    output["body"]["parts"] = [{"type": "text", "text": PLANTED_ERROR}]
    path = tmp_path_factory.mktemp("failing") / "state.json"
    path.write_bytes(orjson.dumps(state))
    return path


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

    def __init__(self, browser: Any, width: int = 1500, height: int = 900) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, url: str) -> Any:
        self.page.goto(url)
        self.page.wait_for_function("window.__rt && window.__rt.ready", timeout=60_000)
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
