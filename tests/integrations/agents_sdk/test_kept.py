"""Runs paused for an approval in this process and resumed from their stored ``RunState`` in
a real second process (``resume_elsewhere.py``, same traces root), as a web service's
worker resumes them: the resumed run's tool call is the model's (``call_id``, arguments),
answering the call in its request, from the file the paused run's processor kept under the
root (``_agent_kept.py``); a root gone or refused falls back to ``call_<span id>`` with a
warning. Every bundle reduces the same by Codex and by ours."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agents")

from agents import Agent, RunConfig, Runner

import rollout_trace_sdk
from rollout_trace_sdk.integrations import _agent_kept
from rollout_trace_sdk.integrations._agent_kept import FOLDER, PausedFiles
from rollout_trace_sdk.integrations._agent_spans import PausedAgentRun, WaitingCall
from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor
from rollout_trace_sdk.record.redact import RedactionConfig

from ...record.recorder_support import loss_report, of_type, payload
from ..fake_agents_api import REPORT, WEATHER, FakeAgentsAPI
from .resume_elsewhere import AGENTS
from .scripted import QUESTION, reduce_both, register, trace_bundles

_PACKAGE = Path(rollout_trace_sdk.__file__).resolve().parents[1]


def _pause(agent: Agent[Any], stored: Path, **options: Any) -> None:
    """``agent``'s run paused at a call waiting for approval, its state stored in ``stored``
    (``to_string``, as a service keeps it for the approval)."""

    async def run() -> None:
        paused = await Runner.run(agent, QUESTION, **options)
        assert paused.interruptions
        stored.write_text(paused.to_state().to_string())

    asyncio.run(run())


def _resume_elsewhere(
    fake: FakeAgentsAPI, root: Path, stored: Path, decision: str, agent: str, schema: int
) -> tuple[Path, str]:
    """Resume the stored state in a second process: the bundle its run made and its
    stderr (the recorder's warnings)."""
    before = set(trace_bundles(root)) if root.exists() else set()
    command = [sys.executable, "-m", "tests.integrations.agents_sdk.resume_elsewhere"]
    result = subprocess.run(
        [*command, fake.base_url, str(root), str(stored), decision, agent, str(schema)],
        capture_output=True,
        timeout=300,
        check=False,
        cwd=_PACKAGE,
        env={**os.environ, "PYTHONPATH": str(_PACKAGE)},
    )
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert result.stdout.decode().strip() == f'"{REPORT}"'
    [bundle] = set(trace_bundles(root)) - before
    return bundle, stderr


def _answered(state: dict[str, Any], tool: dict[str, Any]) -> str:
    """The text that answered ``tool``, checked carried after the model's call by the
    request of the turn that ran it."""
    [output] = tool["model_visible_output_item_ids"]
    [request] = [
        call
        for call in state["inference_calls"].values()
        if call["codex_turn_id"] == tool["started_by_codex_turn_id"]
    ]
    assert tool["model_visible_call_item_ids"][0] in request["request_item_ids"]
    assert output in request["request_item_ids"]
    text: str = state["conversation_items"][output]["body"]["parts"][0]["text"]
    return text


@pytest.mark.parametrize("schema", [2, 3])
def test_a_run_resumed_in_another_process_runs_the_paused_call(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], schema: int
) -> None:
    """Paused here, approved and resumed in another process: its tool call was
    ``call_<span id>`` with ``{}`` (the paused calls were kept in this process's memory),
    its output answering no call. Now it is the model's call, answered in its request, and
    the kept file is marked resumed; nothing warned, nothing lost."""
    register(processors, tmp_path, schema_version=schema)
    stored = tmp_path / "state.json"
    stored.parent.mkdir(exist_ok=True)
    _pause(AGENTS["asker"](fake.base_url), stored)
    [paused] = trace_bundles(tmp_path)
    resumed, stderr = _resume_elsewhere(fake, tmp_path, stored, "approve", "asker", schema)
    assert "RecorderWarning" not in stderr
    state = reduce_both(resumed)
    [tool] = state["tool_calls"].values()
    assert tool["tool_call_id"] == tool["model_visible_call_id"] == "call_weather"
    assert tool["summary"]["input_preview"] == '{"city":"Oslo"}'
    assert tool["execution"]["status"] == "completed"
    assert _answered(state, tool) == WEATHER
    [kept] = (tmp_path / FOLDER).iterdir()
    assert kept.suffix == ".resumed"
    # the SDK started the trace anew there (on_trace_start): no "resumed" said (docs)
    [event] = [
        payload(resumed, e["payload"]["event_payload"])
        for e in of_type(resumed, "protocol_event_observed")
        if e["payload"]["event_type"] == "agents_sdk_trace"
    ]
    assert "resumed" not in event
    reduce_both(paused)
    assert not loss_report(paused)
    assert not loss_report(resumed)


