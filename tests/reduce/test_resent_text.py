"""A request that resends the thread's history as the same text: read without its known items
(``reduce.resent_text``), and reduced exactly as the whole text would be.

Each bundle here is reduced twice: as written, and with every request rewritten as its value's
compact dump plus a trailing space, which the shortcut never takes (the text is not laid out as
a dump). The two states must be the same bytes; with the Codex oracle on this machine, the
first is also compared with Codex's (``Scenario.reduce``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.model.serde_errors import recursion_error
from rollout_trace_sdk.reduce import ReduceError, reduce_bundle, resent_text, state_bytes
from tests.reduce.builder import MODEL, ROOT, TURN, Scenario, message, request, response

Layout = Callable[[dict[str, Any]], bytes]
TOOLS = [{"type": "function", "name": "exec_command", "parameters": {"type": "object"}}]


def pretty(value: dict[str, Any]) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2)


def codex_like(value: dict[str, Any]) -> bytes:
    """Pretty, but ``tools`` compact, as Codex writes a request it passes them through in."""
    rest = pretty({k: v for k, v in value.items() if k != "tools"})
    return rest[:-2] + b',\n  "tools": ' + orjson.dumps(value["tools"]) + b"\n}"


def compact(value: dict[str, Any]) -> bytes:
    return orjson.dumps(value)


def read_whole(value: dict[str, Any]) -> bytes:
    """Never shortened: no dump ends in a space."""
    return orjson.dumps(value) + b" "


def history(steps: int) -> list[dict[str, Any]]:
    items = [message("developer", "be brief", "d0"), message("user", "step 0", "u0")]
    for step in range(1, steps):
        items.append(message("assistant", f"done {step}", f"a{step}"))
        items.append(message("user", f"step {step}", f"u{step}"))
    return items


def requests(steps: int) -> list[dict[str, Any]]:
    """The loop's requests: each resends everything before it."""
    items = history(steps)
    return [request(*items[: 2 * step], tools=TOOLS, stream=True) for step in range(1, steps + 1)]


def write(root: Path, texts: list[bytes], threads: tuple[str, ...] = (ROOT,)) -> Scenario:
    """Request ``i`` in thread ``threads[i % len(threads)]``, each answered by the message its
    thread's next request resends."""
    bundle = Scenario(root)
    bundle.begin()
    for thread in threads[1:]:
        bundle.start_thread(thread, f"/root/{thread}")
        bundle.start_turn(f"turn-{thread}", thread)
    for number, text in enumerate(texts, start=1):
        thread = threads[(number - 1) % len(threads)]
        turn = TURN if thread == ROOT else f"turn-{thread}"
        step = (number - 1) // len(threads) + 1
        ref = bundle.raw_payload("inference_request", text)
        call = f"inf-{number}"
        started = ev.InferenceStarted(call, thread, turn, MODEL, "test-provider", ref)
        bundle.event(started, thread=thread, turn=turn)
        answer = response(message("assistant", f"done {step}", f"a{step}"))
        bundle.complete(call, answer, thread_id=thread, turn_id=turn)
    bundle.finish()
    return bundle


def reduced_alike(
    tmp_path: Path, texts: list[bytes], threads: tuple[str, ...] = (ROOT,)
) -> dict[str, Any]:
    """The state of ``texts`` (checked against Codex when it is here), after checking it is the
    state of the same values read whole."""
    state = write(tmp_path / "as-written", texts, threads).reduce()
    values = [orjson.loads(text) for text in texts]
    whole = write(tmp_path / "whole", [read_whole(value) for value in values], threads).flush()
    assert orjson.loads(state_bytes(reduce_bundle(whole))) == state
    return state


