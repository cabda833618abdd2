"""``rollout-trace show --follow``: a real recorder writes in another process, step by step
as the test says, while ``show -f`` runs in its own with its output piped; each check waits
(generously) for the lines it needs, never for a time."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ..conftest import CONFORMANCE, CONFORMANCE_V3, conformance_bundles

#: Both Codex corpora's bundles (none when ../shared is not there).
CONFORMANCE_BUNDLES = conformance_bundles(CONFORMANCE) + conformance_bundles(CONFORMANCE_V3)

#: How long a condition may take to come true (a loaded machine; nothing here is timed).
WAIT_S = 90.0

#: A recorder that goes one step further each time the test creates a file named for the
#: step in its control directory: a user message and an inference call asking for ``c1``
#: (step 0), ``c1`` started (1) and ended (2), a helper agent with its answer (3), the
#: root's last answer (4), then the bundle closed. ``--lossy``: a report of loss at the end.
_RECORDER = """
import sys, anyio
from pathlib import Path
from rollout_trace_sdk.record import open_rollout

root, ctl, schema = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
# a queue so small under overflow="drop" that events are dropped: the loss report at the end
small = {"overflow": "drop", "max_queued_bytes": 2000} if sys.argv[4:] == ["drop"] else {}

def said(role, words):
    kind = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": kind, "text": words}]}

async def step(rollout, n):
    await rollout.flush()
    while not (ctl / str(n)).exists():
        await anyio.sleep(0.02)

async def main():
    call_item = {"type": "function_call", "name": "exec_command", "call_id": "c1",
                 "arguments": '{"cmd":"make"}'}
    async with open_rollout(root, model="m", schema_version=schema, **small) as rollout:
        print(rollout.bundle_dir, flush=True)
        async with rollout.root.turn() as turn:
            history = turn.accept(said("user", "go build it"))
            async with turn.inference({"model": "m", "input": history}) as call:
                history += call.completed(output_items=[call_item])
            await step(rollout, 0)
            async with turn.tool_call("c1", "exec_command", arguments='{"cmd":"make"}') as tool:
                await step(rollout, 1)
                tool.completed({"type": "function_call_output", "call_id": "c1",
                                "output": "built fine"})
            await step(rollout, 2)
            child = rollout.root.spawn("helper", nickname="Ada")
            async with child.turn() as child_turn:
                asked = child_turn.accept(said("user", "check the build"))
                async with child_turn.inference({"model": "m", "input": asked}) as call:
                    call.completed(output_items=[said("assistant", "the build is fine")])
            await step(rollout, 3)
            async with turn.inference({"model": "m", "input": history}) as call:
                call.completed(output_items=[said("assistant", "all done")])
            await step(rollout, 4)

anyio.run(main)
"""


class _Lines:
    """A process's output, line by line as it comes (a thread reads the pipe)."""

    def __init__(self, stream: io.BufferedReader) -> None:
        self.lines: list[str] = []
        self._stream = stream
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self._stream:
            self.lines.append(raw.decode())

    def text(self) -> str:
        return "".join(self.lines)

    def join(self) -> None:
        self._reader.join(WAIT_S)


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"never came: {what}"
        time.sleep(0.05)


class _Recorder:
    """The recorder child: :meth:`step` lets it go one step further."""

    def __init__(self, root: Path, schema: int, *, drop: bool = False) -> None:
        self.ctl = root.parent / f"{root.name}-ctl"
        self.ctl.mkdir()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _RECORDER, str(root), str(self.ctl), str(schema)]
            + (["drop"] if drop else []),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # the recorder's warnings of what it dropped
        )
        assert self.process.stdout is not None
        self.bundle = Path(self.process.stdout.readline().decode().strip())

    def step(self, n: int) -> None:
        (self.ctl / str(n)).touch()

    def finish(self) -> None:
        for n in range(5):
            self.step(n)
        assert self.process.wait(WAIT_S) == 0


