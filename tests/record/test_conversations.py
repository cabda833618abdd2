"""Requests on a conversation the server keeps (``conversation=``): recorded with the
conversation's items the rollout saw before their own input (``_conversations``), and reported
once when the rollout did not see the conversation begin. Found by clients22."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.record import RecorderWarning, open_rollout
from rollout_trace_sdk.record._conversations import (
    _KEPT_STATES,
    ClientLog,
    Conversations,
    conversation_id,
)
from rollout_trace_sdk.record._problems import Problem
from rollout_trace_sdk.record.requests import normalize_request

from ..codex_oracle import reduced_by_both
from .recorder_support import bundle_in

pytestmark = pytest.mark.anyio


def _user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _said(text: str, n: int) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text}]
    return {"type": "message", "role": "assistant", "content": content, "id": f"msg_{n}"}


def _request(
    convs: Conversations, sent: dict[str, Any]
) -> tuple[Any, dict[str, Any], list[Problem]]:
    body, problems = normalize_request(sent)
    return convs.request(sent, body, problems), body, problems


def test_a_conversation_created_by_the_client_is_shown_whole() -> None:
    log = ClientLog()
    log.created("conv_1", [{"role": "user", "content": "seed"}])
    convs = Conversations(log=log)
    token, body, problems = _request(convs, {"input": "hi", "conversation": "conv_1"})
    assert body["input"] == [_user("seed"), _user("hi")] and problems == []
    assert body["conversation"] == "conv_1"  # kept as sent
    convs.answered(token, [_said("hello", 1)])
    log.added("conv_1", [_user("note")])
    _, body, problems = _request(convs, {"input": "more", "conversation": {"id": "conv_1"}})
    assert body["input"] == [
        _user("seed"),
        _user("hi"),
        _said("hello", 1),
        _user("note"),
        _user("more"),
    ]
    assert problems == []
    # that request was not answered: the next sees the conversation without it
    _, body, _ = _request(convs, {"input": "retry", "conversation": "conv_1"})
    assert body["input"][-2:] == [_user("note"), _user("retry")]


def test_a_conversation_not_seen_from_its_start_is_its_input_alone_said_once() -> None:
    log = ClientLog()
    convs = Conversations(log=log)
    token, body, problems = _request(convs, {"input": "hi", "conversation": "conv_9"})
    assert body["input"] == [_user("hi")]
    assert problems == [
        "request conversation 'conv_9' holds items this rollout did not record (made before"
        " the rollout opened, used outside it, or given items the client did not see);"
        " recorded without them: the request's input alone"
    ]
    convs.answered(token, [_said("hello", 1)])
    _, body, problems = _request(convs, {"input": "more", "conversation": "conv_9"})
    assert body["input"] == [_user("hi"), _said("hello", 1), _user("more")] and problems == []


def test_a_created_conversation_stops_being_whole() -> None:
    """Used by a request no rollout recorded, changed (an item deleted) before its first
    request, or taken by another rollout's request: not whole for the next rollout."""
    log = ClientLog()
    for conv, change in (("conv_1", log.used), ("conv_2", log.altered)):
        log.created(conv)
        change(conv)
        _, _, problems = _request(Conversations(log=log), {"input": "hi", "conversation": conv})
        assert "holds items this rollout did not record" in problems[0]
    log.created("conv_3")
    _, _, problems = _request(Conversations(log=log), {"input": "hi", "conversation": "conv_3"})
    assert problems == []
    _, _, problems = _request(Conversations(log=log), {"input": "hi", "conversation": "conv_3"})
    assert "holds items this rollout did not record" in problems[0]


def test_a_deleted_item_makes_the_next_request_its_input_alone() -> None:
    log = ClientLog()
    log.created("conv_1")
    convs = Conversations(log=log)
    token, _, _ = _request(convs, {"input": "hi", "conversation": "conv_1"})
    convs.answered(token, [_said("hello", 1)])
    log.altered("conv_1")
    log.added("conv_1", [_user("after")])
    _, body, problems = _request(convs, {"input": "more", "conversation": "conv_1"})
    assert body["input"] == [_user("after"), _user("more")]
    assert problems == [
        "request conversation 'conv_1' changed where this rollout did not see it (an item"
        " deleted, a request not recorded); recorded from here on (the request's input after"
        " the items the client added)"
    ]


