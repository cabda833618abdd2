"""rollout_trace_sdk: record rollout traces of async agent loops as Codex-compatible bundles
(schema 2), and reduce them offline into the graph that explains what happened.

The public API is re-exported here. Names load on first use, so ``rollout-trace reduce`` does
not pay for the recorder and an agent that only records does not pay for the reducer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import DecodeError
    from .model.state import RolloutTrace
    from .record import (
        AgentThread,
        CodeCell,
        Compaction,
        CompactionRequest,
        InferenceCall,
        McpCall,
        RecorderWarning,
        Rollout,
        TerminalSession,
        TokenUsage,
        ToolCall,
        Turn,
        agent_message,
        open_rollout,
        task_message,
    )
    from .reduce import ReduceError, reduce_bundle, state_bytes

_HOMES = {
    "DecodeError": ".model",
    "RolloutTrace": ".model.state",
    "ReduceError": ".reduce",
    "reduce_bundle": ".reduce",
    "state_bytes": ".reduce",
    **{
        name: ".record"
        for name in (
            "AgentThread",
            "CodeCell",
            "Compaction",
            "CompactionRequest",
            "InferenceCall",
            "McpCall",
            "RecorderWarning",
            "Rollout",
            "TerminalSession",
            "TokenUsage",
            "ToolCall",
            "Turn",
            "agent_message",
            "open_rollout",
            "task_message",
        )
    },
}

__all__ = [
    "AgentThread",
    "CodeCell",
    "Compaction",
    "CompactionRequest",
    "DecodeError",
    "InferenceCall",
    "McpCall",
    "RecorderWarning",
    "ReduceError",
    "Rollout",
    "RolloutTrace",
    "TerminalSession",
    "TokenUsage",
    "ToolCall",
    "Turn",
    "agent_message",
    "open_rollout",
    "reduce_bundle",
    "state_bytes",
    "task_message",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
