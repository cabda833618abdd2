"""Kinds of real Codex bundle for :mod:`tests.live.test_codex_gaps` (``GAPS_EDITS_EXAMPLES``) that
no live generator made before: ``apply_patch`` edits of every shape outside a code cell (an
update whose context matches or not, a file moved, a file deleted or updated that is not there,
an addition over an existing file, several files in one patch with one failing, a patch that is
not one, CRLF and non-ASCII lines, the patch given through ``exec_command`` as
``apply_patch <<'EOF'``, which Codex intercepts, or as a function call's JSON, several patches in
one answer on the same file); images attached with ``-i`` (several, the same one twice, large
ones, RGBA and grey ones, to a resumed turn too, beside ``view_image`` of the same file); and a
second MCP server written as a third party writes one (``tests/live/odd_mcp_server.py``: names
Codex rewrites, a text far past Codex's truncation, every content kind, structured content,
notifications before an answer, a late answer past ``tool_timeout_sec``, the server taken down
mid-call), found by a tool search or called at once, some in one answer, some of its tools
disabled by the user's config; a session recorded by one Codex and resumed or forked by the
other, then by the first again (a user who upgraded or went back: bundles of both schemas over
one history, ``Scenario.alternate_codex``); and skills a user keeps (in ``CODEX_HOME`` and the
workspace, one long, one broken, one misnamed) listed to the model and named with ``$name``,
which makes Codex inject them. A seed picks its kind (``seed % len(KINDS)``)."""

from __future__ import annotations

import base64
import itertools
import random
import sys
from pathlib import Path
from typing import Any

import attrs

from tests.live.random_gaps import FILES, png
from tests.live.script import (
    HIGH_USAGE,
    PNG,
    SMALL_CONTEXT,
    Scenario,
    after,
    call,
    custom,
    message,
)

_UPDATE_OK = "*** Update File: notes.txt\n@@\n-old line\n+new line ✓\n"
_PATCH_PARTS = (
    _UPDATE_OK,
    "*** Update File: notes.txt\n@@\n-no such line\n+never\n",  # context not found
    "*** Update File: absent.txt\n@@\n-a\n+b\n",
    "*** Delete File: absent.txt\n",
    "*** Add File: notes.txt\n+over an existing file\n",
    "*** Add File: sub/dir/ünï.txt\n+deep ✓\n+second\n",
    "*** Update File: notes.txt\n*** Move to: moved/notes.txt\n@@\n-old line\n+moved line\n",
    "*** Update File: crlf.txt\n@@\n-one\r\n+uno\r\n",
    "*** Update File: long.txt\n@@ line 40\n-line 40\n+line forty\n@@\n-line 90\n+line ninety\n"
    "*** End of File\n",
    "*** Add File: empty.txt\n",
)
_NOT_PATCHES = (
    "",
    "just some text",
    "*** Begin Patch\n*** End Patch\n",
    "*** Begin Patch\n*** Update File: notes.txt\n-old line\n",  # no end, no hunk header
    "*** Begin Patch\n*** Frobnicate File: notes.txt\n*** End Patch\n",
    "*** Begin Patch\n*** Add File: ../outside_live.txt\n+out\n*** End Patch\n",
)


def _patch_text(rng: random.Random) -> str:
    """A patch of one to three parts, or (now and then) a text that is not a patch."""
    if rng.random() < 0.2:
        return rng.choice(_NOT_PATCHES)
    parts = rng.sample(_PATCH_PARTS, rng.randint(1, 3))
    return "*** Begin Patch\n" + "".join(parts) + "*** End Patch\n"


def _patch_call(rng: random.Random, call_id: str) -> dict[str, Any]:
    """The patch as Codex's freeform tool, a heredoc in a command (which Codex intercepts and
    applies as a patch), or a function call's JSON (as a model of another catalog sends it)."""
    text = _patch_text(rng)
    how = rng.choice(["custom", "custom", "heredoc", "function"])
    if how == "heredoc":
        script = f"apply_patch <<'EOF'\n{text}EOF\n"
        return call("exec_command", {"cmd": script}, call_id)
    if how == "function":
        return call("apply_patch", {"input": text}, call_id)
    return custom("apply_patch", text, call_id)