def test_a_request_with_previous_response_id_too_is_left_alone() -> None:
    """The API refuses both: the request is recorded as the memo records it."""
    log = ClientLog()
    log.created("conv_1")
    convs = Conversations(log=log)
    sent = {"input": "hi", "conversation": "conv_1", "previous_response_id": "resp_1"}
    token, body, problems = _request(convs, sent)
    assert token is None and body["input"] == [_user("hi")] and problems == []
    assert log.take("conv_1") is not None  # not taken: a later request still sees it whole


def test_conversation_ids_and_the_logs_bound() -> None:
    class Named:
        id = "conv_3"

    assert [conversation_id(v) for v in ("conv_1", {"id": "conv_2"}, Named(), {"x": 1}, 4)] == [
        "conv_1",
        "conv_2",
        "conv_3",
        None,
        None,
    ]
    log = ClientLog()
    for n in range(1100):
        log.created(f"conv_{n}")
    assert log.take("conv_0") is None and log.take("conv_1099") is not None


def test_a_rollout_keeps_the_latest_conversations_and_says_when_one_was_let_go() -> None:
    """A rollout used by many conversations keeps the items of the latest it used only
    (memory stays bounded); a request on one it let go of is its input alone, reported."""
    log = ClientLog()
    convs = Conversations(log=log)
    first, _, _ = _request(convs, {"input": "hi", "conversation": "conv_0"})
    convs.answered(first, [_said("hello", 0)])
    for n in range(1, _KEPT_STATES):
        convs.answered(_request(convs, {"input": "x", "conversation": f"conv_{n}"})[0], [])
    # conv_0 used again: now the latest, so the next new one lets conv_1 go instead
    token, body, problems = _request(convs, {"input": "again", "conversation": "conv_0"})
    assert body["input"] == [_user("hi"), _said("hello", 0), _user("again")]
    assert problems == []
    _request(convs, {"input": "x", "conversation": f"conv_{_KEPT_STATES}"})
    token, body, problems = _request(convs, {"input": "late", "conversation": "conv_1"})
    assert body["input"] == [_user("late")]
    assert problems == [
        "request conversation 'conv_1' was let go of (a rollout keeps the items of the"
        f" {_KEPT_STATES} conversations it used last); recorded from here on (the request's"
        " input alone)"
    ]
    convs.answered(token, [])
    _, body, problems = _request(convs, {"input": "on", "conversation": "conv_1"})
    assert body["input"] == [_user("late"), _user("on")] and problems == []
    assert len(convs._states) == _KEPT_STATES


def test_a_request_from_another_os_thread_waits_for_one_on_the_same_conversation() -> None:
    """Two OS threads of one rollout on one conversation: the second request, made while the
    first was between taking the conversation out of the bound's order and putting it back,
    found none and reported it as not seen from its start (its history lost). Found by
    review23b (4 threads, a shared conversation: 22 such reports in 40,000 requests)."""

    class Slow(ClientLog):
        def take(self, conv: str) -> Any:
            if threading.current_thread() is main:  # the second request runs meanwhile
                other.start()
                other.join(0.5)
            return super().take(conv)

    main = threading.current_thread()
    log = Slow()
    log.created("conv_1")
    convs = Conversations(log=log)
    found: list[list[Problem]] = []

    def second() -> None:
        found.append(_request(convs, {"input": "b", "conversation": "conv_1"})[2])

    other = threading.Thread(target=second)
    _, _, problems = _request(convs, {"input": "a", "conversation": "conv_1"})
    other.join(5)
    assert problems == [] and found == [[]]


def test_requests_from_many_os_threads_never_raise() -> None:
    """Threads letting the oldest conversation go at once raised (``dictionary changed size
    during iteration``, a ``KeyError``) into the recording call, which lost the inference."""
    convs = Conversations(log=ClientLog())
    failures: list[BaseException] = []

    def run(k: int) -> None:
        try:
            for n in range(10000):
                token, _, _ = _request(convs, {"input": "x", "conversation": f"conv_{k}_{n}"})
                convs.answered(token, [])
        except Exception as exc:
            failures.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        sys.setswitchinterval(interval)
    assert failures == [] and len(convs._states) == _KEPT_STATES


