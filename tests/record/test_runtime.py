"""What the recorder's runtime records of an exception a block leaves by
(``record/runtime.py``)."""

from __future__ import annotations

from pathlib import Path

import anyio
import orjson
import pytest

from rollout_trace_sdk.record import AgentThread, open_rollout, task_message

from .recorder_support import bundle_in, check_bundle, of_type, payload

pytestmark = pytest.mark.anyio


async def test_a_sub_agent_that_raised_is_named_in_the_group_it_failed(
    tmp_path: Path, schema: int
) -> None:
    """Sub-agents run in a task group under the parent's ``wait_agent`` call; one raises and
    its siblings are cancelled. The wait and the parent's turn were recorded failed with the
    group's own text alone, ``ExceptionGroup: unhandled errors in a TaskGroup (1
    sub-exception)`` (trio: ``Exceptions from Trio nursery``), which names nothing that
    failed (found by review user51). The group's text is followed by its leaves' (not the
    siblings' cancellations), as ``Type: message``."""

    async def child_run(child: AgentThread, name: str, fail: bool) -> None:
        async with child, child.turn() as turn:
            turn.accept_agent_message(task_message("/root", child.agent_path, name))
            async with turn.tool_call(f"{name}_c", "exec_command", arguments={"cmd": name}):
                if fail:
                    raise RuntimeError(f"{name} crashed")
                await anyio.sleep(5)

    with pytest.raises(BaseExceptionGroup):
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            children = []
            for i, name in enumerate(["alpha", "beta"]):
                arguments = {"task_name": name, "message": name}
                async with turn.tool_call(
                    f"spawn{i}", "spawn_agent", namespace="collaboration", arguments=arguments
                ) as tool:
                    children.append(tool.spawn_agent(name))
            async with turn.tool_call(
                "wait", "wait_agent", namespace="collaboration", arguments={"targets": []}
            ) as wait:
                wait.wait_started()
                async with anyio.create_task_group() as group:
                    group.start_soon(child_run, children[0], "alpha", False)
                    group.start_soon(child_run, children[1], "beta", True)
    bundle = bundle_in(tmp_path)
    check_bundle(bundle, tmp_path)
    errors = {
        e["payload"]["tool_call_id"]: payload(bundle, e["payload"]["result_payload"])
        for e in of_type(bundle, "tool_call_ended")
        if e["payload"].get("result_payload")
    }
    waited = errors["wait"]["error"]
    assert waited.startswith("ExceptionGroup: ") and "(1 sub-exception)" in waited, waited
    assert waited.endswith("sub-exception): RuntimeError: beta crashed"), waited
    assert errors["beta_c"]["error"] == "RuntimeError: beta crashed"  # no group: as before
    turn_errors = [
        payload(bundle, e["payload"]["event_payload"])
        for e in of_type(bundle, "protocol_event_observed")
        if e["payload"]["event_type"] == "error"
    ]
    assert "RuntimeError: beta crashed" in orjson.dumps(turn_errors).decode()
    assert "Cancelled" not in waited and "CancelledError" not in waited


def test_a_nested_group_names_its_first_three_leaves_and_counts_the_rest() -> None:
    """Nested groups are opened, in order; past three leaves the rest are counted, so a
    group of many failed sub-agents stays one line."""
    from rollout_trace_sdk.record.runtime import error_text

    inner = ExceptionGroup("inner", [ValueError("b"), KeyError("c")])
    group = ExceptionGroup("outer", [RuntimeError("a"), inner, OSError("d"), TypeError()])
    assert error_text(group) == (
        "ExceptionGroup: outer (4 sub-exceptions): "
        "RuntimeError: a; ValueError: b; KeyError: 'c'; 2 more"
    )
    assert error_text(ExceptionGroup("one", [RuntimeError("a")])) == (
        "ExceptionGroup: one (1 sub-exception): RuntimeError: a"
    )
