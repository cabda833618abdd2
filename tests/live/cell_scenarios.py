"""Live scenarios of code mode over several turns of one ``codex app-server`` thread: cells
that yield and outlive their turn (nested exec and MCP calls going on, and starting, in later
turns), a cell that fails after yielding, two waits at once, a wait on a cell already
collected; a session resumed by a later process, whose runtime numbers its cells from 1
again (in a bundle of its own); and three cells from one response with nested calls of every
kind a cell has (patch, image, terminal session and stdin). Codex 0.169 and 0.171 keep a yielded cell running when its
turn completes; the calls it makes later are its own turn's, and the wait that collects it
records the cell's end in the wait's turn."""

from __future__ import annotations

from typing import Any

from tests.live.script import CODE_MODE, MCP, PNG, Scenario, call, custom, message


def _exec(js: str, call_id: str, *, yield_ms: int | None = None) -> dict[str, Any]:
    """An ``exec`` call (a code cell); ``yield_ms``: it yields that soon if still running."""
    header = "" if yield_ms is None else f'// @exec: {{"yield_time_ms": {yield_ms}}}\n'
    return custom("exec", header + js, call_id)


def _wait(cell_id: str, call_id: str) -> dict[str, Any]:
    return call("wait", {"cell_id": cell_id, "yield_time_ms": 10000}, call_id)


#: Cell 1 yields while its MCP call runs; the call ends, and its exec call starts and ends,
#: while a later turn runs a command of its own.
_SLOW_CELL = (
    'notify("started");\n'
    "const m = await tools.mcp__demo__slow({seconds: 1});\n"
    "text(JSON.stringify(m));\n"
    'const b = await tools.exec_command({cmd: "echo two"});\n'
    "text(b.output);\n"
)
#: Cell 2 yields while its command runs, then throws.
_FAILING_CELL = (
    'const r = await tools.exec_command({cmd: "sleep 0.5; echo b", yield_time_ms: 10000});\n'
    "text(r.output);\n"
    'throw new Error("late failure");\n'
)

#: Nested calls of other kinds than a plain command (code mode offers no update_plan).
_EVERY_KIND = (
    'await tools.apply_patch("*** Begin Patch\\n*** Add File: k.txt\\n+k\\n*** End Patch\\n");\n'
    'const img = await tools.view_image({path: "dot.png"});\n'
    'const s = await tools.exec_command({cmd: "read x; echo got $x", tty: true, yield_time_ms: 200});\n'
    "text(JSON.stringify(s));\n"
    "const w = await tools.write_stdin({session_id: s.session_id,"
    ' chars: "hi\\n", yield_time_ms: 1000});\n'
    "text(w.output);\n"
    'await tools.exec_command({cmd: "sleep 1"});\n'
)

CELL_SCENARIOS = [
    Scenario(
        "app_server_cells_yielded_across_turns",
        "",
        [
            {
                "name": "t1",
                "match": {"last_user": "start a cell", "lacks_call_id": "cell_1"},
                "items": [_exec(_SLOW_CELL, "cell_1", yield_ms=300)],
            },
            {"name": "t1_end", "match": {"last_call_id": "cell_1"}, "items": [message("Yielded.")]},
            {
                "name": "t2",
                "match": {"last_user": "keep busy", "lacks_call_id": "cell_2"},
                "items": [
                    _exec(_FAILING_CELL, "cell_2", yield_ms=200),
                    call("exec_command", {"cmd": "sleep 2; echo busy"}, "busy"),
                ],
            },
            {
                "name": "t2_end",
                "match": {"last_user": "keep busy", "step": 2},
                "items": [message("Busy done.")],
            },
            {
                "name": "t3",
                "match": {"last_user": "collect", "lacks_call_id": "w_1"},
                "items": [_wait("1", "w_1"), _wait("2", "w_2")],
            },
            {"name": "t3_end", "match": {"last_user": "collect"}, "items": [message("Collected.")]},
            {
                "name": "t4",
                "match": {"last_user": "again", "lacks_call_id": "w_again"},
                "items": [_wait("1", "w_again")],
            },
            {"name": "t4_end", "match": {"last_user": "again"}, "items": [message("Gone.")]},
        ],
        app_server=(
            {"op": "turn", "text": "start a cell"},
            {"op": "turn", "text": "keep busy"},
            {"op": "turn", "text": "collect"},
            {"op": "turn", "text": "again"},
        ),
        extra=(*CODE_MODE, *MCP),
    ),
    # each process writes its own bundle, and numbers its cells from 1: no bundle holds one
    # runtime cell id twice
    Scenario(
        "code_cell_in_a_resumed_session",
        "First cell.",
        [
            {
                "name": "c1",
                "match": {"last_user": "First cell", "lacks_call_id": "cell_1"},
                "items": [_exec('text("a");\n', "cell_1")],
            },
            {"name": "c1_end", "match": {"last_call_id": "cell_1"}, "items": [message("One.")]},
            {
                "name": "c2",
                "match": {"last_user": "Second cell", "lacks_call_id": "cell_2"},
                "items": [_exec('text("b");\n', "cell_2")],
            },
            {"name": "c2_end", "match": {"last_call_id": "cell_2"}, "items": [message("Two.")]},
        ],
        extra=CODE_MODE,
        then=("Second cell.",),
    ),
    # three cells from one response, run one after the other (numbered 1, 2, 3): one makes
    # nested calls of other kinds (a patch, an image, a terminal session written to) and
    # yields; one throws at once (its exec call ends failed); one finishes at once. Waits
    # follow on the yielded cell, then on the finished one (which fails: not found).
    Scenario(
        "code_cells_in_parallel_with_nested_calls_of_every_kind",
        "Three cells.",
        [
            {
                "name": "cells",
                "match": {"step": 0},
                "items": [
                    _exec(_EVERY_KIND, "cell_kinds", yield_ms=300),
                    _exec('throw new Error("at once");\n', "cell_throws"),
                    _exec('text("quick");\n', "cell_quick"),
                ],
            },
            {
                "name": "wait_kinds",
                "match": {"step": 3},
                "items": [_wait("1", "w_kinds")],
            },
            {
                "name": "wait_done",
                "match": {"last_call_id": "w_kinds"},
                "items": [_wait("3", "w_done")],
            },
            {"name": "end", "match": {"last_call_id": "w_done"}, "items": [message("All.")]},
        ],
        files={"dot.png": PNG},
        extra=CODE_MODE,
    ),
]
