"""Every recording call that takes the agent's values, given the same JSON held in other
Python types (mappings that are no dict, pydantic models, dataclasses, sequences that are no
list, ``str`` and ``int`` subclasses, enum members): the bundle is the one plain JSON gives,
byte for byte but for ids and times, with no warning more, and the handles give back the
same items. Before, a dataclass item was no item (a tool's output recorded as its repr; a
``search``, a compaction request, a protocol event's body or an agent message refused), a
``UserList`` or another sequence was recorded as ``"<unserialisable ...>"`` (a request's
input as empty), a ``str``-subclass call id gave its output another id, an ``IntEnum`` exit
code was counted as mistyped, and a thread id given as a ``StrEnum`` made its statuses'
keys count as non-string keys."""

from __future__ import annotations

import dataclasses
import enum
import itertools
import keyword
import re
import subprocess
import sys
import uuid
import warnings
from collections import UserDict, UserList
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import pydantic
import pytest

from rollout_trace_sdk.record import open_rollout, task_message

from .held_forms import LazyTree, OtherMapping, OtherSequence, StrSubclass
from .recorder_support import bundle_in, check_bundle, loss_report, normalised_lines

pytestmark = pytest.mark.anyio

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
ANSWER = {
    "type": "message",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "yo"}],
}
CALL = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"q":[1]}'}
OUT = {"type": "function_call_output", "call_id": "c1", "output": "done"}
USAGE = {
    "input_tokens": 10,
    "input_tokens_details": {"cached_tokens": 2},
    "output_tokens": 5,
    "output_tokens_details": {"reasoning_tokens": 1},
    "total_tokens": 15,
}
TID = "0190b7c4-0000-7000-8000-000000000001"
CTID = "0190b7c4-0000-7000-8000-000000000002"

Hold = Callable[[Any], Any]


# --- the forms -------------------------------------------------------------------------------


class _Loose(pydantic.BaseModel):
    """A real pydantic model holding any fields."""

    model_config = pydantic.ConfigDict(extra="allow")


def _dataclass(data: dict[str, Any]) -> Any:
    if not all(k.isidentifier() and not keyword.iskeyword(k) for k in data):
        return data
    return dataclasses.make_dataclass("Held", list(data))(**data)


_names = itertools.count()


def _str_enum(text: str) -> Any:
    return enum.StrEnum(f"S{next(_names)}", {"A": text}).A  # type: ignore[attr-defined]


def _int_enum(number: int) -> Any:
    return enum.IntEnum(f"I{next(_names)}", {"A": number}).A  # type: ignore[attr-defined]


def _held(
    on_dict: Callable[[dict[str, Any]], Any] | None = None,
    on_list: Callable[[list[Any]], Any] | None = None,
    on_str: Callable[[str], Any] | None = None,
    on_int: Callable[[int], Any] | None = None,
) -> Hold:
    """``value`` with its dicts, lists, strings and integers (keys aside) rewrapped, at
    every depth."""

    def hold(value: Any) -> Any:
        if value.__class__ is dict:
            inner = {k: hold(v) for k, v in value.items()}
            return on_dict(inner) if on_dict else inner
        if value.__class__ is list:
            items = [hold(v) for v in value]
            return on_list(items) if on_list else items
        if value.__class__ is str and on_str:
            return on_str(value)
        if value.__class__ is int and on_int:
            return on_int(value)
        return value

    return hold


FORMS: dict[str, Hold] = {
    "mapping": _held(on_dict=OtherMapping),
    "model": _held(on_dict=lambda d: _Loose(**d)),
    "dataclass": _held(on_dict=_dataclass),
    "sequence": _held(on_list=OtherSequence),
    "userlist": _held(on_list=UserList),
    "str-subclass": _held(on_str=StrSubclass),
    "str-enum": _held(on_str=_str_enum),
    "int-enum": _held(on_int=_int_enum),
}


# --- the recording calls ---------------------------------------------------------------------