@pytest.mark.parametrize("layout", [codex_like, pretty, compact])
def test_the_known_items_are_left_out_and_the_state_is_the_whole_texts(
    tmp_path: Path, layout: Layout
) -> None:
    texts = [layout(value) for value in requests(6)]
    # the shortcut is taken: each text is the last one with two items more
    known = resent_text.learn(texts[0], orjson.loads(texts[0]), _blobs(texts[0]), None, None)
    for text in texts[1:]:
        assert known is not None
        short = resent_text.shortened(text, known)
        assert short is not None
        value = orjson.loads(short)
        assert len(value["input"]) == 2
        ends = resent_text.item_ends(short, value, known)
        assert ends is not None
        known = resent_text.learn(text, value, _blobs(short), known, ends)
    state = reduced_alike(tmp_path, texts)
    assert state["inference_calls"]["inf-6"]["request_item_ids"] == [
        f"conversation_item:{n}" for n in range(1, 13)
    ]


def _blobs(text: bytes) -> list[bytes | None]:
    return [orjson.dumps(item) for item in orjson.loads(text)["input"]]


def _new_items(text: bytes) -> bytes:
    """The last two items of ``text``'s ``input`` as a pretty ``input`` value."""
    items = orjson.loads(text)["input"][-2:]
    return orjson.dumps(items, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n  ")


def _second(texts: list[bytes], change: Callable[[bytes], bytes]) -> list[bytes]:
    return [texts[0], change(texts[1]), *texts[2:]]


@pytest.mark.parametrize(
    "change",
    [
        # a second top-level "input", the same as the first one's new items: the request's
        # input is that one alone
        lambda text: text[:-2] + b',\n  "input": ' + _new_items(text) + b"\n}",
        # "model" again after "input": the later one counts
        lambda text: text[:-2] + b',\n  "model": "gpt-other"\n}',
        # whitespace a dump does not write, after the items and at the end
        lambda text: text.replace(b'\n  ],\n  "tools"', b'\n  ] ,\n  "tools"'),
        lambda text: text + b"\n",
        # the first item changed: nothing of the last text is known
        lambda text: text.replace(b"be brief", b"be briefer", 1),
        # a number in a new item written as no dump writes it
        lambda text: text.replace(b'"step 1"', b'"step 1", "n": 1E0', 1),
    ],
    ids=["input-twice", "model-twice", "space", "newline", "first-item", "number"],
)
def test_a_text_the_shortcut_cannot_read_reduces_as_read_whole(
    tmp_path: Path, change: Callable[[bytes], bytes]
) -> None:
    texts = [codex_like(value) for value in requests(4)]
    reduced_alike(tmp_path, _second(texts, change))


def test_a_new_item_nested_past_serdes_limit_is_refused_where_the_whole_text_says(
    tmp_path: Path,
) -> None:
    texts = [codex_like(value) for value in requests(3)]
    deep = b'"step 1", "deep": ' + b"[" * 130 + b"]" * 130
    texts = _second(texts, lambda text: text.replace(b'"step 1"', deep, 1))
    error = write(tmp_path / "deep", texts).reduce_error()
    assert isinstance(error, ReduceError)
    assert error.message == "parse payload raw_payload:3"
    assert error.cause == recursion_error(texts[1])


def test_each_thread_reads_against_its_own_last_request(tmp_path: Path) -> None:
    """Two threads resending their own histories in turn: one's text never shortens the
    other's."""
    mine = requests(4)
    theirs = [
        request(message("user", "another task", "t0"), *value["input"][1:], tools=TOOLS)
        for value in mine
    ]
    texts = [codex_like(value) for pair in zip(mine, theirs, strict=True) for value in pair]
    state = reduced_alike(tmp_path, texts, (ROOT, "thread-2"))
    assert len(state["inference_calls"]) == 8


def test_threads_past_those_kept_are_read_whole(tmp_path: Path) -> None:
    """More threads asking in turn than ``KEPT_THREADS``: the last text of the one asking
    longest ago is let go (memory), and its next request is read whole, to the same state."""
    count = resent_text.KEPT_THREADS + 2
    threads = (ROOT, *(f"thread-{n}" for n in range(2, count + 1)))
    texts = [codex_like(value) for value in requests(3) for _ in threads]
    state = reduced_alike(tmp_path, texts, threads)
    assert len(state["inference_calls"]) == 3 * count
