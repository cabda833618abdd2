"""``open_rollout``'s options: of the wrong type or a schema that cannot hold them, refused at the
call (the caller's own arguments, a ``TypeError`` or ``ValueError`` its author sees at once);
``ROLLOUT_TRACE_SCHEMA`` set wrong by an operator, warned about and never raised into the
agent; the trace root from the environment, and a root that refuses every bundle."""

from __future__ import annotations

import errno
import os
import warnings
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.record import RecorderWarning, open_rollout

from .recorder_support import bundle_in, check_bundle, schema_of

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"max_payload_bytes": "100"}, TypeError),
        ({"max_payload_bytes": 10.5}, TypeError),
        ({"max_bundle_bytes": True}, TypeError),
        ({"max_queued_bytes": None}, TypeError),
        ({"close_timeout": float("nan")}, ValueError),
        ({"close_timeout": -1}, ValueError),
        ({"close_timeout": "5"}, TypeError),
        ({"write_timeout": 0}, ValueError),
        ({"write_timeout": float("inf")}, ValueError),
        ({"write_timeout": "5"}, TypeError),
        ({"overflow": "block"}, ValueError),
    ],
)
def test_options_of_the_wrong_type_are_refused_at_the_call(
    options: dict[str, Any], error: type[Exception], tmp_path: Path
) -> None:
    """Found later, in the writer, they stopped the recording (``"100"`` raised a cancel
    scope error into the agent, ``10.5`` lost every event without a count)."""
    with pytest.raises(error):
        open_rollout(tmp_path, schema_version=3, **options)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"schema_version": 4}, "schema_version must be 2 or 3"),
        ({"schema_version": 2, "max_payload_bytes": 9}, "need schema_version=3"),
    ],
)
def test_a_wrong_schema_argument_is_refused_at_the_call(
    options: dict[str, Any], problem: str, tmp_path: Path
) -> None:
    """The caller's own arguments: a ``ValueError`` its author sees at once."""
    with pytest.raises(ValueError, match=problem):
        open_rollout(tmp_path, **options)


@pytest.mark.parametrize(
    ("env", "caps", "written", "said"),
    [
        ("4", {}, 3, "must be 2 or 3"),
        ("two", {"max_payload_bytes": 100}, 3, "must be 2 or 3"),
        ("2", {"max_payload_bytes": 100}, 3, "ROLLOUT_TRACE_SCHEMA=2 ignored"),
        ("2", {"max_bundle_bytes": 1 << 20}, 3, "ROLLOUT_TRACE_SCHEMA=2 ignored"),
    ],
)
async def test_the_environment_never_makes_the_agent_fail(
    env: str,
    caps: dict[str, Any],
    written: int,
    said: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An operator's ``ROLLOUT_TRACE_SCHEMA`` raised ``ValueError`` into agent code that did
    nothing wrong: a value other than 2 or 3, or 2 where the call sets size caps (schema 3
    only), tracing on or off (found by review). It is warned about, and the schema the call
    can use is written: the caps keep bounding the bundle."""
    monkeypatch.setenv("ROLLOUT_TRACE_SCHEMA", env)
    with pytest.warns(RecorderWarning, match=said):
        async with open_rollout(tmp_path, **caps) as rollout, rollout.root.turn() as turn:
            turn.accept({"type": "message", "role": "user", "content": "hi " * 100})
    bundle = bundle_in(tmp_path)
    assert schema_of(bundle) == written
    check_bundle(bundle)
    with pytest.warns(RecorderWarning, match=said):
        open_rollout(None, enabled=False, **caps)


@pytest.mark.parametrize("variable", ["ROLLOUT_TRACE_ROOT", "CODEX_ROLLOUT_TRACE_ROOT"])
async def test_root_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.delenv("ROLLOUT_TRACE_ROOT", raising=False)
    monkeypatch.delenv("CODEX_ROLLOUT_TRACE_ROOT", raising=False)
    monkeypatch.setenv(variable, str(tmp_path / "traces"))
    async with open_rollout() as rollout:
        assert rollout.enabled
    assert bundle_in(tmp_path / "traces") == rollout.bundle_dir
    check_bundle(bundle_in(tmp_path / "traces"), tmp_path)


async def test_our_variable_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_TRACE_ROOT", str(tmp_path / "ours"))
    monkeypatch.setenv("CODEX_ROLLOUT_TRACE_ROOT", str(tmp_path / "codex"))
    async with open_rollout():
        pass
    assert bundle_in(tmp_path / "ours")
    assert not (tmp_path / "codex").exists()


async def test_a_root_that_refuses_every_bundle_warns_once(tmp_path: Path) -> None:
    """A service whose trace root cannot take bundles (read-only, full, not a directory)
    opens a rollout per request: each warning named the bundle it could not make, new each
    time, so Python's default filter showed it for every request (100 of 100 in review
    prod27's service). The same failure is now said in the same words: shown once."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            async with open_rollout(blocker) as rollout:
                assert not rollout.enabled
    issued = [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)]
    said = (
        f"rollout trace: cannot create a bundle under {blocker}: "
        f"[Errno {errno.ENOTDIR}] {os.strerror(errno.ENOTDIR)}; not recording"
    )
    assert issued == [said] * 3, issued  # one per rollout, in the same words


def _root_of_length(base: Path, length: int) -> Path:
    """A directory under ``base`` whose path has ``length`` characters (made)."""
    root = base
    while len(str(root)) < length:
        root = root / ("d" * min(200, length - len(str(root)) - 1))
    root.mkdir(parents=True)
    return root


async def test_a_root_too_long_for_payload_names_makes_no_bundle(
    tmp_path: Path, schema: int
) -> None:
    """A root so long that the bundle folder still fits the system's path length but its
    payload files do not: the bundle was made, its first payload write failed ("File name
    too long"), and the recording stopped there, the bundle left unreadable. Now no bundle
    is made and the rollout warns as for any root that cannot take one. A root a little
    shorter records whole."""
    path_max = os.pathconf(tmp_path, "PC_PATH_MAX")
    bundle_name = len("/trace-") + 2 * 36 + 1
    # the edge: a payload file of a 10-digit ordinal ("/payloads/" and 15 characters) must
    # fit PATH_MAX with its terminating NUL
    edge = path_max - bundle_name - len("/payloads/9999999999.json")
    for length, whole in (
        (path_max - bundle_name - 30, True),
        (edge - 1, True),
        (edge, False),
        (path_max - bundle_name - 17, False),
    ):
        root = _root_of_length(tmp_path / str(length), length)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            async with open_rollout(root) as rollout:
                rollout.root.protocol_event("note", {"n": 1})
        issued = [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)]
        if whole:
            assert issued == []
            check_bundle(bundle_in(root))
        else:
            assert len(issued) == 1 and "File name too long" in issued[0], issued
            assert not rollout.enabled and list(root.iterdir()) == []
