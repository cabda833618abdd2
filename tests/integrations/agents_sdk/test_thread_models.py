"""Which model an Agents SDK agent's thread shows. The SDK's agent spans name no model, and a
thread's model is written when the thread starts, before the agent's first response names
one: a processor given no ``model=`` records ``unknown``, and ``show`` and the viewer showed
that (newuser25). They show the model of the thread's first inference call instead, said to
be that; a ``model=`` given to the processor is the thread's model and is shown as it is."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

pytest.importorskip("agents")

from agents import Runner

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor
from rollout_trace_sdk.view.model import build_view_model

from ..fake_agents_api import FakeAgentsAPI
from .scripted import QUESTION, reduce_both, register, trace_bundles, triage


def _show(bundle: Path) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert main(["show", str(bundle)], out=out, err=err) == 0, err.getvalue()
    return out.getvalue()


@pytest.mark.parametrize("given", [None, "my-model"])
def test_an_agents_thread_shows_the_model_its_responses_name(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], given: str | None
) -> None:
    register(processors, tmp_path, **({} if given is None else {"model": given}))
    asyncio.run(Runner.run(triage(fake.base_url, writer_model="gpt-writer"), QUESTION))
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)  # Codex reduces it to the same state: nothing new recorded
    recorded = {t["agent_path"]: t["default_model"] for t in state["threads"].values()}
    assert recorded == dict.fromkeys(
        ("/root", "/root/translator", "/root/writer"), given or "unknown"
    )

    threads = {t["path"]: t for t in build_view_model(state)["threads"]}
    headers = {
        line.split()[1]: line for line in _show(bundle).splitlines() if line.startswith("━━ ")
    }
    expected = {"/root": "gpt-test", "/root/translator": "gpt-test", "/root/writer": "gpt-writer"}
    for path, model in expected.items():
        if given is None:  # from the thread's first response, said to be so
            assert (threads[path]["model"], threads[path].get("mc")) == (model, 1)
            assert f" · {model} (its first call's) · " in headers[path], headers[path]
        else:  # the processor's model= is the thread's: shown as recorded
            assert threads[path]["model"] == given and "mc" not in threads[path]
            assert f" · {given} · " in headers[path], headers[path]
