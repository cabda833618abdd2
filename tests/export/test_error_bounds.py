"""The exports' error texts are bounded as the viewer's are: a bundle of thousands of
failures with long errors held every text whole (polish28)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rollout_trace_sdk.export.parquet import ExportOptions, run_export
from rollout_trace_sdk.export.query import run
from rollout_trace_sdk.view.item_text import MAX_ITEM_TEXT, MOST_TEXTS

_RECORD = """
import sys, anyio
from rollout_trace_sdk.record import open_rollout

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}

async def main(root, count, long):
    async with open_rollout(root, model="m-1") as rollout:
        async with rollout.root.turn() as turn:
            history = turn.accept(USER)
            for k in range(count):
                text = "x" * long if k == 0 else f"#{k}"
                async with turn.inference({"model": "m-1", "input": history}) as attempt:
                    attempt.failed("HTTP 503 " + text)
                async with turn.tool_call(f"c{k}", "exec_command", arguments="{}") as tool:
                    tool.failed("denied " + text)
    print(rollout.bundle_dir)

anyio.run(main, sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
"""


def test_the_first_failures_texts_are_kept_each_cut(tmp_path: Path) -> None:
    """Every failed tool call's raw result was read and kept whole for the tables (3,000
    tools failing with 50 KB errors: 965 MB at the peak, 326 MB now): the first
    ``MOST_TEXTS`` of each kind are kept, as ``show`` and the page keep them, each cut at the
    viewer's 20,000 characters; the rest read null."""
    count = MOST_TEXTS + 20
    done = subprocess.run(
        [sys.executable, "-c", _RECORD, str(tmp_path / "root"), str(count), "30000"],
        capture_output=True,
        text=True,
        check=True,
    )
    bundle = Path(done.stdout.strip())
    out = tmp_path / "tables"
    summary = run_export([str(bundle)], ExportOptions(to=str(out)))
    assert not summary.failed
    for table, said in (("tool_calls", "denied "), ("inference_calls", "HTTP 503 ")):
        rows = run(out, f"SELECT error_text FROM {table}")[1]
        assert len(rows) == count
        texts = [text for (text,) in rows if text is not None]
        assert len(texts) == MOST_TEXTS, table
        assert all(text.startswith(said) for text in texts)
        longest = max(texts, key=len)
        assert longest.startswith(said + "x" * 100)
        assert longest.endswith(f"\n… ({30_000 + len(said) - MAX_ITEM_TEXT:,} more characters)")