def _patches(rng: random.Random) -> Scenario:
    """One to four answers of one to three patches each (several in one answer may edit the
    same file), a command showing the files between now and then, then an answer."""
    steps: list[list[dict[str, Any]]] = []
    for step in range(rng.randint(1, 4)):
        items = [_patch_call(rng, f"p{step}_{k}") for k in range(rng.randint(1, 3))]
        if rng.random() < 0.3:
            items.append(call("exec_command", {"cmd": "ls -R; cat notes.txt"}, f"p{step}_ls"))
        steps.append(items)
    files = {
        "crlf.txt": b"one\r\ntwo\r\n",
        "long.txt": "".join(f"line {n}\n" for n in range(1, 101)).encode(),
    }
    first = {"name": "step0", "match": {"step": 0}, "items": steps[0]}
    rules = _chain(first, [*steps[1:], [message("Patched.")]])
    return Scenario("patches", "Edit the files.", rules, files=files)


def _images(rng: random.Random) -> Scenario:
    """The prompt attaching two to five images (the same one twice now and then; a wide one,
    a noisy one of up to ~2 MB, grey and RGBA ones), ``view_image`` of some of them, and now
    and then the session resumed with images of its own."""
    files = {
        "wide.png": png(rng.choice([2100, 3000]), 40),
        "tall.png": png(30, rng.choice([900, 2500]), colour=0),
        "alpha.png": png(64, 64, colour=6),
        "noise.png": png(*rng.choice([(300, 300), (800, 600)]), noise=random.Random(rng.random())),
    }
    names = [*files, "dot.png", "dot.gif"]
    attached = rng.sample(names, rng.randint(2, 4))
    if rng.random() < 0.4:
        attached.append(attached[0])  # the same image twice
    steps: list[list[dict[str, Any]]] = []
    for step in range(rng.randint(0, 2)):
        views = rng.sample(names, rng.randint(1, 2))
        steps.append(
            [call("view_image", {"path": v}, f"iv{step}_{k}") for k, v in enumerate(views)]
        )
    rules: list[dict[str, Any]] = []
    if steps:
        rules = _chain({"name": "step0", "match": {"step": 0}, "items": steps[0]}, steps[1:])
        rules.append(after(str(steps[-1][-1]["call_id"]), message("Seen them all.")))
    then: tuple[str, ...] = ()
    then_images: tuple[str, ...] = ()
    if rng.random() < 0.4:
        then = ("And these?",)
        then_images = tuple(rng.sample(names, rng.randint(1, 2)))
        rules.insert(0, {"name": "again", "match": {"last_user": "And these"}})
        rules[0]["items"] = [message("Those too.")]
    return Scenario(
        "images",
        "Look at these.",
        rules,
        files=files,
        images=tuple(attached),
        then=then,
        then_images=then_images,
    )


_ODD_SERVER = Path(__file__).parent / "odd_mcp_server.py"
#: the odd server's tools under the names Codex gives the model (a dot, a dash, a space and a
#: non-ASCII letter become ``_``), and two it does not know by those names
_ODD_CALLS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("summarize_the_quarterly_report_for_every_region_and_every_product_line_twice", {}),
    ("get_weather", {"city": "Zürich"}),
    ("do_thing", {}),
    ("na_ve_tool", {"x": [1, 2]}),
    ("huge", {"bytes": 300_000}),
    ("huge", {"bytes": 20_000}),
    ("parts", {}),
    ("empty", {}),
    ("structured", {}),
    ("err_structured", {}),
    ("chatty", {}),
    ("late", {"seconds": 3}),
    ("crash", {}),
    ("get.weather", {}),
    ("no_such_tool", {}),
)


