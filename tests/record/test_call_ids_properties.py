"""Call ids reused in any way (a property): the bundle reduces, Codex and ours agree, and every
tool call links its own call and output (``record/_call_ids.py``)."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from typing import Any, Literal

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollout_trace_sdk.record import RecorderWarning, open_rollout

from .call_ids_support import (
    Keep,
    answer_message,
    check_answers,
    tool_links,
    user_message,
    weather_call,
    weather_output,
)
from .recorder_support import bundle_in, check_bundle

_CALL_IDS = ["call_0", "call_1"]
_CITIES = ["Rome", "Oslo"]
Extra = Literal["", "cut first", "compact after"]
Run = Literal["not run", "in order", "reversed", "accepted"]
Step = tuple[list[tuple[int, int]], Keep | Literal["spaced"], Run, Extra]


def _steps() -> st.SearchStrategy[list[Step]]:
    calls = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=2)
    keep = st.sampled_from(["ours", "theirs", "spaced"])
    run = st.sampled_from(["not run", "in order", "reversed", "accepted"])
    extra = st.sampled_from(["", "cut first", "compact after"])
    step = st.tuples(calls, keep, run, extra)
    return st.lists(step, min_size=1, max_size=4)  # type: ignore[arg-type]


async def _play(root: Path, schema: int, steps: list[Step]) -> None:
    async with (
        open_rollout(root, schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        history: list[Any] = turn.accept(user_message("go"))
        for calls, keep, run, extra in steps:
            items = [weather_call(_CALL_IDS[c], _CITIES[k]) for c, k in calls]
            if extra == "cut first":  # a response cut off after its calls, then a retry
                turn.inference({"model": "m", "input": list(history)}).failed(
                    "stream broke", partial_items=items
                )
            async with turn.inference({"model": "m", "input": list(history)}) as inference:
                returned = inference.completed(output_items=items)
            own = [weather_call(_CALL_IDS[c], _CITIES[k], spaced=True) for c, k in calls]
            history += {"ours": returned, "theirs": items, "spaced": own}[keep]
            theirs = [
                weather_output(i["call_id"], json.loads(i["arguments"])["city"]) for i in items
            ]
            if run == "accepted":  # outputs the loop accepts itself, in the calls' order
                accepted = turn.accept(*theirs)
                history += accepted if keep == "ours" else theirs
            elif run != "not run":  # tools run (in either order), outputs sent in call order
                order = list(range(len(items)))[:: -1 if run == "reversed" else 1]
                outputs: dict[int, Any] = {}
                for n in order:
                    item = items[n]
                    async with turn.tool_call(
                        item["call_id"], "get_weather", arguments=item["arguments"]
                    ) as tool:
                        outputs[n] = tool.completed(theirs[n])
                history += [outputs[n] if keep == "ours" else theirs[n] for n in sorted(outputs)]
            if extra == "compact after":
                history = turn.compaction().installed(
                    input_history=history,
                    replacement_history=[user_message("summary"), *history[1:]],
                )
        async with turn.inference({"model": "m", "input": list(history)}) as inference:
            inference.completed(output_items=[answer_message("done")])


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schema=st.sampled_from([2, 3]), steps=_steps())
def test_any_reuse_of_call_ids_reduces(schema: int, steps: list[Step]) -> None:
    """Responses asking one or two calls with ids from a pool of two, run in order, in
    reverse, or answered by outputs the loop accepts, or not at all, some cut off and
    retried, some histories compacted, kept as the recorder's copies or the loop's own: the
    bundle reduces (Codex and ours agree), every tool call links the call with its own
    arguments and every output answers its own call."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RecorderWarning)
            anyio.run(_play, root, schema, steps)
        state = check_bundle(bundle_in(root))
        for _, arguments, output in tool_links(state):
            assert output.startswith(json.loads(arguments)["city"])
        check_answers(state)
