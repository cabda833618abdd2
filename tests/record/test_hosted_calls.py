"""Hosted and client-run tool items the reducers have no type for (``record/_hosted_calls``)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.record import RecorderWarning, open_rollout
from rollout_trace_sdk.record._hosted_calls import hosted_call, settled
from rollout_trace_sdk.record.requests import normalize_output_items, normalize_request

from ..codex_oracle import reduced_by_both
from .held_forms import tupled
from .recorder_support import bundle_in, of_type

pytestmark = pytest.mark.anyio

FILE_SEARCH = {
    "type": "file_search_call",
    "id": "fs_1",
    "status": "completed",
    "queries": ["refund policy"],
    "results": [{"file_id": "file_9", "filename": "policy.md", "score": 0.9, "text": "30 days"}],
}
MCP = {
    "type": "mcp_call",
    "id": "mcp_1",
    "server_label": "docs",
    "name": "lookup",
    "arguments": '{"q": "refunds"}',
    "output": "30 days",
    "error": None,
    "status": "completed",
}
SHELL = {
    "type": "shell_call",
    "id": "sh_1",
    "call_id": "call_sh",
    "action": {"commands": ["ls"], "timeout_ms": 1000, "max_output_length": 4096},
    "status": "completed",
}
SHELL_OUTPUT = {
    "type": "shell_call_output",
    "call_id": "call_sh",
    "output": [{"stdout": "a.txt\n", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}],
}
PATCH = {
    "type": "apply_patch_call",
    "id": "ap_1",
    "call_id": "call_ap",
    "operation": {"type": "update_file", "path": "a.txt", "diff": "@@\n-a\n+b\n"},
    "status": "completed",
}
PATCH_OUTPUT = {"type": "apply_patch_call_output", "call_id": "call_ap", "status": "completed"}


async def record_hosted_rollout(root: Path, schema: int) -> list[Any]:
    """A rollout whose model searched files, called an MCP server, ran a shell command and
    patched a file (answered, then sent back with the outputs); the items answered."""
    async with (
        open_rollout(root, model="gpt-test", schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        history: list[Any] = [{"role": "user", "content": "what is the refund policy?"}]
        async with turn.inference({"model": "gpt-test", "input": history}) as call:
            answered: list[Any] = call.completed(output_items=[FILE_SEARCH, MCP, SHELL, PATCH])
        history += [FILE_SEARCH, MCP, SHELL, SHELL_OUTPUT, PATCH, PATCH_OUTPUT]
        async with turn.inference({"model": "gpt-test", "input": history}) as call:
            call.completed(output_items=[{"role": "assistant", "content": "30 days."}])
    return answered


def test_a_hosted_call_is_a_custom_tool_call_named_by_its_type() -> None:
    """The call keeps its id; its input is its JSON (sorted keys, no type / id / status, no
    null field)."""
    recorded = hosted_call(MCP, "mcp_call")
    assert recorded == {
        "type": "custom_tool_call",
        "id": "mcp_1",
        "call_id": "mcp_1",
        "name": "mcp_call",
        "input": orjson.dumps(
            {"type": "mcp_call"}
            | {k: MCP[k] for k in ("arguments", "name", "output", "server_label")}
        ).decode(),
    }
    assert json.loads(recorded["input"])["output"] == "30 days"
    # the type first: the reduced state keeps the text, not the call's name
    # the model's call id, when it has one; the same bytes whatever the key order
    shell = hosted_call(dict(reversed(SHELL.items())), "shell_call")
    assert shell is not None and shell["call_id"] == "call_sh" and shell["id"] == "sh_1"
    assert shell == hosted_call(SHELL, "shell_call")


def test_a_client_run_calls_output_is_a_custom_tool_calls_output() -> None:
    recorded = hosted_call(SHELL_OUTPUT, "shell_call_output")
    assert recorded is not None
    assert recorded["type"] == "custom_tool_call_output" and recorded["call_id"] == "call_sh"
    assert json.loads(recorded["output"]) == {
        "type": "shell_call_output",
        "output": SHELL_OUTPUT["output"],
    }


@pytest.mark.parametrize(
    "item",
    [
        {"type": "mcp_approval_response", "approve": True},  # answering no request
        {"type": "local_shell_call_output", "id": "lso_1", "output": "ok"},  # no call id
        {"type": "file_search_call", "queries": []},  # no id at all
    ],
)
def test_what_is_no_call_or_names_none_is_still_dropped_and_reported(item: dict[str, Any]) -> None:
    assert hosted_call(item, item["type"]) is None
    body, problems = normalize_request({"input": [item]})
    assert body["input"] == []
    assert problems == [f"input[0] ({item['type']}) is not an item type the reducers know; dropped"]


MCP_TOOLS = {
    "type": "mcp_list_tools",
    "id": "mcpl_1",
    "server_label": "docs",
    "tools": [{"name": "lookup", "input_schema": {"type": "object"}, "annotations": None}],
    "error": None,
}
MCP_APPROVAL = {
    "type": "mcp_approval_request",
    "id": "mcpr_1",
    "server_label": "docs",
    "name": "lookup",
    "arguments": '{"q": "refunds"}',
}
MCP_APPROVED = {"type": "mcp_approval_response", "approval_request_id": "mcpr_1", "approve": True}


def test_hosted_mcp_listings_and_approvals_are_calls_and_answers() -> None:
    """A tool listing and an approval request are calls by their item id (what they say as
    their JSON); the client's approval is the request's output."""
    listing = hosted_call(MCP_TOOLS, "mcp_list_tools")
    assert listing is not None and listing["call_id"] == listing["id"] == "mcpl_1"
    assert json.loads(listing["input"])["tools"][0]["name"] == "lookup"
    approval = hosted_call(MCP_APPROVAL, "mcp_approval_request")
    assert approval is not None and approval["name"] == "mcp_approval_request"
    approved = hosted_call(MCP_APPROVED, "mcp_approval_response")
    assert approved == {
        "type": "custom_tool_call_output",
        "call_id": "mcpr_1",
        "output": '{"type":"mcp_approval_response","approve":true}',
    }


@pytest.mark.parametrize("schema", [2, 3])
async def test_an_approved_hosted_mcp_call_is_in_the_rollout(tmp_path: Path, schema: int) -> None:
    """The server lists an MCP server's tools and asks to call one; the client approves; the
    server calls it and answers. Every item is one conversation item both reducers read
    (they were dropped, reported), the approval answering its request."""
    mcp = dict(MCP, id="mcp_2", approval_request_id="mcpr_1")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        async with (
            open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            history: list[Any] = [{"role": "user", "content": "what is the refund policy?"}]
            async with turn.inference({"model": "gpt-test", "input": history}) as call:
                call.completed(output_items=[MCP_TOOLS, MCP_APPROVAL])
            history += [MCP_TOOLS, MCP_APPROVAL, MCP_APPROVED]
            async with turn.inference({"model": "gpt-test", "input": history}) as call:
                call.completed(output_items=[mcp, {"role": "assistant", "content": "30 days."}])
            history += [mcp, {"role": "assistant", "content": "30 days."}, "thanks"]
            async with turn.inference({"model": "gpt-test", "input": history}) as call:
                call.completed(output_items=[{"role": "assistant", "content": "welcome"}])
    state = reduced_by_both(bundle_in(tmp_path))
    *_, last = sorted(
        state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"]
    )
    items = [state["conversation_items"][i] for i in last["request_item_ids"]]
    assert [item["kind"] for item in items] == [
        "message",
        "custom_tool_call",
        "custom_tool_call",
        "custom_tool_call_output",
        "custom_tool_call",
        "message",
        "message",
    ]
    assert items[3]["call_id"] == items[2]["call_id"] == "mcpr_1"
    assert len(state["conversation_items"]) == len(items) + 1  # each once, and the answer


def test_sdk_objects_are_mapped_as_their_dicts() -> None:
    """An item as the openai SDK returns it (a pydantic model) gives the same item."""
    responses = pytest.importorskip("openai.types.responses")
    sdk = responses.ResponseFileSearchToolCall.model_validate(FILE_SEARCH)
    from_sdk, problems = normalize_output_items([sdk])
    from_dict, _ = normalize_output_items([FILE_SEARCH])
    assert problems == [] and from_sdk == from_dict
    assert from_dict[0]["name"] == "file_search_call"


@pytest.mark.parametrize("schema", [2, 3])
async def test_hosted_and_client_run_calls_are_in_the_rollout(tmp_path: Path, schema: int) -> None:
    """A model that searched files, called an MCP server, ran a shell command and patched a
    file: each call and output is a conversation item both reducers read, sent back in the
    next request as the same item. All of them were dropped (reported): the rollout showed
    answers out of nowhere."""
    answered = await record_hosted_rollout(tmp_path, schema)
    assert [item["type"] for item in answered] == ["custom_tool_call"] * 4
    bundle = bundle_in(tmp_path)
    assert not [e for e in of_type(bundle, "protocol_event_observed") if "dropped" in str(e)]
    state = reduced_by_both(bundle)
    first, second = sorted(
        state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"]
    )
    assert set(first["response_item_ids"]) <= set(second["request_item_ids"])  # the same items
    kinds = [state["conversation_items"][i]["kind"] for i in second["request_item_ids"]]
    assert kinds == ["message"] + ["custom_tool_call"] * 3 + ["custom_tool_call_output"] + [
        "custom_tool_call",
        "custom_tool_call_output",
    ]
    text = json.dumps(state)
    assert "policy.md" in text and "refunds" in text and "a.txt" in text
    assert '{\\"type\\":\\"file_search_call\\"' in text  # what kind of call, in the state


async def test_an_unknown_item_still_warns(tmp_path: Path) -> None:
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn() as turn:
        with pytest.warns(RecorderWarning, match=r"\(mcp_approval_response\) is not an item"):
            async with turn.inference({"input": [{"type": "mcp_approval_response"}]}):
                pass


SCREENSHOT = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_computer_use_loops_screenshots_are_image_parts(
    tmp_path: Path, schema: int
) -> None:
    """A ``computer_call_output``'s screenshot is recorded as an image part (shown as an
    image; in schema 3 stored once), what else it says as a text part."""
    click = {
        "type": "computer_call",
        "id": "cu_1",
        "call_id": "call_cu",
        "action": {"type": "click", "x": 10, "y": 20, "button": "left"},
        "pending_safety_checks": [],
        "status": "completed",
    }
    shot = {
        "type": "computer_call_output",
        "call_id": "call_cu",
        "output": {"type": "computer_screenshot", "image_url": SCREENSHOT},
        "acknowledged_safety_checks": [],
    }
    checked = dict(shot, acknowledged_safety_checks=[{"id": "sc_1", "code": "malicious"}])
    assert hosted_call(shot, "computer_call_output") == {
        "type": "custom_tool_call_output",
        "call_id": "call_cu",
        "output": [{"type": "input_image", "image_url": SCREENSHOT}],
    }
    kept = hosted_call(checked, "computer_call_output")
    assert kept is not None and kept["output"][1]["type"] == "input_text"
    assert json.loads(kept["output"][1]["text"]) == {
        "type": "computer_call_output",
        "acknowledged_safety_checks": [{"id": "sc_1", "code": "malicious"}],
    }
    async with (
        open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        history: list[Any] = [{"role": "user", "content": "open the menu"}]
        async with turn.inference({"model": "gpt-test", "input": history}) as call:
            call.completed(output_items=[click])
        history += [click, shot]
        async with turn.inference({"model": "gpt-test", "input": history}) as call:
            call.completed(output_items=[{"role": "assistant", "content": "done"}])
    state = reduced_by_both(bundle_in(tmp_path))
    outputs = [
        item
        for item in state["conversation_items"].values()
        if item["kind"] == "custom_tool_call_output"
    ]
    assert len(outputs) == 1 and "input_image" in json.dumps(outputs[0])


#: Hosted calls as the server writes them: null fields (no results asked for, no error),
#: the server's ``created_by`` on a hosted shell's call, output and output chunks.
SERVER_WRITTEN = [
    {
        "type": "file_search_call",
        "id": "fs_2",
        "status": "completed",
        "queries": ["refunds"],
        "results": None,
    },
    {
        "type": "code_interpreter_call",
        "id": "ci_2",
        "status": "completed",
        "code": "1+1",
        "container_id": "cntr_1",
        "outputs": None,
    },
    dict(MCP, id="mcp_2", approval_request_id=None),
    {
        "type": "web_search_call",
        "id": "ws_2",
        "status": "completed",
        "action": {"type": "search", "query": "refunds", "sources": None},
    },
    dict(SHELL, id="sh_2", call_id="call_sh2", created_by="resp_1"),
    {
        "type": "shell_call_output",
        "id": "sho_2",
        "call_id": "call_sh2",
        "status": "completed",
        "max_output_length": None,
        "created_by": "resp_1",
        "output": [
            {
                "stdout": "a.txt\n",
                "stderr": "",
                "outcome": {"type": "exit", "exit_code": 0},
                "created_by": "resp_1",
            }
        ],
    },
]


@pytest.mark.parametrize("schema", [2, 3])
async def test_hosted_calls_sent_back_as_the_agents_sdk_sends_them_are_the_same_items(
    tmp_path: Path, schema: int
) -> None:
    """The openai SDK's objects are recorded without their null fields; the Agents SDK sends
    the same items back as ``model_dump(exclude_unset=True)`` (the server's nulls kept) and
    without ``created_by``. The call's JSON differed, so its id was "reused with different
    content" and both reducers refused the whole bundle (every Runner.run where a hosted
    tool and a function tool answered together; found by review clients20); a web search
    became a second item."""
    responses = pytest.importorskip("openai.types.responses")
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(responses.ResponseOutputItem)
    answered = [adapter.validate_python(item) for item in SERVER_WRITTEN]
    sent_back = [item.model_dump(exclude_unset=True) for item in answered]
    for item in sent_back:  # as agents.items._output_item_to_input_item
        item.pop("created_by", None)
        if item["type"] == "shell_call_output":
            for chunk in item["output"]:
                chunk.pop("created_by", None)
    assert sent_back[0]["results"] is None and "created_by" in answered[4].model_dump()
    async with (
        open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        history: list[Any] = [{"role": "user", "content": "what is the refund policy?"}]
        async with turn.inference({"model": "gpt-test", "input": history}) as call:
            call.completed(output_items=answered)
        history += sent_back
        async with turn.inference({"model": "gpt-test", "input": history}) as call:
            call.completed(output_items=[{"role": "assistant", "content": "30 days."}])
    state = reduced_by_both(bundle_in(tmp_path))
    first, second = sorted(
        state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"]
    )
    assert len(first["response_item_ids"]) == len(SERVER_WRITTEN)
    assert first["response_item_ids"] == second["request_item_ids"][1:]
    assert len(state["conversation_items"]) == len(SERVER_WRITTEN) + 2
    assert "resp_1" not in json.dumps(state["conversation_items"])


@pytest.mark.parametrize("schema", [2, 3])
async def test_hosted_calls_sent_back_in_tuples_are_the_same_items(
    tmp_path: Path, schema: int
) -> None:
    """An agent that keeps its history in tuples sends the server's hosted calls back with
    their chunks in a tuple: their nulls and ``created_by`` were left in there (only lists
    were settled), so the call's id came back with other content and both reducers refused
    the bundle."""
    async with (
        open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        history: list[Any] = [{"role": "user", "content": "what is the refund policy?"}]
        async with turn.inference({"model": "gpt-test", "input": history}) as call:
            call.completed(output_items=SERVER_WRITTEN)
        sent_back = tupled([*history, *SERVER_WRITTEN])
        async with turn.inference({"model": "gpt-test", "input": sent_back}) as call:
            call.completed(output_items=[{"role": "assistant", "content": "30 days."}])
    state = reduced_by_both(bundle_in(tmp_path))
    first, second = sorted(
        state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"]
    )
    assert first["response_item_ids"] == second["request_item_ids"][1:]
    assert len(state["conversation_items"]) == len(SERVER_WRITTEN) + 2


def test_settled_leaves_out_nulls_and_created_by_only() -> None:
    """Nulls go at any depth (list entries stay); ``created_by`` only where the server puts
    it (a user's own data may have a field of that name); nothing is copied when nothing
    goes."""
    item = {"type": "x_call", "a": {"b": None, "c": [None, {"d": None}]}, "created_by": "r"}
    assert settled(item) == {"type": "x_call", "a": {"c": [None, {}]}}
    kept = {"type": "x_call", "results": [{"attributes": {"created_by": "alice"}}]}
    assert settled(kept) is kept


def test_an_output_that_failed_says_so() -> None:
    """An output's status is kept unless it is ``completed``: an ``apply_patch_call_output``
    that failed was recorded as one that did not say (found by review clients20)."""
    failed = dict(PATCH_OUTPUT, status="failed", output="hunk 1 did not apply")
    recorded = hosted_call(failed, "apply_patch_call_output")
    assert recorded is not None
    assert json.loads(recorded["output"]) == {
        "type": "apply_patch_call_output",
        "output": "hunk 1 did not apply",
        "status": "failed",
    }
    done = hosted_call(PATCH_OUTPUT, "apply_patch_call_output")
    assert done is not None and "status" not in json.loads(done["output"])