async def _accept(root: Path, schema: int, h: Hold) -> list[Any]:
    async with open_rollout(root, schema_version=schema) as r, r.root.turn() as turn:
        return turn.accept(h(USER), h(ANSWER), h(OUT))


async def _inference(root: Path, schema: int, h: Hold) -> list[Any]:
    request = {"model": "m", "input": [USER], "tools": [{"type": "function", "name": "f"}]}
    async with open_rollout(root, schema_version=schema) as r, r.root.turn() as turn:
        async with turn.inference(h(request), model=h("m")) as call:
            back = call.completed(
                response_id=h("resp_1"), output_items=h([ANSWER, CALL]), token_usage=h(USAGE)
            )
        async with turn.inference(h([USER])) as call:
            call.failed(h("boom"), partial_items=h([ANSWER]))
    return back


async def _chat(root: Path, schema: int, h: Hold) -> list[Any]:
    messages = [
        {"role": "system", "content": "be"},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ]
    answer = {"role": "assistant", "content": "done", "reasoning_content": "think"}
    response = {"id": "x", "choices": [{"index": 0, "message": answer}], "usage": USAGE}
    async with (
        open_rollout(root, schema_version=schema) as r,
        r.root.turn() as turn,
        turn.inference(h({"model": "m", "messages": messages})) as call,
    ):
        return call.completed(output_items=h(response))


async def _tool(root: Path, schema: int, h: Hold) -> list[Any]:
    custom = {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "x"}
    async with open_rollout(root, schema_version=schema) as r, r.root.turn() as turn:
        async with turn.inference([USER]) as call:
            call.completed(output_items=[CALL, custom])
        async with turn.tool_call(h("c1"), h("f"), arguments=h({"q": [1]})) as tool:
            back = [tool.completed(h(OUT))]
        async with turn.tool_call(h("c2"), h("apply_patch"), input=h("x")) as tool:
            output = {"type": "custom_tool_call_output", "call_id": "c2", "output": "bad"}
            back.append(tool.failed(h("bad"), output_item=h(output)))
        async with turn.tool_call("c3", "tool_search", search=h({"query": "x", "n": 3})) as tool:
            tool.completed(None)
        async with turn.tool_call("c4", "local_shell", command=h(["echo", "x"])) as tool:
            tool.runtime_started(h({"v": [1, "a"]}))
            tool.runtime_ended(h({"v": [1, "a"]}), status=h("completed"))
            tool.completed_value(h({"r": [1, 2, "x"]}))
    return back


async def _exec_and_mcp(root: Path, schema: int, h: Hold) -> list[Any]:
    parsed = [{"type": "list_files", "cmd": "ls", "path": None}]
    async with open_rollout(root, schema_version=schema) as r, r.root.turn() as turn:
        async with turn.tool_call("c1", "exec_command", arguments='{"cmd":"ls"}') as tool:
            session = tool.exec_started(
                h(["bash", "-lc", "ls"]), process_id=h(7), cwd=h("/w"), parsed_cmd=h(parsed)
            )
            session.exited(h(2), h("out"))
        async with turn.tool_call("c2", "mcp__s__t", arguments="{}") as tool:
            mcp = tool.mcp(h("s"), h("t"), h({"a": [1, {"b": "c"}]}))
            mcp.meta(h({"k": "v"}))
            mcp.completed(h({"content": [{"type": "text", "text": "hi"}], "isError": False}))
        async with turn.tool_call("c3", "exec", input="text(1)") as tool:
            cell = tool.code_cell(h("1"), h("text(1)"))
            async with cell.tool_call(
                h("c4"), h("f"), runtime_tool_id=h("t1"), arguments=h({"v": [1]})
            ) as inner:
                inner.completed_value(h({"ok": True, "n": 3}))
            cell.yielded(h([{"type": "input_text", "text": "a"}]))
            cell.finished(h([{"type": "input_text", "text": "b"}]), error_text=h("e"))
        r.root.protocol_event(h("custom"), h({"v": [1, "x"]}))
    return []