_LOCKED_FORK = """
import os, sys, threading, time
from rollout_trace_sdk.record._conversations import CLIENT_LOG, Conversations
from rollout_trace_sdk.record.requests import normalize_request

convs = Conversations()
held, release = threading.Event(), threading.Event()

def worker() -> None:  # another thread mid-request (or an instrumented client's create)
    with (convs._lock if sys.argv[1] == "rollout" else CLIENT_LOG._lock):
        held.set()
        release.wait(10)

thread = threading.Thread(target=worker)
thread.start()
held.wait(10)
pid = os.fork()
if pid == 0:
    sent = {"input": "hi", "conversation": "conv_1"}
    body, problems = normalize_request(sent)
    convs.answered(convs.request(sent, body, problems), [])
    os._exit(0)
release.set()
thread.join()
for _ in range(100):
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        sys.exit(os.waitstatus_to_exitcode(status))
    time.sleep(0.05)
os.kill(pid, 9)
os.waitpid(pid, 0)
sys.exit(4)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.parametrize("held", ["rollout", "client log"])
def test_a_fork_while_a_thread_held_a_conversation_lock_does_not_hang_the_child(
    held: str,
) -> None:
    """A fork while another thread held the rollout's conversations lock, or the client
    log's (an instrumented client's ``conversations.create`` in a thread), copied it held:
    the child's next request on a conversation waited for good (the client log's since
    868289d). Found by review23b."""
    done = subprocess.run(
        [sys.executable, "-c", _LOCKED_FORK, held.split()[0]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, (done.returncode, done.stderr)


@pytest.mark.parametrize("schema", [2, 3])
async def test_requests_between_and_failures_reduce_alike_in_both_reducers(
    tmp_path: Path, schema: int
) -> None:
    """A conversation whose thread also makes other requests, and whose request fails, and a
    child thread answering on it: every recorded request reduces, the same in our reducer
    and Codex, to what the model saw. (Continuing the last response instead made both
    reducers refuse the bundle after the failed request: "model conversation mismatch".)"""
    from rollout_trace_sdk.record._conversations import CLIENT_LOG

    CLIENT_LOG.created("conv_rt", [{"role": "user", "content": "seed"}])
    async with open_rollout(tmp_path, model="m", schema_version=schema) as rollout:
        async with rollout.root.turn() as turn:
            call = turn.inference({"input": "hi", "conversation": "conv_rt"})
            async with call:
                call.completed(response_id="resp_1", output_items=[_said("hello", 1)])
            call = turn.inference({"input": "summarise this"})  # not on the conversation
            async with call:
                call.completed(response_id="resp_2", output_items=[_said("summary", 2)])
            call = turn.inference({"input": "oops", "conversation": "conv_rt"})
            async with call:
                call.failed("HTTP 500")
            call = turn.inference({"input": "again", "conversation": "conv_rt"})
            async with call:
                call.completed(response_id="resp_4", output_items=[_said("ok", 4)])
        child = rollout.root.spawn("worker")
        async with child.turn() as turn:
            call = turn.inference({"input": "look", "conversation": "conv_rt"})
            async with call:
                call.completed(response_id="resp_5", output_items=[_said("found", 5)])
    state = reduced_by_both(bundle_in(tmp_path))
    items = state["conversation_items"]
    texts = {
        call["response_id"]: [
            "".join(p.get("text", "") for p in items[i]["body"]["parts"])
            for i in call["request_item_ids"]
        ]
        for call in state["inference_calls"].values()
    }
    assert texts["resp_4"] == ["seed", "hi", "hello", "again"]
    assert texts["resp_5"] == ["seed", "hi", "hello", "again", "ok", "look"]
    assert texts["resp_2"] == ["summarise this"]


async def test_a_conversation_not_seen_begin_warns(tmp_path: Path) -> None:
    with pytest.warns(RecorderWarning, match="conversation 'conv_unseen' holds items"):
        async with open_rollout(tmp_path, model="m") as rollout, rollout.root.turn() as turn:
            call = turn.inference({"input": "hi", "conversation": "conv_unseen"})
            async with call:
                call.completed(response_id="resp_1", output_items=[_said("hello", 1)])
