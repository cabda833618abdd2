"""rollout_trace_sdk._attrs_code: attrs' generated code for the package's classes, kept between
runs of the command line. Each run is a process of its own (classes are created once)."""

from __future__ import annotations

import marshal
import subprocess
import sys
from pathlib import Path

import orjson

_RUN = """
import sys, orjson, attrs
from pathlib import Path
from rollout_trace_sdk import _attrs_code
cache = _attrs_code.install(Path(sys.argv[1]))
from rollout_trace_sdk.model import events as ev, state as st
from rollout_trace_sdk.reduce import replay
from rollout_trace_sdk.model import structure

line = {"schema_version": 2, "seq": 1, "wall_time_unix_ms": 5, "rollout_id": "r",
        "thread_id": None, "codex_turn_id": None,
        "payload": {"type": "rollout_started", "trace_id": "t", "root_thread_id": "r"}}
event = structure.event_from_dict(line)

@attrs.frozen
class Other:  # not the package's: attrs compiles it as ever
    x: int

a, b = ev.RolloutStarted("t", "r"), ev.RolloutStarted("t", "r")
try:
    a.trace_id = "u"
    frozen = False
except attrs.exceptions.FrozenInstanceError:
    frozen = True
try:
    ev.RolloutStarted("t")
    checked = False
except TypeError:
    checked = True
print(orjson.dumps({
    "compiled": cache.compiled, "reused": cache.reused,
    "equal": a == b and hash(a) == hash(b) and a != ev.RolloutStarted("t", "s"),
    "repr": repr(a), "frozen": frozen, "checked": checked,
    "other": Other(1) == Other(1) and repr(Other(1)) == "Other(x=1)",
    "node": st.RolloutTrace.__init__.__code__.co_filename,
    "structured": event.payload == a and event.thread_id is None and event.seq == 1,
}).decode())
"""


def _run(path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _RUN, str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = orjson.loads(done.stdout.splitlines()[-1])
    return result


def test_the_second_run_reuses_every_class_code_and_behaves_the_same(tmp_path: Path) -> None:
    cache = tmp_path / "attrs.marshal"
    first = _run(cache)
    assert cache.is_file() and first["compiled"] and not first["reused"]
    second = _run(cache)
    assert (second["compiled"], second["reused"]) == (0, first["compiled"])
    for result in (first, second):
        assert result["equal"] and result["frozen"] and result["checked"] and result["other"]
        assert result["structured"]
        assert result["repr"] == "RolloutStarted(trace_id='t', root_thread_id='r')"
        assert (
            result["node"] == "<attrs generated methods rollout_trace_sdk.model.state.RolloutTrace>"
        )
    # the structure functions model.structure generates are kept alike
    _, entries = marshal.loads(cache.read_bytes())
    assert "<rollout_trace_sdk generated structure rollout_trace_sdk.model.events.TraceEvent>" in (
        entries
    )


def test_changed_source_is_compiled_again_and_junk_is_ignored(tmp_path: Path) -> None:
    cache = tmp_path / "attrs.marshal"
    compiled = _run(cache)["compiled"]
    stamp, entries = marshal.loads(cache.read_bytes())
    name = "<attrs generated methods rollout_trace_sdk.model.thread_events.RolloutStarted>"
    source, code = entries[name]
    entries[name] = (source.replace("root_thread_id", "root"), code)  # as if attrs changed
    cache.write_bytes(marshal.dumps((stamp, entries)))
    assert _run(cache)["compiled"] == 1
    assert _run(cache)["compiled"] == 0
    cache.write_bytes(marshal.dumps(("another Python", entries)))
    assert _run(cache)["compiled"] == compiled
    cache.write_bytes(b"junk")
    assert _run(cache)["compiled"] == compiled
    assert _run(cache)["compiled"] == 0


def test_a_cache_of_the_right_python_holding_other_shapes_is_ignored(tmp_path: Path) -> None:
    """Entries that are not (source, code) pairs (another version of this file's format,
    a file damaged in a way marshal still reads) are compiled again, never used: one that
    was not a pair stopped the command line with a TypeError in attrs' class creation
    (found by review22), and code that is no code object was run as source."""
    cache = tmp_path / "attrs.marshal"
    compiled = _run(cache)["compiled"]
    stamp, entries = marshal.loads(cache.read_bytes())
    names = sorted(entries)
    shapes: list[object] = [5, None, ("only the source",), (entries[names[0]][0], "not code")]
    shapes += [(entries[names[0]][0], entries[names[0]][1], "more")]
    cache.write_bytes(
        marshal.dumps((stamp, {name: shapes[n % len(shapes)] for n, name in enumerate(names)}))
    )
    result = _run(cache)
    assert result["compiled"] == compiled and not result["reused"]
    assert result["equal"] and result["frozen"] and result["checked"] and result["structured"]
    assert _run(cache)["compiled"] == 0


def test_the_default_cache_is_not_written_without_bytecode() -> None:
    """``python -B`` (or PYTHONDONTWRITEBYTECODE) writes no bytecode: nor this cache."""
    code = (
        "from rollout_trace_sdk import _attrs_code; c = _attrs_code.install(); "
        "print(c.write, c.path.parent.name)"
    )
    done = subprocess.run([sys.executable, "-B", "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["False", "__pycache__"], done.stderr


_FIRST = """
import builtins, sys, orjson
from pathlib import Path
from rollout_trace_sdk import _attrs_code
assert "attr" not in sys.modules
cache = _attrs_code.install(Path(sys.argv[1]))
import attrs

@attrs.define
class Checked:
    x: int = attrs.field(validator=attrs.validators.instance_of(int))

try:
    Checked("no")
    refused = False
except TypeError:
    refused = True
print(orjson.dumps({
    "compiled": cache.compiled, "reused": cache.reused, "refused": refused,
    "restored": builtins.compile is _attrs_code._compile,
    "validator": repr(attrs.validators.instance_of(int)),
}).decode())
"""


def test_attrs_own_classes_are_kept_when_it_loads_after_install(tmp_path: Path) -> None:
    """The command line installs the cache before anything loads attrs: the ~30 classes attrs
    builds as it is imported (its validators...) get their code kept too, and work alike."""
    cache = tmp_path / "attrs.marshal"
    runs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", _FIRST, str(cache)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        runs.append(orjson.loads(done.stdout.splitlines()[-1]))
    first, second = runs
    assert first["compiled"] >= 20 and not first["reused"]
    assert (second["compiled"], second["reused"]) == (0, first["compiled"])
    for run in runs:
        assert run["refused"] and run["restored"]
        assert run["validator"] == "<instance_of validator for type <class 'int'>>"
    _, entries = marshal.loads(cache.read_bytes())
    assert any(" attr.validators." in name for name in entries)
