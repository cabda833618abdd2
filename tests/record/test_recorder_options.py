"""``open_rollout``'s options: of the wrong type or a schema that cannot hold them, refused at the
call (the caller's own arguments, a ``TypeError`` or ``ValueError`` its author sees at once);
``ROLLOUT_TRACE_SCHEMA`` set wrong by an operator, warned about and never raised into the
agent."""

from __future__ import annotations

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
