"""Arguments the type hints do not allow, as agent code plausibly passes them (an exit code
still ``None``, a status word of its own, an id that is a number, ``None`` for a list): no
recording call raises into the agent, and the bundle still reduces, with our reducer and
Codex (schema 2 and 3). Each case raised or made a bundle neither reducer reads before the
handles were guarded (``record/_guard.py``) and event fields coerced (``record/_encode.py``).
Also the guards themselves: a failing call answers as the disabled twin, warnings made
errors stay out of the agent and name its line, ids used twice are made unique."""

from __future__ import annotations

import sys
import threading
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.record import RecorderWarning, Turn, open_rollout
from rollout_trace_sdk.record.tools import ToolCall

from .recorder_support import bundle_in, check_bundle, loss_report, of_type, user_message

pytestmark = pytest.mark.anyio

Case = Callable[[Turn], Awaitable[None]]


async def _exit_code_none(t: Turn) -> None:
    async with t.tool_call("c1", "exec_command", arguments='{"cmd":"sleep 9"}') as tool:
        tool.exec_started(["sleep", "9"], process_id=1).exited(None, "killed")  # type: ignore[arg-type]


async def _output_none(t: Turn) -> None:
    async with t.tool_call("c1", "exec_command", arguments='{"cmd":"ls"}') as tool:
        tool.exec_started(["ls"], process_id=1).exited(0, None)  # type: ignore[arg-type]


async def _exit_status_word(t: Turn) -> None:
    async with t.tool_call("c1", "exec_command", arguments='{"cmd":"ls"}') as tool:
        tool.exec_started(["ls"], process_id=1).exited(0, "o", status="success")  # type: ignore[arg-type]


async def _failed_none(t: Turn) -> None:
    async with t.inference([user_message("q")]) as call:
        call.failed(None)  # type: ignore[arg-type]


async def _model_not_text(t: Turn) -> None:
    async with t.inference([user_message("q")], model=["gpt"]) as call:  # type: ignore[arg-type]
        call.completed(output_items=[])


async def _runtime_status_word(t: Turn) -> None:
    async with t.tool_call("c1", "f", arguments="{}") as tool:
        tool.runtime_started({"x": 1})
        tool.runtime_ended({"x": 1}, status="ok")  # type: ignore[arg-type]


async def _call_id_a_number(t: Turn) -> None:
    async with t.tool_call(17, "f", arguments="{}") as tool:  # type: ignore[arg-type]
        tool.completed(None)


async def _thread_end_word(t: Turn) -> None:
    t.thread.spawn("w").end("done")  # type: ignore[arg-type]


async def _item_id_a_number(t: Turn) -> None:
    t.accept_item_id(12)  # type: ignore[arg-type]


async def _turn_end_word(t: Turn) -> None:
    async with t.thread.turn() as second:
        second.end("done")  # type: ignore[arg-type]


async def _protocol_body_text(t: Turn) -> None:
    t.thread.protocol_event("note", "some text")  # type: ignore[arg-type]


async def _report_a_number(t: Turn) -> None:
    child = t.thread.spawn("w")
    async with child, child.turn() as child_turn:
        child_turn.report_result(42)  # type: ignore[arg-type]


async def _custom_input_a_number(t: Turn) -> None:
    async with t.tool_call("c1", "exec", input=42) as tool:  # type: ignore[arg-type]
        tool.completed(None)


async def _cell_finished_none(t: Turn) -> None:
    async with t.tool_call("c1", "exec", input="x") as tool:
        tool.code_cell("1", "src").finished(None)  # type: ignore[arg-type]


async def _agent_message_none(t: Turn) -> None:
    t.accept_agent_message(None)  # type: ignore[arg-type]


async def _installed_none(t: Turn) -> None:
    t.compaction().installed(input_history=None, replacement_history=None)  # type: ignore[arg-type]


async def _exec_started_none(t: Turn) -> None:
    async with t.tool_call("c1", "exec_command", arguments="{}") as tool:
        tool.exec_started(None)  # type: ignore[arg-type]


async def _surrogate_turn_id(t: Turn) -> None:
    async with t.thread.turn(b"turn-\xff".decode("utf-8", "surrogateescape")) as second:
        second.accept(user_message("after"))


# found by newuser19 (a new user's loops written from the docs): each was recorded as nothing,
# or ignored, without a word


async def _usage_a_number(t: Turn) -> None:
    async with t.inference([user_message("q")]) as call:
        call.completed(output_items=[], token_usage=123)


async def _accept_a_string(t: Turn) -> None:
    t.accept("a user message as a bare string")


async def _response_after_its_turn_ended(t: Turn) -> None:
    async with t.thread.turn() as second, second.inference([user_message("q")]) as call:
        second.end("cancelled")  # the user interrupted; the stream still finished
        call.completed(output_items=[], token_usage={"input_tokens": 5})


