"""Which event loop runs the code, told without ``sniffio`` (anyio 4 no longer installs it)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import requires
from pathlib import Path

import anyio
import pytest

from rollout_trace_sdk.record._async_lib import current_async_library

pytestmark = pytest.mark.anyio


async def test_the_running_library_is_told(anyio_backend: str) -> None:
    assert current_async_library() == anyio_backend
    # from a worker thread of that loop: no loop runs the calling code
    assert await anyio.to_thread.run_sync(current_async_library) is None


async def test_the_backend_leads_the_tests_id(
    anyio_backend: str, schema: int, request: pytest.FixtureRequest
) -> None:
    """Parametrising ``anyio_backend`` in ``pytest_generate_tests`` (for uvloop) turned
    ids such as ``[asyncio-v2]`` into ``[v2-asyncio]``: 190 ids of the suite no longer
    existed (``-k``/``--deselect`` lists and CI histories name them). Found by review
    (review24) comparing ``--collect-only`` before and after."""
    assert request.node.callspec.id == f"{anyio_backend}-v{schema}"


@pytest.mark.parametrize(argnames="anyio_backend", argvalues=["asyncio"])
async def test_a_backend_given_by_keyword_is_left_alone(anyio_backend: str) -> None:
    """The hook read a ``parametrize`` mark's argnames as ``mark.args[0]``: one given by
    keyword failed the whole collection with IndexError."""
    assert current_async_library() == "asyncio"


def test_outside_a_loop_none() -> None:
    assert current_async_library() is None


def _anyio_needs_sniffio() -> bool:
    """anyio before 4.12 depends on sniffio (installs and imports it): there a plain install
    has it, and blocking it breaks anyio itself."""
    return any(r.split(";")[0].strip().startswith("sniffio") for r in requires("anyio") or ())


@pytest.mark.skipif(_anyio_needs_sniffio(), reason="this anyio installs and imports sniffio")
def test_recording_needs_no_sniffio(tmp_path: Path) -> None:
    """A plain install has no ``sniffio``: every rollout's close failed with
    ModuleNotFoundError (``rollout-trace demo`` from a fresh clone said "internal error"),
    and records made from other OS threads waited for the next flush (found running the
    README's first command). Here ``sniffio`` cannot be imported, as on such an install
    (asyncio only: trio itself needs sniffio, and installs it)."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["sniffio"] = None  # as on a plain install: importing it fails
        import threading, anyio
        from rollout_trace_sdk.record import open_rollout
        from rollout_trace_sdk.record._inbox import loop_poker

        async def main():
            async with open_rollout({str(tmp_path)!r}) as rollout, rollout.root.turn() as turn:
                assert loop_poker() is not None
                done = threading.Event()
                def other():
                    turn.accept({{"type": "message", "role": "user", "content": "hi"}})
                    done.set()
                threading.Thread(target=other).start()
                await anyio.to_thread.run_sync(done.wait)
            print("closed")

        anyio.run(main)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "closed"
    (bundle,) = tmp_path.glob("trace-*")
    assert b'"recording_completed"' in (bundle / "trace.jsonl").read_bytes()


def test_a_trio_half_imported_by_another_thread_is_no_running_trio(tmp_path: Path) -> None:
    """An RL worker ran an asyncio loop in one OS thread and a trio loop in another: while
    the trio thread was still importing trio, ``sys.modules["trio"]`` was the half-made
    module, ``trio.lowlevel`` raised AttributeError, and every rollout the asyncio thread
    opened then failed with "cannot create a bundle ... partially initialized module 'trio'"
    and left an empty-log folder that ``validate`` called damaged (found by review scale33:
    5 of 10 bundles). Here the other thread's import of trio is held half-way, for sure."""
    script = textwrap.dedent(
        f"""
        import importlib.machinery, sys, threading, warnings, anyio
        from rollout_trace_sdk.record import open_rollout

        started, release = threading.Event(), threading.Event()

        class HoldTrio:
            # holds the first trio submodule's execution (outside the import system's
            # global lock): trio is then in sys.modules, half made
            def find_spec(self, name, path=None, target=None):
                if not name.startswith("trio.") or started.is_set():
                    return None
                spec = importlib.machinery.PathFinder.find_spec(name, path)
                run = spec.loader.exec_module
                def exec_module(module):
                    started.set()
                    release.wait(60)
                    run(module)
                spec.loader.exec_module = exec_module
                return spec

        sys.meta_path.insert(0, HoldTrio())
        importer = threading.Thread(target=lambda: __import__("trio"))
        importer.start()
        assert started.wait(60)
        assert "trio" in sys.modules and not hasattr(sys.modules["trio"], "lowlevel")

        async def main():
            for schema in (2, 3):
                async with open_rollout({str(tmp_path)!r}, schema_version=schema) as rollout:
                    async with rollout.root.turn() as turn:
                        turn.accept({{"type": "message", "role": "user", "content": "hi"}})
                print(schema, rollout.bundle_dir is not None)

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            anyio.run(main)
        release.set()
        importer.join()
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["2 True", "3 True"], result.stderr
    bundles = sorted(tmp_path.glob("trace-*"))
    assert len(bundles) == 2
    for bundle in bundles:
        assert b'"recording_completed"' in (bundle / "trace.jsonl").read_bytes()
