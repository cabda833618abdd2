"""The reducer's progress reports and the bar drawn from them (view/progress.py): the same
state with or without them, a bar on a terminal only and only past a second."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rollout_trace_sdk.reduce import reduce_bundle, state_bytes
from rollout_trace_sdk.view.progress import reduction_progress


def test_the_reducer_reports_how_far_it_has_read(demo_bundle_200: Path) -> None:
    seen: list[tuple[int, int]] = []
    plain = state_bytes(reduce_bundle(demo_bundle_200))
    assert state_bytes(reduce_bundle(demo_bundle_200, progress=lambda *a: seen.append(a))) == plain
    size = (demo_bundle_200 / "trace.jsonl").stat().st_size
    assert len(seen) > 5 and {total for _, total in seen} == {size}
    done = [d for d, _ in seen]
    assert done == sorted(done) and 0 < done[-1] <= size


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_is_drawn_on_a_terminal_only(demo_bundle_200: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("TERM", raising=False)
    with reduction_progress(io.StringIO(), "x") as progress:
        assert progress is None  # piped: nothing to call at all
    terminal = _Terminal()
    with reduction_progress(terminal, "reducing demo", delay=0) as progress:
        assert progress is not None
        reduce_bundle(demo_bundle_200, progress=progress)
    assert "reducing demo" in terminal.getvalue()
    quick = _Terminal()
    with reduction_progress(quick, "reducing demo") as progress:  # under a second: no bar
        assert progress is not None
        progress(1, 2)
    assert quick.getvalue() == ""
