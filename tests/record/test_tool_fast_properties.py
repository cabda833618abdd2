"""The fused tool call (``record/_tool_fast.py``) against the general path, as a property:
tool calls of two agent threads whose models use the same call ids, several open at once and
ended in any order, some asked for by a recorded response and some not, with arguments that
are the same text object again, a dict, or other text, and outputs with or without an item
id, completed or failed, record the same bytes either way, and both reducers agree on them
(``test_flat_events`` records one thread's calls one at a time; fuzz25 found no case this
property had not). ``TOOL_FAST_EXAMPLES`` runs more."""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollout_trace_sdk.record import RecorderWarning, open_rollout
from rollout_trace_sdk.record._tool_fast import FastTools
from tests.record.recorder_support import bundle_in, check_bundle, normalised_lines

_IDS = ["call_0", "call_1", "call_2"]
_SAME = '{"cmd":"pwd"}'  # one text object, given again and again (the fused path's memo)
_ARGS: list[Any] = [_SAME, {"cmd": "pwd"}, '{"cmd": "ls"}', {"cmd": "ls", "n": 1}]
Output = Literal["plain", "with id", "failed", "failed with id"]

#: (thread, whether a recorded response asked for the calls, the calls (id, name, arguments:
#: indices), the order they end in, each one's output)
Batch = tuple[int, bool, list[tuple[int, int, int]], list[int], list[Output]]


@st.composite
def _batch(draw: st.DrawFn) -> Batch:
    calls = draw(
        st.lists(
            st.tuples(st.integers(0, 2), st.integers(0, 1), st.integers(0, 3)),
            min_size=1,
            max_size=4,
        )
    )
    order = draw(st.permutations(range(len(calls))))
    kinds: list[Output] = ["plain", "with id", "failed", "failed with id"]
    outputs = draw(
        st.lists(
            st.sampled_from(kinds),
            min_size=len(calls),
            max_size=len(calls),
        )
    )
    return draw(st.integers(0, 1)), draw(st.booleans()), calls, list(order), outputs


async def _play(root: Path, batches: list[Batch], interleaved: bool) -> list[Any]:
    """Record ``batches`` (each on its thread's turn; with ``interleaved``, a batch's calls
    stay open until the next batch's have started); returns what every ending call gave."""
    back: list[Any] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecorderWarning)
        async with open_rollout(root, schema_version=3) as rollout:
            child = rollout.root.spawn("worker")
            turns = [rollout.root.turn(), child.turn()]
            pending: list[tuple[Any, str, Output]] = []
            for thread, asked, calls, order, outputs in batches:
                turn = turns[thread]
                names = ["exec_command", "read_file"]
                items = [
                    {
                        "type": "function_call",
                        "call_id": _IDS[c],
                        "name": names[n],
                        "arguments": json.dumps(_ARGS[a])
                        if isinstance(_ARGS[a], dict)
                        else _ARGS[a],
                    }
                    for c, n, a in calls
                ]
                if asked:
                    async with turn.inference({"model": "m", "input": ["go"]}) as inference:
                        back.append(inference.completed(output_items=items))
                opened = [
                    (turn.tool_call(_IDS[c], names[n], arguments=_ARGS[a]), _IDS[c], outputs[k])
                    for k, (c, n, a) in enumerate(calls)
                ]
                back += _end(pending)
                pending = [opened[k] for k in order]
                if not interleaved:
                    back += _end(pending)
                    pending = []
                await anyio.lowlevel.checkpoint()
            back += _end(pending)
            for turn in turns:
                turn.end("completed")
            child.end()
    return back


def _end(calls: list[tuple[Any, str, Output]]) -> list[Any]:
    back = []
    for tool, call_id, output in calls:
        item: dict[str, Any] = {"type": "function_call_output", "call_id": call_id, "output": "o"}
        if output.endswith("with id"):
            item["id"] = f"fco_{call_id}"
        if output.startswith("failed"):
            back.append(tool.failed("no", output_item=item))
        else:
            back.append(tool.completed(item))
    return back


def _lines(root: Path) -> list[bytes]:
    """The bundle's event lines, each followed by the payloads it cites, normalised."""
    return normalised_lines(bundle_in(root))


@settings(
    max_examples=int(os.environ.get("TOOL_FAST_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(_batch(), min_size=1, max_size=5), interleaved=st.booleans())
def test_fused_calls_of_two_threads_record_what_the_general_path_records(
    batches: list[Batch], interleaved: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fused_root, general_root = Path(tmp, "fused"), Path(tmp, "general")
        fused = anyio.run(_play, fused_root, batches, interleaved)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(FastTools, "start", lambda self, *args: None)
            patch.setattr(FastTools, "completed", lambda self, *args: None)
            general = anyio.run(_play, general_root, batches, interleaved)
        assert fused == general
        assert _lines(fused_root) == _lines(general_root)
        check_bundle(bundle_in(fused_root))