def _mcp_odd(rng: random.Random) -> Scenario:
    """The odd server (``tool_timeout_sec`` of 1 s now and then, some tools disabled now and
    then), its tools found by a tool search first now and then, then one to three answers of
    one to three calls of them, then an answer."""
    server = f'mcp_servers.odd={{command="{sys.executable}", args=["{_ODD_SERVER}"]}}'
    extra: list[str] = ["-c", server]
    if rng.random() < 0.5:
        extra += ["-c", "mcp_servers.odd.tool_timeout_sec=1"]
    if rng.random() < 0.3:
        extra += ["-c", 'mcp_servers.odd.disabled_tools=["huge", "chatty"]']
    steps: list[list[dict[str, Any]]] = []
    for step in range(rng.randint(1, 3)):
        picked = [rng.choice(_ODD_CALLS) for _ in range(rng.randint(1, 3))]
        steps.append(
            [
                {**call(name, arguments, f"mo{step}_{k}"), "namespace": "mcp__odd"}
                for k, (name, arguments) in enumerate(picked)
            ]
        )
    if rng.random() < 0.5:
        search = {
            "type": "tool_search_call",
            "call_id": "ots",
            "execution": "client",
            "status": "completed",
            "arguments": {"query": "odd weather summarize", "limit": rng.choice([3, 20])},
        }
        steps.insert(0, [search])
    first = {"name": "step0", "match": {"step": 0}, "items": steps[0]}
    rules = _chain(first, [*steps[1:], [message("Odd tools called.")]])
    return Scenario("mcp_odd", "Use the odd server.", rules, extra=tuple(extra))


_VERSION_CALLS = (
    lambda c: call("exec_command", {"cmd": "echo across; cat notes.txt"}, c),
    lambda c: call("exec_command", {"cmd": "exit 3"}, c),
    lambda c: custom(
        "apply_patch", f"*** Begin Patch\n*** Add File: {c}.txt\n+v\n*** End Patch\n", c
    ),
    lambda c: call("view_image", {"path": "dot.png"}, c),
    lambda c: call("update_plan", {"plan": [{"step": "upgrade", "status": "in_progress"}]}, c),
    lambda c: call("exec_command", {"cmd": "sleep 20", "yield_time_ms": 100}, c),
    lambda c: call("write_stdin", '{"session_id": $SESSION_ID, "chars": ""}', c),
)
_THINKING = {
    "type": "reasoning",
    "summary": [{"type": "summary_text", "text": "Which version runs me?"}],
    "encrypted_content": "opaque",
}


def _cross_version(rng: random.Random) -> Scenario:
    """A session recorded by one Codex and resumed (or forked) by the other, then by the
    first again (a user who upgraded, or went back, between runs: each process's bundle of
    its own schema over the other's history): the first process one to three calls (a
    reasoning item before now and then, compacted now and then), each later one a call and
    an answer."""
    first_items = [rng.choice(_VERSION_CALLS)(f"v0_{k}") for k in range(rng.randint(1, 3))]
    if rng.random() < 0.4:
        first_items.insert(0, dict(_THINKING))
    extra: tuple[str, ...] = ()
    opening: dict[str, Any] = {"name": "v0", "match": {"last_user": "Begin", "step": 0}}
    opening["items"] = first_items
    rules: list[dict[str, Any]] = []
    if rng.random() < 0.3:  # the first process compacts before its next request
        extra = SMALL_CONTEXT
        opening["usage"] = HIGH_USAGE
        summary = {"last_user": "CONTEXT CHECKPOINT COMPACTION"}
        rules.append({"name": "summary", "match": summary, "items": [message("SUMMARY: v0.")]})
    rules += [opening, after(str(first_items[-1]["call_id"]), message("First run done."))]
    then, forks = [], []
    for n in range(1, rng.randint(2, 4)):
        text, call_id = f"Resume {n} now", f"v{n}c"
        item = rng.choice(_VERSION_CALLS)(call_id)
        match = {"last_user": text, "lacks_call_id": call_id}
        rules[:0] = [{"name": f"v{n}", "match": match, "items": [item]}]
        rules.insert(1, after(call_id, message(f"Run {n} done.")))
        then.append(text)
        forks.append(rng.choice(["", "", "", "last", "first"]))
    return Scenario(
        "cross_version",
        "Begin",
        rules,
        extra=extra,
        then=tuple(then),
        fork_from=tuple(forks),
        alternate_codex=True,
    )


