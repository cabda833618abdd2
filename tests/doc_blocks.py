"""The Python blocks of README.md and docs/, and a way to run one as a reader would: given only
the names it leaves to the reader, inside an open rollout or turn when it is a piece of one.
tests/test_docs.py runs those that need nothing more; the modules owning what the others need
(a fake API, an export) run theirs."""

from __future__ import annotations

import re
import textwrap
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def python_blocks() -> dict[str, str]:
    """Every Python block of the pages, by its page's name and its first line
    (``"recording.md: compaction = turn.compaction()"``)."""
    blocks: dict[str, str] = {}
    for page in PAGES:
        for block in _PYTHON_BLOCK.findall(page.read_text()):
            name = f"{page.name}: {block.splitlines()[0].strip()}"
            assert name not in blocks, f"two blocks begin alike, make them differ: {name}"
            blocks[name] = block
    return blocks


def block_program(
    block: str, namespace: dict[str, Any], *, given: str = "", after: str = "", inside: str = ""
) -> Callable[[], Awaitable[None]]:
    """``block`` (top-level ``await`` and ``async with`` allowed) after ``given`` and before
    ``after``, as one coroutine function with ``namespace`` as its globals; ``inside`` is
    ``"rollout"`` (an open ``rollout`` of ``open_rollout("traces", model="m")``), ``"turn"``
    (its root's open ``turn`` too) or ``""``. The names the block defined are left in
    ``namespace["block_locals"]``."""
    body = given + block + after + "\nglobals()['block_locals'] = locals()\n"
    if inside == "turn":
        body = "async with rollout.root.turn() as turn:\n" + textwrap.indent(body, "    ")
    if inside:
        opened = "async with open_rollout('traces', model='m') as rollout:\n"
        body = opened + textwrap.indent(body, "    ")
    program = "async def _run():\n" + textwrap.indent(body, "    ")
    exec(compile(program, "<doc block>", "exec"), namespace)
    run: Callable[[], Awaitable[None]] = namespace["_run"]
    return run


def run_block(
    block: str, namespace: dict[str, Any], *, given: str = "", after: str = "", inside: str = ""
) -> list[str]:
    """Run :func:`block_program` in an event loop of its own; returns the warnings it gave."""
    run = block_program(block, namespace, given=given, after=after, inside=inside)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")  # the recorder never raises a warning into the block
        anyio.run(run)
    return [str(w.message) for w in said]
