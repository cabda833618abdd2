"""The recorder redacts secrets by default, in both schemas: planted secrets (headers, keys,
cookies, secret-named values, in tool arguments and results, error texts, code-cell source,
agent messages) reach no file of the bundle (schema-3 shards decompressed), the bundle still
reduces with our reducer and with Codex to the same state, items resent in later requests
still link, and the counts are recorded. ``redact=False`` records everything verbatim."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard

from rollout_trace_sdk.record import RecorderWarning, open_rollout, task_message
from rollout_trace_sdk.record.redact import RedactionConfig

from ..planted_secrets import TWELVE
from .recorder_support import (
    bundle_in,
    check_bundle,
)
from .tool_loop import Loop, function_call, function_output

pytestmark = pytest.mark.anyio

#: The twelve secrets of the issue's defect list, and where else agents put secrets.
SECRETS = {
    **TWELVE,
    # beyond the twelve: event-line texts
    "error_token": "sk-proj-ErrErrErr0123456789abcdefGHIJKLMN",
    "cell_key": "sk-proj-CellCell0123456789abcdefGHIJKLMN",
    "child_secret": "xoxb-1234567890-abcdefghijABCDEF",
    "gcp": "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
}
USER = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": f"deploy with my key {SECRETS['gcp']}"}],
}


def _tool_text() -> str:
    s = SECRETS
    config = json.dumps({"api_key": s["api_key_field"], "db": {"password": s["password"]}})
    return (
        f"$ env\nOPENAI_API_KEY={s['sk_proj']}\nANTHROPIC_API_KEY={s['sk_ant']}\n"
        f"aws_access_key_id,aws_secret_access_key\n{s['aws_id']},{s['aws_secret']}\n"
        f"Cookie: session={s['session_cookie']}; csrftoken={s['csrf_cookie']}\n"
        f"Set-Cookie: id={s['set_cookie']}; Path=/; HttpOnly\n"
        f"GITHUB_TOKEN={s['github']}\n$ cat config.json\n{config}\n"
    )


async def record(
    root: Path, schema: int, redact: bool | RedactionConfig = True, **options: Any
) -> Path:
    """Record a rollout with every secret of :data:`SECRETS` planted; return its bundle."""
    s = SECRETS
    curl = f'curl -H "Authorization: Bearer {s["bearer"]}" https://api.example.com/v1'
    args = {"cmd": curl, "api_key": s["api_key_arg"]}
    scope = open_rollout(root, schema_version=schema, redact=redact, **options)
    async with scope as rollout, rollout.root.turn() as turn:
        loop = Loop(turn, USER)
        await loop.infer(function_call("call_1", "exec_command", args))
        async with turn.tool_call("call_1", "exec_command", arguments=args) as tool:
            tool.completed(function_output("call_1", _tool_text()))
        loop.history.append(function_output("call_1", _tool_text()))
        # a failed attempt whose error text holds a key (an event line field)
        async with turn.inference({"model": "m", "input": list(loop.history)}) as failed:
            failed.failed(f"401 Unauthorized: invalid key {s['error_token']}")
        source = f"const key = '{s['cell_key']}';\ntext(key.length);\n"
        cell_call = {
            "type": "custom_tool_call",
            "call_id": "call_cell",
            "name": "exec",
            "input": source,
        }
        await loop.infer(cell_call)  # resends the tool output: linked by content
        async with turn.tool_call("call_cell", "exec", input=source) as tool:
            async with tool.code_cell("1", source) as cell:
                cell.finished([{"type": "input_text", "text": "51"}])
            output = {"type": "custom_tool_call_output", "call_id": "call_cell", "output": "51"}
            tool.completed(output)
        loop.history.append(output)
        spawn = {"task_name": "worker", "message": f"use {s['child_secret']}"}
        await loop.infer(
            function_call("call_spawn", "spawn_agent", spawn, namespace="collaboration")
        )
        async with turn.tool_call(
            "call_spawn", "spawn_agent", namespace="collaboration", arguments=spawn
        ) as tool:
            child = tool.spawn_agent("worker", nickname="Nash")
            tool.completed(function_output("call_spawn", '{"task_name":"/root/worker"}'))
        loop.history.append(function_output("call_spawn", '{"task_name":"/root/worker"}'))
        async with child, child.turn() as child_turn:
            delivered = child_turn.accept_agent_message(
                task_message("/root", child.agent_path, spawn["message"])
            )
            async with child_turn.inference({"input": [delivered]}) as attempt:
                attempt.completed(output_items=[])
        loop.history.append(
            turn.accept_agent_message(child_turn.report_result(f"done with {s['github']}"))
        )
        await loop.infer({"type": "message", "role": "assistant", "content": []})
    return bundle_in(root)


def bundle_files(bundle: Path) -> dict[str, bytes]:
    """Every file of the bundle, schema-3 shards decompressed."""
    out = {}
    for path in sorted(bundle.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".zst":
                data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
            out[str(path.relative_to(bundle))] = data
    return out


def found(files: dict[str, bytes]) -> dict[str, list[str]]:
    """Secret name -> the files holding it verbatim (or JSON-escaped)."""
    found: dict[str, list[str]] = {}
    for name, secret in SECRETS.items():
        forms = {secret.encode(), json.dumps(secret)[1:-1].encode()}
        where = [f for f, data in files.items() if any(form in data for form in forms)]
        if where:
            found[name] = where
    return found


def _redaction_report(bundle: Path, files: dict[str, bytes]) -> str | None:
    for raw in files["trace.jsonl"].splitlines():
        line = orjson.loads(raw)
        if line["payload"]["type"] == "protocol_event_observed":
            ref = line["payload"]["event_payload"]
            body = _payload_body(bundle, files, ref)
            if "redacted" in body.get("message", ""):
                return str(body["message"])
    return None


def _payload_body(bundle: Path, files: dict[str, bytes], ref: dict[str, Any]) -> Any:
    if "path" in ref:
        return orjson.loads(files[ref["path"]])
    data = files[f"payloads/{ref['shard']:06d}.zst"]
    ident = ref["raw_payload_id"].encode()
    at = data.index(ident) + len(ident)
    size = int.from_bytes(data[at - len(ident) - 8 : at - len(ident)], "little")
    return orjson.loads(data[at : at + size])


def linked(state: dict[str, Any]) -> list[int]:
    """How many request items each inference call names, and how many items there are: equal
    lists mean resent items were matched to the same item ids."""
    calls = sorted(state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"])
    return [len(c["request_item_ids"]) for c in calls] + [len(state["conversation_items"])]


@pytest.mark.parametrize("schema", [2, 3])
async def test_planted_secrets_are_redacted_by_default(tmp_path: Path, schema: int) -> None:
    bundle = await record(tmp_path / "on", schema)
    files = bundle_files(bundle)
    assert found(files) == {}
    message = _redaction_report(bundle, files)
    assert message is not None and message.startswith("rollout_trace_sdk: redacted ")
    total = int(re.search(r"redacted (\d+) secrets", message)[1])  # type: ignore[index]
    assert total >= len(SECRETS)
    assert re.search(rb"\[REDACTED:sk_key:[0-9a-f]{8}\]", files["trace.jsonl"])  # a line field
    state = check_bundle(bundle, tmp_path)

    plain = await record(tmp_path / "off", schema, redact=False)
    plain_files = bundle_files(plain)
    assert set(found(plain_files)) == set(SECRETS)  # every secret was really recorded
    assert _redaction_report(plain, plain_files) is None
    plain_state = check_bundle(plain, tmp_path)
    assert linked(state) == linked(plain_state)
    assert len(state["conversation_items"]) == len(plain_state["conversation_items"])


async def test_the_same_secret_gets_the_same_placeholder_everywhere(tmp_path: Path) -> None:
    bundle = await record(tmp_path, 2)
    data = b"".join(bundle_files(bundle).values())
    # the tool output is stored in the tool result, the next requests and a response item
    placeholders = set(re.findall(rb"\[REDACTED:github_token:[0-9a-f]{8}\]", data))
    assert len(placeholders) == 1
    assert data.count(next(iter(placeholders))) >= 3


async def test_extra_patterns_and_hook_apply(tmp_path: Path) -> None:
    def hook(data: bytes) -> list[tuple[int, int, str]]:
        return [(m.start(), m.end(), "deploy") for m in re.finditer(rb"deploy", data)]

    config = RedactionConfig(extra_patterns=[("ticket", rb"INT-[0-9]{6}")], hook=hook)
    async with open_rollout(tmp_path, schema_version=3, redact=config) as rollout:
        rollout.root.protocol_event("warning", {"message": "see INT-123456 before deploy"})
    assert rollout.stats is not None
    assert rollout.stats.redacted == {"ticket": 1, "deploy": 1}
    files = bundle_files(bundle_in(tmp_path))
    everything = b"".join(files.values())
    assert b"INT-123456" not in everything and b"before deploy" not in everything
    assert b"[REDACTED:ticket:" in everything and b"[REDACTED:deploy:" in everything
    # the counts' report is not redacted by the user's hook (it names the kinds)
    assert b"redacted 2 secrets in this trace (deploy 1, ticket 1)" in everything


async def test_a_hook_that_raises_is_not_reported_as_a_secret_redacted(tmp_path: Path) -> None:
    """A user's hook that raises on a text: the text is written without its spans (as
    documented), and the report said "redacted 1 secrets in this trace (hook_error 1)",
    a secret redacted where none was."""

    def hook(data: bytes) -> list[tuple[int, int, str]]:
        if b"boom" in data:
            raise ValueError("a bug in the user's detector")
        return []

    config = RedactionConfig(hook=hook)
    async with open_rollout(tmp_path, schema_version=3, redact=config) as rollout:
        rollout.root.protocol_event("note", {"text": "boom"})
    everything = b"".join(bundle_files(bundle_in(tmp_path)).values())
    assert b"redacted 1 secrets" not in everything
    assert b"redacted 0 secrets in this trace; the redaction hook raised on 1 text," in everything
    check_bundle(bundle_in(tmp_path), tmp_path)


async def test_a_truncated_payload_is_redacted_before_it_is_cut(tmp_path: Path) -> None:
    """The cut falls inside a secret: redacted first, nothing of it is kept, and the stored
    length is the reference's retained size (both reducers check it)."""
    secret = SECRETS["sk_proj"]
    text = "x" * 990 + " " + secret + " " + "y" * 2000
    scope = open_rollout(tmp_path, schema_version=3, max_payload_bytes=1010)
    async with scope as rollout, rollout.root.turn() as turn:
        loop = Loop(turn, USER)
        args = {"cmd": "env"}
        await loop.infer(function_call("call_1", "exec_command", args))
        async with turn.tool_call("call_1", "exec_command", arguments=args) as tool:
            tool.completed(function_output("call_1", text))
    bundle = bundle_in(tmp_path)
    everything = b"".join(bundle_files(bundle).values())
    assert secret[:12].encode() not in everything
    assert b'"status":"truncated"' in everything
    check_bundle(bundle, tmp_path)