async def _agents(root: Path, schema: int, h: Hold) -> list[Any]:
    spawn = '{"message":"go","task_name":"w"}'
    async with (
        open_rollout(root, schema_version=schema, thread_id=h(TID)) as r,
        r.root.turn() as turn,
    ):
        async with turn.tool_call("c1", "spawn_agent", arguments=spawn) as tool:
            child = tool.spawn_agent(h("w"), nickname=h("Nick"), thread_id=h(CTID))
            tool.completed({"type": "function_call_output", "call_id": "c1", "output": "ok"})
        async with child.turn() as child_turn:
            child_turn.accept_agent_message(h(task_message(child.agent_path, "/root", "go")))
            result = child_turn.report_result(h("done"), status=h("completed"))
        async with turn.tool_call("c3", "wait_agent", arguments='{"targets":["w"]}') as tool:
            tool.wait_started(h([child]))
            tool.wait_ended(h({child.thread_id: {"completed": "done"}}))
        return [turn.accept_agent_message(h(result))]


async def _compaction(root: Path, schema: int, h: Hold) -> list[Any]:
    async with open_rollout(root, schema_version=schema) as r, r.root.turn() as turn:
        compaction = turn.compaction(h("comp-1"))
        async with compaction.request(h({"model": "m", "input": [USER]})) as request:
            out = request.completed(h([ANSWER]))
        back = compaction.installed(input_history=h([USER]), replacement_history=h([USER, *out]))
    return [*out, *back]


async def _thread_ids(root: Path, schema: int, h: Hold) -> list[Any]:
    async with open_rollout(root, schema_version=schema, thread_id=h(TID)) as r:
        child = r.root.spawn("w", thread_id=h(CTID))
        async with child.turn() as turn:
            turn.accept(USER)
    return [r.root.thread_id, child.thread_id]


SITES = {
    fn.__name__.lstrip("_"): fn
    for fn in (
        _accept,
        _inference,
        _chat,
        _tool,
        _exec_and_mcp,
        _agents,
        _compaction,
        _thread_ids,
    )
}

_DURATION = re.compile(rb'"duration":\s*\{[^}]*\}')


def _as_json(value: Any) -> Any:
    """What a handle gave back, as plain JSON."""
    if isinstance(value, pydantic.BaseModel):
        return _as_json(value.model_dump())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _as_json(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str.__str__(k): _as_json(v) for k, v in value.items()}
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, Sequence):
        return [_as_json(v) for v in value]
    return value


async def _recorded(root: Path, schema: int, site: str, hold: Hold) -> tuple[Any, ...]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        back = await SITES[site](root, schema, hold)
    lines = [_DURATION.sub(b'"duration":{}', line) for line in normalised_lines(bundle_in(root))]
    return _as_json(back), lines, [str(w.message) for w in caught]


@pytest.mark.parametrize("site", sorted(SITES))
async def test_a_call_records_the_json_its_values_hold(
    tmp_path: Path, schema: int, site: str
) -> None:
    """Each form in turn, against the plain JSON's bundle (which both reducers read)."""
    as_json = await _recorded(tmp_path / "json", schema, site, lambda value: value)
    check_bundle(bundle_in(tmp_path / "json"), tmp_path)
    differ = {}
    for form, hold in FORMS.items():
        held = await _recorded(tmp_path / form, schema, site, hold)
        if held != as_json:
            differ[form] = next(
                (what, mine, theirs)
                for what, mine, theirs in zip(
                    ("returned", "lines", "warnings"), held, as_json, strict=True
                )
                if mine != theirs
            )
    assert not differ, differ


@dataclasses.dataclass(slots=True)
class _Unfinished:
    """A ``slots`` dataclass whose field has no value yet: orjson's own writer kills the
    process on it (a segmentation fault, orjson 3.13.0), and its ``repr`` raises."""

    name: str = "n"
    late: int = dataclasses.field(init=False)


