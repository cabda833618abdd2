"""Why turns ended badly, read from the log's protocol events (``view.turn_errors``)."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.testing import BundleBuilder
from rollout_trace_sdk.view.turn_errors import logged_texts

_THREAD = "01a20c59-0000-7000-8000-00000000000a"


def _turn(b: BundleBuilder, turn: str, status: str, error: str | None = None) -> None:
    """A turn's events as Codex writes them: its start, an ``error`` event for a failed one,
    its end, then its closing ``turn_complete`` (saying the error) or ``turn_aborted``."""
    b.event(ev.CodexTurnStarted(turn, _THREAD), thread=_THREAD, turn=turn)
    if error is not None:
        ref = b.payload("protocol_event", {"type": "error", "message": f"event: {error}"})
        b.event(ev.ProtocolEventObserved("error", ref))
    b.event(ev.CodexTurnEnded(turn, status), thread=_THREAD, turn=turn)  # type: ignore[arg-type]
    _closing(b, turn, status, error)


def _closing(b: BundleBuilder, turn: str, status: str, error: str | None) -> None:
    if status == "aborted":
        body = {"type": "turn_aborted", "turn_id": turn, "reason": "interrupted"}
        b.event(ev.ProtocolEventObserved("turn_aborted", b.payload("protocol_event", body)))
        return
    body = {"type": "task_complete", "turn_id": turn}
    if error is not None:
        body["error"] = {"message": error}  # type: ignore[assignment]
    b.event(ev.ProtocolEventObserved("turn_complete", b.payload("protocol_event", body)))


@pytest.mark.parametrize("schema", [2, 3])
def test_each_turn_finds_its_own_closing_event_among_the_next_eight(
    tmp_path: Path, schema: int
) -> None:
    """Closing events carry no turn in their envelope: each ended turn reads the closing
    events after its end until one names it (other threads' turns end in between), and falls
    back to the ``error`` event it claimed when its own says nothing or does not come within
    eight."""
    with BundleBuilder(tmp_path / "b", schema=schema) as b:
        b.event(ev.RolloutStarted("trace-1", b.root_thread_id))
        _turn(b, "t-plain", "failed", "plain")
        # two turns end, then their closing events come in the other order
        for turn, error in (("t-a", "a went wrong"), ("t-b", "b went wrong")):
            b.event(ev.CodexTurnStarted(turn, _THREAD), thread=_THREAD, turn=turn)
            ref = b.payload("protocol_event", {"type": "error", "message": f"event: {error}"})
            b.event(ev.ProtocolEventObserved("error", ref))
            b.event(ev.CodexTurnEnded(turn, "failed"), thread=_THREAD, turn=turn)
        _closing(b, "t-b", "failed", "b went wrong")
        _closing(b, "t-a", "failed", None)  # says nothing: the claimed error event does
        _turn(b, "t-aborted", "aborted")
        # its closing event comes nine closing events late: the claimed error event says why
        b.event(ev.CodexTurnStarted("t-late", _THREAD), thread=_THREAD, turn="t-late")
        ref = b.payload("protocol_event", {"type": "error", "message": "event: late"})
        b.event(ev.ProtocolEventObserved("error", ref))
        b.event(ev.CodexTurnEnded("t-late", "failed"), thread=_THREAD, turn="t-late")
        for k in range(9):
            _turn(b, f"t-ok{k}", "completed")
        _closing(b, "t-late", "failed", "late, said too late")
        _turn(b, "t-never-asked", "failed", "not asked")
    asked = {"t-plain", "t-a", "t-b", "t-aborted", "t-late"}
    _, texts = logged_texts(b.root, asked, calls=False)
    assert texts == {
        "t-plain": "plain",
        "t-a": "event: a went wrong",
        "t-b": "b went wrong",
        "t-aborted": "interrupted",
        "t-late": "event: late",
    }


def test_the_pass_holds_the_turns_still_waiting_not_every_closing_event(tmp_path: Path) -> None:
    """A log of many turns, one of them asked about: the pass keeps what the asked turns
    need, not a payload reference for every closing event and a start for every turn (a
    1M-line log of 222,000 turns, 111,000 failed, held 228 MB so, 420 MB at the peak with
    the payloads read; review27). The closing events of turns nobody waits for are not kept
    (nor read: their payloads here are never written)."""
    turns = 10_000
    with BundleBuilder(tmp_path / "b") as b:
        b.event(ev.RolloutStarted("trace-1", b.root_thread_id))
        _turn(b, "t-failed", "failed", "the one that failed")
        started = b.payload("protocol_event", {"type": "turn_started"})
        missing = b.raw_payload("protocol_event", b"{}")  # then removed: never to be read
        for k in range(turns):
            turn = f"t-{k:05}"
            b.event(ev.CodexTurnStarted(turn, _THREAD), thread=_THREAD, turn=turn)
            b.event(ev.ProtocolEventObserved("turn_started", started))
            b.event(ev.CodexTurnEnded(turn, "completed"), thread=_THREAD, turn=turn)
            b.event(ev.ProtocolEventObserved("turn_complete", missing))
    (b.root / missing.path).unlink()
    texts, peak = _texts_and_peak(b.root, calls=True)
    assert texts == {"t-failed": "the one that failed"}
    # a reference and a start per turn held: 15 MB at the peak for 20,000 turns, 0.6 MB now
    assert peak < 3 * 2**20, f"{peak:,} bytes at the peak"


def _texts_and_peak(bundle: Path, *, calls: bool) -> tuple[dict[str, str], int]:
    """``t-failed``'s logged texts of ``bundle``, and the pass's peak of traced memory."""
    tracemalloc.start()
    try:
        _, texts = logged_texts(bundle, {"t-failed"}, calls=calls)
        return texts, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_unclaimed_error_events_are_not_all_held(tmp_path: Path) -> None:
    """``error`` events no failed turn claims (a stream error Codex retried, an error in a
    turn that went on) were each held to the end of the pass: a log of many held them all.
    A turn claims the last one since it started, so only the latest ``MOST_TEXTS`` are kept;
    the turn that failed last still reads its own."""
    errors = 20_000
    with BundleBuilder(tmp_path / "b") as b:
        b.event(ev.RolloutStarted("trace-1", b.root_thread_id))
        b.event(ev.CodexTurnStarted("t-ok", _THREAD), thread=_THREAD, turn="t-ok")
        ref = b.payload("protocol_event", {"type": "error", "message": "retried"})
        for _ in range(errors):
            b.event(ev.ProtocolEventObserved("error", ref))
        b.event(ev.CodexTurnEnded("t-ok", "completed"), thread=_THREAD, turn="t-ok")
        _closing(b, "t-ok", "completed", None)
        b.event(ev.CodexTurnStarted("t-failed", _THREAD), thread=_THREAD, turn="t-failed")
        said = b.payload("protocol_event", {"type": "error", "message": "the one that failed"})
        b.event(ev.ProtocolEventObserved("error", said))
        b.event(ev.CodexTurnEnded("t-failed", "failed"), thread=_THREAD, turn="t-failed")
        _closing(b, "t-failed", "failed", None)
    texts, peak = _texts_and_peak(b.root, calls=False)
    assert texts == {"t-failed": "the one that failed"}
    # every unclaimed error held: 13 MB at the peak for 20,000; 0.6 MB with the latest 1,000
    assert peak < 2 * 2**20, f"{peak:,} bytes at the peak"


def test_call_texts_are_bounded_and_cut(tmp_path: Path) -> None:
    """Every failed call's text was kept whole: a log of many failures with long errors held
    them all. The first ``MOST_TEXTS`` ids are kept (a later event of one of them still
    replaces its text), each cut as the view model cuts it."""
    from rollout_trace_sdk.view.item_text import MAX_ITEM_TEXT, MOST_TEXTS, cut

    long = "E" * (MAX_ITEM_TEXT + 5_000)
    with BundleBuilder(tmp_path / "b") as b:
        b.event(ev.RolloutStarted("trace-1", b.root_thread_id))
        for k in range(MOST_TEXTS + 50):
            b.event(ev.InferenceFailed(f"call-{k}", None, long if k == 0 else f"e{k}", None))
        b.event(ev.InferenceFailed("call-1", None, "replaced", None))
    texts, _ = logged_texts(b.root, set(), calls=True)
    assert len(texts) == MOST_TEXTS
    assert set(texts) == {f"call-{k}" for k in range(MOST_TEXTS)}
    assert texts["call-0"] == cut(long) and len(texts["call-0"]) < MAX_ITEM_TEXT + 40
    assert texts["call-1"] == "replaced"
    assert cut(texts["call-0"]) == texts["call-0"]  # cut again where shown: as it was


def test_a_line_whose_type_is_not_a_string_is_passed_over(tmp_path: Path) -> None:
    """A state file read with its bundle may be older than a line the reducer would refuse:
    one whose payload's type is an object holding a marker was looked up in the set of
    failure events and raised (``show state.json``, ``summary``, ``view``: an internal
    error; fuzz28). It is passed over; the lines around it still say why."""
    with BundleBuilder(tmp_path / "b") as b:
        b.event(ev.RolloutStarted("trace-1", b.root_thread_id))
        b.event(ev.InferenceFailed("call-1", None, "it failed", None))
    with (b.root / "trace.jsonl").open("ab") as log:
        for marker in ("inference_failed", "codex_turn_ended", "error"):
            log.write(b'{"payload": {"type": {"%s": 1}, "codex_turn_id": "t"}}\n' % marker.encode())
    assert logged_texts(b.root, {"t"}, calls=True) == ({"call-1": "it failed"}, {})


@pytest.mark.anyio
@pytest.mark.parametrize("schema", [2, 3])
async def test_what_cancelled_a_turn_or_a_call_is_said_where_its_text_is(
    tmp_path: Path, schema: int, anyio_backend: Any
) -> None:
    """The recorder's ``cancel_cause`` events (``record/_cancel_cause``) read back: a tool
    call its own deadline cut off while its turn went on reads ``aborted: deadline
    exceeded`` (it read ``aborted``), a turn a deadline interrupted ``interrupted (deadline
    exceeded)`` and a call it cut off ``aborted: its turn was interrupted (deadline
    exceeded)``, in show, the page's records, summary and the exports' texts (user51: every
    cancellation read ``interrupted`` and nothing more)."""
    import anyio
    import orjson

    from rollout_trace_sdk.cli import main
    from rollout_trace_sdk.record import open_rollout
    from rollout_trace_sdk.view.error_texts import error_texts
    from rollout_trace_sdk.view.load import load_state

    from .conftest import plain_transcript

    async with open_rollout(tmp_path, model="m", schema_version=schema) as rollout:
        async with rollout.root.turn() as turn:
            with anyio.move_on_after(0.02):
                async with turn.tool_call("c1", "slow", arguments="{}"):
                    await anyio.sleep(5)
        with anyio.move_on_after(0.02):
            async with (
                rollout.root.turn() as turn,
                turn.tool_call("c2", "slower", arguments="{}"),
            ):
                await anyio.sleep(5)
    (bundle,) = tmp_path.glob("trace-*")
    text = plain_transcript(load_state(bundle))
    status = "aborted" if schema == 3 else "cancelled"
    in_turn = f"{status}: its turn was interrupted (deadline exceeded)"  # c2, with its turn
    assert f"error: {status}: deadline exceeded" in text  # c1, its turn went on
    assert f"error: {in_turn}" in text
    assert "cancelled: interrupted (deadline exceeded)" in text
    texts = error_texts(bundle)
    assert texts.tool_calls == {"c1": f"{status}: deadline exceeded", "c2": in_turn}
    assert list(texts.turns.values()) == ["interrupted (deadline exceeded)"]
    out = io.StringIO()
    assert main(["summary", str(bundle), "--json"], out=out, err=io.StringIO()) == 0
    failures = orjson.loads(out.getvalue())["failures"]
    said = {row.get("tool_call_id") or row["id"]: row["error"] for row in failures}
    assert said["c1"] == f"{status}: deadline exceeded"
    assert said["c2"] == in_turn  # as show says it (it read "aborted: deadline exceeded")
