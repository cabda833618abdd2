"""Whether a ``function`` span that ended with no result waited for an approval or ran a tool
that returned ``None``.

openai-agents >= 0.24 traces both alike (no output, no error: the same spans), and a tool
that returned ``None`` and stopped its run (``tool_use_behavior="stop_on_first_tool"`` or
``StopAtTools``) ends the run as a paused one does: nothing traced tells them apart, so such a
call was recorded waiting for approval though it ran (agents51). The SDK's own value does:
the span ends inside ``_run_single_tool`` (``agents/run_internal/tool_execution.py``), whose
``result`` is then the ``FunctionToolResult`` whose ``run_item`` is the
``ToolApprovalItem`` for a call that waits, else what the tool returned. The processor's
callback runs in that frame's call (the SDK ends the span there and calls its processors
synchronously), so it is read there; without the user adding anything to their runs (the
``RunHooks``' ``on_tool_end`` tells too, but only when the user passes the hooks).

Read only: a frame not found (another SDK version, a span recorded later than it ended)
answers ``None``, unknown, and the call is recorded as before (waiting until its run goes on).
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any, Final

#: The SDK function whose ``span_fn`` is a function tool's span, and its result's name there.
_RUNNER: Final = "_run_single_tool"
#: How many callers up the SDK's frame may be (the processor's callback and the SDK's
#: processor fan-out between: about eight).
_DEPTH: Final = 32


def awaits_approval(span: Any) -> bool | None:
    """Whether the function tool span ``span``, ending now, waits for an approval (``True``)
    or ran its tool (``False``), as the SDK's ``_run_single_tool`` running it says; ``None``
    when no such frame ran it (unknown)."""
    frame = _caller()
    for _ in range(_DEPTH):
        if frame is None:
            return None
        if frame.f_code.co_name == _RUNNER and frame.f_locals.get("span_fn") is span:
            result = frame.f_locals.get("result")
            try:
                run_item = getattr(result, "run_item", None)
                return getattr(run_item, "type", None) == "tool_approval_item"
            except Exception:  # a tool's own value, whose attributes raise: it ran
                return False
        frame = frame.f_back
    return None


def _caller() -> FrameType | None:
    try:
        return sys._getframe(2)
    except ValueError:  # pragma: no cover - a stack that shallow calls no processor
        return None