#: Each of the agent's values of one kind (or a new key of every dict) as an unfinished
#: dataclass. (Compaction's harness spreads what ``completed`` returns: with its list of items
#: not a list, the call fails, counted, and returns ``None``.)
UNREADABLE: dict[str, Hold] = {
    "dict": _held(on_dict=lambda d: _Unfinished()),
    "list": _held(on_list=lambda items: _Unfinished()),
    "str": _held(on_str=lambda text: _Unfinished()),
    "int": _held(on_int=lambda number: _Unfinished()),
    "inner": _held(on_dict=lambda d: {**d, "u": _Unfinished()}),
}


def _recorded_apart(name: str, root: Path, schema: int) -> subprocess.CompletedProcess[str]:
    """Run this module's recording function ``name`` in a child process (what these tests
    find killed the process that ran it)."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; from tests.record.test_recorder_held_values import {name};"
            f" {name}(sys.argv[1], int(sys.argv[2]))",
            str(root),
            str(schema),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def record_unreadable(root: str, schema: int) -> None:
    """Every recording call with each form of :data:`UNREADABLE` (run in a child process by
    the test below: what failed here before ended the process)."""
    import anyio

    warnings.simplefilter("ignore")
    for site, form in itertools.product(SITES, UNREADABLE):
        if (site, form) != ("compaction", "list"):
            anyio.run(SITES[site], Path(root) / f"{site}-{form}", schema, UNREADABLE[form])


def test_a_value_nothing_can_read_never_ends_the_agent(tmp_path: Path, schema: int) -> None:
    """Each value the agent hands over (each dict, list, string or integer, at any depth)
    given as a dataclass nothing can read: every call returns and both reducers read each
    bundle alike. Before, 22 of 40 call-group x form pairs killed the process (orjson wrote
    the dataclass itself: a segmentation fault) and 3 raised into the agent (a warning's
    text held the value's ``repr``, which raises)."""
    done = _recorded_apart("record_unreadable", tmp_path, schema)
    assert done.returncode == 0, done.stderr[-3000:]
    bundles = sorted(tmp_path.iterdir())
    assert len(bundles) == len(SITES) * len(UNREADABLE) - 1
    for bundle in bundles:
        check_bundle(bundle_in(bundle), tmp_path)


@pytest.mark.parametrize(
    "form", [uuid.UUID, StrSubclass, _str_enum], ids=["UUID", "subclass", "enum"]
)
async def test_a_thread_id_is_the_uuid_it_names(tmp_path: Path, schema: int, form: Any) -> None:
    """A thread id given as a ``uuid.UUID`` was refused ("not a UUID") and another drawn;
    one given as a ``str`` subclass was kept as that subclass (its statuses' keys then
    counted as non-string keys). Both are the id's text, a plain string."""
    as_json = await _recorded(tmp_path / "json", schema, "thread_ids", lambda value: value)
    held = await _recorded(tmp_path / "held", schema, "thread_ids", _held(on_str=form))
    assert held == as_json
    assert as_json[0] == [TID, CTID]
    ids = await _thread_ids(tmp_path / "raw", schema, _held(on_str=form))
    assert [text.__class__ for text in ids] == [str, str]


# --- values whose reading has no end ---------------------------------------------------------


class _Reads:
    """How many items the values below gave; past ``limit`` they raise (the test's stop,
    where the recorder read on without end before)."""

    def __init__(self, limit: int = 100_000) -> None:
        self.count = 0
        self.limit = limit

    def one(self) -> None:
        self.count += 1
        if self.count > self.limit:
            raise RuntimeError("read without end")


class _Lazy(Sequence[Any]):
    """A sequence making its items as they are read: ``range``-like, claiming ``size``;
    ``endless``: its ``__getitem__`` never raises ``IndexError``; ``cyclic``: each item is
    the sequence itself."""

    def __init__(self, reads: _Reads, size: int, *, endless: bool = False, cyclic: bool = False):
        self.reads, self.size, self.endless, self.cyclic = reads, size, endless, cyclic

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: Any) -> Any:
        self.reads.one()
        if not self.endless and index >= self.size:
            raise IndexError(index)
        return self if self.cyclic else index


