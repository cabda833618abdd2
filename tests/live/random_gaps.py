"""Kinds of real Codex bundle the conformance corpora hold (their ``INDEX.md``) or a user hits
beside them, which :mod:`tests.live.random_scenarios` never makes (or makes only by rare
chance), each scripted at random for :mod:`tests.live.test_codex_gaps`: in ``codex exec``,
code cells that yield and the ``wait`` calls that collect them (running, finished, unknown,
two at once), MCP tools called from a cell (beside a command, failing, an image), outputs far
past the model's budget (``max_output_tokens``), a compaction while a command or a cell is
still running, a session resumed several times (a resumed turn failing, a poll of a command
an earlier process left), four to seven calls of mixed kinds in one answer, reasoning items
of every shape (parts, raw text, encrypted only, an answer of reasoning alone), images that
are not what they claim, workers failing past their first answer or timed out and interrupted,
a model outside Codex's catalog (other tools: no apply_patch, multi-agent v1 at once),
payloads past a schema-3 shard's size, and answers citing a web search's sources (streamed,
with a refusal part, without usage); the ``codex app-server`` kinds are in
:mod:`tests.live.random_gaps_app`. A seed picks its kind (``seed % len(KINDS)``)."""

from __future__ import annotations

import base64
import random
import struct
import zlib
from typing import Any

from tests.live.script import (
    CODE_MODE,
    HIGH_USAGE,
    MCP,
    MULTI_AGENT,
    PNG,
    SMALL_CONTEXT,
    Scenario,
    after,
    call,
    collab,
    custom,
    mcp,
    message,
    v1,
    worker,
)

#: a 1x1 GIF (a format view_image may not take), a PNG cut after its header, text
_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
#: the workspace files of every gap scenario
FILES = {"dot.png": PNG, "notes.txt": b"old line\n", "dot.gif": _GIF, "cut.png": PNG[:20]}