class _Show:
    """``rollout-trace show ARGS --follow`` running, its output piped."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rollout_trace_sdk", "show", *args, "--follow"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self.out = _Lines(self.process.stdout)  # type: ignore[arg-type]
        self.err = _Lines(self.process.stderr)  # type: ignore[arg-type]

    def wait_for(self, needle: str) -> None:
        _wait(lambda: needle in self.out.text(), f"{needle!r} in\n{self.out.text()}")

    def ended(self) -> int:
        code = self.process.wait(WAIT_S)
        self.out.join()
        self.err.join()
        return code


def _one(text: str, needle: str) -> int:
    """The line of ``text`` holding ``needle``, which only one line holds."""
    found = [n for n, line in enumerate(text.splitlines()) if needle in line]
    assert len(found) == 1, (needle, text)
    return found[0]


@pytest.mark.parametrize("schema", [2, 3])
def test_follows_a_recording_to_its_end(tmp_path: Path, schema: int) -> None:
    """What the recorder adds is printed as it comes, each record once, a running tool call
    again when it ends, the helper's records under its own line below what was there, and
    a last line saying the recording completed; nothing ``show`` prints of the finished
    bundle is missing."""
    recorder = _Recorder(tmp_path / "traces", schema)
    _wait(lambda: (recorder.bundle / "trace.jsonl").exists(), "the log")
    show = _Show(str(recorder.bundle))
    show.wait_for("user: go build it")
    show.wait_for("▸ inference")
    recorder.step(0)
    show.wait_for("⚙ exec_command c1 · running")
    recorder.step(1)
    show.wait_for("↳ ended · ⚙ exec_command c1 · completed")
    show.wait_for("→ built fine")
    recorder.step(2)
    show.wait_for("the build is fine")
    recorder.step(3)
    show.wait_for("all done")
    recorder.finish()
    assert show.ended() == 0
    text = show.out.text()
    lines = text.splitlines()
    assert lines[-1].startswith("■ recording complete · rollout ")
    for needle in ("user: go build it", "args: {", "→ built fine", "user: check the build"):
        _one(text, needle)
    # the helper's line comes after the root's tool call, and the root's last answer after
    # the helper's: printed in the order they came, under a line naming the agent
    heads = [n for n, line in enumerate(lines) if line.startswith("━━ /root/helper (Ada)")]
    assert len(heads) == 1, text
    helper, helper_ended = heads[0], _one(text, "↳ ended · ━━ /root/helper (Ada)")
    assert _one(text, "→ built fine") < helper < _one(text, "the build is fine") < helper_ended
    back = [n for n, line in enumerate(lines) if line == "━━ /root"]
    assert back and helper < back[0] < _one(text, "assistant: all done")
    shown = subprocess.run(
        [sys.executable, "-m", "rollout_trace_sdk", "show", str(recorder.bundle)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in shown.splitlines():
        if "·" not in line:  # a head line's durations and counts moved on since
            assert line in lines, line


def test_a_killed_recorder_ends_the_following(tmp_path: Path) -> None:
    """The recorder killed with its tool call running: no writer holds the log, and once
    it stayed still the follower says so and exits 0."""
    recorder = _Recorder(tmp_path / "traces", 3)
    recorder.step(0)
    show = _Show(str(recorder.bundle))
    show.wait_for("⚙ exec_command c1 · running")
    recorder.process.send_signal(signal.SIGKILL)
    recorder.process.wait(WAIT_S)
    assert show.ended() == 0
    last = show.out.text().splitlines()[-1]
    assert last.startswith("■ recording unclosed: no writer holds its log any more · rollout ")


def test_a_lossy_recording_ends_with_its_reports(tmp_path: Path) -> None:
    """A recorder that dropped events: its report, then ``complete (lossy: ...)``."""
    recorder = _Recorder(tmp_path / "traces", 3, drop=True)
    show = _Show(str(recorder.bundle))
    show.wait_for("user: go build it")
    recorder.finish()
    assert show.ended() == 0
    lines = show.out.text().splitlines()
    assert lines[-1].startswith("■ recording complete (lossy: the recorder reported loss) · ")
    assert lines[-2].startswith("recorder: dropped ")
    assert sum(line.startswith("recorder: ") for line in lines) == 1


def test_an_agent_never_recorded_is_said_once_it_ended(demo_bundle: Path) -> None:
    """``--thread`` naming no agent of a closed recording: ``show``'s error, exit 1."""
    show = _Show(str(demo_bundle), "--thread", "/root/nobody")
    assert show.ended() == 1
    assert show.err.text().startswith("rollout-trace show: ") and not show.out.text()


