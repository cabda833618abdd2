"""Hot path: recorder handles, snapshotting and the background bundle writer.

Open a rollout with :func:`open_rollout`; everything else is a handle it gives out:
threads (:class:`AgentThread`), turns (:class:`Turn`), inference calls, tool calls and what
runs under them.
"""

from ._budget import set_process_budget
from .code_cells import CodeCell
from .compactions import Compaction, CompactionRequest
from .inference import CALL_ID_HEADER, InferenceCall
from .items import TokenUsage, agent_message, final_answer_text, task_message
from .mcp import McpCall
from .recorder import ROOT_ENV_VARS, RolloutScope, open_rollout, trace_root_from_env
from .redact import RedactionConfig
from .rollout import Rollout
from .runtime import RecorderWarning
from .terminals import TerminalSession
from .threads import AgentThread
from .tools import ToolCall
from .turns import Turn

__all__ = [
    "CALL_ID_HEADER",
    "ROOT_ENV_VARS",
    "AgentThread",
    "CodeCell",
    "Compaction",
    "CompactionRequest",
    "InferenceCall",
    "McpCall",
    "RecorderWarning",
    "RedactionConfig",
    "Rollout",
    "RolloutScope",
    "TerminalSession",
    "TokenUsage",
    "ToolCall",
    "Turn",
    "agent_message",
    "final_answer_text",
    "open_rollout",
    "set_process_budget",
    "task_message",
    "trace_root_from_env",
]
