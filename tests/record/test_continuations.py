"""Requests continuing a response (``previous_response_id``) that the reducers would not read
as sent are recorded as whole histories; every other request as sent.

Both reducers (Codex 0.169 and 0.171, and ours) check a continuation's new items against
the thread's last request and its answer: a retry with another input, or a second branch of
one response, made them refuse the whole bundle ("model conversation mismatch"; found by
helper clients22). The property tests play random sequences of continuations, whole
requests, failures and compactions on one thread against both Codex versions.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollout_trace_sdk import RecorderWarning
from rollout_trace_sdk.record import _continuations, open_rollout
from rollout_trace_sdk.record._continuations import Continuations, History
from rollout_trace_sdk.record._problems import Problem
from rollout_trace_sdk.testing import reduce_and_compare

from ..codex_oracle import codex_bin, needs_codex_for
from .recorder_support import bundle_in, of_type, payload


def _message(role: str, text: str, item_id: str | None = None) -> dict[str, Any]:
    kind = "output_text" if role == "assistant" else "input_text"
    item: dict[str, Any] = {
        "type": "message",
        "role": role,
        "content": [{"type": kind, "text": text}],
    }
    if item_id is not None:
        item["id"] = item_id
    return item


#: one step: (kind, choice, texts, outcome, answer)
Step = tuple[str, int, list[str], str, str]


class _Loop:
    """Plays steps on one thread as a client keeping server-side state would: each answer's
    whole history (what a later request continuing it stands for) is known client-side."""

    def __init__(self) -> None:
        self.answered: list[tuple[str, list[Any]]] = []  # (response id, its history)
        self.bases: list[list[Any]] = [[]]  # histories a whole request may resend
        self.numbers = itertools.count()
        self.seen: list[list[Any]] = []  # what the model saw, request by request

    async def play(self, root: Path, schema: int, steps: list[Step]) -> Path:
        async with open_rollout(root, model="m", schema_version=schema) as rollout:
            turn = rollout.root.turn()
            for kind, choice, texts, outcome, answer in steps:
                if kind == "turn":
                    turn.end("completed")
                    turn = rollout.root.turn()
                    continue
                if kind == "compact":
                    history = self.bases[choice % len(self.bases)]
                    compaction = turn.compaction()
                    async with compaction.request({"input": list(history)}) as attempt:
                        summary = attempt.completed(
                            [{"type": "compaction", "encrypted_content": f"S{next(self.numbers)}"}]
                        )
                    self.bases.append(
                        compaction.installed(input_history=history, replacement_history=summary)
                    )
                    continue
                new = [_message("user", text) for text in texts]
                request: dict[str, Any] = {"model": "m", "input": new}
                if kind == "cont" and self.answered:
                    rid, before = self.answered[choice % len(self.answered)]
                    request["previous_response_id"] = rid
                else:
                    before = self.bases[choice % len(self.bases)]
                    request["input"] = [*before, *new]
                seen = [*before, *new]
                self.seen.append(seen)
                n = next(self.numbers)
                call = turn.inference(request)
                output = [_message("assistant", answer, f"msg_{n}")]
                if outcome == "ok":
                    out = call.completed(response_id=f"resp_{n}", output_items=output)
                    self.answered.append((f"resp_{n}", [*seen, *out]))
                    self.bases.append([*seen, *out])
                elif outcome == "partial":
                    call.failed("cut", partial_items=output)
                elif outcome == "cancel":
                    call.cancelled()
                else:
                    call.failed("boom")
            turn.end("completed")
        return bundle_in(root)


_TEXTS = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=2)
_STEP: st.SearchStrategy[Step] = st.one_of(
    st.tuples(
        st.sampled_from(["cont", "cont", "cont", "full"]),
        st.integers(0, 20),
        _TEXTS,
        st.sampled_from(["ok", "ok", "fail", "partial", "cancel"]),
        st.sampled_from(["x", "y"]),
    ),
    st.tuples(
        st.sampled_from(["turn", "compact"]),
        st.integers(0, 20),
        st.just([]),
        st.just(""),
        st.just(""),
    ),
)


def _requests(bundle: Path) -> list[dict[str, Any]]:
    return [
        payload(bundle, e["payload"]["request_payload"])
        for e in of_type(bundle, "inference_started")
    ]


def _texts(items: list[Any]) -> list[str]:
    return [
        part["text"] for item in items if item.get("type") == "message" for part in item["content"]
    ]


def _reduced_alike(bundle: Path, schema: int) -> dict[str, Any]:
    binary = codex_bin(schema)
    assert binary is not None
    comparison = reduce_and_compare(bundle, binary)
    assert comparison.codex is not None, comparison.explain()
    assert comparison.same, comparison.explain()
    state: dict[str, Any] = orjson.loads(comparison.codex)
    return state


def _request_texts(state: dict[str, Any]) -> list[list[str]]:
    """Each reduced request's message texts, in start order."""
    items = state["conversation_items"]
    calls = sorted(state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"])
    texts = []
    for call in calls:
        texts.append(
            [
                part["text"]
                for item_id in call["request_item_ids"]
                if items[item_id]["kind"] == "message"
                for part in items[item_id]["body"]["parts"]
                if part.get("type") == "text"
            ]
        )
    return texts


# --- the cases found -------------------------------------------------------------------------


_CASES = {
    # a continuation fails; a retry continues the same response with another input
    "retry with another input": [
        ("full", 0, ["q"], "ok", "x"),
        ("cont", 0, ["a"], "fail", ""),
        ("cont", 0, ["b"], "ok", "y"),
    ],
    # two branches of one response, both answered (tree search)
    "two branches": [
        ("full", 0, ["q"], "ok", "x"),
        ("cont", 0, ["a"], "ok", "y"),
        ("cont", 0, ["b"], "ok", "y"),
    ],
    # a longer unrelated request in between
    "a longer request between": [
        ("full", 0, ["q"], "ok", "x"),
        ("full", 0, ["c", "c", "c"], "ok", "y"),
        ("cont", 0, ["b"], "ok", "y"),
    ],
    # a whole request fails after partial output; a continuation of the response before it
    # resends that request's input and goes on past it, where the snapshot holds the partial
    # output
    "past a failed request's partial output": [
        ("full", 0, ["q"], "ok", "x"),
        ("full", 1, ["a"], "partial", "y"),
        ("cont", 0, ["a", "b"], "ok", "x"),
    ],
    # a compaction, then a full request from its summary, answered: the answer is in the
    # snapshot again (a full request ends the compaction's wait), so a continuation of the
    # response before the compaction differs from it at index 2 (a snapshot left without the
    # answer passed it as sent: mut52)
    "an earlier response after a compaction and a full request": [
        ("full", 0, ["q"], "ok", "x"),
        ("compact", 1, [], "", ""),
        ("full", 2, ["z"], "ok", "y"),
        ("cont", 0, ["a", "b"], "ok", "x"),
    ],
}


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("case", list(_CASES))
def test_a_continuation_the_reducers_would_refuse_is_recorded_whole(
    tmp_path: Path, schema: int, case: str
) -> None:
    """Recorded as sent, both Codex versions refused each of these bundles (measured before
    the fix: "model conversation mismatch ... at item index 2"). The last request is now a
    whole history: the continued response's request and answer, then its input."""
    if codex_bin(schema) is None:
        pytest.skip(f"no Codex for schema {schema}")
    loop = _Loop()
    bundle = anyio.run(loop.play, tmp_path, schema, _CASES[case])
    last = _requests(bundle)[-1]
    assert "previous_response_id" not in last
    assert _texts(last["input"]) == _texts(loop.seen[-1])
    state = _reduced_alike(bundle, schema)
    assert _request_texts(state)[-1] == _texts(loop.seen[-1])


@pytest.mark.parametrize("schema", [2, 3])
def test_a_linear_chain_and_a_same_input_retry_are_recorded_as_sent(
    tmp_path: Path, schema: int
) -> None:
    """The common cases keep ``previous_response_id`` and only the new items: a chain of
    continuations of the latest response, and a retry of a failed one with the same input
    (which both reducers match against the failed request's items)."""
    steps: list[Step] = [
        ("full", 0, ["q"], "ok", "x"),
        ("cont", 0, ["a"], "ok", "y"),
        ("cont", 1, ["b"], "fail", ""),
        ("cont", 1, ["b"], "partial", "x"),
        ("cont", 1, ["b"], "ok", "x"),
        ("cont", 2, ["c"], "ok", "y"),
    ]
    loop = _Loop()
    bundle = anyio.run(loop.play, tmp_path, schema, steps)
    requests = _requests(bundle)
    assert [r.get("previous_response_id") for r in requests] == [
        None,
        "resp_0",
        "resp_1",
        "resp_1",
        "resp_1",
        "resp_4",
    ]
    assert [_texts(r["input"]) for r in requests[1:]] == [["a"], ["b"], ["b"], ["b"], ["c"]]
    if codex_bin(schema) is not None:
        assert _request_texts(_reduced_alike(bundle, schema)) == [_texts(s) for s in loop.seen]


# --- the property ----------------------------------------------------------------------------

#: the two properties run for each schema whose Codex is installed, 40 sequences each
_EACH_SCHEMA_WITH_CODEX = pytest.mark.parametrize(
    "schema", [pytest.param(2, marks=needs_codex_for(2)), pytest.param(3, marks=needs_codex_for(3))]
)
_EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_EACH_SCHEMA_WITH_CODEX
@_EXAMPLES
@given(steps=st.lists(_STEP, min_size=1, max_size=10))
def test_any_sequence_of_continuations_reduces_alike_and_shows_what_the_model_saw(
    schema: int, steps: list[Step]
) -> None:
    """Random continuations (of any earlier response, or none), whole requests, failures
    with and without partial output, new turns and compactions on one thread: Codex
    accepts the bundle, our reducer writes the same state, and each reduced request holds
    what the model saw."""
    with tempfile.TemporaryDirectory() as tmp:
        loop = _Loop()
        bundle = anyio.run(loop.play, Path(tmp), schema, steps)
        state = _reduced_alike(bundle, schema)
        assert _request_texts(state) == [_texts(s) for s in loop.seen]


@contextmanager
def _as_sent() -> Iterator[list[bool]]:
    """Record every continuation as sent, noting whether the recorder would have recorded
    it whole (its prediction that both reducers refuse it)."""
    predicted: list[bool] = []
    real = Continuations.request

    def request(self: Continuations, body: dict[str, Any], problems: list[Problem]) -> History:
        trial = dict(body)
        history = real(self, trial, problems)
        whole = "previous_response_id" in body and "previous_response_id" not in trial
        predicted.append(whole)
        if not whole:
            return history
        answer = self._answers[body["previous_response_id"]]
        assert answer.history is not None
        return answer.history.extended(body["input"])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Continuations, "request", request)
        yield predicted