def png(width: int, height: int, colour: int = 2, noise: random.Random | None = None) -> bytes:
    """A real PNG (colour type 0 grey, 2 RGB or 6 RGBA) of stripes (a few KB), or of
    ``noise``'s bytes, which do not compress (a large file)."""
    row_bytes = width * {0: 1, 2: 3, 6: 4}[colour]
    rows = b"".join(
        b"\x00"
        + (
            noise.randbytes(row_bytes)
            if noise is not None
            else bytes((x * 7 + y) % 256 for x in range(row_bytes))
        )
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def cell(js: str, call_id: str, yield_ms: int | None = None) -> dict[str, Any]:
    """An ``exec`` call (a code cell); ``yield_ms``: it yields that soon if still running."""
    header = "" if yield_ms is None else f'// @exec: {{"yield_time_ms": {yield_ms}}}\n'
    return custom("exec", header + js, call_id)


def _wait(cell_id: str, call_id: str, yield_ms: int = 10000) -> dict[str, Any]:
    return call("wait", {"cell_id": cell_id, "yield_time_ms": yield_ms}, call_id)


def _chain(first: dict[str, Any], steps: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Rules answering the first request with ``first``'s items, then each later request (told
    by the last call id of the answer before) with the next step's items."""
    rules = [first]
    previous = [item for item in first["items"] if "call_id" in item]
    for n, items in enumerate(steps):
        if not previous:
            break
        last = str(previous[-1]["call_id"])
        rules.append({"name": f"step{n + 1}", "match": {"last_call_id": last}, "items": items})
        previous = [item for item in items if "call_id" in item]
    return rules


_SLOW_CELLS = (
    'const r = await tools.exec_command({cmd: "sleep 1; echo late"});\ntext(r.output);\n',
    'notify("going");\nconst a = await tools.exec_command({cmd: "sleep 0.6; echo a"});\n'
    'const b = await tools.exec_command({cmd: "exit 3"});\ntext(a.output + b.output);\n',
    'await tools.exec_command({cmd: "sleep 0.8"});\nthrow new Error("failed after yielding");\n',
)
_QUICK_CELLS = (
    'text("quick");\n',
    'throw new Error("at once");\n',
    # a cell waiting on another (cell 1) from inside: code mode may offer no such tool
    'const w = await tools.wait({cell_id: "1", yield_time_ms: 5000});\ntext(JSON.stringify(w));\n',
)


def _cell_waits(rng: random.Random) -> Scenario:
    """Cells from one answer, some yielding; then waits on them: a short one (the cell still
    runs), a long one, two at once, one on a cell never made, one on a collected cell."""
    cells = [cell(rng.choice(_SLOW_CELLS), "cell_a", yield_ms=rng.choice([100, 300]))]
    for n in range(rng.randint(0, 2)):
        slow = rng.random() < 0.5
        source = rng.choice(_SLOW_CELLS if slow else _QUICK_CELLS)
        cells.append(cell(source, f"cell_{'bc'[n]}", yield_ms=200 if slow else None))
    waits: list[list[dict[str, Any]]] = []
    if rng.random() < 0.5:
        waits.append([_wait("1", "w_short", yield_ms=rng.choice([10, 100]))])
    if len(cells) > 1 and rng.random() < 0.5:
        waits.append([_wait("1", "w_one"), _wait("2", "w_two")])
    else:
        waits.append([_wait("1", "w_one")])
    waits.append([_wait(rng.choice(["9", "1", "0", "x"]), "w_odd", yield_ms=100)])
    first = {"name": "cells", "match": {"step": 0}, "items": cells}
    rules = _chain(first, [*waits, [message("Collected.")]])
    return Scenario("cell_waits", "Cells.", rules, extra=(*CODE_MODE, *MCP))


_MCP_CELLS = (
    'const r = await tools.mcp__demo__echo({text: "hi ✓"});\ntext(JSON.stringify(r));\n',
    'try { await tools.mcp__demo__boom({}); } catch (e) { text("caught " + e); }\n',
    'const r = await tools.mcp__demo__add({a: "x"});\ntext(JSON.stringify(r));\n',
    "const p = await tools.mcp__demo__pixel({});\ntext(JSON.stringify(p).slice(0, 80));\n",
    'const [m, c] = await Promise.all([tools.mcp__demo__echo({text: "m"}),'
    ' tools.exec_command({cmd: "echo c"})]);\ntext(JSON.stringify(m) + c.output);\n',
    "await tools.mcp__demo__boom({});\n",
)


def _cell_mcp(rng: random.Random) -> Scenario:
    """Cells calling the demo MCP server's tools (beside a command, failing, caught, an
    image), now and then beside a direct MCP call or a slow one that yields."""
    cells = rng.randint(1, 3)
    items = [
        cell(rng.choice(_MCP_CELLS), f"mc{n}", yield_ms=rng.choice([None, 5000]))
        for n in range(cells)
    ]
    if rng.random() < 0.4:
        items.insert(rng.randint(0, len(items)), mcp("echo", {"text": "direct"}, "direct"))
    steps: list[list[dict[str, Any]]] = []
    if rng.random() < 0.4:
        slow = "const s = await tools.mcp__demo__slow({seconds: 1});\ntext(JSON.stringify(s));\n"
        steps.append([cell(slow, "mslow", yield_ms=200)])
        steps.append([_wait(str(cells + 1), "mwait")])  # cells are numbered as they start
    first = {"name": "cells", "match": {"step": 0}, "items": items}
    rules = _chain(first, [*steps, [message("MCP done.")]])
    return Scenario("cell_mcp", "MCP cells.", rules, extra=(*CODE_MODE, *MCP))


_BIG_COMMANDS = (
    "seq 1 30000",
    "yes 'ünïcødé ✓ 漢字' | head -n 4000",
    "head -c 120000 /dev/zero | tr '\\0' x",
    "seq 1 5000 >&2; exit 1",
    "printf '%.0s\\xff\\xfe' $(seq 1 5000)",
)


def _big_output(rng: random.Random) -> Scenario:
    """Commands printing far more than the model's budget (``max_output_tokens`` from one
    token up, or Codex's own), some in parallel; a long answer at the end now and then."""
    steps = []
    for step in range(rng.randint(1, 2)):
        calls = []
        for k in range(rng.randint(1, 3)):
            arguments: dict[str, Any] = {"cmd": rng.choice(_BIG_COMMANDS)}
            budget = rng.choice([None, 1, 50, 2000, 100000])
            if budget is not None:
                arguments["max_output_tokens"] = budget
            calls.append(call("exec_command", arguments, f"big{step}_{k}"))
        steps.append(calls)
    answer = message("long " * rng.choice([3, 20000]), phase="final_answer")
    first = {"name": "step0", "match": {"step": 0}, "items": steps[0]}
    return Scenario("big_output", "Print a lot.", _chain(first, [*steps[1:], [answer]]))


def _compact_mid_tool(rng: random.Random) -> Scenario:
    """A command (or a cell) left running when the answer's usage makes Codex compact (locally
    or remotely; a remote one failing now and then) before its next request, which polls it
    (or waits on the cell)."""
    in_cell = rng.random() < 0.4
    if in_cell:
        running = cell(_SLOW_CELLS[0], "k0", yield_ms=200)
        collect = _wait("1", "kp")
        extra: tuple[str, ...] = (*SMALL_CONTEXT, *CODE_MODE)
    else:
        running = call("exec_command", {"cmd": "sleep 2; echo late", "yield_time_ms": 200}, "k0")
        poll = '{"session_id": $SESSION_ID, "chars": "", "yield_time_ms": 5000}'
        collect = call("write_stdin", poll, "kp")
        extra = SMALL_CONTEXT
    items = [running]
    if rng.random() < 0.5:
        items.append(call("exec_command", {"cmd": "echo beside"}, "k1"))
    step0 = {"name": "step0", "match": {"step": 0}, "items": items, "usage": HIGH_USAGE}
    how = rng.choice(["local", "local", "remote", "failed"])
    if how == "local":
        summarize: dict[str, Any] = {
            "name": "summarize",
            "match": {"last_user": "CONTEXT CHECKPOINT COMPACTION"},
            "items": [message("SUMMARY: mid tool.")],
        }
        told = "SUMMARY: mid tool."
    else:
        extra += ("-c", 'model_providers.fake.name="OpenAI"')
        summarize = {"name": "summarize", "match": {"last_type": "compaction_trigger"}}
        if how == "failed":
            summarize["http_status"] = 500
            summarize["body"] = {"error": {"message": "compaction outage", "type": "server_error"}}
        else:
            summarize["items"] = [{"type": "compaction", "encrypted_content": "ENC_GAP"}]
        told = "ENC_GAP"
    rules = [
        summarize,
        {
            "name": "collect",
            "match": {"any_contains": told, "lacks_call_id": "kp"},
            "items": [collect],
        },
        after("kp", message("Collected after compaction.")),
        step0,
    ]
    return Scenario("compact_mid_tool", "Run, compact, collect.", rules, extra=extra)


_RESUMED_CALLS = (
    call("exec_command", {"cmd": "echo again"}, "X"),
    call("exec_command", {"cmd": "exit 7"}, "X"),
    custom("apply_patch", "*** Begin Patch\n*** Add File: r.txt\n+r\n*** End Patch\n", "X"),
    call("view_image", {"path": "dot.png"}, "X"),
    call("update_plan", {"plan": [{"step": "resume", "status": "completed"}]}, "X"),
)


def _resumes(rng: random.Random) -> Scenario:
    """A session resumed two or three times (each a new process): each turn a call and an
    answer; one resumed turn's request refused (HTTP 400), one polling a command the first
    process left running (gone with it)."""
    left = rng.random() < 0.5
    first_call = call(
        "exec_command",
        {"cmd": "sleep 30", "yield_time_ms": 200} if left else {"cmd": "echo first"},
        "p0c",
    )
    rules: list[dict[str, Any]] = [
        {
            "name": "p0",
            "match": {"last_user": "Do it", "lacks_call_id": "p0c"},
            "items": [first_call],
        },
        after("p0c", message("first done")),
    ]
    then = []
    for n in range(1, rng.randint(3, 4)):
        text, call_id = f"R{n} go", f"r{n}c"
        item = dict(rng.choice(_RESUMED_CALLS), call_id=call_id)
        if left and n == 1:
            poll = '{"session_id": $SESSION_ID, "chars": "", "yield_time_ms": 300}'
            item = call("write_stdin", poll, call_id)
        match = {"last_user": text, "lacks_call_id": call_id}
        if rng.random() < 0.25:
            refusal = {"error": {"message": "scripted refusal", "type": "invalid_request_error"}}
            fail = {"name": f"fail{n}", "match": match, "times": 1, "http_status": 400}
            rules.append({**fail, "body": refusal})
        rules.append({"name": f"r{n}", "match": match, "items": [item]})
        rules.append(after(call_id, message(f"resumed {n} done")))
        then.append(text)
    return Scenario("resumes", "Do it.", rules, files=FILES, then=tuple(then))


def _reasoning(rng: random.Random, rid: str) -> dict[str, Any]:
    # empty: Codex refuses its own bundle ("reasoning item in payload ... contained no content,
    # summary, or encrypted_content"), so rarely
    shape = rng.choice(["parts", "raw", "encrypted"] * 3 + ["empty"])
    item: dict[str, Any] = {"type": "reasoning", "id": rid, "summary": []}
    if shape == "parts":
        item["summary"] = [
            {"type": "summary_text", "text": f"**Part {n}** thinking ✓"} for n in range(3)
        ]
    elif shape == "raw":
        item["summary"] = [{"type": "summary_text", "text": "sum"}]
        item["content"] = [{"type": "reasoning_text", "text": "raw thought " * 40}]
    if shape in ("encrypted", "raw") or rng.random() < 0.3:
        item["encrypted_content"] = "gAAAA" + "e" * rng.randint(1, 400)
    return item


def _wide(rng: random.Random, step: int) -> list[dict[str, Any]]:
    """Four to seven calls of mixed kinds in one answer, with reasoning and a commentary
    message between them now and then."""
    kinds = [
        lambda c: call("exec_command", {"cmd": "echo wide"}, c),
        lambda c: call("exec_command", {"cmd": "echo bad >&2; exit 2"}, c),
        lambda c: call("update_plan", {"plan": [{"step": "w", "status": "in_progress"}]}, c),
        lambda c: call("view_image", {"path": "dot.png"}, c),
        lambda c: custom(
            "apply_patch", f"*** Begin Patch\n*** Add File: w{c}.txt\n+w\n*** End Patch\n", c
        ),
        lambda c: call("no_such_tool", {}, c),
        lambda c: call("exec_command", "{not json", c),
        lambda c: mcp("echo", {"text": "wide"}, c),
        lambda c: mcp("boom", {}, c),
        lambda c: call("exec_command", {"cmd": 5}, c),
        lambda c: call("exec_command", {"cmd": "pwd", "workdir": "/nonexistent/dir"}, c),
        lambda c: call("write_stdin", {"session_id": 987654, "chars": "x"}, c),
        lambda c: custom(
            "apply_patch", "*** Begin Patch\n*** Delete File: gone.txt\n*** End Patch\n", c
        ),
    ]
    items: list[dict[str, Any]] = []
    for k in range(rng.randint(4, 7)):
        if rng.random() < 0.2:
            items.append(_reasoning(rng, f"rs_w{step}_{k}"))
        if rng.random() < 0.15:
            items.append(message(f"between {k}", phase="commentary"))
        items.append(rng.choice(kinds)(f"wd{step}_{k}"))
    return items


def _wide_parallel(rng: random.Random) -> Scenario:
    steps = [_wide(rng, step) for step in range(rng.randint(1, 2))]
    first = {"name": "step0", "match": {"step": 0}, "items": steps[0]}
    rules = _chain(first, [*steps[1:], [message("Wide done.")]])
    return Scenario("wide_parallel", "Many at once.", rules, files=FILES, extra=MCP)


def _reasoning_kinds(rng: random.Random) -> Scenario:
    """Reasoning of every shape: before calls, between parallel calls, and now and then as
    the last answer alone (the turn ends without a message)."""
    first_items = [_reasoning(rng, "rs_0"), call("exec_command", {"cmd": "echo r"}, "rc0")]
    if rng.random() < 0.5:
        first_items += [_reasoning(rng, "rs_1"), call("update_plan", {"plan": []}, "rc1")]
    last = [_reasoning(rng, "rs_last")]
    if rng.random() < 0.6:
        last.append(message("Reasoned.", phase=rng.choice([None, "final_answer"])))
    usage = {
        "input_tokens": 200,
        "input_tokens_details": {"cached_tokens": 50},
        "output_tokens": 90,
        "output_tokens_details": {"reasoning_tokens": 80},
        "total_tokens": 290,
    }
    first = {"name": "step0", "match": {"step": 0}, "items": first_items, "usage": usage}
    return Scenario("reasoning", "Think.", _chain(first, [last]))


def _odd_images(rng: random.Random) -> Scenario:
    """view_image on a GIF, a cut PNG, a text file, a directory, a missing file and a larger
    PNG, some in parallel; the prompt attaching the larger PNG now and then."""
    paths = ["dot.gif", "cut.png", "notes.txt", ".", "absent.png", "big.png", "dot.png"]
    calls = [
        call("view_image", {"path": rng.choice(paths)}, f"im{k}") for k in range(rng.randint(1, 4))
    ]
    first = {"name": "step0", "match": {"step": 0}, "items": calls}
    side = rng.choice([16, 64, 200])
    files = {**FILES, "big.png": png(side, side)}
    images = ("big.png",) if rng.random() < 0.4 else ()
    return Scenario(
        "odd_images",
        "Look.",
        _chain(first, [[message("Seen.")]]),
        files=files,
        images=images,
    )


def _agent_failures(rng: random.Random) -> Scenario:
    """Workers that fail past their first answer: one whose second request is refused after
    its command ran (HTTP 400) or cut (``response.failed``), one left running a slow command
    that the parent's short wait times out on and then interrupts, or closes by a follow-up;
    the parent's calls naming a worker that never was."""
    rules: list[dict[str, Any]] = []
    spawns, then = [], []
    for n in range(rng.randint(1, 2)):
        task = f"fw{n}"
        slow = rng.random() < 0.5
        command = {"cmd": "sleep 3; echo slow"} if slow else {"cmd": "echo quick"}
        its = worker(task, command, f"{task}c", f"{task} done")
        if not slow or rng.random() < 0.5:
            failing: dict[str, Any] = {"name": f"fail_{task}", "match": its[1]["match"], "times": 1}
            if rng.random() < 0.5:
                failing["http_status"] = 400
                failing["body"] = {
                    "error": {"message": "child refused late", "type": "invalid_request_error"}
                }
            else:
                failing.update(
                    items=[], end="failed", error={"code": "invalid_prompt", "message": "late"}
                )
            its.insert(1, failing)
        rules += its
        arguments = {"task_name": task, "message": f"CHILD-{task}: work.", "fork_turns": "none"}
        spawns.append(collab("spawn_agent", arguments, f"sp{n}"))
        then.append(task)
    steps: list[list[dict[str, Any]]] = [
        [collab("wait_agent", {"timeout_ms": rng.choice([100, 20000])}, "fw_wait")]
    ]
    target = rng.choice([*then, "nobody"])
    kind = rng.choice(["interrupt_agent", "followup_task", "send_message"])
    arguments = (
        {"target": f"/root/{target}"}
        if kind == "interrupt_agent"
        else {"target": target, "message": "MORE"}
    )
    steps.append([collab(kind, arguments, "fw_then")])
    steps.append([message("Workers handled.")])
    first = {"name": "step0", "match": {"step": 0}, "items": spawns}
    return Scenario(
        "agent_failures", "Delegate.", [*rules, *_chain(first, steps)], extra=MULTI_AGENT
    )


def _other_model(rng: random.Random) -> Scenario:
    """A model outside Codex's bundled catalog (its fallback tools: no apply_patch, no tool
    search, the multi-agent v1 tools offered at once): a command and a patch (unsupported
    there), then now and then a v1 sub-agent spawned without a search, waited for, closed."""
    patch = "*** Begin Patch\n*** Add File: o.txt\n+o\n*** End Patch\n"
    first_items = [call("exec_command", {"cmd": "echo other"}, "om0")]
    if rng.random() < 0.7:
        first_items.append(
            rng.choice(
                [custom("apply_patch", patch, "om1"), call("apply_patch", {"input": patch}, "om1")]
            )
        )
    steps: list[list[dict[str, Any]]] = []
    rules: list[dict[str, Any]] = []
    if rng.random() < 0.6:
        rules = [
            {
                "name": "v1child0",
                "match": {"thread": "V1-CHILD", "lacks_call_id": "v1ce"},
                "items": [call("exec_command", {"cmd": "echo child"}, "v1ce")],
            },
            {
                "name": "v1child1",
                "match": {"thread": "V1-CHILD", "last_call_id": "v1ce"},
                "items": [message("child done")],
            },
        ]
        steps.append([v1("spawn_agent", {"message": "V1-CHILD: echo."}, "v1sp")])
        steps.append([v1("wait_agent", {"targets": ["$AGENT_ID"], "timeout_ms": 20000}, "v1wt")])
        steps.append([v1("close_agent", {"target": "$AGENT_ID"}, "v1cl")])
    first = {"name": "step0", "match": {"step": 0}, "items": first_items}
    chain = _chain(first, [*steps, [message("Other model done.")]])
    for rule in chain[2:]:  # a v1 wait's output is followed by Codex's notification message
        told = rule["match"].pop("last_call_id")
        rule["match"].update(
            has_call_id=told, lacks_call_id=str(rule["items"][0].get("call_id", "end"))
        )
    model = rng.choice(["gpt-4.1", "o3", "my-own-model"])
    return Scenario("other_model", "Go.", [*rules, *chain], model=model)


def _huge(rng: random.Random) -> Scenario:
    """Payloads past a schema-3 shard's size (about 8 MiB, v3.md §3: Codex starts a new shard
    before the record that would not fit): a commentary message of megabytes beside a call
    (the next request holds it again), and a command printing megabytes."""
    size = rng.choice([3, 9, 13]) * 1_000_000
    items: list[dict[str, Any]] = [message("ü" * (size // 2), phase="commentary")]
    items.append(call("exec_command", {"cmd": "head -c 9000000 /dev/zero | tr '\\0' y"}, "hg0"))
    first = {"name": "step0", "match": {"step": 0}, "items": items}
    return Scenario("huge", "Huge.", _chain(first, [[message("Huge done.")]]))


def _cited(rng: random.Random) -> Scenario:
    """A web search with its sources, then answers citing them (``url_citation``
    annotations), streamed in deltas now and then, a refusal part beside a text part, and
    answers without usage (as some providers give them)."""
    search = {
        "type": "web_search_call",
        "id": "ws_cited",
        "status": "completed",
        "action": {
            "type": "search",
            "query": "rollout traces",
            "sources": [{"type": "url", "url": "https://example.com/a"}],
        },
    }
    cite = {
        "type": "url_citation",
        "start_index": 4,
        "end_index": 11,
        "url": "https://example.com/a",
        "title": "Example ✓",
    }
    text = {"type": "output_text", "text": "See Example for more.", "annotations": [cite]}
    said = {"type": "message", "role": "assistant", "content": [text], "phase": "commentary"}
    first_items = [search, said, call("exec_command", {"cmd": "echo cited"}, "ct0")]
    parts: list[dict[str, Any]] = [dict(text, text="Per Example, done.")]
    if rng.random() < 0.5:
        parts.append({"type": "refusal", "refusal": "not that part"})
    last: dict[str, Any] = {"name": "last", "match": {"last_call_id": "ct0"}}
    last["items"] = [{"type": "message", "role": "assistant", "content": parts}]
    if rng.random() < 0.5:
        last["deltas"] = ["Per ", "Example", ", done."]
    first: dict[str, Any] = {"name": "step0", "match": {"step": 0}, "items": first_items}
    for rule in (first, last):
        rule["no_usage"] = rng.random() < 0.5
    return Scenario("cited", "Search and cite.", [first, last])


KINDS = {
    "cell_waits": _cell_waits,
    "cell_mcp": _cell_mcp,
    "big_output": _big_output,
    "compact_mid_tool": _compact_mid_tool,
    "resumes": _resumes,
    "wide_parallel": _wide_parallel,
    "reasoning": _reasoning_kinds,
    "odd_images": _odd_images,
    "agent_failures": _agent_failures,
    "other_model": _other_model,
    "huge": _huge,
    "cited": _cited,
}


def gap_scenario(seed: int) -> Scenario:
    """The ``codex exec`` scenario of ``seed``: kind ``seed % len(KINDS)``, drawn from it."""
    kind = list(KINDS)[seed % len(KINDS)]
    made = KINDS[kind](random.Random(seed))
    return Scenario(
        f"gap_{kind}_{seed}",
        made.prompt,
        made.rules,
        files={**FILES, **made.files},
        extra=made.extra,
        then=made.then,
        images=made.images,
        model=made.model,
    )
