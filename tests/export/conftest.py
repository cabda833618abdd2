"""Fixtures of the export tests: rollouts recorded failing in every way the tables say why,
and an export of the demo that ``query``'s tests read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.export.parquet import ExportOptions, run_export
from tests.export.tables_util import copies

_RECORD = """
import json, sys, anyio
from rollout_trace_sdk.record import open_rollout

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}

def call(cid, name):
    return {"type": "function_call", "name": name, "call_id": cid, "arguments": "{}"}

class Boom(Exception):
    pass

async def failed(root, schema):
    # every kind of failure, then the run itself fails
    try:
        async with open_rollout(root, model="m-1", schema_version=schema) as rollout:
            async with rollout.root.turn() as turn:
                history = turn.accept(USER)
                async with turn.inference({"model": "m-1", "input": history}) as attempt:
                    attempt.failed("HTTP 503: upstream overloaded")
                async with turn.inference({"model": "m-1", "input": history}) as attempt:
                    attempt.cancelled("superseded by a retry")
                async with turn.compaction().request({"model": "m-1", "input": history}) as ask:
                    ask.failed("context_length_exceeded: nothing left to compact")
                async with turn.inference({"model": "m-1", "input": history}) as attempt:
                    history += attempt.completed(
                        output_items=[call("c1", "exec_command"), call("c2", "apply_patch")]
                    )
                async with turn.tool_call("c1", "exec_command", arguments="{}") as tool:
                    tool.failed("permission denied: /etc/shadow")
                async with turn.tool_call("c2", "apply_patch", arguments="{}") as tool:
                    said = {"type": "function_call_output", "call_id": "c2",
                            "output": "patch rejected:\\nhunk 2 of 2 does not apply"}
                    history.append(tool.failed("PatchError", output_item=said))
                raise Boom("tool exploded on k0")
    except Boom:
        pass
    return rollout.bundle_dir

async def recovered(root, schema):
    # a call fails and its retry answers: the rollout did not fail
    async with open_rollout(root, model="m-1", schema_version=schema) as rollout:
        async with rollout.root.turn() as turn:
            history = turn.accept(USER)
            async with turn.inference({"model": "m-1", "input": history}) as attempt:
                attempt.failed("HTTP 500: try again")
            async with turn.inference({"model": "m-1", "input": history}) as attempt:
                attempt.completed(output_items=[
                    {"type": "message", "role": "assistant",
                     "content": [{"type": "output_text", "text": "done"}]}
                ])
    return rollout.bundle_dir

async def aborted(root, schema):
    # the caller cancels the run while a call waits for its answer
    with anyio.CancelScope() as scope:
        async with open_rollout(root, model="m-1", schema_version=schema) as rollout:
            async with rollout.root.turn() as turn:
                turn.inference({"model": "m-1", "input": turn.accept(USER)})
                scope.cancel()
                await anyio.sleep_forever()
    return rollout.bundle_dir

async def main(root):
    made = {}
    for schema in (2, 3):
        for record in (failed, recovered, aborted):
            made[f"{record.__name__}{schema}"] = str(await record(root, schema))
    print(json.dumps(made))

anyio.run(main, sys.argv[1])
"""


@pytest.fixture(scope="session")
def why_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Rollouts recorded with ``open_rollout`` in both schemas (``failed2``, ``failed3``, ...)
    under one root: ``failed`` (an inference call failed, one cancelled, a compaction request
    failed, a tool call failed with an error, another with an output item the model saw, then
    the run raised), ``recovered`` (a call failed and its retry answered) and ``aborted``
    (cancelled while a call waited). Recorded in a child process, as the other recorded
    fixtures are."""
    import json

    root = tmp_path_factory.mktemp("why")
    done = subprocess.run(
        [sys.executable, "-c", _RECORD, str(root)], capture_output=True, text=True, check=True
    )
    return {name: Path(path) for name, path in json.loads(done.stdout).items()}


@pytest.fixture(scope="session")
def why_export(why_bundles: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``why_bundles`` exported to Parquet tables (the process pool's default jobs)."""
    from rollout_trace_sdk.export.parquet import ExportOptions, run_export

    out = tmp_path_factory.mktemp("why") / "tables"
    summary = run_export([str(b) for b in why_bundles.values()], ExportOptions(to=str(out)))
    assert not summary.failed and len(summary.exported) == len(why_bundles)
    return out


@pytest.fixture(scope="session")
def episodes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root of 70 one-episode rollouts (schema 3; a model call asks for a tool, the tool
    answers, every fifth fails, a model call answers), as an RL trainer records them: more
    than an export's end packs (``packs.END_OF_RUN``). Recorded in a child process by the
    small-bundles benchmark's recorder."""
    from benchmarks.export_small import record

    root = tmp_path_factory.mktemp("episodes") / "runs"
    record(root, 70)
    return root


@pytest.fixture
def three(demo_bundle: Path, tmp_path: Path) -> list[Path]:
    """Three copies of the demo bundle under ``tmp_path/bundles``."""
    return copies(demo_bundle, tmp_path / "bundles", 3)


@pytest.fixture(scope="module")
def export_dir(
    demo_bundle: Path,
    demo_state: Any,
    failing_state: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The demo three times under three trace ids: as recorded, with a failed tool call, and
    with the helper's result edge removed (a sub-agent that never reported back)."""
    root = tmp_path_factory.mktemp("query")
    failing = orjson.loads(failing_state.read_bytes())
    failing["trace_id"] = "trace-failing"
    silent = orjson.loads(orjson.dumps(demo_state))
    silent["trace_id"] = "trace-silent"
    silent["interaction_edges"] = {
        k: e for k, e in silent["interaction_edges"].items() if e["kind"] != "agent_result"
    }
    (root / "failing.json").write_bytes(orjson.dumps(failing))
    (root / "silent.json").write_bytes(orjson.dumps(silent))
    out = root / "out"
    sources = [str(demo_bundle), str(root / "failing.json"), str(root / "silent.json")]
    summary = run_export(sources, ExportOptions(to=str(out)), jobs=1)
    assert not summary.failed and len(summary.exported) == 3
    return out
