"""``rollout-trace show --follow``: a rollout's transcript printed as it is recorded.

What ``show`` prints first, then each record the recording adds, as ``tail -f`` does for a log:
the follower watches the log's size and modification time (``POLL_S``), reads the bundle
again (leniently: a live log ends mid-write) when they move, and prints the records it has
not printed yet. Each record is known by its id, so nothing is printed twice; a record that
appears out of time order (a sub-agent's, read in the same reading as a later one of its
parent's) is printed below what is already there, never above it, under a line naming its
agent whenever the agent changes; an agent that has recorded nothing yet has its line
printed at the end of the reading that found it (as the first reading prints one). A record
printed while it ran (an inference call, a tool call or the terminal command or code cell it
started, a code cell, a compaction) is printed
again, head line and new lines only, marked ``↳ ended ·``, when it ends; one that had ended
and says more later (a turn's reason, the agent a message reached, an output read after the
call ended), marked ``↳ more ·``; an agent printed running, with its own line marked
``↳ ended ·``, when it ends. Codex's corpora and the demo, each read after every line of
its log, print every line ``show`` prints (tests/view/test_show_follow.py).

It stops by itself when the recording closes (``complete``, ``closed with partial
payloads``, lossy when the recorder reported loss: ``view/reports.py``), or when the log is
left unclosed by a writer that is gone: no process holds its lock (``reduce/liveness.py``)
and it has not changed for :data:`QUIET_S`. A log Codex writes has no lock, but Codex holds it
open for writing while its session runs: followed while a process does so
(``liveness.log_is_held_open``, Linux), it ends after that much quiet once none does.

A reading replays only the lines written since the last one, on a replay kept between
readings (``show_follow_read.Readings``, ``reduce/incremental.py``), with the cycle collector
paused (:func:`collector_paused`); the state's plain values, its view model and the
transcript still grow with the rollout. After a reading that took ``R``
seconds the follower rests ``R`` at least (:data:`PACE`), so a big bundle recorded fast costs
it at most about half a core, and prints later rather than more often (docs/viewing.md has
the figures).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

import attrs

from ..model import layout
from ..reduce.errors import ReduceError
from ..reduce.liveness import log_is_held_open, log_is_written
from .capture import recording_status, recording_words
from .show import Line, _Transcript, transcript

if TYPE_CHECKING:
    from .show_follow_read import Readings

#: Seconds between two looks at the log's size and modification time.
POLL_S: Final = 0.25
#: Seconds an unclosed log must stay unchanged, with no writer holding it, before the
#: follower says its recorder is gone and stops.
QUIET_S: Final = 2.0
#: The rest after a reading, as a multiple of the time it took: bounds the follower's share
#: of a core on a big bundle (each reading builds and walks all of its state).
PACE: Final = 1.0

#: The recording statuses that end the following (``recording`` and ``unclosed`` do not).
_CLOSED: Final = ("complete", "closed_with_partial_payloads")

#: A record's identity: its kind and id (a guardrail: its turn's id and its place there).
Key = tuple[Any, ...]


@attrs.frozen
class _Shown:
    """A record printed: whether it was running then, and its lines' text."""

    running: bool
    texts: frozenset[str]


@attrs.frozen
class _Pending:
    """A record to print in this reading: new, or ended since it was printed (``ended``)."""

    at: int
    thread: int
    key: Key
    lines: list[Line]
    running: bool
    ended: bool


