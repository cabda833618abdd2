from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import orjson
import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parent.parent

# Hypothesis's deadline (200 ms an example) is a timing assertion, which the project keeps
# out of unit tests (docs/testing.md): on a loaded machine an example took 284 ms on its
# first run and 6 ms on its second, and failed the suite. Every property test has none.
settings.register_profile("rollout_trace_sdk", deadline=None)
settings.load_profile("rollout_trace_sdk")


def _shared() -> Path:
    """``shared/`` beside the checkout, or beside its parent: a git worktree kept in
    ``wt/NAME`` next to the main checkout would otherwise skip every corpus test silently."""
    for parent in REPO.parents[:2]:
        if (parent / "shared").is_dir():
            return parent / "shared"
    return REPO.parent / "shared"


#: The Codex corpora: schema 2 (Codex 0.169.0) and schema 3 (Codex 0.171.0).
CONFORMANCE = _shared() / "conformance"
CONFORMANCE_V3 = _shared() / "conformance-v3"


def conformance_bundles(corpus: Path = CONFORMANCE) -> list[Path]:
    """Every bundle directory of a Codex corpus (empty when the corpus is absent)."""
    if not corpus.is_dir():
        return []
    return sorted(p.parent for p in corpus.glob("*/*/manifest.json") if p.parts[-3] != "_errors")


#: The corpora's bundles whose turns, calls or compaction requests failed or were interrupted
#: (Codex's own texts say why): what ``summary`` and the exports' error columns are checked on.
ENDED_BADLY = [
    bundle
    for corpus in (CONFORMANCE, CONFORMANCE_V3)
    for bundle in conformance_bundles(corpus)
    if bundle.parent.name
    in {
        "inference_fatal_error",
        "inference_incomplete",
        "compaction_remote_failed",
        "multi_agent_v2_child_failure",
        "app_server_turn_interrupt",
        "interrupt_during_tool",
    }
]


def codex_turn_texts(bundle: Path) -> dict[str, str]:
    """What Codex said of each failed or interrupted turn of a bundle: the ``error`` (failed)
    or ``reason`` (interrupted) of its ``turn_complete`` / ``turn_aborted`` protocol event,
    read here without the view's code."""
    from .record.recorder_support import of_type, payload

    texts = {}
    for event in of_type(bundle, "protocol_event_observed"):
        body = payload(bundle, event["payload"]["event_payload"])
        if body.get("type") == "task_complete" and body.get("error"):
            texts[body["turn_id"]] = body["error"]["message"]
        elif body.get("type") == "turn_aborted":
            texts[body["turn_id"]] = body["reason"]
    return texts


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


#: ``anyio_backend`` for asyncio on uvloop's event loop (as uvicorn runs an app by default).
UVLOOP: Final = ("asyncio", {"use_uvloop": True})


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:  # Windows, or an install without the test extra
        return False
    return True