#: How each of the twelve sits in text a tool is given (the rest: ``export X=<secret>``).
_IN_TEXT = {
    "bearer": 'curl -H "Authorization: Bearer {}"',
    "api_key_field": '"api_key": "{}"',
    "api_key_arg": "--api-key={}",
    "session_cookie": "Cookie: session={}; csrftoken=abc",
    "csrf_cookie": "Cookie: csrftoken={}",
    "set_cookie": "Set-Cookie: id={}; Path=/",
    "password": "PASSWORD={}",
    "aws_secret": "AKIAZ7QW3RTY5UIOP2AS,{}",
}


class _Settings:
    """An object JSON cannot hold, recorded as its repr cut to 200 characters."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Settings({self.text})"


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_secret_cut_by_a_preview_or_a_repr_leaves_no_part_of_it(
    tmp_path: Path, schema: int
) -> None:
    """A tool call's input preview (160 characters) and an unserialisable object's repr (200)
    are cut on the event loop, before the writer's thread redacts: a secret the cut fell in
    was no longer a secret's shape, and its head stayed verbatim (39 of an AWS secret key's
    40 characters, 33 of a GitHub token's 40, 15 of an sk-proj key's)."""
    scope = open_rollout(tmp_path, schema_version=schema)
    # the reprs are the documented, counted stand-in for the unserialisable settings
    with pytest.warns(
        RecorderWarning, match="unserialisable objects recorded as their type and repr"
    ):
        async with scope as rollout, rollout.root.turn() as turn:
            n = 0
            for name, secret in TWELVE.items():
                text = _IN_TEXT.get(name, "export X={}").format(secret)
                at = text.index(secret)
                for cut in range(1, len(secret)):
                    n += 1
                    # the preview is cut from the arguments' text: '{"cmd": "' comes first
                    pad = "x" * (160 - 10 - at - cut) + " "
                    arguments = json.dumps({"cmd": pad + text})
                    async with turn.tool_call(f"c{n}", "exec_command", arguments=arguments) as t:
                        t.completed(function_output(f"c{n}", "ok"))
                    # the repr is cut after 'Settings(' (9 characters)
                    settings = _Settings("x" * (200 - 10 - at - cut) + " " + text)
                    rollout.root.protocol_event("note", {"settings": settings})
    bundle = bundle_in(tmp_path)
    everything = b"".join(bundle_files(bundle).values())
    kept = {
        name: max(k for k in range(len(secret) + 1) if secret[:k].encode() in everything)
        for name, secret in TWELVE.items()
    }
    assert max(kept.values()) <= 4, kept  # "sk-p", no more
    check_bundle(bundle, tmp_path)


def test_open_rollout_refuses_a_bad_redact_argument(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="redact must be"):
        open_rollout(tmp_path, redact="yes")  # type: ignore[arg-type]