class Follower:
    """What has been printed of a recording, and what each new reading adds to it.

    Args:
        thread: ``--thread``: only this agent.
        call: ``--call``: only this record.
        full: ``--full``: nothing truncated.
    """

    def __init__(self, *, thread: str | None, call: str | None, full: bool) -> None:
        self.thread = thread
        self.call = call
        self.full = full
        self.started = False
        self.shown: dict[Key, _Shown] = {}
        #: the agents whose line is printed (by thread id), and the last one printed under
        self.lanes: set[Any] = set()
        self.last_lane: Any = None
        #: the recorder's reports were said under the header (a recording closed already)
        self.reported = False

    def step(self, state: Mapping[str, Any], reports: Sequence[str] = ()) -> list[Line]:
        """The lines a new reading adds (the first: what ``show`` prints of it).

        Args:
            state: the reduced state, as plain JSON values.
            reports: the recorder's reports (``reports.recorder_reports``): said under the
                first reading's header, as ``show`` says them.

        Raises:
            LookupError: ``--call`` names more than one record.
        """
        t = transcript(state, full=self.full)
        if self.call is not None:
            return self._one(t, reports)
        threads = self._threads(state, t)
        if threads is None:
            return []
        lines: list[Line] = []
        if not self.started:
            self.started = True
            lines += self._header(t, reports)
            for n in threads:
                lines += self._head(t, n)
                self.last_lane = t.m["threads"][n]["id"]
                for entry in t.entries(n):
                    rendered = list(t.entry(*entry))
                    self.shown[_key(t.m, entry)] = _shown(_running(t.m, entry), rendered)
                    lines += rendered
            return lines
        pending = [self._pending(t, n) for n in threads]
        for item in _merged([p for p in pending if p]):
            if item.key[0] == "thread":  # an agent's end: its own line names it
                self.last_lane = item.key[1]
                lines += [Line(0, (("", ""),)), *_again(item.lines, self.shown[item.key])]
            elif item.ended:
                lines += self._lane(t, item.thread)
                lines += _again(item.lines, self.shown[item.key])
            else:
                lines += self._lane(t, item.thread)
                lines += item.lines
            self.shown[item.key] = _shown(item.running, item.lines)
        for n in threads:  # an agent with no record yet: its line, as the first reading's
            if t.m["threads"][n]["id"] not in self.lanes:
                lines += self._lane(t, n)
        return lines

    def closing(self, state: Mapping[str, Any], how: str, reports: Sequence[str]) -> list[Line]:
        """The last lines: the recorder's reports, and how the recording ended with the
        rollout's totals (``how``: complete, closed_with_partial_payloads, unclosed)."""
        t = transcript(state, full=self.full)
        lines = [] if self.reported else _report_lines(reports)
        if how == "unclosed":
            words, style = "recording unclosed: no writer holds its log any more", "bold red"
        else:
            words = recording_words(how)
            style = "bold green" if how == "complete" else "bold yellow"
            if _lossy(reports):
                words, style = f"{words} (lossy: the recorder reported loss)", "bold yellow"
        head = next(iter(t.header(recording=False)))
        lines.append(Line(0, ((f"■ {words} · ", style), *head.parts)))
        return lines

    def _header(self, t: _Transcript, reports: Sequence[str]) -> list[Line]:
        """``show``'s header, with the recorder's reports under it when there are any."""
        self.reported = bool(reports)
        return [*t.header(), *_report_lines(reports)]

    def _threads(self, state: Mapping[str, Any], t: _Transcript) -> list[int] | None:
        """The agents printed, in tree order; None while ``--thread`` names none yet."""
        from .model import thread_tree_order

        threads = thread_tree_order(t.m["threads"])
        if self.thread is None:
            return threads
        from .summary import find_thread

        try:
            wanted = find_thread(state, self.thread).get("thread_id")
        except LookupError:  # not started yet (or named twice: said when the recording ends)
            return None
        return [n for n in threads if t.m["threads"][n]["id"] == wanted]

    def _pending(self, t: _Transcript, n: int) -> list[_Pending]:
        """Thread ``n``'s records this reading adds: the new ones in the transcript's order,
        merged by time with the ones that ended since they were printed (at their end)."""
        m = t.m
        new: list[_Pending] = []
        ended: list[_Pending] = []
        for entry in t.entries(n):
            key = _key(m, entry)
            shown = self.shown.get(key)
            running = _running(m, entry)
            if shown is None:
                lines = list(t.entry(*entry))
                new.append(_Pending(_at(m, entry, end=False), n, key, lines, running, False))
            elif not running:
                # ended since, or ended and said more since (an error text, the agent a
                # message reached, an output read later): what it did not say yet
                lines = list(t.entry(*entry))
                if shown.running or any(line.text not in shown.texts for line in lines):
                    ended.append(_Pending(_at(m, entry, end=True), n, key, lines, running, True))
        thread = m["threads"][n]
        key = ("thread", thread["id"])
        shown = self.shown.get(key)
        if shown is not None and shown.running and thread.get("st") != "running":
            at = thread.get("e")
            at = at if isinstance(at, int) else max((p.at for p in new + ended), default=0)
            head = list(t.thread_head(n))[1:]  # its line, the blank line above it left out
            ended.append(_Pending(at, n, key, head, False, True))
        ended.sort(key=lambda p: p.at)
        return list(_merged([new, ended]))

    def _lane(self, t: _Transcript, n: int) -> list[Line]:
        """The line naming the agent of what follows, when it is not the last one printed:
        its whole line the first time, its path after."""
        ident = t.m["threads"][n]["id"]
        if ident == self.last_lane:
            return []
        self.last_lane = ident
        if ident not in self.lanes:
            return self._head(t, n)
        return [Line(0, (("", ""),)), Line(0, ((f"━━ {t.lane(n)}", "bold cyan"),))]

    def _head(self, t: _Transcript, n: int) -> list[Line]:
        """Agent ``n``'s line, printed the first time anything of it is: remembered as a
        record, so that an agent printed running says when it ends (``↳ ended ·``)."""
        thread = t.m["threads"][n]
        self.lanes.add(thread["id"])
        lines = list(t.thread_head(n))
        self.shown[("thread", thread["id"])] = _shown(thread.get("st") == "running", lines)
        return lines

    def _one(self, t: _Transcript, reports: Sequence[str]) -> list[Line]:
        """``--call``: the record once it is there, and again (new lines) when it ends."""
        from ._show_one import locate, one_call

        assert self.call is not None
        found = locate(t, self.call)
        if found is None:
            return []
        running = _running(t.m, (*found, None))
        lines = list(one_call(t, self.call) or ())
        shown = self.shown.get(("one",))
        self.shown[("one",)] = _shown(running, lines)
        if shown is None:
            self.started = True
            return self._header(t, reports) + lines
        if running or not (shown.running or any(ln.text not in shown.texts for ln in lines)):
            return []
        return _again(lines, shown)


