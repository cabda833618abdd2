"""``open_rollout(nickname=...)``: the root agent's display name, in its session metadata as
a spawned thread's is, so the reducers (``threads[...].nickname``) and every reader show the
root agent by name, not as ``/root`` (user49: five agents of an Agents SDK run all read
``/root``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout_trace_sdk.record import open_rollout

from ..codex_oracle import reduced_by_both
from .recorder_support import bundle_in, of_type, payload

pytestmark = pytest.mark.anyio


async def test_the_root_thread_carries_the_nickname_given(tmp_path: Path, schema: int) -> None:
    async with open_rollout(tmp_path, nickname="Router") as rollout:
        assert rollout.root.nickname == "Router"
        async with rollout.root.turn():
            pass
    bundle = bundle_in(tmp_path)
    [started] = of_type(bundle, "thread_started")
    metadata = payload(bundle, started["payload"]["metadata_payload"])
    assert metadata["nickname"] == "Router" and metadata["session_source"] == "exec"
    [thread] = reduced_by_both(bundle)["threads"].values()
    assert thread["nickname"] == "Router" and thread["agent_path"] == "/root"


async def test_without_a_nickname_the_root_has_none(tmp_path: Path) -> None:
    async with open_rollout(tmp_path) as rollout:
        assert rollout.root.nickname is None
    [thread] = reduced_by_both(bundle_in(tmp_path))["threads"].values()
    assert thread["nickname"] is None


@pytest.mark.parametrize("nickname", [5, b"Router", ["Router"]])
def test_a_nickname_that_is_not_text_is_refused_at_the_call(
    nickname: object, tmp_path: Path
) -> None:
    with pytest.raises(TypeError, match="nickname"):
        open_rollout(tmp_path, nickname=nickname)  # type: ignore[arg-type]