def _skill(name: str, body: str) -> bytes:
    return f"---\nname: {name}\ndescription: The {name} skill ✓.\n---\n\n{body}\n".encode()


def _skills(rng: random.Random) -> Scenario:
    """Skills a user keeps (in ``CODEX_HOME/skills`` and the workspace's ``.agents/skills``:
    a small one, a long one, one without front matter, one whose name is not its folder's),
    listed to the model with their instructions switched on, named with ``$name`` in the
    prompt or a resumed one (Codex then injects the file), and read by a command."""
    home = {
        "skills/greet/SKILL.md": _skill("greet", "Always greet with a wave."),
        "skills/long-one/SKILL.md": _skill("long-one", "Follow each rule. ✓ 日本\n" * 3000),
        "skills/broken/SKILL.md": b"no front matter here\n",
    }
    files = {
        ".agents/skills/ws-skill/SKILL.md": _skill("ws-skill", "Use the workspace's notes."),
        ".agents/skills/odd/SKILL.md": _skill("renamed ✓", "A name unlike its folder."),
    }
    names = ["$greet", "$long-one", "$broken", "$ws-skill", "$renamed ✓", "$nothing-here"]
    prompt = "Use " + " and ".join(rng.sample(names, rng.randint(1, 3))) + "."
    extra: tuple[str, ...] = ("-c", "skills.include_instructions=true")
    if rng.random() < 0.3:
        extra += ("-c", "skills.bundled.enabled=true")
    read = call("exec_command", {"cmd": "head -c 200 .agents/skills/ws-skill/SKILL.md"}, "sk0")
    rules: list[dict[str, Any]] = [
        {"name": "sk0", "match": {"step": 0, "lacks_call_id": "sk0"}, "items": [read]},
        after("sk0", message("Skills used.")),
    ]
    then: tuple[str, ...] = ()
    if rng.random() < 0.5:
        then = (f"Now {rng.choice(names)} please.",)
        rules.insert(0, {"name": "again", "match": {"last_user": "Now "}})
        rules[0]["items"] = [message("Again with the skill.")]
    return Scenario("skills", prompt, rules, files=files, home_files=home, extra=extra, then=then)


#: a 4-sample 8 kHz mono WAV, for the audio inputs
_WAV = (
    b"RIFF\x2c\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00"
    b"\x80\x3e\x00\x00\x02\x00\x10\x00data\x08\x00\x00\x00\x00\x00\xff\x7f\x00\x00\x01\x80"
)
_SKILL_PATH = "$WORKSPACE/.agents/skills/ws-skill/SKILL.md"


def _input(rng: random.Random) -> dict[str, Any]:
    """One input item of a turn beside its text, of a type the other kinds never send: an
    image with a ``detail``, by data URL or by a file id, audio by URL or a local file, a
    skill or a mention by path (some not there)."""
    detail = rng.choice([None, "auto", "low", "high", "original"])
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    return rng.choice(
        [
            {"type": "localImage", "path": "$WORKSPACE/pic.png", "detail": detail},
            {"type": "localImage", "path": "$WORKSPACE/cut.png"},
            {"type": "image", "url": data_url, "detail": detail},
            {"type": "image", "fileId": "file-live-1"},
            {"type": "audio", "url": "data:audio/wav;base64," + base64.b64encode(_WAV).decode()},
            {"type": "localAudio", "path": "$WORKSPACE/beep.wav"},
            {"type": "skill", "name": "ws-skill", "path": _SKILL_PATH},
            {"type": "skill", "name": "gone", "path": "$WORKSPACE/gone/SKILL.md"},
            {"type": "mention", "name": "notes", "path": "$WORKSPACE/notes.txt"},
            {"type": "mention", "name": "app", "path": "app://connector_live"},
        ]
    )