_NEEDS_UVLOOP = pytest.mark.skipif(not _has_uvloop(), reason="uvloop is not installed")
#: The loops a test running a child script takes (its ``anyio.run`` reads the name: uvloop is
#: asyncio with ``backend_options={"use_uvloop": True}``).
LOOP_NAMES: Final = ["asyncio", "trio", pytest.param("uvloop", marks=_NEEDS_UVLOOP)]
#: The asyncio loops of a test of asyncio's own cancellation (``anyio_backend``).
ASYNCIO_LOOPS: Final = ["asyncio", pytest.param(UVLOOP, id="uvloop", marks=_NEEDS_UVLOOP)]


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every async test runs on asyncio and on trio; a test marked ``uvloop`` (the recorder's
    loop mechanics: threads, cancellation, hung disks, fork, the clients' transports) on
    asyncio with uvloop's event loop too. A test that means one backend says so with
    ``@pytest.mark.parametrize("anyio_backend", [...])``. First (tryfirst), as the fixture's
    params were: the backend leads a test's id (``[asyncio-v2]``), before a parametrised
    fixture's value, so the ids stay those of the fixture it replaced."""
    if "anyio_backend" not in metafunc.fixturenames or any(
        "anyio_backend" in str(mark.args[0] if mark.args else mark.kwargs.get("argnames"))
        for mark in metafunc.definition.iter_markers("parametrize")
    ):
        return
    loops: list[Any] = ["asyncio", "trio"]
    if metafunc.definition.get_closest_marker("uvloop") is not None:
        loops.append(ASYNCIO_LOOPS[1])
    metafunc.parametrize("anyio_backend", loops, scope="function")


@pytest.fixture(autouse=True)
def _recorder_warnings_shown_afresh() -> Iterator[None]:
    """Each test starts with no kind of ``RecorderWarning`` shown (one of each kind is shown
    per process, ``record/_warnings.py``), as pytest starts each with fresh warning
    registries: what a test sees does not depend on the tests run before it in its worker."""
    from rollout_trace_sdk.record._warnings import forget_shown

    forget_shown()
    yield


@pytest.fixture
def anyio_backend() -> str:
    """Parametrised by :func:`pytest_generate_tests` (or by the test itself)."""
    raise AssertionError("anyio_backend is parametrised by pytest_generate_tests")


@pytest.fixture
def signalled_twice(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """A command's work cut by two signals (``timeout`` signals the command and again its
    process group; Ctrl-C pressed twice): the function given raises the first, as
    ``KeyboardInterrupt`` (patch it in for a step of the work), and the second SIGINT comes as
    ``shutil.rmtree`` starts removing what the work left; SIGINT raises meanwhile."""
    real_rmtree = shutil.rmtree

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt  # the first signal, mid-work

    def removed_while_signalled(path: Any, *args: Any, **kwargs: Any) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # the second, as the removal starts
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", removed_while_signalled)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


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


_CAPPED = """
import json, sys, anyio
from rollout_trace_sdk.record import open_rollout

BIG = "".join(f"line {i}: " + "x" * 50 + "\\n" for i in range(200))  # 12 KB

def text(role, kind, words):
    return {"type": "message", "role": role, "content": [{"type": kind, "text": words}]}

async def main(root, max_payload, max_bundle):
    async with open_rollout(
        root, model="m", schema_version=3, max_payload_bytes=max_payload,
        max_bundle_bytes=max_bundle,
    ) as rollout, rollout.root.turn() as turn:
        history = turn.accept(text("user", "input_text", "USER " + BIG))
        for k in range(3):
            call_item = {"type": "function_call", "name": "exec_command", "call_id": f"c{k}",
                         "arguments": json.dumps({"cmd": f"ARG{k} " + BIG})}
            async with turn.inference({"model": "m", "input": history}) as call:
                history += call.completed(
                    output_items=[text("assistant", "output_text", f"SAID{k} " + BIG), call_item]
                )
            async with turn.tool_call(f"c{k}", "exec_command", arguments=call_item["arguments"]) as tool:
                output = {"type": "function_call_output", "call_id": f"c{k}", "output": BIG}
                history.append(tool.completed(output))
    print(rollout.bundle_dir)

anyio.run(main, sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
"""


@pytest.fixture(scope="session")
def capped_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Recorded rollouts of 12 KB texts under schema 3's capture limits: ``truncated`` (every
    long text and value cut to 2,000 bytes) and ``omitted`` (a 60 KB bundle budget: later
    payloads left out, the first cut to the room left). Recorded in a child process, as
    the view tests' bundles are (Playwright keeps an event loop running in their thread)."""
    bundles = {}
    for name, limits in {"truncated": (2_000, 10**9), "omitted": (10**6, 60_000)}.items():
        done = subprocess.run(
            [sys.executable, "-c", _CAPPED, str(tmp_path_factory.mktemp(name)), *map(str, limits)],
            capture_output=True,
            text=True,
            check=True,
        )
        bundles[name] = Path(done.stdout.strip())
    return bundles