def test_waits_for_a_bundle_under_an_empty_root(tmp_path: Path) -> None:
    """``ROOT --latest --follow`` on a root with no bundle waits for one (said on standard
    error), then follows it."""
    root = tmp_path / "traces"
    root.mkdir()
    show = _Show(str(root), "--latest")
    _wait(lambda: "waiting for one" in show.err.text(), "the waiting notice")
    assert show.process.poll() is None
    recorder = _Recorder(root, 3)
    show.wait_for("user: go build it")
    recorder.finish()
    assert show.ended() == 0
    assert show.out.text().splitlines()[-1].startswith("■ recording complete")
    assert f"following {recorder.bundle}" in show.err.text()


def test_thread_and_call_filters_apply(tmp_path: Path) -> None:
    """``--thread`` waits for its agent and prints only its records; ``--call`` prints its
    tool call running, then ended."""
    recorder = _Recorder(tmp_path / "traces", 3)
    helper = _Show(str(recorder.bundle), "--thread", "/root/helper")
    call = _Show(str(recorder.bundle), "--call", "c1")
    _wait(lambda: "waiting for --thread /root/helper" in helper.err.text(), "helper wait")
    recorder.step(0)
    call.wait_for("⚙ exec_command c1 · running")
    recorder.step(1)
    call.wait_for("↳ ended · ")
    recorder.finish()
    assert helper.ended() == 0 and call.ended() == 0
    only = helper.out.text()
    # the root's tool call c1 is not there ("c1" alone may be in a random id printed)
    assert "the build is fine" in only and "go build it" not in only
    assert "exec_command c1" not in only and "built fine" not in only
    one = call.out.text()
    assert "→ built fine" in one and "all done" not in one and "go build it" not in one
    assert one.splitlines()[-1].startswith("■ recording complete")


