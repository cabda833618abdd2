"""Scenarios for killing the real Codex mid-run (``tests/live/test_codex_killed.py``): several
tool calls (a slow command among them), a sub-agent, a compaction, images and, for schema 3, a
payload size limit, each model answer streamed slowly (``pace``) so that a kill lands
mid-stream, mid-tool or between turns; and the kill of a seed: which scenario, which signal,
when."""

from __future__ import annotations

import random
import signal
from typing import Any

import attrs

from tests.live.random_scenarios import random_scenario
from tests.live.script import (
    HIGH_USAGE,
    MULTI_AGENT,
    PNG,
    SMALL_CONTEXT,
    Scenario,
    after,
    call,
    collab,
    custom,
    first,
    message,
    worker,
)

_SLOW = {"cmd": "sleep 0.4; echo slow"}
_PATCH = "*** Begin Patch\n*** Add File: made.txt\n+made\n*** End Patch\n"
_SUMMARY = {
    "name": "summarize",
    "match": {"last_user": "CONTEXT CHECKPOINT COMPACTION"},
    "items": [message("SUMMARY: so far.")],
}


def _once(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule used once: after a compaction Codex asks again from the summary, which would
    match the first step again (a call id twice in one thread, which Codex itself refuses)."""
    return {**rule, "times": 1}


def _spawn(task: str, call_id: str) -> dict[str, Any]:
    arguments = {"task_name": task, "message": f"CHILD-{task}: work.", "fork_turns": "none"}
    return collab("spawn_agent", arguments, call_id)


KILLED_SCENARIOS = [
    Scenario(
        "killed_tools",
        "Go.",
        [
            first(call("exec_command", _SLOW, "a1"), call("exec_command", {"cmd": "echo x"}, "a2")),
            after(
                "a2", call("update_plan", {"plan": [{"step": "s", "status": "completed"}]}, "a3")
            ),
            after("a3", custom("apply_patch", _PATCH, "a4")),
            after("a4", call("exec_command", {"cmd": "seq 1 300"}, "a5")),
            after("a5", message("all done " * 50, phase="final_answer")),
        ],
    ),
    Scenario(
        "killed_agent",
        "Go.",
        [
            *worker("w1", {"cmd": "sleep 0.3; echo w"}, "w1c", "w1 done"),
            first(_spawn("w1", "s1")),
            after("s1", collab("wait_agent", {"timeout_ms": 5000}, "s2")),
            after("s2", message("finished")),
        ],
        extra=MULTI_AGENT,
    ),
    Scenario(
        "killed_compaction",
        "Go.",
        [
            _SUMMARY,
            _once({**first(call("exec_command", {"cmd": "echo one"}, "c1")), "usage": HIGH_USAGE}),
            _once({**after("c1", call("exec_command", _SLOW, "c2")), "usage": HIGH_USAGE}),
            _once(after("c2", message("end"))),
        ],
        extra=SMALL_CONTEXT,
    ),
    Scenario(
        "killed_images",
        "Go.",
        [
            first(call("view_image", {"path": "dot.png"}, "i1")),
            after("i1", call("view_image", {"path": "dot.png"}, "i2")),
            after("i2", message("seen")),
        ],
        files={"dot.png": PNG},
    ),
    Scenario(
        "killed_mixed",
        "Go.",
        [
            _SUMMARY,
            *worker("w2", {"cmd": "echo w2"}, "w2c", "w2 done"),
            _once(
                {
                    **first(
                        call("view_image", {"path": "dot.png"}, "m1"),
                        call("exec_command", _SLOW, "m2"),
                    ),
                    "usage": HIGH_USAGE,
                }
            ),
            _once(after("m2", _spawn("w2", "m3"))),
            _once(after("m3", collab("wait_agent", {"timeout_ms": 5000}, "m4"))),
            _once(after("m4", message("end " * 100))),
        ],
        files={"dot.png": PNG},
        extra=(*MULTI_AGENT, *SMALL_CONTEXT),
    ),
]


@attrs.frozen
class Kill:
    scenario: Scenario
    schema: int
    #: seconds after Codex starts
    after: float
    signum: int

    def describe(self) -> str:
        name = signal.Signals(self.signum).name
        told = f"{self.scenario.extra}, images {self.scenario.images}"
        return (
            f"{self.scenario.name} (schema {self.schema}, {told}): {name} after {self.after:.2f} s"
        )


def kill_of(seed: int) -> Kill:
    """The kill of ``seed`` (the same seed, the same kill): a scenario (now and then a random
    one), its pace, the schema (alternating), for schema 3 sometimes a payload size limit or a total budget, sometimes an
    image attached to the prompt, a signal (mostly SIGKILL) and a moment within the first
    ~2.5 s (a paced scenario runs 1-4 s)."""
    rng = random.Random(seed)
    scenario = rng.choice(KILLED_SCENARIOS)
    schema = 2 + seed % 2
    # added last, drawn apart so that each seed's other choices stay as they were: now and
    # then a random live scenario (tests.live.random_scenarios: every kind of item and tool,
    # failures, hooks, workers, compactions) killed instead (in a schema it is recorded in)
    other = random.Random(f"random-kill-{seed}")
    if other.random() < 0.35:
        scenario = random_scenario(other.randrange(10**6))
        schema = schema if schema in scenario.schemas else scenario.schemas[0]
    pace = rng.choice([0.02, 0.05, 0.1, 0.2])
    scenario = attrs.evolve(scenario, rules=[{**rule, "pace": pace} for rule in scenario.rules])
    if schema == 3 and rng.random() < 0.4:
        limit = rng.choice([200, 600, 2000])
        extra = (*scenario.extra, "-c", f"rollout_trace.max_payload_bytes={limit}")
        scenario = attrs.evolve(scenario, extra=extra)
    signum = rng.choice([signal.SIGKILL] * 3 + [signal.SIGTERM, signal.SIGINT])
    # added later, drawn apart so that each seed's other choices stay as they were: for
    # schema 3 a total budget (the log stops where it runs out), an image given with -i
    later = random.Random(f"later-{seed}")
    if schema == 3 and later.random() < 0.4:
        budget = later.choice([4000, 15000, 40000])
        extra = (*scenario.extra, "-c", f"rollout_trace.max_bytes={budget}")
        scenario = attrs.evolve(scenario, extra=extra)
    if later.random() < 0.25:
        files = {**scenario.files, "dot.png": PNG}
        scenario = attrs.evolve(scenario, files=files, images=("dot.png",))
    return Kill(scenario, schema, rng.uniform(0.3, 2.5), signum)