async def _answered_twice(t: Turn) -> None:
    async with t.tool_call("c1", "exec_command", arguments='{"cmd":"ls"}') as tool:
        tool.completed({"type": "function_call_output", "call_id": "c1", "output": "first"})
        tool.completed({"type": "function_call_output", "call_id": "c1", "output": "second"})


async def _tool_answer_a_string(t: Turn) -> None:
    async with t.tool_call("c1", "exec_command", arguments='{"cmd":"ls"}') as tool:
        tool.completed("a b c")  # type: ignore[arg-type]


async def _cell_call_answer_a_string(t: Turn) -> None:
    async with t.tool_call("c1", "exec", input="tools.ls({})") as tool:
        cell = tool.code_cell("1", "tools.ls({})")
        async with cell.tool_call("c2", "ls", runtime_tool_id="tool-1", arguments="{}") as call:
            call.completed("a b c")  # type: ignore[arg-type]
        cell.finished([])
        tool.completed("done")  # type: ignore[arg-type]


CASES: dict[str, Case] = {
    name.lstrip("_"): case
    for name, case in dict(globals()).items()
    if name.startswith("_")
    and callable(case)
    and getattr(case, "__code__", None) is not None
    and case.__code__.co_flags & 0x80  # coroutine functions: the cases
}


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("name", sorted(CASES))
async def test_odd_arguments_neither_raise_nor_break_the_bundle(
    name: str, schema: int, tmp_path: Path
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            turn.accept(user_message("hello"))
            await CASES[name](turn)
    assert any(issubclass(w.category, RecorderWarning) for w in caught)
    bundle = bundle_in(tmp_path)
    state = check_bundle(bundle)
    assert state["threads"], "the rollout's events were lost"
    assert "recorded approximately" in loss_report(bundle), "not counted in the bundle"


async def test_a_status_word_is_recorded_as_the_status_it_names(tmp_path: Path) -> None:
    with pytest.warns(RecorderWarning, match="values of another type than the trace holds"):
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            await _thread_end_word(turn)
            await _turn_end_word(turn)
            await _exit_status_word(turn)
    bundle = bundle_in(tmp_path)
    assert [e["payload"]["status"] for e in of_type(bundle, "thread_ended")] == [
        "completed",
        "completed",
    ]
    assert [e["payload"]["status"] for e in of_type(bundle, "codex_turn_ended")] == [
        "completed",
        "completed",
    ]
    (runtime_end,) = of_type(bundle, "tool_call_runtime_ended")
    assert runtime_end["payload"]["status"] == "completed"


async def test_a_handle_call_that_fails_answers_as_the_disabled_twin(tmp_path: Path) -> None:
    with pytest.warns(RecorderWarning, match=r"Turn\.accept_agent_message failed"):
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            # the twin hands a mapping back as a dict; None it cannot: the answer is None
            assert turn.accept_agent_message(None) is None  # type: ignore[arg-type]
    assert "1 recording calls that failed" in loss_report(bundle_in(tmp_path))


@pytest.mark.filterwarnings(  # the busy turn and the workers' are left for the close to end
    "ignore:.*turns still open when the rollout closed:rollout_trace_sdk.record.RecorderWarning"
)
async def test_turns_end_while_worker_threads_open_and_close_tool_calls(tmp_path: Path) -> None:
    """``Turn.end`` walks the open handles on the loop thread while worker threads open and
    close theirs: it walked the live dict, which raised "dictionary changed size during
    iteration" into the agent and lost the turn's end."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # makes the window likely; it exists at any interval
    try:
        async with open_rollout(tmp_path) as rollout:
            thread = rollout.root
            busy = thread.turn()
            for i in range(3000):
                busy.tool_call(f"open{i}", "f", arguments="{}")
            stop = threading.Event()

            def worker(k: int) -> None:
                turn = thread.turn()
                n = 0
                while not stop.is_set():
                    turn.tool_call(f"w{k}_{n}", "f", arguments="{}").completed(None)
                    n += 1

            workers = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
            for w in workers:
                w.start()
            try:
                # recorded: a filter making it an error would be dropped by the recorder
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    for _ in range(40):
                        thread.turn().end()
                failed = [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)]
                assert failed == []  # a guarded failure fails
            finally:
                stop.set()
                for w in workers:
                    w.join()
    finally:
        sys.setswitchinterval(interval)
    ended = of_type(bundle_in(tmp_path), "codex_turn_ended")
    assert sum(e["payload"]["status"] == "completed" for e in ended) >= 40


async def _turn_id_twice(t: Turn) -> None:
    for _ in range(2):
        async with t.thread.turn("turn-1"):
            pass


async def _call_id_twice_in_a_thread(t: Turn) -> None:
    for _ in range(2):
        async with t.tool_call("call_0", "get_weather", arguments='{"city":"Oslo"}') as tool:
            tool.completed({"type": "function_call_output", "call_id": "call_0", "output": "sun"})


async def _call_id_in_a_child_thread_too(t: Turn) -> None:
    child = t.thread.spawn("worker")
    child_turn = child.turn()
    for turn in (t, child_turn):
        async with turn.tool_call("call_0", "get_weather", arguments='{"city":"Oslo"}') as tool:
            tool.completed({"type": "function_call_output", "call_id": "call_0", "output": "sun"})
    child_turn.end()


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize(
    "case", [_turn_id_twice, _call_id_twice_in_a_thread, _call_id_in_a_child_thread_too]
)
async def test_ids_used_twice_are_made_unique(case: Case, schema: int, tmp_path: Path) -> None:
    """An agent numbering its own turns per thread, a server numbering tool calls from zero
    in each response: both reducers refused the whole bundle ("duplicate codex turn start",
    "duplicate tool call start"). The second gets ``<id>#2``. A model-visible call id links
    one tool call in the rollout: a second tool call for it in the same thread keeps none, one
    in another thread links that thread's call, recorded as ``call_0#2`` (see
    ``test_call_ids.py``): the child's call also warns that it is recorded under ``#2``."""
    with pytest.warns(RecorderWarning, match="used twice|calls recorded under <id>#2"):
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            turn.accept(user_message("hello"))
            await case(turn)
    bundle = bundle_in(tmp_path)
    check_bundle(bundle)
    started = [e["payload"] for e in of_type(bundle, "codex_turn_started")]
    calls = [e["payload"] for e in of_type(bundle, "tool_call_started")]
    ids = [p["codex_turn_id"] for p in started] + [p["tool_call_id"] for p in calls]
    assert len(ids) == len(set(ids))
    assert any(i.endswith("#2") for i in ids)
    visible = [p["model_visible_call_id"] for p in calls]
    assert visible in ([], ["call_0", None], ["call_0", "call_0#2"])
    assert (visible == ["call_0", "call_0#2"]) == (case is _call_id_in_a_child_thread_too)
    assert "used twice in the rollout made unique" in loss_report(bundle)