def test_a_closed_bundle_prints_what_show_prints_then_how_it_ended(demo_bundle: Path) -> None:
    """Nothing to wait for: ``show``'s lines (``--full`` too) and the last one."""
    for extra in ((), ("--full",)):
        show = _Show(str(demo_bundle), *extra)
        assert show.ended() == 0
        shown = subprocess.run(
            [sys.executable, "-m", "rollout_trace_sdk", "show", str(demo_bundle), *extra],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        lines = show.out.text().splitlines()
        assert lines[:-1] == shown.splitlines()
        assert lines[-1].startswith("■ recording complete · ")


def test_ctrl_c_stops_it_whole(tmp_path: Path) -> None:
    """SIGINT while it waits on a live recording: exit 130, ``interrupted``, no traceback,
    every line printed whole."""
    recorder = _Recorder(tmp_path / "traces", 3)
    show = _Show(str(recorder.bundle))
    show.wait_for("user: go build it")
    show.process.send_signal(signal.SIGINT)
    assert show.ended() == 130
    assert show.err.text().strip().splitlines()[-1] == "interrupted"
    assert "Traceback" not in show.err.text()
    assert show.out.text().endswith("\n")
    recorder.finish()


def test_a_log_written_faster_than_it_is_read_is_read_after_a_rest(
    demo_bundle: Path, tmp_path: Path
) -> None:
    """After a reading the follower rests as long as the reading took (``PACE``) before it
    looks again, though the log moved meanwhile. A log written faster than it was read was
    read again at once, reading after reading: a whole core where half of one was meant.
    (The time is the test's: each look at the clock is half a second later, and a line
    more in the log, as a recorder writing all the time would leave it.)"""
    import shutil

    from rollout_trace_sdk.view.show import Line
    from rollout_trace_sdk.view.show_follow import Follower, follow

    copy = tmp_path / "bundle"
    shutil.copytree(demo_bundle, copy)
    lines = (demo_bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)
    log = copy / "trace.jsonl"
    log.write_bytes(lines[0])
    written, now = [1], [0.0]
    what: list[str] = []

    def clock() -> float:
        if written[0] < len(lines):
            with log.open("ab") as handle:
                handle.write(lines[written[0]])
            written[0] += 1
        now[0] += 0.5
        return now[0]

    def sleep(seconds: float) -> None:
        if seconds > 0:
            what.append("rest")

    def emit(printed: list[Line]) -> None:
        what.append("end" if any("■" in line.text for line in printed) else "reading")

    follower = Follower(thread=None, call=None, full=False)
    assert follow(copy, follower, emit, io.StringIO(), clock=clock, sleep=sleep) == 0
    assert what[-1] == "end" and what.count("reading") > 3
    # R a reading, s a rest: never two readings without a rest between them
    order = "".join("R" if w == "reading" else "s" for w in what[:-1])
    assert "RR" not in order, order


def test_a_reading_runs_with_the_cycle_collector_paused(demo_bundle: Path) -> None:
    """Each reading, its transcript and its lines run with Python's cycle collector off, and
    it is back as it was after: full collections over the kept replay and the reading's
    millions of new objects were 40 % of a reading of a 14.7 MB bundle (review follow49). A
    caller that had turned it off finds it off."""
    import gc

    from rollout_trace_sdk.view.show import Line
    from rollout_trace_sdk.view.show_follow import Follower, follow

    seen: list[bool] = []

    def emit(printed: list[Line]) -> None:
        seen.append(gc.isenabled())

    for enabled in (True, False):
        seen.clear()
        (gc.enable if enabled else gc.disable)()
        try:
            follower = Follower(thread=None, call=None, full=False)
            assert follow(demo_bundle, follower, emit, io.StringIO()) == 0
            assert gc.isenabled() is enabled
        finally:
            gc.enable()
        assert seen == [False, False], seen  # the reading's lines, then the closing ones


def test_a_state_file_is_refused(demo_bundle: Path, tmp_path: Path) -> None:
    """A state file does not grow: ``--follow`` says it reads bundles (exit 2)."""
    from rollout_trace_sdk.cli import main

    state = tmp_path / "state.json"
    assert main(["reduce", str(demo_bundle), "-o", str(state)], out=io.StringIO()) == 0
    err = io.StringIO()
    assert main(["show", str(state), "-f"], out=io.StringIO(), err=err) == 2
    assert "--follow follows a bundle directory" in err.getvalue()


def _reads() -> Callable[[Path], str]:
    """One follower (every record, not full) and what it printed: each call reads the bundle
    at ``path`` as it stands (leniently, as ``--follow`` does), prints what is new, and
    gives all it has printed so far."""
    from rollout_trace_sdk.view.load import load_state
    from rollout_trace_sdk.view.show import render_plain
    from rollout_trace_sdk.view.show_follow import Follower

    reader = Follower(thread=None, call=None, full=False)
    out = io.StringIO()

    def read(path: Path) -> str:
        render_plain(reader.step(load_state(path, lenient=True, skipped=[])), out)
        return out.getvalue()

    return read


def _replayed(bundle: Path, tmp_path: Path) -> tuple[str, str]:
    """``bundle``'s log as it stood after each of its lines, read in turn by one follower
    (what it printed), and what ``show`` prints of the whole bundle."""
    import shutil

    from rollout_trace_sdk.view.load import load_state
    from rollout_trace_sdk.view.show import render_plain, transcript_lines

    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    log = (bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)
    read = _reads()
    followed = ""
    for n in range(1, len(log) + 1):
        (copy / "trace.jsonl").write_bytes(b"".join(log[:n]))
        followed = read(copy)
    shown = io.StringIO()
    render_plain(transcript_lines(load_state(bundle, lenient=True, skipped=[])), shown)
    return followed, shown.getvalue()


def _all_once(followed: str, shown: str) -> None:
    """Every line ``shown`` has is in ``followed`` as often (head lines aside, whose
    durations and counts move on; a line said again marked ``↳ ended`` / ``↳ more`` counts),
    and no record's head line comes out twice unmarked."""
    from collections import Counter

    def bare(line: str) -> str:
        return line.replace("↳ ended · ", "").replace("↳ more · ", "")

    got = Counter(bare(line) for line in followed.splitlines() if "·" not in bare(line))
    wanted = Counter(line for line in shown.splitlines() if "·" not in line)
    assert {line: n for line, n in wanted.items() if got[line] < n} == {}
    heads = Counter(
        line.strip().split(" · ")[0]
        for line in followed.splitlines()
        if any(mark in line for mark in "⚙▸▣⟲") and "↳ " not in line
    )
    assert {head: n for head, n in heads.items() if n > 1} == {}


def test_a_recording_read_after_each_of_its_lines_prints_all_of_it(
    demo_bundle: Path, tmp_path: Path
) -> None:
    """Every line ``show`` prints comes out, each record once and again only when it ended.
    A tool call that completed while the terminal command it started ran on (the demo's
    ``cat`` session) is printed again when the command exits, with its exit code: the
    follower had kept its first reading for good."""
    followed, shown = _replayed(demo_bundle, tmp_path)
    _all_once(followed, shown)
    assert "      $ /bin/sh -c cat (exit 0)" in followed.splitlines()
    assert "↳ ended · ⚙ exec_command call_0_cat · completed" in followed


@pytest.mark.parametrize(
    "bundle",
    [
        b
        for b in CONFORMANCE_BUNDLES
        if b.parent.name
        in (
            "interrupt_during_tool",
            "multi_agent_v2_lifecycle",
            "mcp_tool_call",
            "view_image",
            "code_mode_yield_wait",
        )
    ],
    ids=lambda b: f"{b.parent.parent.name}/{b.parent.name}",
)
def test_codex_recordings_read_after_each_of_their_lines_print_all_of_them(
    bundle: Path, tmp_path: Path
) -> None:
    """Codex's own bundles, read as they were written: a record that ended and said more
    later (a turn's ``interrupted`` reason, the agent a message reached, an output read
    after its call ended) is printed again with what it added, ``↳ more ·``; it was kept
    as first read, and the line never came out."""
    followed, shown = _replayed(bundle, tmp_path)
    _all_once(followed, shown)


@pytest.mark.parametrize("schema", [2, 3])
def test_a_call_that_ended_as_the_next_began_is_ended_above_it(tmp_path: Path, schema: int) -> None:
    """An inference call printed running, whose response and the tool call it asked for
    come in one reading with the same millisecond (a recorder writes both in one batch):
    its ``↳ ended`` line comes first, then the tool call. The tool call came first, under
    the call still printed ``running``, as if it ran before the model had answered."""
    from rollout_trace_sdk.model import events as ev

    from ..reduce.builder import Scenario, message, request, response, start_tool

    bundle = Scenario(tmp_path / "bundle", schema=schema)
    read = _reads()
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "go", "u1")))
    read(bundle.flush())
    fc = {"type": "function_call", "id": "fc1", "name": "x", "call_id": "c1", "arguments": "{}"}
    bundle.clock_step = 0  # the response and the tool's start in one millisecond
    bundle.complete("inf-1", response(fc))
    start_tool(bundle, "c1", ev.ToolCallKind.other("x"), "x")
    text = read(bundle.flush())
    assert "  ▸ inference inf-1 gpt-test · running" in text
    assert _one(text, "↳ ended · ▸ inference inf-1") < _one(text, "⚙ x c1")


