"""The items both reducers keep whole as JSON read as words (``view.hosted_text``): a tool
search and what it found, an image generation, a local shell call, as Codex 0.169/0.171
record them (the shapes below are theirs: tests/live's scenarios and the corpora), and their
JSON one step away in ``show --full`` (polish28)."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.reduce.normalize import json_summary
from rollout_trace_sdk.view.hosted_text import hosted_text
from rollout_trace_sdk.view.load import load_state

from ..codex_oracle import codex_bin
from ..live.exec_scenarios import EXEC_SCENARIOS
from ..live.recording import record
from ..reduce.builder import Scenario, message, request, response
from .conftest import plain_transcript, reduced_state_file


def _body(value: Any) -> dict[str, Any]:
    """An item's body as the state keeps it: one JSON part, its first 240 bytes."""
    return {"parts": [{"type": "json", "summary": json_summary(value)}]}


_NAMESPACE = {
    "type": "namespace",
    "name": "mcp__demo",
    "description": "Tools in the mcp__demo namespace.",
    "tools": [
        {"type": "function", "name": name, "parameters": {"type": "object"}}
        for name in ("echo", "add")
    ],
}

_SHORT = {"type": "namespace", "name": "mcp__demo", "tools": [{"name": "echo"}, {"name": "add"}]}


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (
            {
                "type": "tool_search_call",
                "id": "tsc_1",
                "call_id": "c_search",
                "status": "completed",
                "execution": "client",
                "arguments": {"query": "demo echo add pixel boom", "limit": 8},
            },
            '⌕ tool search: "demo echo add pixel boom" · up to 8',
        ),
        (
            {
                "type": "tool_search_call",
                "id": "tsc_1",
                "call_id": "ts_server",
                "execution": "server",
                "status": "in_progress",
                "arguments": {"query": "anything"},
            },
            '⌕ tool search: "anything" · on the server · in_progress',
        ),
        (
            {"type": "tool_search_output", "status": "completed", "tools": [_SHORT]},
            "tools found: mcp__demo (echo, add)",
        ),
        (
            # Codex's own output: its namespace's description and schemas pass 240 bytes
            {
                "type": "tool_search_output",
                "id": "tso_01a24a9e-2433-7651-9746-918cda57b6a2",
                "call_id": "c_search",
                "status": "completed",
                "execution": "client",
                "tools": [_NAMESPACE],
            },
            "tools found: mcp__demo …",
        ),
        ({"type": "tool_search_output", "status": "completed", "tools": []}, "no tools found"),
        (
            {
                "type": "image_generation_call",
                "id": "ig_1",
                "status": "completed",
                "revised_prompt": "a dot",
                "result": "iVBORw0KGgo" * 100,
            },
            'image generation: "a dot" …',
        ),
        (
            {"type": "image_generation_call", "id": "ig_pending", "status": "generating"},
            "image generation · generating",
        ),
        (
            {
                "type": "local_shell_call",
                "id": "item_1_0",
                "call_id": "call_local",
                "status": "completed",
                "action": {
                    "type": "exec",
                    "command": ["echo", "legacy-shell"],
                    "timeout_ms": 5000,
                    "working_directory": None,
                    "env": None,
                    "user": None,
                },
            },
            "local shell: $ echo legacy-shell",
        ),
        (
            {
                "type": "local_shell_call",
                "status": "in_progress",
                "action": {"type": "exec", "command": ["ls", "my dir"], "working_directory": "/w"},
            },
            "local shell: $ ls 'my dir' (in /w) · in_progress",
        ),
    ],
)
def test_a_kept_whole_item_reads_as_words(value: dict[str, Any], said: str) -> None:
    assert hosted_text(_body(value)) == said


@pytest.mark.parametrize(
    "value",
    [
        {"type": "local_shell_call", "action": {"type": "exec", "command": "ls"}},
        {"type": "tool_search_call", "arguments": "q"},
        {"type": "tool_search_output", "tools": [{"type": "function"}]},
        {"type": "image_generation_call", "revised_prompt": 3},
        {"type": "mcp_tool_call_output", "output": "x"},  # kept whole, read as its JSON
        {"type": "local_shell_call", "action": {"$trace_unavailable": "raw_payload:4"}},
    ],
)
def test_another_shape_reads_as_its_json(value: dict[str, Any]) -> None:
    assert hosted_text(_body(value)) is None


def test_a_cut_json_is_read_as_far_as_it_is_whole() -> None:
    """The state keeps 240 bytes of a long item's JSON: what is whole of it is read (a
    string cut in its middle, with a comma and an escaped quote in it, is not)."""
    value = {"type": "tool_search_output", "tools": [{"name": f'a,"b{k}'} for k in range(40)]}
    words = hosted_text(_body(value))
    assert words is not None and words.endswith(" …")
    names = words.removeprefix("tools found: ").removesuffix(" …").split(", ")
    assert 5 < len(names) < 40 and names == [f'a,"b{k}' for k in range(len(names))]
    # cut before any element is whole: its JSON says what it holds
    assert hosted_text(_body({"type": "local_shell_call", "id": "x" * 300})) is None


