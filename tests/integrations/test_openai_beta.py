"""``client.beta.responses`` of the real ``openai`` package, instrumented as
``client.responses`` is (create, streams, background retrieve and cancel, compact), against
the fake API on 127.0.0.1; the beta's multi-agent items, which neither reducer knows, are
left out of the bundle and said, and every bundle reduces alike with our reducer and the
Codex of its schema."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Final

import pytest

pytest.importorskip("openai")

from openai import AsyncOpenAI
from openai.resources.beta import AsyncBeta

from rollout_trace_sdk.integrations.openai import FIRST_TOKEN_EVENT
from rollout_trace_sdk.record import CALL_ID_HEADER, RecorderWarning, open_rollout

from ..codex_oracle import bundle_schema, reduced_by_both
from ..record.recorder_support import bundle_in, of_type, payload, types
from .fake_openai import FakeOpenAI

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        not hasattr(AsyncBeta, "responses"), reason="this openai has no client.beta.responses"
    ),
]

BETA: Final = "responses_multi_agent=v1"


def inference_ends(bundle: Path, kind: str) -> list[dict[str, Any]]:
    return [event["payload"] for event in of_type(bundle, f"inference_{kind}")]


def requests(bundle: Path) -> list[Any]:
    return [
        payload(bundle, event["payload"]["request_payload"])
        for event in of_type(bundle, "inference_started")
    ]


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_beta_create_with_multi_agent_items_is_recorded(
    schema: int, tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI
) -> None:
    """The request as sent (``betas`` is the ``openai-beta`` header, not a body field), the
    output the reducers can read (the final message, with the beta's ``agent`` field; the
    ``multi_agent_call`` and its output as a custom tool call and output, as every
    ``*_call`` the reducers have no type for), the other multi-agent items dropped and said;
    the next request sends them back, the same items, and reduces too."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RecorderWarning)
        async with (
            open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
            rollout.root.turn(),
        ):
            history: list[Any] = [{"role": "user", "content": "multi-agent work"}]
            response = await client.beta.responses.create(
                model="gpt-test", input=history, betas=[BETA]
            )
            history += [*response.output, {"role": "user", "content": "thanks"}]
            await client.beta.responses.create(model="gpt-test", input=history)
    assert [item.type for item in response.output] == [
        "multi_agent_call",
        "multi_agent_call_output",
        "agent_message",
        "program",
        "message",
    ]
    path, body, headers = fake.requests[0]
    assert path == "/v1/responses?beta=true" and headers["openai-beta"] == BETA
    assert "betas" not in body
    bundle = bundle_in(tmp_path)
    first, _ = inference_ends(bundle, "completed")
    assert headers[CALL_ID_HEADER] == first["inference_call_id"]
    assert first["response_id"] == "resp_1"
    assert [request.get("betas") for request in requests(bundle)] == [None, None]
    call, output, message = payload(bundle, first["response_payload"])["output_items"]
    assert (call["type"], call["name"], call["call_id"]) == (
        "custom_tool_call",
        "multi_agent_call",
        "ma_1",
    )
    assert (output["type"], output["call_id"]) == ("custom_tool_call_output", "ma_1")
    assert message["agent"] == {"agent_name": "root"}
    said = " ".join(str(w.message) for w in caught if w.category is RecorderWarning)
    dropped = json.dumps(
        [
            payload(bundle, e["payload"]["event_payload"])
            for e in of_type(bundle, "protocol_event_observed")
            if e["payload"]["event_type"] == "rollout_trace_input_dropped"
        ]
    )
    for kind in ("agent_message", "program"):
        assert f"({kind})" in said and f"({kind})" in dropped
    assert "multi_agent_call" not in said + dropped
    assert bundle_schema(bundle) == schema
    state = reduced_by_both(bundle)
    texts = [
        part.get("text")
        for item in state["conversation_items"].values()
        for part in item["body"]["parts"]
    ]
    assert "echo: multi-agent work" in texts and "echo: thanks" in texts
    answered, sent = sorted(
        state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"]
    )
    assert set(answered["response_item_ids"]) <= set(sent["request_item_ids"])


async def test_a_beta_stream_is_recorded(tmp_path: Path, client: AsyncOpenAI) -> None:
    """``stream=True``: the SDK's beta stream, recorded as it is read (first token, the
    terminal event's response)."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        stream = await client.beta.responses.create(
            model="gpt-test", input="stream me", stream=True, betas=[BETA]
        )
        kinds = [event.type async for event in stream]
    assert kinds[-1] == "response.completed"
    bundle = bundle_in(tmp_path)
    [end] = inference_ends(bundle, "completed")
    [item] = payload(bundle, end["response_payload"])["output_items"]
    assert item["content"][0]["text"] == "echo: stream me"
    assert (
        sum(
            e["payload"]["event_type"] == FIRST_TOKEN_EVENT
            for e in of_type(bundle, "protocol_event_observed")
        )
        == 1
    )
    reduced_by_both(bundle)


async def test_a_beta_background_response_ends_when_retrieved_or_cancelled(
    tmp_path: Path, client: AsyncOpenAI
) -> None:
    """A beta background response stays open until a beta retrieve returns it finished; a
    beta cancel ends one cancelled."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        queued = await client.beta.responses.create(
            model="gpt-test", input="slow work", background=True
        )
        assert (await client.beta.responses.retrieve(queued.id)).status == "in_progress"
        assert (await client.beta.responses.retrieve(queued.id)).status == "completed"
        other = await client.beta.responses.create(model="gpt-test", input="b", background=True)
        await client.beta.responses.cancel(other.id)
    bundle = bundle_in(tmp_path)
    [done] = inference_ends(bundle, "completed")
    assert done["response_id"] == queued.id
    [cancelled] = inference_ends(bundle, "cancelled")
    assert cancelled["reason"] == "response cancelled"
    reduced_by_both(bundle)


async def test_a_beta_compact_is_recorded(tmp_path: Path, client: AsyncOpenAI) -> None:
    """``client.beta.responses.compact``: a compaction installed at once, as the non-beta
    one (``betas`` sent as the header, not recorded)."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        compacted = await client.beta.responses.compact(
            model="gpt-test", input="keep this", betas=[BETA]
        )
    assert compacted.output[-1].type == "compaction"
    bundle = bundle_in(tmp_path)
    assert [kind for kind in types(bundle) if kind.startswith("compaction_")] == [
        "compaction_request_started",
        "compaction_request_completed",
        "compaction_installed",
    ]
    [started] = of_type(bundle, "compaction_request_started")
    assert "betas" not in payload(bundle, started["payload"]["request_payload"])
    [compaction] = reduced_by_both(bundle)["compactions"].values()
    assert len(compaction["replacement_item_ids"]) == 2