@dataclasses.dataclass(eq=False)
class _Node:
    """A tree node pointing at its parent, as trees often do."""

    name: str
    parent: _Node | None = None
    children: list[_Node] = dataclasses.field(default_factory=list)


def _tree() -> _Node:
    root = _Node("root")
    root.children = [_Node("a", root), _Node("b", root)]
    return root


async def test_values_without_end_are_recorded_with_bounded_work(
    tmp_path: Path, schema: int
) -> None:
    """A ``range`` of 10**12 items or a lazy sequence claiming more than the recorder reads
    (``record._held``), one whose items never end, and values holding themselves (a
    sequence its own item, a dataclass tree's parent pointers) as a request's content, a
    tool's output and its value: every call returns having read a bounded number of items,
    the overlong and endless ones recorded as objects, the cycles as cycles (each counted),
    and both reducers read the bundle. Before, the lazy ones were read whole or forever,
    and each cycle walked each level's items again at every level (2**50 walks and more)."""
    reads = _Reads()
    huge = _Lazy(reads, 10**12)
    endless = _Lazy(reads, 3, endless=True)
    cyclic = _Lazy(reads, 2, cyclic=True)
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}
    part = {"type": "input_text", "text": "y", "extra": [huge, endless, cyclic, range(10**12)]}
    asked = {"type": "message", "role": "user", "content": [part]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        async with open_rollout(tmp_path, schema_version=schema) as r, r.root.turn() as turn:
            async with turn.inference({"model": "m", "input": [user, asked]}) as call:
                call.completed(output_items=[CALL])
            async with turn.tool_call("c1", "f", arguments={"q": [1]}) as tool:
                tool.completed_value({"tree": _tree(), "lazy": cyclic})
            turn.accept({**OUT, "output": [cyclic, _tree()]})
    assert reads.count < 10_000  # (orjson dives its 254 levels into a cycle before it gives up)
    bundle = bundle_in(tmp_path)
    check_bundle(bundle, tmp_path)
    text = b"".join(normalised_lines(bundle))  # (the payloads too)
    for written in (b"<unserialisable _Lazy", b"<unserialisable range", b"<cycle: _Lazy>"):
        assert written in text
    assert b"<cycle: _Node>" in text
    report = loss_report(bundle)
    assert "object" in report and "cycle" in report, report


async def test_a_lazy_tree_is_recorded_with_bounded_work(tmp_path: Path, schema: int) -> None:
    """A sequence whose every item is a new sequence like it, two a node without end, as a
    tool's arguments, its output value and an accepted item's output: every call returns
    having made a bounded number of nodes (the first levels recorded, the rest marked and
    counted), and both reducers read the bundle. Before, each level was read node by node
    (2**100 nodes before the depth cut): the call never returned and the process took the
    machine's memory (killed after 40 minutes)."""
    made = [0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        async with open_rollout(tmp_path, schema_version=schema) as r, r.root.turn() as turn:
            async with turn.tool_call("c1", "f", arguments={"q": LazyTree(made)}) as tool:
                tool.completed_value({"tree": LazyTree(made)})
            turn.accept({**OUT, "output": [LazyTree(made)]})
    assert made[0] < 1_000_000  # LazyTree's own stop: reached, the walk had no bound
    bundle = bundle_in(tmp_path)
    check_bundle(bundle, tmp_path)
    text = b"".join(normalised_lines(bundle))
    assert b"<unserialisable LazyTree" in text and b"<truncated: nested deeper than" in text
    report = loss_report(bundle)
    assert "unserialisable objects" in report and "nested deeper" in report, report


#: (value of tests/record/exotic_values.py, call group, where it stands: see
#: tests/record/exotic_sweep.holder) pairs the sweep found ending, hanging or failing the
#: agent, or writing a bundle Codex refuses
_ODD_CASES: Final = (
    *((value, site, "inner") for value in ("dt-tz-raises", "model-clears") for site in SITES),
    *(("grows-parent", site, "tail") for site in ("tool", "exec_and_mcp")),
    ("list-lies", "inference", "list"),
    ("tuple-lies", "chat", "list"),
    ("dict-lies", "chat", "dict"),
    ("list-lies", "chat", "str"),
    ("str-lies", "thread_ids", "str"),
    ("dict-size-lies", "agents", "str"),
    ("float-extremes", "exec_and_mcp", "str"),
    ("float-extremes", "agents", "str"),
    ("int-lies", "exec_and_mcp", "str"),
    ("intenum-big", "agents", "inner"),
    ("dict-fibs", "inference", "dict"),
    ("dict-fibs", "compaction", "dict"),
    ("bytes-resized", "compaction", "str"),
    ("uuid-sub", "thread_ids", "str"),
)


def record_odd(root: str, schema: int) -> None:
    """Each of :data:`_ODD_CASES` (run in a child process by the test below): a call group
    that raises prints it."""
    import anyio

    from .exotic_sweep import holder
    from .exotic_values import EXOTIC

    warnings.simplefilter("ignore")
    for n, (value, site, form) in enumerate(_ODD_CASES):
        try:
            anyio.run(SITES[site], Path(root) / str(n), schema, holder(form, EXOTIC[value]))
        except BaseException as exc:
            print(f"{value} {site} {form}: {type(exc).__name__}: {exc}")


def test_a_value_that_lies_or_changes_its_holder_never_ends_the_agent(
    tmp_path: Path, schema: int
) -> None:
    """Values whose reading runs the agent's code, which raises, lies or changes the value
    being read (tests/record/exotic_values.py), where the sweep of every call group
    (tests/record/exotic_sweep.py) found a defect: every call returns and both reducers
    read each bundle alike. Before: a datetime whose zone raises, and a model emptying its
    container in ``model_dump``, killed the process at every call group (orjson ran them
    while writing); a command whose part's ``repr`` grew it never ended; an inference or
    compaction call that had failed raised the agent's error from its ``completed``, and
    a thread id that raises from ``bool`` or from ``str`` methods raised from
    ``open_rollout``; an MCP server's name, a process's cwd or an agent's nickname of
    another type than a string, and an ``IntEnum`` beyond 64 bits in an agent message,
    made Codex refuse the bundle, and so did a dict subclass whose own methods tell of
    other items than it holds (the recorder read them, orjson wrote the ones it holds), a
    compaction id whose text changes as it is read (each event wrote it again), and one
    thread id given to two threads."""
    done = _recorded_apart("record_odd", tmp_path, schema)
    assert (done.returncode, done.stdout) == (0, ""), done.stderr[-3000:]
    for n in range(len(_ODD_CASES)):
        check_bundle(bundle_in(tmp_path / str(n)), tmp_path)


async def test_data_held_in_memory_is_recorded_whole(tmp_path: Path, schema: int) -> None:
    """A tool's output value holding 150,000 ``UserDict`` in a ``UserList`` (data the agent
    holds, not made as it is read): recorded whole, nothing counted lost. The lazy tree's
    budget (``_held_tree.TREE_ITEMS``) ran out on it: 50,000 of them were recorded as
    ``"<unserialisable UserDict: ...>"`` and counted as unserialisable objects (1f3f7c1
    recorded them whole)."""
    held = UserList([UserDict({"i": i}) for i in range(150_000)])
    async with (
        open_rollout(tmp_path, schema_version=schema) as r,
        r.root.turn() as turn,
        turn.tool_call("c1", "f", arguments={"q": [1]}) as tool,
    ):
        tool.completed_value({"rows": held})
    bundle = bundle_in(tmp_path)
    check_bundle(bundle, tmp_path)
    assert loss_report(bundle) == ""
    text = b"".join(normalised_lines(bundle))
    assert b"<unserialisable" not in text and b"149999" in text