def _again(lines: Sequence[Line], shown: _Shown) -> list[Line]:
    """A record printed before, again: its head line marked ``↳ ended ·`` (it was running)
    or ``↳ more ·`` (it had ended, and has said more since), and the lines it did not have."""
    head, *rest = lines
    mark = "↳ ended · " if shown.running else "↳ more · "
    return [
        Line(head.indent, ((mark, "dim"), *head.parts)),
        *(line for line in rest if line.text not in shown.texts),
    ]


def _report_lines(reports: Sequence[str]) -> list[Line]:
    return [Line(0, (("recorder: ", "bold yellow"), (r, ""))) for r in reports]


def _shown(running: bool, lines: Sequence[Line]) -> _Shown:
    return _Shown(running, frozenset(line.text for line in lines))


def _record(m: Mapping[str, Any], entry: tuple[str, int, Any]) -> Mapping[str, Any] | None:
    kind, n, _ = entry
    table = {"call": "calls", "tool": "tools", "cell": "cells", "compaction": "compactions"}
    return m[table[kind]][n] if kind in table else None


def _is_running(record: Mapping[str, Any]) -> bool:
    """Started and not ended yet (a record a finished rollout left open never ended: its
    line says so, and nothing more will come)."""
    return record.get("e") is None and record.get("st") == "running" and not record.get("ne")


def _running(m: Mapping[str, Any], entry: tuple[str, int, Any]) -> bool:
    """Whether a record's lines may still change: it runs, or (a tool call) the terminal
    command it started does (its exit code comes with its end: a session ``cat`` started
    outlives the call) or the code cell printed under it does."""
    record = _record(m, entry)
    if record is None:
        return False
    if _is_running(record):
        return True
    if entry[0] != "tool":
        return False
    op = record.get("op")
    if isinstance(op, int) and _is_running(m["ops"][op]):
        return True
    cell = record.get("starts_cell")
    return isinstance(cell, int) and _is_running(m["cells"][cell])


def _key(m: Mapping[str, Any], entry: tuple[str, int, Any]) -> Key:
    kind, n, guardrail = entry
    if kind == "item":
        return ("item", m["items"][n]["id"])
    if kind in ("guardrail", "turn_end"):
        turn = m["turns"][n]
        if kind == "turn_end":
            return ("turn_end", turn["id"])
        return ("guardrail", turn["id"], list(turn.get("g", ())).index(guardrail))
    record = _record(m, entry)
    assert record is not None
    return (kind, record["id"])


def _at(m: Mapping[str, Any], entry: tuple[str, int, Any], *, end: bool) -> int:
    """When a record started (``end``: ended), in the view model's milliseconds."""
    kind, n, guardrail = entry
    if kind == "item":
        at = m["items"][n].get("at")
    elif kind == "guardrail":
        at = guardrail[2] if guardrail[2] is not None else m["turns"][n].get("s")
    elif kind == "turn_end":
        turn = m["turns"][n]
        at = turn.get("e") if turn.get("e") is not None else turn.get("s")
    else:
        record = _record(m, entry)
        assert record is not None
        at = record.get("e" if end else "s")
        if at is None:
            at = record.get("at", record.get("s"))
    return at if isinstance(at, int) else 0


def _merged(lists: Sequence[list[_Pending]]) -> Iterator[_Pending]:
    """The records of ``lists`` by time, each list's own order kept (a tool call stays under
    the inference call that asked for it though it may have started first): the list whose
    next record is earliest gives it; on a tie an end before a start (a record starting in
    the millisecond another ended came after it: the tool call a response asked for, written
    in the response's batch; the parent reading a helper's answer), then the first list."""
    heads = [0] * len(lists)
    while True:
        best = None
        for k, items in enumerate(lists):
            if heads[k] < len(items) and (
                best is None or _order(items[heads[k]]) < _order(lists[best][heads[best]])
            ):
                best = k
        if best is None:
            return
        yield lists[best][heads[best]]
        heads[best] += 1


