from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

REPO = Path(__file__).resolve().parent.parent
#: The Codex corpora: schema 2 (Codex 0.169.0) and schema 3 (Codex 0.171.0).
CONFORMANCE = REPO.parent / "shared" / "conformance"
CONFORMANCE_V3 = REPO.parent / "shared" / "conformance-v3"


def conformance_bundles(corpus: Path = CONFORMANCE) -> list[Path]:
    """Every bundle directory of a Codex corpus (empty when the corpus is absent)."""
    if not corpus.is_dir():
        return []
    return sorted(p.parent for p in corpus.glob("*/*/manifest.json") if p.parts[-3] != "_errors")


needs_conformance = pytest.mark.skipif(
    not CONFORMANCE.is_dir(), reason="../shared/conformance is not present"
)
needs_conformance_v3 = pytest.mark.skipif(
    not CONFORMANCE_V3.is_dir(), reason="../shared/conformance-v3 is not present"
)


# The recorder writes schema 3 by default. The tests written for schema 2 (and the fixtures
# and subprocesses that record for them, such as the viewer's demo bundles) pin it through
# the environment, set before any fixture runs; their expectations name schema-2 facts
# (payload files, ``path``, ``recording_complete``). Run with ``ROLLOUT_TRACE_SCHEMA=3`` to
# exercise schema 3 instead; schema-3 tests pass ``schema_version=3`` explicitly.
os.environ.setdefault("ROLLOUT_TRACE_SCHEMA", "2")


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


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The one backend fixture: every async test runs on asyncio and on trio (a test that
    only means one says so with ``@pytest.mark.parametrize("anyio_backend", [...])``)."""
    return str(request.param)


@pytest.fixture(scope="session")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo(tmp_path_factory.mktemp("demo1"), 1)


@pytest.fixture(scope="session")
def demo_bundle_200(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo(tmp_path_factory.mktemp("demo200"), 200)


@pytest.fixture(scope="session")
def demo_state_200(demo_bundle_200: Path) -> Any:
    from rollout_trace_sdk.view.load import load_state

    return load_state(demo_bundle_200)


@pytest.fixture(scope="session")
def demo_state(demo_bundle: Path) -> Any:
    from rollout_trace_sdk.view.load import load_state

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
