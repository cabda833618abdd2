"""rollout_trace_sdk: record rollout traces of async agent loops as Codex-compatible bundles
(schema 2), and reduce them offline into the graph that explains what happened."""

from .model import DecodeError
from .record import (
    AgentThread,
    InferenceCall,
    RecorderWarning,
    Rollout,
    TokenUsage,
    ToolCall,
    Turn,
    agent_message,
    open_rollout,
    task_message,
)
from .reduce import ReduceError

__all__ = ["DecodeError", "ReduceError"]
__all__ += [
    "AgentThread",
    "InferenceCall",
    "RecorderWarning",
    "Rollout",
    "TokenUsage",
    "ToolCall",
    "Turn",
    "agent_message",
    "open_rollout",
    "task_message",
]
__version__ = "0.1.0"