async def test_a_failure_while_starting_leaves_a_disabled_rollout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault injected where the root thread is made (standing for any bug there): the
    agent got "Attempted to exit a cancel scope that isn't the current task's" from the
    writer's task group, left entered. Now the rollout is disabled and the next one works."""
    from rollout_trace_sdk.record import recorder

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected")

    with monkeypatch.context() as patched:
        patched.setattr(recorder, "AgentThread", broken)
        with pytest.warns(RecorderWarning, match="cannot start recording"):
            async with open_rollout(tmp_path / "a") as rollout:
                assert not rollout.enabled
                async with rollout.root.turn() as turn:
                    turn.accept(user_message("still runs"))
    async with open_rollout(tmp_path / "b") as rollout, rollout.root.turn() as turn:
        turn.accept(user_message("records"))
    check_bundle(bundle_in(tmp_path / "b"))


@pytest.mark.parametrize("name", ["agent_message_none", "protocol_body_text", "turn_end_word"])
async def test_warnings_made_errors_do_not_reach_the_agent(name: str, tmp_path: Path) -> None:
    """Under ``-W error`` (pytest's ``filterwarnings = error``) the warnings a recording
    call issues raised into the agent, and a warning raised inside ``Turn.end`` lost the
    turn's end."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with (
            open_rollout(tmp_path) as rollout,
            rollout.root.turn() as turn,
        ):
            turn.accept(user_message("hello"))
            await CASES[name](turn)
    bundle = bundle_in(tmp_path)
    check_bundle(bundle)
    assert all(e["payload"]["status"] == "completed" for e in of_type(bundle, "codex_turn_ended"))


def test_each_guard_takes_its_methods_parameters() -> None:
    """The guards are generated with each method's own parameters (no ``*args`` packing on
    the way in): the same names, kinds and defaults, so a call means what it meant."""
    import inspect

    from rollout_trace_sdk.record._handle import Emitter

    def live_classes(cls: type) -> list[type]:
        found = [cls]
        subclasses: list[type] = cls.__subclasses__()
        for sub in subclasses:
            found += live_classes(sub)
        return found

    checked = 0
    for cls in live_classes(Emitter):
        for name, value in vars(cls).items():
            wrapped = getattr(value, "__wrapped__", None)
            if name.startswith("_") or wrapped is None or not inspect.isfunction(value):
                continue
            guard = inspect.signature(value, follow_wrapped=False)
            assert guard == inspect.signature(wrapped), f"{cls.__name__}.{name}"
            checked += 1
    assert checked >= 30


async def test_a_failing_call_with_keywords_hands_them_to_the_twin(tmp_path: Path) -> None:
    """The failure path gathers the arguments again: the twin answers the same call."""
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        turn.thread._ids = None  # type: ignore[assignment]  # every id lookup now fails
        with pytest.warns(RecorderWarning, match="Turn.tool_call failed"):
            tool = turn.tool_call("c1", "exec_command", arguments={"cmd": "ls"})
        assert not tool.enabled
        with pytest.warns(RecorderWarning, match="Turn.accept failed"):
            items = turn.accept(user_message("a"), user_message("b"))
        assert items == [user_message("a"), user_message("b")]


async def test_the_calls_guarding_themselves_fail_as_guarded_calls(tmp_path: Path) -> None:
    """Turn.tool_call and ToolCall.completed are not wrapped (``_guard.guards_itself``): their
    own ``try`` warns, counts and answers as the disabled twin, as the wrapper would."""
    output = {"type": "function_call_output", "call_id": "c1", "output": "done"}
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        tool = turn.tool_call("c1", "exec_command", arguments={"cmd": "ls"})
        assert tool.enabled
        ids = turn.thread._ids
        turn.thread._ids = None  # type: ignore[assignment]  # every id lookup now fails
        with pytest.warns(RecorderWarning, match=r"ToolCall\.completed failed"):
            assert tool.completed(output) is output  # the twin hands the item back
        with pytest.warns(RecorderWarning, match=r"Turn\.tool_call failed"):
            assert not turn.tool_call("c2", "exec_command", arguments="{}").enabled
        turn.thread._ids = ids
    assert "2 recording calls that failed" in loss_report(bundle_in(tmp_path))


async def test_each_kind_of_warning_names_the_agents_line(tmp_path: Path) -> None:
    """A RecorderWarning is attributed to the agent's line, whichever path raised it: a
    failing call (through its guard), a misuse the handle notices, a value it had to change.
    With fixed ``stacklevel`` s they named a recorder module or a generated guard."""
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            turn.accept_agent_message(None)  # type: ignore[arg-type]  # fails: the guard says so
            line_failed = sys._getframe().f_lineno - 1
            scope = open_rollout(tmp_path / "other")
            async with scope:
                pass
            async with scope:  # entered again: a misuse the scope notices
                line_misuse = sys._getframe().f_lineno - 1
            async with turn.tool_call("c1", "exec_command", arguments={"cmd": "ls"}) as tool:
                tool.completed({"type": "function_call_output", "call_id": "c1", "output": {1, 2}})
                line_value = sys._getframe().f_lineno - 1
    found = {(Path(w.filename).name, w.lineno) for w in caught if w.category is RecorderWarning}
    here = Path(__file__).name
    assert {(here, line_failed), (here, line_misuse), (here, line_value)} <= found, found


def test_a_guard_keeps_positional_only_and_double_underscore_parameters() -> None:
    """Every guarded method today takes plain parameters, so two paths of the guard's code
    generator ran in no test (mutation audit): a positional-only parameter (its ``/`` kept,
    else the guard took a keyword the method refuses) and a parameter named like the
    generated code's own names (the generic wrapper). Each answers as the method does, and a
    failure warns and answers as the twin would (no twin here: ``None``)."""
    import inspect

    from rollout_trace_sdk.record._guard import _guarded

    def positional(self: Any, a: int, /, b: int = 2) -> int:
        if a < 0:
            raise ValueError("negative")
        return a + b

    def dunder(self: Any, __m: int) -> int:
        if __m < 0:
            raise ValueError("negative")
        return __m

    guard = _guarded("positional", positional)
    assert inspect.signature(guard, follow_wrapped=False) == inspect.signature(positional)
    with pytest.raises(TypeError):
        guard(object(), a=1)  # as the method itself refuses it
    for method in (positional, dunder):
        guard = _guarded(method.__name__, method)
        assert guard(object(), 1) == method(object(), 1)
        with pytest.warns(RecorderWarning, match=rf"object\.{method.__name__} failed"):
            assert guard(object(), -1) is None


def test_the_methods_that_guard_themselves_are_not_wrapped_again() -> None:
    """``Turn.tool_call`` and ``ToolCall.completed`` guard their bodies inline (every tool call
    makes both): the class guard must leave them as written. Wrapped again, they still
    behave, and cost a wrapper frame each call for nothing; no test saw it when
    ``guards_itself`` marked nothing (mutation audit mut40)."""
    for cls, name, module in ((Turn, "tool_call", "turns.py"), (ToolCall, "completed", "tools.py")):
        assert vars(cls)[name].__code__.co_filename.endswith(module), name