@_EACH_SCHEMA_WITH_CODEX
@_EXAMPLES
@given(steps=st.lists(_STEP, min_size=1, max_size=10))
def test_the_recorder_predicts_which_continuations_the_reducers_refuse(
    schema: int, steps: list[Step]
) -> None:
    """The rule is the reducers' rule: recorded as sent, a bundle is refused by Codex (and
    by us, alike) exactly when the recorder would have recorded some request whole."""
    binary = codex_bin(schema)
    assert binary is not None
    with tempfile.TemporaryDirectory() as tmp:
        with _as_sent() as predicted:
            bundle = anyio.run(_Loop().play, Path(tmp), schema, steps)
        comparison = reduce_and_compare(bundle, binary)
    assert comparison.same, comparison.explain()
    refused = comparison.codex is None
    assert refused == any(predicted), comparison.codex_stderr
    if refused:
        assert "model conversation mismatch" in comparison.codex_stderr


# --- what is kept ----------------------------------------------------------------------------


def _answer(
    c: Continuations, call: str, body: dict[str, Any], rid: str, output: list[Any]
) -> dict[str, Any]:
    problems: list[Problem] = []
    history = c.request(body, problems)
    history = c.started(call, history, full="previous_response_id" not in body)
    c.answered(call, history, rid, output)
    return body


