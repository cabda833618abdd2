"""``ls`` names each bundle's task, the first line of what its rollout was first asked
(``rollout_trace_sdk/_bundle_task.py``), read without reducing from the log's head and the
first request alone: bundles of our recorder (both schemas), of the OpenAI SDK and Agents SDK
integrations, of Codex 0.169 / 0.171 (the corpora), and bundles that would make a reader
follow a symlink, block on a FIFO or decompress without end. (Beside
``tests/test_cli_sources.py``, which tests the rest of ``ls``.)"""

from __future__ import annotations

import asyncio
import json
import os
import struct
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
import zstandard

from rollout_trace_sdk.record import open_rollout

from .conftest import CONFORMANCE, CONFORMANCE_V3
from .test_cli_sources import run

INDENT = " " * 21  # the task starts under the status column


async def _asked(root: Path, schema: int, request_input: Any, accept: str | None) -> Path:
    async with (
        open_rollout(root, model="m", schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        if accept is not None:
            turn.accept_item_id(accept)
        if request_input is not None:
            call = turn.inference({"model": "m", "input": request_input})
            call.completed(output_items=[{"role": "assistant", "content": "done"}])
    assert rollout.bundle_dir is not None
    return rollout.bundle_dir


def asked(root: Path, request_input: Any, *, schema: int = 3, accept: str | None = None) -> Path:
    """A bundle whose root thread's first request sends ``request_input`` (no inference at
    all for ``None``), ``accept`` accepted into the history before it."""
    bundle: Path = anyio.run(_asked, root, schema, request_input, accept)
    return bundle


def tasks(root: Path) -> dict[str, Any]:
    """Each bundle's task as ``ls --json`` gives it, by the bundle's name."""
    code, out, err = run("ls", root, "--json")
    assert (code, err) == (0, ""), err
    return {Path(row["bundle"]).name: row["task"] for row in map(json.loads, out.splitlines())}


def _user(text: Any, item_id: str | None = None) -> dict[str, Any]:
    content = text if isinstance(text, list) else [{"type": "input_text", "text": text}]
    item = {"type": "message", "role": "user", "content": content}
    return item if item_id is None else {**item, "id": item_id}


@pytest.mark.parametrize("schema", [2, 3])
def test_ls_shows_the_first_line_of_the_first_user_message(tmp_path: Path, schema: int) -> None:
    """The first line that is not blank, its spaces run together, its control characters
    spelled out as everywhere ``ls`` prints (a bidi override would reorder the line)."""
    text = "\n  Fix the \x1b[31mparser\u202e  bug\tin  src/parse.py \nthen run the tests"
    bundle = asked(tmp_path, [_user(text)], schema=schema)
    assert tasks(tmp_path) == {bundle.name: "Fix the \x1b[31mparser\u202e bug in src/parse.py"}
    code, out, _ = run("ls", tmp_path)
    assert code == 0 and "\x1b" not in out and "\u202e" not in out
    assert out.splitlines()[2] == INDENT + "Fix the \\x1b[31mparser\\u202e bug in src/parse.py"
    raw = run("ls", tmp_path, "--json")[1]
    assert "\x1b" not in raw and "\u202e" not in raw  # escaped in the JSON text too


@pytest.mark.parametrize("schema", [2, 3])
def test_what_a_message_carries_besides_text_and_codex_context_are_told(
    tmp_path: Path, schema: int
) -> None:
    """An image or file is named in brackets, a message without text says so, and the
    context Codex sends as user messages (AGENTS.md, the environment) is no task."""
    image = {"type": "input_image", "image_url": "data:image/png;base64," + "iVBORw0KGgo" * 20}
    context = [
        _user("# AGENTS.md instructions for /w\n\n<INSTRUCTIONS>\nbe nice\n</INSTRUCTIONS>"),
        _user("<environment_context>\n  <cwd>/w</cwd>\n</environment_context>"),
    ]
    cases = {
        "image": asked(tmp_path, [_user([image])], schema=schema),
        "both": asked(tmp_path, [_user([image, image, {"type": "input_text", "text": "Why?"}])]),
        "empty": asked(tmp_path, [_user("  \n ")], schema=schema),
        "context": asked(tmp_path, [*context, _user("Deploy it.")], schema=schema),
        "none": asked(tmp_path, None, schema=schema),
        "string": asked(tmp_path, "Plain string input\nmore", schema=schema),
    }
    found = tasks(tmp_path)
    assert {case: found[bundle.name] for case, bundle in cases.items()} == {
        "image": "(image)",
        "both": "(2 images) Why?",
        "empty": "(empty message)",
        "context": "Deploy it.",
        "none": None,
        "string": "Plain string input",
    }
    rows = run("ls", tmp_path)[1].splitlines()
    assert rows[rows.index(next(r for r in rows if r.endswith(cases["none"].name))) + 1] == (
        INDENT + "-"
    )


@pytest.mark.parametrize("schema", [2, 3])
def test_a_resumed_thread_is_named_by_the_message_it_accepted(tmp_path: Path, schema: int) -> None:
    """A resumed thread sends its old history first: the task is the user message the
    rollout accepted before its first request, not the oldest one sent (Codex's
    ``multi_turn_resume``, as the corpus test checks on Codex's own bundles)."""
    history = [
        _user("Write state.txt.", "msg_old"),
        {"type": "message", "role": "assistant", "content": "Done."},
        _user("Now read it back.", "msg_new"),
    ]
    resumed = asked(tmp_path, history, schema=schema, accept="msg_new")
    fresh = asked(tmp_path, history, schema=schema)
    assert tasks(tmp_path) == {resumed.name: "Now read it back.", fresh.name: "Write state.txt."}


def test_a_long_task_is_cut_to_the_terminal_and_to_200_characters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ls`` fits the task to the terminal's width (a wide character takes two columns);
    ``--json`` keeps 200 characters. A first message of 64K characters, which our recorder
    stores apart from its item (a ``content_value``), is read no further than its start."""
    wide = asked(tmp_path, [_user("日本語のテキスト" * 40)])
    long = asked(tmp_path, [_user("Read this document.\n" + "x" * 70_000)])
    one_line = asked(tmp_path, [_user("word " * 20_000)])
    found = tasks(tmp_path)
    assert found[long.name] == "Read this document."
    assert len(found[one_line.name]) == 200 and found[one_line.name].endswith("word…")
    assert found[wide.name] == ("日本語のテキスト" * 40)[:199] + "…"
    monkeypatch.setenv("COLUMNS", "60")
    rows = run("ls", tmp_path)[1].splitlines()
    shown = rows[rows.index(next(r for r in rows if r.endswith(wide.name))) + 1]
    assert shown == INDENT + "日本語のテキスト" * 2 + "日本語…"  # 19 wide characters, 39 columns
    shown = rows[rows.index(next(r for r in rows if r.endswith(one_line.name))) + 1]
    assert len(shown) == 60 and shown.endswith("…")


def test_a_part_whose_type_is_not_a_string_is_not_text(tmp_path: Path) -> None:
    """A content part whose type is an object (Codex's placeholder where a template part
    held the type string: a grammar bundle's, fuzz28) was looked up in the set of text
    types and raised: ``ls`` ended in an internal error. It is no text; the message's other
    parts still name the task, and a message of it alone is an empty one."""
    placeholder = {"$trace_unavailable": "raw_payload:8"}
    both = asked(
        tmp_path,
        [_user([{"type": "input_text", "text": "x"}, {"type": "input_text", "text": "Fix it."}])],
        schema=2,
    )
    alone = asked(tmp_path, [_user([{"type": "input_text", "text": "y"}])], schema=2)
    for bundle in (both, alone):
        path = _request_path(bundle)
        request = orjson.loads(path.read_bytes())
        request["input"][0]["content"][0]["type"] = placeholder
        path.write_bytes(orjson.dumps(request))
    assert tasks(tmp_path) == {both.name: "Fix it.", alone.name: "(empty message)"}


def test_the_task_is_not_read_through_a_symlink_or_a_fifo(tmp_path: Path) -> None:
    """The request is opened as every bundle file is (``reduce.confined``): a payload that is
    a symlink out of the bundle is not followed, a FIFO is not opened for reading (``ls``
    would hang on it)."""
    linked = asked(tmp_path / "root", [_user("the bundle's own task")], schema=2)
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"input": [_user("a file outside the bundle")]}))
    request = _request_path(linked)
    request.unlink()
    request.symlink_to(outside)
    fifo = asked(tmp_path / "root", [_user("the bundle's own task")], schema=3)
    shard = fifo / "payloads" / "000001.zst"
    shard.unlink()
    os.mkfifo(shard)
    assert tasks(tmp_path / "root") == {linked.name: None, fifo.name: None}


def _request_path(bundle: Path) -> Path:
    for line in (bundle / "trace.jsonl").read_bytes().splitlines():
        payload = orjson.loads(line)["payload"]
        if payload["type"] == "inference_started":
            return bundle / str(payload["request_payload"]["path"])
    raise AssertionError("no inference")


def test_a_shard_is_decompressed_only_up_to_the_request_and_never_without_end(
    tmp_path: Path,
) -> None:
    """The shard is read from its start up to the request's record: bytes after it are never
    decompressed (damage there does not matter), a 4 MB record before it is passed over,
    but one that decompresses to 64 MB from a few KB stops the reading (no task) rather
    than being decompressed to its end."""
    text = [_user("Find the bug.")]
    damaged = asked(tmp_path, text)
    with (damaged / "payloads" / "000001.zst").open("ab") as shard:
        shard.write(b"not zstd at all" * 100)
    padded = asked(tmp_path, text)
    _put_first(padded, os.urandom(1 << 21).hex().encode())
    bomb = asked(tmp_path, text)
    _put_first(bomb, bytes(64 << 20))
    assert (bomb / "payloads" / "000001.zst").stat().st_size < 64 << 10
    assert tasks(tmp_path) == {
        damaged.name: "Find the bug.",
        padded.name: "Find the bug.",
        bomb.name: None,
    }


def _put_first(bundle: Path, body: bytes) -> None:
    """Put a record no event names before every other of the bundle's first shard."""
    path = bundle / "payloads" / "000001.zst"
    with path.open("rb") as shard:  # a frame without its size: streamed
        data = zstandard.ZstdDecompressor().stream_reader(shard).read()
    ident = b"raw_payload:999999"
    record = struct.pack("<HQ", len(ident), len(body)) + ident + body
    path.write_bytes(zstandard.ZstdCompressor(level=3).compress(record + data))


def test_the_openai_and_agents_sdk_integrations_bundles_have_their_tasks(
    tmp_path: Path,
) -> None:
    """The integrations record the request as the SDK sends it: a Responses ``input``
    string, Chat Completions ``messages`` with a system message first, an agent's run."""
    pytest.importorskip("agents")
    from agents import Runner, set_trace_processors
    from openai import AsyncOpenAI

    from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor
    from rollout_trace_sdk.integrations.openai import instrument

    from .integrations.agents_sdk.scripted import QUESTION, triage
    from .integrations.fake_agents_api import FakeAgentsAPI
    from .integrations.fake_openai import FakeOpenAI

    async def calls(base_url: str) -> None:
        client = AsyncOpenAI(base_url=base_url, api_key="test", max_retries=0)
        async with instrument(client) as sdk:
            for schema in (2, 3):
                async with open_rollout(tmp_path, schema_version=schema) as r, r.root.turn():
                    await sdk.responses.create(model="m", input="Summarise\nthe report")
                messages: Any = [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "What is 2 + 2?"},
                ]
                async with open_rollout(tmp_path, schema_version=schema) as r, r.root.turn():
                    await sdk.chat.completions.create(model="m", messages=messages)

    with FakeOpenAI() as fake:
        asyncio.run(calls(fake.base_url))
    with FakeAgentsAPI() as fake:
        for schema in (2, 3):
            processor = RolloutTraceProcessor(root=tmp_path, schema_version=schema)
            set_trace_processors([processor])
            try:
                asyncio.run(Runner.run(triage(fake.base_url), QUESTION))
            finally:
                set_trace_processors([])
                processor.shutdown()
    assert sorted(tasks(tmp_path).values()) == sorted(["Summarise", "What is 2 + 2?", QUESTION] * 2)


@pytest.mark.parametrize("corpus", [CONFORMANCE, CONFORMANCE_V3], ids=["0.169", "0.171"])
def test_codex_bundles_are_named_by_the_prompt_codex_was_given(corpus: Path) -> None:
    """Every bundle of the Codex corpora has a task, and a ``codex exec`` run's is its prompt
    (the last argument): a resumed session's second bundle the second prompt, the image
    message ``(image)`` and its text, a 0.171 request cut by ``max_payload_bytes`` read from
    its prepared prompt."""
    if not corpus.is_dir():
        pytest.skip(f"{corpus} is not present")
    checked = 0
    for scenario in sorted(p for p in corpus.iterdir() if (p / "scenario.json").is_file()):
        found = tasks(scenario)
        assert found and all(isinstance(task, str) and task for task in found.values()), found
        runs = orjson.loads((scenario / "scenario.json").read_bytes())["runs"]
        prompts = {run_["argv"][-1] for run_ in runs if run_["argv"][1:2] == ["exec"]}
        if scenario.name == "user_image_input":
            assert list(found.values()) == ["(image) Describe the attached image."]
        elif prompts:
            assert set(found.values()) == prompts, scenario.name
            checked += 1
    assert checked >= 30
