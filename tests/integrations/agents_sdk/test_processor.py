""":class:`RolloutTraceProcessor` itself: callbacks from several OS threads at once;
back-pressure instead of loss when the writer's budget is small; no root, no recording; its
loop closed on ``shutdown``; the capture limits it takes; where ended traces' bundles went; the example that uses it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agents")

from agents import Runner, set_trace_processors
from agents.tracing import custom_span, guardrail_span, trace

import rollout_trace_sdk
from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor
from rollout_trace_sdk.sources import bundle_info

from ...record.recorder_support import events, of_type, payload
from ..fake_agents_api import REPORT, FakeAgentsAPI
from .scripted import QUESTION, approval_agent, reduce_both, register, trace_bundles, triage


def test_shutdown_closes_the_processors_loop(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """Each processor's loop kept its selector and self-pipe open after ``shutdown`` (three
    file descriptors, and a ResourceWarning when collected; found by review)."""
    register(processors, tmp_path)
    asyncio.run(Runner.run(triage(fake.base_url), QUESTION))
    loop = processors[0]._loop
    assert loop is not None
    processors[0].shutdown()
    assert loop.loop.is_closed()


def test_runs_in_several_os_threads_at_once(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """``Runner.run_sync`` in four threads: the callbacks arrive from four OS threads (none of
    them the processor's loop thread), concurrently; each trace is its own complete bundle."""
    register(processors, tmp_path)
    outputs: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            outputs.append(Runner.run_sync(triage(fake.base_url), QUESTION).final_output)
        except BaseException as exc:  # pragma: no cover - the failure the test looks for
            errors.append(exc)

    workers = [threading.Thread(target=run) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == [] and outputs == [REPORT] * 4
    bundles = trace_bundles(tmp_path)
    assert len(bundles) == 4
    for bundle in bundles:
        seqs = [e["seq"] for e in events(bundle)]
        assert seqs == list(range(1, len(seqs) + 1))
        state = reduce_both(bundle)
        assert len(state["inference_calls"]) == 5 and len(state["tool_calls"]) == 3


def test_small_budget_waits_instead_of_dropping(
    tmp_path: Path, processors: list[RolloutTraceProcessor]
) -> None:
    """300 spans of 20 KB each through a 64 KiB budget: the callbacks wait for the writer
    (memory stays bounded) and nothing is dropped. Without the wait, the thread path drops
    whatever goes past twice the budget."""
    register(processors, tmp_path, max_queued_bytes=64 << 10)
    blob = "x" * 20_000
    with trace("bulk"):
        for n in range(300):
            with custom_span("blob", {"n": n, "data": blob}):
                pass
        with guardrail_span("no_secrets", triggered=True):
            pass
    [bundle] = trace_bundles(tmp_path)
    observed = [e["payload"] for e in of_type(bundle, "protocol_event_observed")]
    customs = [p for p in observed if p["event_type"] == "agents_sdk_custom"]
    assert len(customs) == 300
    [guard] = [p for p in observed if p["event_type"] == "agents_sdk_guardrail"]
    body = payload(bundle, guard["event_payload"])
    assert body["name"] == "no_secrets" and body["triggered"] is True
    assert events(bundle)[-1]["payload"]["type"] == "recording_completed"
    reduce_both(bundle)


def test_without_a_root_nothing_is_recorded(
    tmp_path: Path,
    fake: FakeAgentsAPI,
    processors: list[RolloutTraceProcessor],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ROLLOUT_TRACE_ROOT", raising=False)
    monkeypatch.delenv("CODEX_ROLLOUT_TRACE_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    processor = RolloutTraceProcessor()
    processors.append(processor)
    set_trace_processors([processor])
    result = asyncio.run(Runner.run(triage(fake.base_url), QUESTION))
    assert result.final_output == REPORT
    assert list(tmp_path.iterdir()) == []


def test_example_runs_offline(tmp_path: Path) -> None:
    """examples/agents_sdk.py runs against its own fake API and leaves a bundle that reduces,
    with the writer as a child thread."""
    example = Path(__file__).resolve().parents[3] / "examples" / "agents_sdk.py"
    # the package these tests import, not whichever one is installed (a script's path is the
    # examples folder's)
    package = Path(rollout_trace_sdk.__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, str(example), str(tmp_path)],
        capture_output=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": str(package)},
    )
    assert result.returncode == 0, result.stderr.decode()
    assert b"Report: Oslo: rain, 7 C" in result.stdout
    [bundle] = trace_bundles(tmp_path)
    # it says where its bundle went, as the other examples do (it did not; found by polish32)
    assert result.stdout.decode().splitlines()[-1] == f"trace: {bundle}"
    state = reduce_both(bundle)
    paths = {t["agent_path"] for t in state["threads"].values()}
    assert paths == {"/root", "/root/writer"}


def test_the_processor_takes_the_capture_limits_and_checks_its_options(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """The processor had no capture limits, redaction or durability options: an Agents SDK
    user could not bound a bundle (found by review). They are open_rollout's, checked when
    the processor is made."""
    with pytest.raises(ValueError, match="need schema_version=3"):
        RolloutTraceProcessor(root=tmp_path, schema_version=2, max_payload_bytes=100)
    with pytest.raises(TypeError, match="max_bundle_bytes"):
        # schema 3 named: a cap with $ROLLOUT_TRACE_SCHEMA=2 (the suite's) would also warn
        RolloutTraceProcessor(root=tmp_path, schema_version=3, max_bundle_bytes="1MB")  # type: ignore[arg-type]
    register(processors, tmp_path, schema_version=3, max_payload_bytes=40, durable=True)
    result = asyncio.run(Runner.run(triage(fake.base_url), QUESTION))
    assert result.final_output == REPORT
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)
    assert state["recording_status"] == "closed_with_partial_payloads"
    cut = [p for p in state["raw_payloads"].values() if p.get("capture")]
    assert cut and {p["capture"]["status"] for p in cut} <= {"truncated", "omitted"}


def test_finished_bundles_say_where_each_ended_trace_went(
    tmp_path: Path,
    fake: FakeAgentsAPI,
    processors: list[RolloutTraceProcessor],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once ``Runner.run`` returned, ``bundles()`` (the traces still open) was empty, and the
    run's bundle could be found only by listing the root (found by polish32):
    ``finished_bundles()`` names each ended trace's bundle by trace id, oldest first, the
    latest ``FINISHED_KEPT`` of them."""

    from rollout_trace_sdk.integrations import _agent_traces

    register(processors, tmp_path)
    processor = processors[0]
    with trace("first") as first:
        assert asyncio.run(Runner.run(triage(fake.base_url), QUESTION)).final_output == REPORT
        [open_bundle] = processor.bundles()
        assert processor.finished_bundles() == {}
    assert processor.bundles() == []
    assert processor.finished_bundles() == {first.trace_id: open_bundle}
    assert (open_bundle / "trace.jsonl").read_bytes().endswith(b"\n")
    assert reduce_both(open_bundle)["threads"]
    # bounded: the oldest are forgotten
    monkeypatch.setattr(_agent_traces, "FINISHED_KEPT", 2)
    ids = []
    for name in ("second", "third"):
        with trace(name) as each:
            ids.append(each.trace_id)
    finished = processor.finished_bundles()
    assert list(finished) == ids
    assert sorted(finished.values()) == sorted(set(trace_bundles(tmp_path)) - {open_bundle})


def test_finished_bundles_under_traces_ending_at_once_failing_and_shut_down(
    tmp_path: Path, processors: list[RolloutTraceProcessor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found nothing wrong (review34), kept as a guard: 24 traces ending at once from OS
    threads and 24 from asyncio tasks, a trace whose body raised, and one still open at
    ``shutdown`` are each named once with their own bundle, no more than the bound; the
    mapping given is a copy; a trace id used again names its latest bundle."""
    from rollout_trace_sdk.integrations import _agent_traces

    register(processors, tmp_path)
    processor = processors[0]
    start = threading.Barrier(24)
    ids: list[str] = []

    def one(n: int) -> None:
        with trace(f"thread {n}") as each:
            ids.append(each.trace_id)
            start.wait()  # all of them open, then all ending at once

    workers = [threading.Thread(target=one, args=(n,)) for n in range(24)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    async def tasks() -> None:
        async def task(n: int) -> None:
            with trace(f"task {n}") as each:
                ids.append(each.trace_id)
                await asyncio.sleep(0)

        await asyncio.gather(*(task(n) for n in range(24)))

    asyncio.run(tasks())
    with pytest.raises(ValueError), trace("raised") as raised:
        ids.append(raised.trace_id)
        raise ValueError("the run failed")
    finished = processor.finished_bundles()
    assert sorted(finished) == sorted(ids) and len(ids) == 49
    assert len(set(finished.values())) == 49
    assert sorted(finished.values()) == trace_bundles(tmp_path)
    first = finished[ids[0]]
    finished.clear()  # a copy: the processor's own is untouched
    assert len(processor.finished_bundles()) == 49
    # the same trace id again: its latest bundle, moved to the newest end
    with trace("again", trace_id=ids[0]):
        pass
    again = processor.finished_bundles()
    assert list(again)[-1] == ids[0] and len(again) == 49
    assert again[ids[0]] != first and first.is_dir()
    # bounded; and one still open when the processor shuts down is named too
    monkeypatch.setattr(_agent_traces, "FINISHED_KEPT", 3)
    opened = trace("open at shutdown")
    opened.start()
    processor.shutdown()
    kept = processor.finished_bundles()
    assert len(kept) == 3 and list(kept)[-1] == opened.trace_id
    assert (kept[opened.trace_id] / "trace.jsonl").read_bytes().endswith(b"\n")
    opened.finish()


def test_two_traces_open_under_one_id_each_close_their_own_bundle(
    tmp_path: Path, processors: list[RolloutTraceProcessor]
) -> None:
    """The SDK lets a caller name its traces, and one id for a conversation's runs puts two
    of them open at once when two requests overlap. The second's start replaced the first's
    recording, which was never closed (listed as still recording after ``shutdown``; found by
    review34): each trace now closes its own bundle at its own end, and the id's spans go to
    the latest trace of it still open. (A trace's bundle opens at its first agent span or
    first span's end: ``opens the first``.)"""
    register(processors, tmp_path)
    processor = processors[0]
    first = trace("first", trace_id="trace_shared")
    first.start(mark_as_current=True)
    assert processor.bundles() == []
    with custom_span("opens the first", {"n": 0}):
        pass
    [first_bundle] = processor.bundles()
    second = trace("second", trace_id="trace_shared")
    second.start(mark_as_current=True)
    with custom_span("to the second", {"n": 2}):
        pass
    assert len(processor.bundles()) == 2
    second.finish(reset_current=True)
    [still_open] = processor.bundles()
    assert still_open == first_bundle
    with custom_span("to the first", {"n": 1}):
        pass
    first.finish(reset_current=True)
    assert processor.bundles() == []
    bundles = trace_bundles(tmp_path)
    assert len(bundles) == 2 and first_bundle in bundles
    # both closed by the recorder (the first was left 'recording' for good)
    assert [bundle_info(b).status for b in bundles] == ["complete", "complete"]
    assert processor.finished_bundles() == {"trace_shared": first_bundle}  # the latest to end
    for bundle in bundles:
        observed = [e["payload"] for e in of_type(bundle, "protocol_event_observed")]
        customs = [p for p in observed if p["event_type"] == "agents_sdk_custom"]
        names = [payload(bundle, p["event_payload"])["name"] for p in customs]
        first_names = ["opens the first", "to the first"]
        assert names == (first_names if bundle == first_bundle else ["to the second"])
        reduce_both(bundle)


@pytest.mark.filterwarnings("ignore::rollout_trace_sdk.record.RecorderWarning")
@pytest.mark.parametrize("kept_in", ["files", "memory"])
def test_the_calls_paused_runs_left_waiting_are_kept_for_the_latest_few(
    tmp_path: Path,
    fake: FakeAgentsAPI,
    processors: list[RolloutTraceProcessor],
    monkeypatch: pytest.MonkeyPatch,
    kept_in: str,
) -> None:
    """The model's calls a paused run left waiting for approval are kept by trace id for the
    run resumed from its state (which names them by the model's ``call_id``), the latest
    few only: a run never resumed is forgotten. Kept in files under the root, the latest
    ``FILES_KEPT``; kept in memory when no file can be written there (its folder taken by a
    file: with a warning), the latest ``PAUSED_KEPT``."""
    from rollout_trace_sdk.integrations import _agent_kept, _agent_paused

    monkeypatch.setattr(_agent_kept, "FILES_KEPT", 1)
    monkeypatch.setattr(_agent_paused, "PAUSED_KEPT", 1)
    register(processors, tmp_path)
    if kept_in == "memory":
        (tmp_path / _agent_kept.FOLDER).write_text("")

    agent = approval_agent(fake.base_url)

    async def run() -> None:
        states = []
        for _ in range(2):  # two runs paused, then both resumed
            paused = await Runner.run(agent, QUESTION)
            states.append(paused.to_state())
            states[-1].approve(paused.interruptions[0])
        for state in states:
            assert (await Runner.run(agent, state)).final_output == REPORT

    asyncio.run(run())
    resumed = []
    for bundle in trace_bundles(tmp_path):
        [event] = [
            payload(bundle, e["payload"]["event_payload"])
            for e in of_type(bundle, "protocol_event_observed")
            if e["payload"]["event_type"] == "agents_sdk_trace"
        ]
        if event.get("resumed"):
            state = reduce_both(bundle)
            resumed.append((state["started_at_unix_ms"], list(state["tool_calls"])))
    [forgotten], [kept] = (ids for _, ids in sorted(resumed))
    assert forgotten.startswith("call_span_")  # the first paused run's calls were dropped
    assert kept == "call_weather"
