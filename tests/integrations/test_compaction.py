"""``responses.compact`` of the real ``openai`` package, instrumented, against the fake API
on 127.0.0.1: a call inside a turn is one compaction with one request, installed at once
(Codex's remote compaction), and the bundle reduces alike with our reducer and the Codex of
its schema; a failed or cancelled call fails its request and installs nothing; a call
outside a turn, or a raw-response one, is not recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("openai")

from openai import AsyncOpenAI, InternalServerError, OpenAI

from rollout_trace_sdk.integrations import use_turn
from rollout_trace_sdk.integrations.openai import instrument
from rollout_trace_sdk.record import open_rollout

from ..codex_oracle import bundle_schema, reduced_by_both
from ..record.recorder_support import bundle_in, of_type, payload, types
from .fake_openai import FakeOpenAI

pytestmark = pytest.mark.anyio

COMPACTION_EVENTS = ["compaction_request_started", "compaction_request_completed"]


def compaction_events(bundle: Path) -> list[str]:
    return [kind for kind in types(bundle) if kind.startswith("compaction_")]


def ended_payload(bundle: Path, kind: str) -> dict[str, Any]:
    [event] = of_type(bundle, kind)
    found: dict[str, Any] = event["payload"]
    return found


@pytest.mark.parametrize("schema", [2, 3])
# the OpenAI SDK's own request transform warns when compact()'s output models are sent
# back as input (its user messages are typed as output messages); the recorder is not on
# that path
@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning:pydantic")
async def test_compact_in_a_turn_is_recorded_as_a_remote_compaction(
    schema: int, tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI
) -> None:
    """The request, the API's answer (the user messages and one compaction item) installed
    as the replacement of the history sent, and the next request, which sends that answer,
    reusing the replacement items as Codex's next request after a remote compaction does."""
    async with (
        open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
        rollout.root.turn(),
    ):
        history: list[Any] = [{"role": "user", "content": "first question"}]
        first = await client.responses.create(model="gpt-test", input=history)
        history += [*first.output, {"role": "user", "content": "second question"}]
        compacted = await client.responses.compact(
            model="gpt-test", input=history, instructions="be brief"
        )
        history = [*compacted.output, {"role": "user", "content": "go on"}]
        after = await client.responses.create(model="gpt-test", input=history)
    assert [item.type for item in compacted.output] == ["message", "message", "compaction"]
    assert after.output_text == "echo: go on"
    bundle = bundle_in(tmp_path)
    assert compaction_events(bundle) == [*COMPACTION_EVENTS, "compaction_installed"]
    started = ended_payload(bundle, "compaction_request_started")
    request = payload(bundle, started["request_payload"])
    assert (request["model"], request["instructions"]) == ("gpt-test", "be brief")
    assert [item.get("role") for item in request["input"]] == ["user", "assistant", "user"]
    assert started["model"] == "gpt-test"
    response = payload(
        bundle, ended_payload(bundle, "compaction_request_completed")["response_payload"]
    )
    assert [item["type"] for item in response["output_items"]] == [
        "message",
        "message",
        "compaction",
    ]

    assert bundle_schema(bundle) == schema
    state = reduced_by_both(bundle)
    [compaction] = state["compactions"].values()
    [request_state] = state["compaction_requests"].values()
    assert compaction["request_ids"] == [request_state["compaction_request_id"]]
    assert request_state["execution"]["status"] == "completed"
    items = state["conversation_items"]
    replaced = [items[i] for i in compaction["input_item_ids"]]
    assert [item["role"] for item in replaced] == ["user", "assistant", "user"]
    replacement = [items[i] for i in compaction["replacement_item_ids"]]
    assert [item.get("responses_item_id") for item in replacement] == [
        "msg_2_0",
        "msg_2_1",
        "cmp_2",
    ]
    assert replacement[-1]["body"]["parts"][0]["value"] == "ENC_2"
    assert items[compaction["marker_item_id"]]["kind"] == "compaction_marker"
    last = max(state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"])
    assert last["request_item_ids"][:3] == compaction["replacement_item_ids"]
    assert fake.requests[1][0] == "/v1/responses/compact"


async def test_a_sync_compact_of_a_string_is_recorded(tmp_path: Path, fake: FakeOpenAI) -> None:
    """The sync client records a compaction too; a string input is the one user message it
    replaces; a raw-response call in the turn is recorded as one, its answer read from the
    raw response (it was passed through: mut31 found only the async client's raw call
    tried)."""
    client = instrument(OpenAI(base_url=fake.base_url, api_key="test", max_retries=0))
    try:
        async with open_rollout(tmp_path, model="gpt-test") as rollout:
            turn = rollout.root.turn()
            with use_turn(turn):
                compacted = client.responses.compact(model="gpt-test", input="keep this")
                raw = client.responses.with_raw_response.compact(model="gpt-test", input="raw")
            turn.end()
    finally:
        client.close()
    assert raw.http_response.status_code == 200 and raw.parse().output[-1].type == "compaction"
    assert len(fake.requests) == 2
    assert [item.type for item in compacted.output] == ["message", "compaction"]
    bundle = bundle_in(tmp_path)
    assert compaction_events(bundle) == 2 * [*COMPACTION_EVENTS, "compaction_installed"]
    state = reduced_by_both(bundle)
    texts = []
    for compaction in state["compactions"].values():
        [replaced] = [state["conversation_items"][i] for i in compaction["input_item_ids"]]
        texts.append(replaced["body"]["parts"][0]["text"])
        assert len(compaction["replacement_item_ids"]) == 2
    assert sorted(texts) == ["keep this", "raw"]


async def test_a_compact_outside_a_turn_records_nothing_a_raw_one_inside_is_recorded(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI
) -> None:
    """Outside a turn the SDK's answer comes back and nothing is recorded; a raw response
    inside one is recorded, its raw response handed back."""
    before = await client.responses.compact(model="gpt-test", input="no rollout")
    async with open_rollout(tmp_path, model="gpt-test") as rollout:
        between = await client.responses.compact(model="gpt-test", input="no turn")
        async with rollout.root.turn():
            raw = await client.responses.with_raw_response.compact(model="gpt-test", input="raw")
    assert before.output[-1].type == between.output[-1].type == "compaction"
    assert raw.http_response.status_code == 200 and raw.parse().output[-1].type == "compaction"
    assert len(fake.requests) == 3
    assert compaction_events(bundle_in(tmp_path)) == [*COMPACTION_EVENTS, "compaction_installed"]


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_failed_compact_raises_the_sdks_error_and_fails_its_request(
    schema: int, tmp_path: Path, client: AsyncOpenAI
) -> None:
    """HTTP 500: the SDK's own error propagates, the request fails with its text, and
    nothing is installed (as Codex records a remote compaction that failed)."""
    raised: list[InternalServerError] = []
    async with (
        open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
        rollout.root.turn(),
    ):
        try:
            await client.responses.compact(model="gpt-test", input="please compact-500")
        except InternalServerError as exc:
            raised.append(exc)
    [error] = raised
    assert error.status_code == 500 and error.request_id == "req_1"
    bundle = bundle_in(tmp_path)
    assert compaction_events(bundle) == ["compaction_request_started", "compaction_request_failed"]
    failed = ended_payload(bundle, "compaction_request_failed")
    assert failed["error"].startswith("InternalServerError: ")
    assert "compaction broke" in failed["error"]
    assert bundle_schema(bundle) == schema
    state = reduced_by_both(bundle)
    [request_state] = state["compaction_requests"].values()
    assert request_state["execution"]["status"] == "failed"
    assert request_state["raw_response_payload_id"] is None
    assert state["compactions"] == {}  # as in the corpus's compaction_remote_failed


async def test_a_cancelled_compact_fails_its_request_cancelled(
    tmp_path: Path, client: AsyncOpenAI
) -> None:
    """The calling task cancelled: the request ends (a compaction request has no cancelled
    end: failed, ``cancelled``) and the cancellation goes on."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        with anyio.CancelScope() as scope:
            scope.cancel()
            await client.responses.compact(model="gpt-test", input="never sent")
        assert scope.cancelled_caught
    bundle = bundle_in(tmp_path)
    assert ended_payload(bundle, "compaction_request_failed")["error"] == "cancelled"
    reduced_by_both(bundle)
