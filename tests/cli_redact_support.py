"""What the ``rollout-trace redact`` tests share: the command run in-process, the demo's
bundle recorded, the twelve secrets planted where a careless agent would put them, and a
bundle's bytes and reduced state."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.reduce import reduce_bundle
from tests.planted_secrets import TWELVE

SECRETS = TWELVE


def run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def record_demo(tmp_path: Path) -> Path:
    code, out, _ = run("demo", "--out", tmp_path / "demo")
    assert code == 0
    return Path(out.splitlines()[0])


def plant(bundle: Path) -> None:
    """Put the secrets where a careless agent would: a tool's output, a tool result dict, a
    tool call's arguments (payload and the log line's input preview)."""
    s = SECRETS
    text = (
        f"$ env\nOPENAI_API_KEY={s['sk_proj']}\nANTHROPIC_API_KEY={s['sk_ant']}\n"
        f"aws_access_key_id,aws_secret_access_key\n{s['aws_id']},{s['aws_secret']}\n"
        f"Cookie: session={s['session_cookie']}; csrftoken={s['csrf_cookie']}\n"
        f"Set-Cookie: id={s['set_cookie']}; Path=/; HttpOnly\n"
        f"GITHUB_TOKEN={s['github']}\n"
    )
    planted_output = planted_args = False
    for path in sorted((bundle / "payloads").iterdir(), key=lambda p: int(p.stem)):
        doc = orjson.loads(path.read_bytes())
        item: Any = doc.get("response_item") if isinstance(doc, dict) else None
        invoked = doc.get("payload") if isinstance(doc, dict) and "tool_name" in doc else None
        if not planted_output and _is(item, "function_call_output"):
            item["output"] = f"{item['output']}\n{text}"
            doc["metadata"] = {"api_key": s["api_key_field"], "db": {"password": s["password"]}}
            planted_output = True
        elif not planted_args and isinstance(invoked, dict) and "arguments" in invoked:
            invoked["arguments"] = _arguments()
            planted_args = True
        else:
            continue
        path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    assert planted_output and planted_args
    log = bundle / "trace.jsonl"
    lines = log.read_bytes().splitlines()
    for i, raw in enumerate(lines):
        line = orjson.loads(raw)
        if line["payload"]["type"] == "tool_call_started":
            line["payload"]["summary"]["input_preview"] = _arguments()[:160]
            lines[i] = orjson.dumps(line)
            break
    log.write_bytes(b"\n".join(lines) + b"\n")


def _arguments() -> str:
    return orjson.dumps({"cmd": _curl(), "api_key": SECRETS["api_key_arg"]}).decode()


def _curl() -> str:
    return f'curl -H "Authorization: Bearer {SECRETS["bearer"]}" https://api.example.com/v1'


def _is(doc: Any, kind: str) -> bool:
    return isinstance(doc, dict) and doc.get("type") == kind and isinstance(doc.get("output"), str)


def all_bytes(bundle: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(bundle.rglob("*")) if p.is_file())


def state_of(bundle: Path) -> bytes:
    from rollout_trace_sdk.model.state import state_bytes

    return state_bytes(reduce_bundle(bundle))