def test_a_loop_resending_its_history_keeps_one_list_for_all_its_answers() -> None:
    """Whole requests that resend the last request and its answer first share one tape with
    every earlier answer; a window sliding over the history makes a tape per request, and
    the histories kept are then bounded by KEPT_ITEMS (a window's old items are not held
    alive for ever)."""
    c = Continuations()
    history: list[Any] = []
    for n in range(300):
        history.append(_message("user", str(n)))
        answer = [_message("assistant", "x", f"msg_{n}")]
        _answer(c, f"c{n:03}", {"input": list(history)}, f"r{n}", answer)
        history.extend(dict(item) for item in answer)  # the loop's own copies, equal
    tapes = {id(a.history.tape) for a in c._answers.values() if a.history is not None}
    # the tape (the last answer's output not on it yet), and each answer's output
    assert len(tapes) == 1 and c._slots == 599 + 300
    for n in range(300, 600):  # a sliding window of 400 items
        history.append(_message("user", str(n)))
        history = history[-400:]
        _answer(c, f"c{n:03}", {"input": list(history)}, f"r{n}", [])
    assert c._slots <= _continuations.KEPT_ITEMS + 400
    assert c._answers["r599"].history is not None and c._answers["r0"].history is None
    assert c.knows("r0")  # still continuable where the reducers accept it as sent


def _answer_a_chain(c: Continuations, links: int, answer: str | None) -> None:
    """``r0`` (asked "q", answered "x"), then ``links`` requests each continuing the one
    before (asking "1", "2", ...), each answered with ``answer`` (nothing when None)."""
    _answer(c, "c0", {"input": [_message("user", "q")]}, "r0", [_message("assistant", "x")])
    for n in range(1, links + 1):
        _answer(
            c,
            f"c{n:03}",
            {"input": [_message("user", str(n))], "previous_response_id": f"r{n - 1}"},
            f"r{n}",
            [] if answer is None else [_message("assistant", answer)],
        )