def _app_inputs(rng: random.Random) -> Scenario:
    """``codex app-server``: two to four turns whose input holds, beside a text (with
    ``text_elements`` now and then), one to three items of :func:`_input` (the same one twice
    now and then); each turn runs a command or not, then answers. A turn Codex refuses (an
    input type it does not take) is expected."""
    actions: list[dict[str, Any]] = [{"op": "turn", "text": "K0 begin"}]
    rules: list[dict[str, Any]] = [
        {"name": "k0", "match": {"any_contains": "K0 begin"}, "items": [message("Begun.")]}
    ]
    for k in range(1, rng.randint(2, 4)):
        text = f"K{k} look at [these]"
        first: dict[str, Any] = {"type": "text", "text": text}
        if rng.random() < 0.4:
            start = text.index("[")
            span = {"byteRange": {"start": start, "end": start + 7}, "placeholder": "these"}
            first["text_elements"] = [span]
        items = [_input(rng) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.3:
            items.append(items[0])
        turn = {"threadId": "$THREAD", "input": [first, *items]}
        actions.append(
            {
                "op": "rpc",
                "method": "turn/start",
                "params": turn,
                "wait_turn": True,
                "may_fail": True,
            }
        )
        match = {"any_contains": f"K{k} look", "lacks_call_id": f"k{k}c"}
        if rng.random() < 0.5:
            item = call("exec_command", {"cmd": f"echo k{k}"}, f"k{k}c")
            rules[:0] = [{"name": f"k{k}", "match": match, "items": [item]}]
            rules.insert(1, after(f"k{k}c", message(f"K{k} seen.")))
        else:
            rules.insert(0, {"name": f"k{k}", "match": match, "items": [message(f"K{k} seen.")]})
    files = {
        "pic.png": PNG,
        "beep.wav": _WAV,
        ".agents/skills/ws-skill/SKILL.md": _skill("ws-skill", "Use the workspace's notes."),
    }
    return Scenario("app_inputs", "", rules, files=files, app_server=tuple(actions))


def _chain(first: dict[str, Any], steps: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """``first``, then each step answering the last call of the answer before."""
    rules = [first]
    for n, (before, items) in enumerate(itertools.pairwise([first["items"], *steps])):
        last = str(before[-1]["call_id"])
        rules.append({"name": f"step{n + 1}", "match": {"last_call_id": last}, "items": items})
    return rules


KINDS = {
    "patches": _patches,
    "images": _images,
    "mcp_odd": _mcp_odd,
    "cross_version": _cross_version,
    "skills": _skills,
}


APP_KINDS = {"app_inputs": _app_inputs}


def edit_gap_app_scenario(seed: int) -> Scenario:
    """The ``codex app-server`` scenario of ``seed``: kind ``seed % len(APP_KINDS)``."""
    kind = list(APP_KINDS)[seed % len(APP_KINDS)]
    made = APP_KINDS[kind](random.Random(seed))
    return attrs.evolve(made, name=f"edits_{kind}_{seed}", files={**FILES, **made.files})


def edit_gap_scenario(seed: int) -> Scenario:
    """The ``codex exec`` scenario of ``seed``: kind ``seed % len(KINDS)``, drawn from it."""
    kind = list(KINDS)[seed % len(KINDS)]
    made = KINDS[kind](random.Random(seed))
    return attrs.evolve(made, name=f"edits_{kind}_{seed}", files={**FILES, **made.files})