def _order(pending: _Pending) -> tuple[int, bool]:
    """A record's place in :func:`_merged`: its time, an end before a start on a tie."""
    return pending.at, not pending.ended


def _lossy(reports: Sequence[str]) -> bool:
    said = layout.LOSS_REPORT_PREFIX.removeprefix(layout.REPORT_PREFIX)
    return any(report.startswith(said) for report in reports)


def _token(bundle: Path) -> tuple[int, ...]:
    """What changes when the recorder writes: the log's inode, size and modification time."""
    try:
        info = (bundle / layout.EVENT_LOG).stat()
    except OSError:
        return ()
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def _writer_there(bundle: Path, seen: list[tuple[str, str]]) -> bool:
    """Whether a writer still has the log: ours holds its lock; Codex, which takes none,
    holds it open for writing (a model answer slower than :data:`QUIET_S` had the follower
    say its writer was gone, halfway through the session: review follow48). ``seen``: the
    descriptor found last (``log_is_held_open``)."""
    return log_is_written(bundle) is True or log_is_held_open(bundle, seen) is True


def follow(
    bundle: Path,
    follower: Follower,
    emit: Callable[[list[Line]], None],
    err: TextIO,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Print ``bundle``'s transcript through ``emit`` as it is recorded, until it closes or
    its writer is gone: 0 (``clock`` and ``sleep``: the time it reads and waits by).

    Raises:
        ReduceError: the bundle cannot be read, and no writer is there to finish it.
        LookupError: ``--thread`` or ``--call`` names nothing once the recording ended (or
            more than one thing).
    """
    from .show_follow_read import Readings

    readings = Readings(bundle)
    try:
        return _follow(bundle, follower, emit, err, readings, clock=clock, sleep=sleep)
    finally:
        readings.close()


def _follow(
    bundle: Path,
    follower: Follower,
    emit: Callable[[list[Line]], None],
    err: TextIO,
    readings: Readings,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> int:
    """:func:`follow`'s loop, each reading from ``readings``."""
    from . import live
    from .commands import notes_to
    from .reports import recorder_reports

    token: tuple[int, ...] | None = None
    changed_at = clock()
    state: Mapping[str, Any] | None = None
    said_notes: set[str] = set()
    said_waiting = False
    seen: list[tuple[str, str]] = []  # the descriptor Codex holds the log open by, once found
    rest = 0.0
    while True:
        # what the last look asked for: POLL_S after one that found nothing new, PACE times
        # the reading after a reading, whether the log moved meanwhile or not (a log written
        # faster than it was read was read again at once, reading after reading: a core)
        sleep(rest)
        rest = 0.0
        now = _token(bundle)
        quiet = clock() - changed_at >= QUIET_S
        if now != token:
            token, changed_at, quiet = now, clock(), False
        elif not quiet or _writer_there(bundle, seen):
            rest = POLL_S
            continue
        # else: unchanged for QUIET_S and no writer holds it: a last reading
        began = clock()
        notes: list[str] = []
        with collector_paused():
            try:
                state = readings.read(notes, last=quiet)
            except ReduceError:
                # mid-write (a log with no line yet): read again at its next change, unless
                # the writer is gone and it stayed so
                if not quiet:
                    rest = POLL_S
                    continue
                raise
            status = recording_status(state)
            ending = status in _CLOSED or (quiet and not _writer_there(bundle, seen))
            held, _ = ([], ()) if ending else live.transient_notes(bundle, state, notes)
            fresh = [n for n in notes if n not in held and n not in said_notes]
            said_notes.update(fresh)
            notes_to(fresh, err)
            reports = recorder_reports(bundle) if ending else []
            emit(follower.step(state, reports if not follower.started else ()))
        if not follower.started and not said_waiting and not ending:
            what = f"--call {follower.call}" if follower.call else f"--thread {follower.thread}"
            print(f"rollout-trace show: waiting for {what} to be recorded", file=err, flush=True)
            said_waiting = True
        if ending:
            with collector_paused():
                if not follower.started:  # never there: ``show``'s own error (LookupError)
                    from .show import transcript_lines

                    transcript_lines(state, thread=follower.thread, call=follower.call)
                how = "unclosed" if status not in _CLOSED else status
                emit(follower.closing(state, how, reports))
            return 0
        rest = (clock() - began) * PACE


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off for a reading, back as it was after (review follow49).

    A reading builds the state, its view model and the transcript anew: millions of
    objects, freed when the next reading replaces them, none in a cycle but the few of a
    bundle opened to read payloads (its shard reader refers back to it). Each allocation threshold crossed meanwhile ran a collection, and every few
    a full one, over the kept replay and the reading's own objects: ~26 full collections of
    ~0.18 s in 7 readings of the 14.7 MB benchmark bundle, 40 % of their time. Paused, the
    reading's survivors are looked at once, by the first young collection after it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