def test_a_continuation_of_a_response_no_longer_kept_is_recorded_without_it_and_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_continuations, "KEPT", 3)
    c = Continuations()
    _answer_a_chain(c, 5, None)
    assert [rid for rid, a in c._answers.items() if a.history is not None] == ["r3", "r4", "r5"]
    problems: list[Problem] = []
    body: dict[str, Any] = {"input": [_message("user", "b")], "previous_response_id": "r0"}
    c.request(body, problems)
    assert "previous_response_id" not in body and _texts(body["input"]) == ["b"]
    assert problems and "no longer keeps" in problems[0]
    body = {"input": [_message("user", "b")], "previous_response_id": "r3"}  # kept: whole
    c.request(body, problems)
    assert _texts(body["input"]) == ["q", "x", "1", "2", "3", "b"]


def test_kept_histories_share_one_tape_along_a_chain_and_are_bounded_in_items(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A chain of continuations is one list however many answers it holds; branches copy
    their prefix, and the histories kept hold at most KEPT_ITEMS references among them."""
    c = Continuations()
    _answer_a_chain(c, 199, "x")
    tapes = {id(a.history.tape) for a in c._answers.values() if a.history is not None}
    assert len(tapes) == 1 and c._slots == 399 + 200  # the tape, and each answer's output
    monkeypatch.setattr(_continuations, "KEPT_ITEMS", 1000)
    for n in range(200, 260):  # branches of r199, each a new tape of ~400 items
        _answer(
            c,
            f"c{n}",
            {"input": [_message("user", "b")], "previous_response_id": "r199"},
            f"r{n}",
            [_message("assistant", "y")],
        )
    assert c._slots <= 1000 + 403
    assert c._answers["r259"].history is not None


@pytest.mark.anyio
@pytest.mark.parametrize("schema", [2, 3])
async def test_an_evicted_response_is_reported_in_the_bundle(
    tmp_path: Path, schema: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_continuations, "KEPT", 1)
    async with (
        open_rollout(tmp_path, model="m", schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        for n, previous in enumerate([None, "resp_0", "resp_1"]):
            body: dict[str, Any] = {"input": [_message("user", str(n))]}
            if previous:
                body["previous_response_id"] = previous
            turn.inference(body).completed(
                response_id=f"resp_{n}", output_items=[_message("assistant", "x")]
            )
        with pytest.warns(RecorderWarning, match="no longer keeps"):
            turn.inference(
                {"input": [_message("user", "b")], "previous_response_id": "resp_0"}
            ).failed("boom")
    bundle = bundle_in(tmp_path)
    assert _texts(_requests(bundle)[-1]["input"]) == ["b"]
    [note] = [
        payload(bundle, e["payload"]["event_payload"])
        for e in of_type(bundle, "protocol_event_observed")
        if e["payload"]["event_type"] == "rollout_trace_input_dropped"
    ]
    assert "no longer keeps" in note["problems"][0]


@pytest.mark.parametrize("schema", [2, 3])
def test_a_whole_request_resending_a_continuations_items_is_not_taken_for_its_continuation(
    tmp_path: Path, schema: int
) -> None:
    """A continuation's request holds only its new items. Schema 3's item store writes a
    request resending the thread's last request and answer as continuing that answer; after
    a continuation it took a whole request resending the continuation's new items and answer
    (``[x, o2, y]``) for ``previous_response_id`` + ``[y]``, and both reducers showed items
    the model never saw (``q``, ``o1``) before ``x`` (found by prevresp22)."""

    async def play() -> Path:
        async with open_rollout(tmp_path / "second", model="m", schema_version=schema) as r:
            turn = r.root.turn()
            turn.inference({"input": [_message("user", "q")]}).completed(
                response_id="r1", output_items=[_message("assistant", "o1", "msg_1")]
            )
            x = _message("user", "x")
            o2 = turn.inference({"input": [x], "previous_response_id": "r1"}).completed(
                response_id="r2", output_items=[_message("assistant", "o2", "msg_2")]
            )
            turn.inference({"input": [x, *o2, _message("user", "y")]}).failed("boom")
            turn.end("completed")
        return bundle_in(tmp_path / "second")

    bundle = anyio.run(play)
    assert "previous_response_id" not in _requests(bundle)[-1]
    if codex_bin(schema) is not None:
        assert _request_texts(_reduced_alike(bundle, schema))[-1] == ["x", "o2", "y"]
