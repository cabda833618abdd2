"""The second process of test_kept.py: a worker that resumes a run another process paused,
as a web service does when the approval arrives (``RunState.from_string`` of the stored
state, then ``Runner.run``), with the processor set up as the docs say (same traces root).

``python -m tests.integrations.agents_sdk.resume_elsewhere BASE_URL ROOT STATE DECISION
AGENT SCHEMA``: ``DECISION`` is ``approve`` or ``reject`` (every interruption), ``AGENT``
one of :data:`AGENTS`. Prints the run's final output as JSON; the recorder's warnings go to
stderr, each once.
"""

from __future__ import annotations

import asyncio
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents import Agent, Runner, RunState, set_trace_processors

from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor

from .scripted import approval_agent, asking_triage

#: the agents a test pauses, by name: rebuilt here as the worker would (same names, tools)
AGENTS: dict[str, Callable[[str], Agent[Any]]] = {
    "asker": approval_agent,
    "bergen": lambda url: approval_agent(url, "Bergen", "You ask for Bergen."),
    "asker_bergen": lambda url: approval_agent(url, "Asker", "You ask for Bergen."),
    "triage": asking_triage,
}


def main(argv: list[str]) -> None:
    base_url, root, state_file, decision, name, schema = argv
    warnings.simplefilter("always")
    processor = RolloutTraceProcessor(root=root, schema_version=int(schema))
    set_trace_processors([processor])
    agent = AGENTS[name](base_url)

    async def run() -> Any:
        state = await RunState.from_string(agent, Path(state_file).read_text())
        for interruption in state.get_interruptions():
            (state.approve if decision == "approve" else state.reject)(interruption)
        return (await Runner.run(agent, state)).final_output

    try:
        output = asyncio.run(run())
    finally:
        processor.shutdown()
    print(json.dumps(output))


if __name__ == "__main__":
    main(sys.argv[1:])