def test_a_call_rejected_in_another_process_leaves_no_call_for_a_later_run(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """Two runs of one agent paused under one trace id at calls of one tool; the first
    rejected in another process, the second approved in a third. The rejected run runs no
    function span (the SDK sends the rejection as the call's output), so no tool call is
    made up in its bundle; its request carries the model's call and the rejection. Its kept
    file was left to be taken, and the approved run took it: its tool call was the rejected
    run's ``call_weather`` (Oslo). Now the rejected run's first request, answering
    ``call_weather``, marks that file resumed, and the approved run runs its own
    ``call_bergen``."""
    register(processors, tmp_path, schema_version=3)
    config = RunConfig(trace_id="trace_0123456789abcdef0123456789abcdef")
    states = {name: tmp_path / f"{name}.json" for name in ("asker", "asker_bergen")}
    for name, stored in states.items():
        _pause(AGENTS[name](fake.base_url), stored, run_config=config)
    rejected, stderr = _resume_elsewhere(fake, tmp_path, states["asker"], "reject", "asker", 3)
    assert "RecorderWarning" not in stderr
    state = reduce_both(rejected)
    assert not state["tool_calls"]
    [request] = state["inference_calls"].values()
    texts = [
        part.get("text")
        for item in request["request_item_ids"]
        for part in state["conversation_items"][item]["body"].get("parts") or ()
    ]
    assert any("not approved" in str(text) for text in texts)
    approved, stderr = _resume_elsewhere(
        fake, tmp_path, states["asker_bergen"], "approve", "asker_bergen", 3
    )
    assert "RecorderWarning" not in stderr
    [tool] = reduce_both(approved)["tool_calls"].values()
    assert (tool["tool_call_id"], tool["summary"]["input_preview"]) == (
        "call_bergen",
        '{"city":"Bergen"}',
    )
    assert sorted(p.suffix for p in (tmp_path / FOLDER).iterdir()) == [".resumed"] * 2


def test_a_call_paused_inside_an_agent_run_as_a_tool_resumes_in_another_process(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """The call waiting is an agent run as a tool's (``translate``, whose agent Asker asks
    for Bergen): resumed in another process, the inner run's call is the model's
    (``call_bergen``, Bergen), answered in the inner agent's request, and the caller's call
    is ``call_translate`` with its arguments."""
    register(processors, tmp_path, schema_version=3)
    stored = tmp_path / "state.json"
    _pause(AGENTS["triage"](fake.base_url), stored)
    resumed, stderr = _resume_elsewhere(fake, tmp_path, stored, "approve", "triage", 3)
    assert "RecorderWarning" not in stderr
    state = reduce_both(resumed)
    tools = {tool["tool_call_id"]: tool for tool in state["tool_calls"].values()}
    assert set(tools) == {"call_translate", "call_bergen", "call_handoff"}
    assert tools["call_translate"]["summary"]["input_preview"] == '{"input":"rain in Oslo"}'
    assert tools["call_bergen"]["summary"]["input_preview"] == '{"city":"Bergen"}'
    assert _answered(state, tools["call_bergen"]) == WEATHER
    assert not loss_report(resumed)


def test_runs_paused_under_one_trace_id_each_resume_their_own_calls_elsewhere(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """Two runs paused under one trace id (``trace_id=`` a conversation's) by two agents,
    resumed in two other processes, the later first: each resumed run runs its own paused
    run's call (the kept files are told apart by agent and tool, each taken once)."""
    register(processors, tmp_path, schema_version=3)
    config = RunConfig(trace_id="trace_0123456789abcdef0123456789abcdef")
    states = {name: tmp_path / f"{name}.json" for name in ("asker", "bergen")}
    for name, stored in states.items():
        _pause(AGENTS[name](fake.base_url), stored, run_config=config)
    calls = {}
    for name in ("bergen", "asker"):
        bundle, stderr = _resume_elsewhere(fake, tmp_path, states[name], "approve", name, 3)
        assert "RecorderWarning" not in stderr
        [tool] = reduce_both(bundle)["tool_calls"].values()
        calls[name] = (tool["tool_call_id"], tool["summary"]["input_preview"])
    assert calls == {
        "asker": ("call_weather", '{"city":"Oslo"}'),
        "bergen": ("call_bergen", '{"city":"Bergen"}'),
    }
    assert sorted(p.suffix for p in (tmp_path / FOLDER).iterdir()) == [".resumed"] * 2


def test_two_workers_resuming_at_once_take_one_paused_run_each(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """Two runs of one agent paused under one trace id at calls of one tool, resumed at
    once by two worker processes: each takes one kept file (renamed ``.resumed``, which
    only one of them can do), so the two bundles record the two calls, none twice (a
    guard; which worker gets which is the order they come in, as documented)."""
    register(processors, tmp_path, schema_version=3)
    config = RunConfig(trace_id="trace_0123456789abcdef0123456789abcdef")
    states = {name: tmp_path / f"{name}.json" for name in ("asker", "asker_bergen")}
    for name, stored in states.items():
        _pause(AGENTS[name](fake.base_url), stored, run_config=config)
    paused = set(trace_bundles(tmp_path))
    command = [sys.executable, "-m", "tests.integrations.agents_sdk.resume_elsewhere"]
    workers = [
        subprocess.Popen(
            [*command, fake.base_url, str(tmp_path), str(stored), "approve", name, "3"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=_PACKAGE,
            env={**os.environ, "PYTHONPATH": str(_PACKAGE)},
        )
        for name, stored in states.items()
    ]
    for worker in workers:
        _, stderr = worker.communicate(timeout=300)
        assert worker.returncode == 0, stderr.decode()
        assert b"RecorderWarning" not in stderr
    resumed = set(trace_bundles(tmp_path)) - paused
    calls = sorted(
        tool["tool_call_id"]
        for bundle in resumed
        for tool in reduce_both(bundle)["tool_calls"].values()
    )
    assert calls == ["call_bergen", "call_weather"]
    assert sorted(p.suffix for p in (tmp_path / FOLDER).iterdir()) == [".resumed"] * 2


@pytest.mark.parametrize("root", ["gone", "symlinked"])
def test_a_run_resumed_where_the_kept_calls_cannot_be_read_falls_back(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], root: str
) -> None:
    """The resumed process's root is gone (another machine's, or removed), or its folder of
    kept calls is a symlink (refused, as the reducer refuses one in a bundle): the resumed
    run is recorded as before, ``call_<span id>`` with the arguments its function span
    traced (none on openai-agents 0.24 and later: ``{}``; 0.19 to 0.21 trace them), with a
    warning, and the run is unharmed."""
    paused_root = tmp_path / "paused"
    register(processors, paused_root, schema_version=3)
    stored = tmp_path / "state.json"
    _pause(AGENTS["asker"](fake.base_url), stored)
    if root == "gone":
        resumed_root = tmp_path / "gone"
    else:
        resumed_root = tmp_path / "other"
        resumed_root.mkdir()
        (resumed_root / FOLDER).symlink_to(paused_root / FOLDER)
    bundle, stderr = _resume_elsewhere(fake, resumed_root, stored, "approve", "asker", 3)
    assert "no paused run's calls were found" in stderr
    [tool] = reduce_both(bundle)["tool_calls"].values()
    assert tool["tool_call_id"].startswith("call_span_")
    assert tool["summary"]["input_preview"] in ("{}", '{"city":"Oslo"}')
    [kept] = (paused_root / FOLDER).iterdir()
    assert kept.suffix == ".json"  # not taken


def _waiting(arguments: str) -> WaitingCall:
    call = {"type": "function_call", "call_id": "call_a", "name": "f", "arguments": arguments}
    inner = WaitingCall({**call, "call_id": "call_inner"})
    return WaitingCall(call, inner=PausedAgentRun(None, [inner]))


def test_the_kept_calls_are_redacted_private_and_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file holds what the bundle would (a secret in the arguments redacted), 0600 in a
    0700 folder; a run whose calls exceed ``MAX_BYTES`` is kept without their arguments;
    at most ``FILES_KEPT`` files stay, the oldest removed."""
    monkeypatch.setattr(_agent_kept, "FILES_KEPT", 2)
    monkeypatch.setattr(_agent_kept, "MAX_BYTES", 4096)
    files = PausedFiles(True)
    secret = "sk-proj-" + "A1b2C3d4" * 6
    assert files.write(tmp_path, "trace_1", "Asker", [_waiting(f'{{"key":"{secret}"}}')])
    [kept] = (tmp_path / FOLDER).iterdir()
    assert secret not in kept.read_text()
    assert "call_inner" in kept.read_text()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / FOLDER).stat().st_mode) == 0o700
    assert files.write(tmp_path, "trace_2", "Asker", [_waiting("x" * 5000)])
    assert files.write(tmp_path, "trace_3", "Asker", [_waiting("{}")])
    assert len(list((tmp_path / FOLDER).iterdir())) == 2
    [large] = files.resumed(tmp_path, "trace_2", "Asker", lambda calls: True)
    assert "arguments" not in large.call and large.call["call_id"] == "call_a"
    assert large.inner is not None and large.inner.calls[0].call["call_id"] == "call_inner"
    with pytest.warns(Warning, match="no paused run's calls"):
        assert files.resumed(tmp_path, "trace_1", "Asker", lambda calls: True) == []
    # a file older than KEPT_SECONDS goes at the next write, whatever the count
    [old] = (p for p in (tmp_path / FOLDER).iterdir() if p.suffix == ".json")
    os.utime(old, (0, 0))
    assert files.write(tmp_path, "trace_4", "Asker", [_waiting("{}")])
    assert old not in set((tmp_path / FOLDER).iterdir())


_SHORT_WRITE = """
import resource, signal, sys
from pathlib import Path
from rollout_trace_sdk.integrations._agent_kept import PausedFiles
from rollout_trace_sdk.integrations._agent_spans import WaitingCall
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit: EFBIG, as ENOSPC
call = {"type": "function_call", "call_id": "call_a", "name": "f", "arguments": "x" * 3000}
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.RLIM_INFINITY))
print(PausedFiles(False).write(Path(sys.argv[1]), "trace_1", "Asker", [WaitingCall(call)]))
"""


def test_a_file_the_disk_takes_only_part_of_is_not_kept(tmp_path: Path) -> None:
    """A disk that fills mid-file (here a real file-size limit, which ``os.write`` meets as
    it meets a full disk: the bytes that fit written, then an error) leaves no file: the
    write is a failure, warned, so the run is kept in memory. A short write was taken for
    the whole file, which was published cut (1,000 of 3,100 bytes), unreadable, and the
    run's calls lost with no warning."""
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", _SHORT_WRITE, str(tmp_path)],
        capture_output=True,
        timeout=60,
        check=False,
        cwd=_PACKAGE,
        env={**os.environ, "PYTHONPATH": str(_PACKAGE)},
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().strip() == "False"
    assert "writing the calls a paused Agents SDK run left waiting failed" in (
        result.stderr.decode()
    )
    assert list((tmp_path / FOLDER).iterdir()) == []


def test_a_trace_id_or_agent_the_redaction_matches_still_finds_its_calls(tmp_path: Path) -> None:
    """A conversation's id used as the trace id, and an agent named for a customer, that the
    processor's redaction matches (``extra_patterns``): the run is found, and neither is in
    the file. They were redacted with the calls, then compared as they are, so no resumed
    run found its calls (a warning, ``call_<span id>``)."""
    files = PausedFiles(RedactionConfig(extra_patterns=[("customer", r"cust_[0-9]+")]))
    assert files.write(tmp_path, "conv-cust_4242", "Agent cust_77", [_waiting("{}")])
    [kept] = (tmp_path / FOLDER).iterdir()
    assert "cust_" not in kept.read_text()
    [call] = files.resumed(tmp_path, "conv-cust_4242", "Agent cust_77", lambda calls: True)
    assert call.call["call_id"] == "call_a"


@pytest.mark.parametrize("folder", ["world-writable", "group-writable", "another's", "symlink"])
def test_a_paused_runs_folder_not_private_to_the_user_is_refused(
    tmp_path: Path, folder: str
) -> None:
    """The folder is made 0700, but one already there was taken as it was (fix47): on a
    shared root, one another user made, or made writable, let them plant a run's calls for a
    resumed run to take as the model's (here a kept file copied in: it was taken), or swap
    them. Such a folder, and a symlink (refused before), is neither read nor written: the
    run falls back to ``call_<span id>`` with the warnings it gives for a folder it cannot
    read, and nothing is written there."""
    if folder == "another's" and os.geteuid() != 0:
        pytest.skip("only root can give a folder to another user")
    files = PausedFiles(False)
    honest = tmp_path / "honest"
    honest.mkdir()
    assert files.write(honest, "trace_1", "Asker", [_waiting("{}")])
    [kept] = (honest / FOLDER).iterdir()
    root = tmp_path / "shared"
    root.mkdir()
    planted = root / FOLDER
    if folder == "symlink":
        target = tmp_path / "elsewhere"
        target.mkdir(0o700)
        planted.symlink_to(target)
    else:
        planted.mkdir()
        mode = {"world-writable": 0o777, "group-writable": 0o770, "another's": 0o700}[folder]
        planted.chmod(mode)
        if folder == "another's":
            os.chown(planted, 65534, 65534)
    (planted / kept.name).write_bytes(kept.read_bytes())
    before = sorted(p.name for p in planted.iterdir())
    # O_NOFOLLOW on a symlink: "Not a directory"
    refused = "Not a directory" if folder == "symlink" else "is not private to this user"
    with pytest.warns(Warning) as said:
        assert files.resumed(root, "trace_1", "Asker", lambda calls: True) == []
    warned = [str(w.message) for w in said]
    assert any("reading the calls a paused" in w and refused in w for w in warned), warned
    assert any("no paused run's calls were found" in w for w in warned), warned
    with pytest.warns(
        Warning, match="writing the calls a paused Agents SDK run left waiting"
    ) as said:
        assert not files.write(root, "trace_2", "Asker", [_waiting("{}")])
    assert any(refused in str(w.message) for w in said)
    assert sorted(p.name for p in planted.iterdir()) == before  # not taken, nothing added
