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

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from ..model.layout import APPROVAL_EVENT
from .protocol_scan import ProtocolEvents, scan_log

#: The event type, as the processor records it (``integrations/_agent_spans.approval``).
EVENT: Final = APPROVAL_EVENT
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
    if bundle is not None:
        scan_log(bundle, [approvals_reader(state, bundle)])


def approvals_reader(state: dict[str, Any], bundle: Path) -> Approvals | None:
    """:func:`annotate_approvals`'s share of a pass over the log (``protocol_scan``); None
    for a state with no tool call."""
    tools = state.get("tool_calls")
    return Approvals(bundle, tools) if isinstance(tools, dict) and tools else None


class Approvals(ProtocolEvents):
    """The approval events, put on their calls as their lines go by; once the log is read,
    a call waiting no more (it ran: the latest decision says how) loses its ``pending``."""

    def __init__(self, bundle: Path, tools: dict[str, Any]) -> None:
        super().__init__(bundle, EVENT)
        self.tools = tools

    def take(self, wall: int | None, seq: int | None, body: Mapping[str, Any]) -> None:
        call_id, status = body.get("tool_call_id"), body.get("status")
        tool = self.tools.get(call_id) if isinstance(call_id, str) else None
        if (
            isinstance(tool, dict)
            and isinstance(status, str)  # a list or an object: no decision, unhashable
            and status in STATUSES
            and tool.get("thread_id") == body.get("thread_id")
        ):
            tool[KEY] = status

    def finish(self, whole: bool) -> None:
        super().finish(whole)
        if not whole or self.broken:  # what was read stays, as it was read
            return
        for tool in self.tools.values():
            if isinstance(tool, dict) and tool.get(KEY) == "pending" and not _running(tool):
                del tool[KEY]


def _running(tool: dict[str, Any]) -> bool:
    execution = tool.get("execution")
    return isinstance(execution, dict) and execution.get("status") == "running"