@pytest.mark.parametrize("schema", [2, 3])
def test_an_agent_that_ended_a_call_as_another_began_one_is_printed_first(
    tmp_path: Path, schema: int
) -> None:
    """Across agents too: a helper's inference call printed running, then its end and the
    root's next call in one reading with the same millisecond (the root reads the helper's
    answer at once). The helper's ``↳ ended`` comes first; the root's new record came first,
    the agents taken in tree order on a tie: the root held the answer before the helper gave
    it."""
    from ..reduce.builder import Scenario, message, request, response

    bundle = Scenario(tmp_path / "bundle", schema=schema)
    read = _reads()
    bundle.begin()
    bundle.start_thread("thread-helper", "/root/helper")
    bundle.start_turn("turn-h", "thread-helper")
    ask = request(message("user", "check", "u2"))
    bundle.infer("inf-h", ask, thread_id="thread-helper", turn_id="turn-h")
    read(bundle.flush())
    bundle.clock_step = 0  # the helper's answer and the root's next call in one millisecond
    answer = response(message("assistant", "fine", "a1"))
    bundle.complete("inf-h", answer, thread_id="thread-helper", turn_id="turn-h")
    bundle.infer("inf-r", request(message("user", "go", "u1")))
    text = read(bundle.flush())
    assert "  ▸ inference inf-h gpt-test · running" in text
    assert _one(text, "↳ ended · ▸ inference inf-h") < _one(text, "▸ inference inf-r")


@pytest.mark.parametrize("schema", [2, 3])
def test_a_helper_that_ends_is_said_to_have_ended(tmp_path: Path, schema: int) -> None:
    """A sub-agent printed running says when it ends (``↳ ended ·`` and its line, with its
    status, counts and time), once; nothing said so before: a helper that finished and one
    still working read alike until the recording closed."""
    from rollout_trace_sdk.model import events as ev

    from ..reduce.builder import Scenario, message, request, response

    bundle = Scenario(tmp_path / "bundle", schema=schema)
    read = _reads()
    bundle.begin()
    bundle.start_thread("thread-helper", "/root/helper")
    bundle.start_turn("turn-h", "thread-helper")
    bundle.infer(
        "inf-h",
        request(message("user", "check", "u2")),
        thread_id="thread-helper",
        turn_id="turn-h",
    )
    read(bundle.flush())
    answer = response(message("assistant", "fine", "a1"))
    bundle.complete("inf-h", answer, thread_id="thread-helper", turn_id="turn-h")
    bundle.end_turn(turn_id="turn-h", thread_id="thread-helper")
    bundle.event(ev.ThreadEnded("thread-helper", "completed"))
    read(bundle.flush())
    bundle.infer("inf-r", request(message("user", "go", "u1")))
    text = read(bundle.flush())
    ended = _one(text, "↳ ended · ━━ /root/helper")
    assert " · completed · 1 inference call · " in text.splitlines()[ended]
    assert _one(text, "↳ ended · ▸ inference inf-h") < ended < _one(text, "▸ inference inf-r")


