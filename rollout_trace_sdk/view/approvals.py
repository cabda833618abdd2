"""Which Agents SDK tool calls waited for an approval, and how it was decided, from the
processor's ``agents_sdk_approval`` protocol events.

The SDK traces a call waiting for approval as a tool that returned ``None``; a run that
paused there ends with its call waiting, which the processor leaves running in the paused
run's bundle (``ToolCall.left_open``) with an event saying ``pending``; the run resumed from
its state runs it (``approved``) or answers it with the rejection (``rejected``), in the same
bundle or one of its own. Both reducers register the event and skip it, so the reduced state
says only that the call never ended: ``show``, the page and the exports read why from here
(``approval`` on the tool call: the latest status). Nothing is added to what Codex reduces.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from ..reduce.errors import ReduceError
from .guardrails import protocol_events
from .turn_errors import protocol_body

#: The event type, as the processor records it (``integrations/_agent_spans.approval``).
EVENT: Final = "agents_sdk_approval"
#: The key a tool call gets in the state (Codex's has none): the approval's status.
KEY: Final = "approval"
#: The statuses the processor records.
STATUSES: Final = frozenset({"pending", "approved", "rejected"})


def annotate_approvals(state: dict[str, Any], bundle: Path | None) -> None:
    """Give each tool call of ``state`` that waited for an approval its ``approval``:
    ``pending``, ``approved`` or ``rejected`` (the latest the log says, for a call of the
    thread the event names; ``pending`` only while the call never ended: an agent run as a
    tool's call waits on its agent's, and is run again without a decision of its own). A log
    or payload that cannot be read gives none."""
    tools = state.get("tool_calls")
    if bundle is None or not isinstance(tools, dict) or not tools:
        return
    from .payloads import PayloadReader  # here: it opens the bundle's payloads

    reader: PayloadReader | None = None
    try:
        for _, _, ref in protocol_events(bundle, EVENT):
            if reader is None:  # opened at the first event: most bundles have none
                reader = PayloadReader(bundle)
            body = protocol_body(reader, ref)
            call_id, status = body.get("tool_call_id"), body.get("status")
            tool = tools.get(call_id) if isinstance(call_id, str) else None
            if (
                isinstance(tool, dict)
                and isinstance(status, str)  # a list or an object: no decision, unhashable
                and status in STATUSES
                and tool.get("thread_id") == body.get("thread_id")
            ):
                tool[KEY] = status
        for tool in tools.values():  # waiting no more: it ran (the latest decision says how)
            if isinstance(tool, dict) and tool.get(KEY) == "pending" and not _running(tool):
                del tool[KEY]
    except ReduceError:  # the log (BundleFileError) or the payloads: what was read stays
        return
    finally:
        if reader is not None:
            reader.close()


def _running(tool: dict[str, Any]) -> bool:
    execution = tool.get("execution")
    return isinstance(execution, dict) and execution.get("status") == "running"