@pytest.mark.codex
def test_codex_items_read_as_words_in_show_their_json_with_full(tmp_path: Path) -> None:
    """A real Codex 0.171 session: its client tool search printed as two JSON objects (its
    arguments and the tools it found), a generated image as its JSON and base64; now words,
    the JSON under them with ``--full``."""
    codex = codex_bin(3)
    if codex is None:
        pytest.skip("no Codex 0.171 binary")
    wanted = {"mcp_tools_of_every_result", "image_generation"}
    chosen = [s for s in EXEC_SCENARIOS if s.name in wanted]
    assert {s.name for s in chosen} == wanted  # a renamed scenario would check nothing
    for scenario in chosen:
        [bundle] = record(codex, scenario, tmp_path / scenario.name)
        state = load_state(bundle)
        text, full = plain_transcript(state), plain_transcript(state, full=True)
        if scenario.name == "image_generation":
            assert '    image generation: "a dot"\n' in text, text
            assert '"type":"image_generation_call"' not in text
            assert '"revised_prompt":"a dot"' in full
        else:
            assert '      args: ⌕ tool search: "demo echo add pixel boom" · up to 8\n' in text
            assert "      → tools found: mcp__demo …\n" in text, text
            assert '"type":"tool_search_output"' not in text
            assert '{"type":"tool_search_output"' in full and '{"type":"tool_search_call"' in full


def _summary_body(summary: str) -> dict[str, Any]:
    """A body as a state file may hold it: any summary at all (a state is read, not trusted)."""
    return {"parts": [{"type": "json", "summary": summary}]}


_DEEP_ARGUMENTS = '{"a":' + "[" * 1020 + "]" * 1020 + "}"


@pytest.mark.parametrize(
    "summary",
    [
        '{"type":["web_search_call"]}',  # a type no dict can look up
        '{"type":{"a":1},"id":"x"}',
        '{"type":["x"],"id":"y",...',  # the same, cut
        # arguments nested deeper than Python's JSON writer recurses (orjson reads 1,024)
        '{"type":"tool_search_call","arguments":' + _DEEP_ARGUMENTS + "}",
    ],
    ids=["type-list", "type-object", "type-list-cut", "deep-arguments"],
)
def test_a_hostile_summary_reads_as_its_json(summary: str) -> None:
    assert hosted_text(_summary_body(summary)) is None


def test_a_deep_cut_json_is_completed_in_linear_time() -> None:
    """A cut JSON 100,000 arrays deep with a comma in each: the closing brackets were joined
    anew at every comma (~60 s of CPU; ~0.1 s read once). The margin is wide: CPU time, not
    the wall clock, and a hundredfold."""
    depth = 100_000
    summary = '{"type":"tool_search_output","tools":' + "[1," * depth + "..."
    started = time.process_time()
    assert hosted_text(_summary_body(summary)) is None  # deeper than orjson reads
    assert time.process_time() - started < 10


def test_show_and_the_page_read_a_state_with_hostile_kept_whole_items(tmp_path: Path) -> None:
    """``show`` (and ``--full``) and the page of a state file whose kept-whole items hold
    what no reducer writes: each is read, none is an internal error."""
    from rollout_trace_sdk.cli import main

    bundle = Scenario(tmp_path / "bundle")
    bundle.begin()
    action = {"type": "exec", "command": ["echo"]}
    kept = [
        {"type": "local_shell_call", "id": f"ls_{n}", "call_id": f"c{n}", "action": action}
        for n in range(3)
    ]
    bundle.infer("inf-1", request(message("user", "hi", "u0")), response(*kept))
    bundle.finish()
    state_file = reduced_state_file(bundle.flush())
    state = json.loads(state_file.read_text())
    hostile = iter(
        [
            '{"type":["x"]}',
            '{"type":"tool_search_call","arguments":' + _DEEP_ARGUMENTS + "}",
            '{"type":"tool_search_output","tools":' + "[" * 5000 + "]" * 5000 + "}",
        ]
    )
    for item in state["conversation_items"].values():
        if item["body"]["parts"][0]["type"] == "json":
            item["body"]["parts"][0]["summary"] = next(hostile)
    assert next(hostile, None) is None  # all three are in the state
    state_file.write_text(json.dumps(state))
    page = str(tmp_path / "view.html")
    for argv in (["show", "--full"], ["show"], ["summary"], ["view", "-o", page]):
        out, err = io.StringIO(), io.StringIO()
        assert main([*argv, str(state_file)], out=out, err=err) == 0, err.getvalue()