@pytest.mark.parametrize("schema", [2, 3])
def test_an_agent_that_records_nothing_is_printed_as_show_prints_it(
    tmp_path: Path, schema: int
) -> None:
    """An agent started after the first reading that records nothing (a worker Codex spawned
    and never ran: seen on a bundle Codex 0.171 was writing, review follow48) is printed as
    the first reading prints one, running, and said ended when it ends; it had been printed
    only with its first record, so never, while ``show`` prints its line."""
    from rollout_trace_sdk.model import events as ev
    from rollout_trace_sdk.view.load import load_state
    from rollout_trace_sdk.view.show import render_plain, transcript_lines

    from ..reduce.builder import Scenario

    bundle = Scenario(tmp_path / "bundle", schema=schema)
    read = _reads()
    bundle.begin()
    read(bundle.flush())
    bundle.start_thread("thread-w0", "/root/w0")
    text = read(bundle.flush())
    assert _one(text, "━━ /root/w0") > 0
    assert " · running · 0 inference calls · " in text.splitlines()[_one(text, "━━ /root/w0")]
    bundle.event(ev.ThreadEnded("thread-w0", "failed"))
    bundle.start_thread("thread-w1", "/root/w1")
    bundle.event(ev.ThreadEnded("thread-w1", "completed"))
    bundle.finish()
    text = read(bundle.flush())
    ended = _one(text, "↳ ended · ━━ /root/w0")
    assert " · failed · " in text.splitlines()[ended]
    assert " · completed · " in text.splitlines()[_one(text, "━━ /root/w1")]
    shown = io.StringIO()
    render_plain(transcript_lines(load_state(bundle.flush(), lenient=True, skipped=[])), shown)
    _all_once(text, shown.getvalue())


@pytest.mark.skipif(not Path("/proc/self/fdinfo").is_dir(), reason="no /proc to look into")
def test_a_lockless_writer_holding_the_log_open_is_waited_for(
    demo_bundle: Path, tmp_path: Path
) -> None:
    """A log written as Codex writes it, with no lock but held open for writing, quiet far
    longer than ``QUIET_S`` (a slow model answer) and then written to the end, is followed to
    its end: ``recording complete``. The follower said ``recording unclosed: no writer
    holds its log any more`` after 2 s of quiet, halfway through the session, on bundles
    Codex 0.169 and 0.171 were writing against a model taking 3 s (review follow48). (The
    time is the test's: each look at the clock is half a second later.)"""
    import shutil

    from rollout_trace_sdk.view.show import Line, render_plain
    from rollout_trace_sdk.view.show_follow import QUIET_S, Follower, follow

    copy = tmp_path / "bundle"
    shutil.copytree(demo_bundle, copy)
    lines = (demo_bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    log = copy / "trace.jsonl"
    log.write_bytes(b"".join(lines[:half]))
    writer = log.open("ab")  # held open, no lock taken: Codex's writer
    now = [0.0]

    def clock() -> float:
        now[0] += 0.5
        if now[0] >= 4 * QUIET_S and not writer.closed:  # the rest after a long quiet
            writer.write(b"".join(lines[half:]))
            writer.close()
        return now[0]

    printed = io.StringIO()

    def emit(lines: list[Line]) -> None:
        render_plain(lines, printed)

    follower = Follower(thread=None, call=None, full=False)
    try:
        assert follow(copy, follower, emit, io.StringIO(), clock=clock, sleep=lambda _: None) == 0
    finally:
        writer.close()
    text = printed.getvalue()
    assert "recording unclosed" not in text.splitlines()[-1]
    assert text.splitlines()[-1].startswith("■ recording complete · ")
