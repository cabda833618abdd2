"""rollout_trace_sdk: record rollout traces of async agent loops as Codex-compatible bundles,
and reduce them offline into the graph that explains what happened.

The public API is re-exported here from one table, :data:`_PUBLIC` (name → home module).
Names load on first use, so ``rollout-trace reduce`` does not pay for the recorder and an agent
that only records does not pay for the reducer.

What is public (the whole rule is in docs/architecture.md, "What is public"): the names in
``__all__`` below; the ``__all__`` of the modules users import by name (``record``,
``record.redact``, ``reduce``, ``testing``, ``integrations`` and its ``openai`` and ``agents``,
``export.parquet``, ``export.query``); the classes of ``rollout_trace_sdk.model.events`` and
``rollout_trace_sdk.model.state``; and the ``rollout-trace`` command. Everything else (any ``_private`` name, and every module not named
here) may change between releases.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Every public name and the module it lives in: the one list.
_PUBLIC: dict[str, str] = {
    "AgentThread": ".record",
    "CodeCell": ".record",
    "Compaction": ".record",
    "CompactionRequest": ".record",
    "DecodeError": ".model",
    "ErrorTexts": ".view.error_texts",
    "InferenceCall": ".record",
    "McpCall": ".record",
    "RecorderWarning": ".record",
    "RedactionConfig": ".record",
    "ReduceError": ".reduce",
    "Rollout": ".record",
    "RolloutTrace": ".model.state",
    "TerminalSession": ".record",
    "TokenUsage": ".record",
    "ToolCall": ".record",
    "Turn": ".record",
    "agent_message": ".record",
    "open_rollout": ".record",
    "set_process_budget": ".record",
    "diff_rollouts": ".view.diff_rollouts",
    "error_texts": ".view.error_texts",
    "reduce_bundle": ".reduce",
    "state_bytes": ".reduce",
    "task_message": ".record",
}

__all__ = [*_PUBLIC, "__version__"]

if TYPE_CHECKING:  # what type checkers see; tests/test_public_api.py keeps it equal to _PUBLIC
    from .model import DecodeError as DecodeError
    from .model.state import RolloutTrace as RolloutTrace
    from .record import AgentThread as AgentThread
    from .record import CodeCell as CodeCell
    from .record import Compaction as Compaction
    from .record import CompactionRequest as CompactionRequest
    from .record import InferenceCall as InferenceCall
    from .record import McpCall as McpCall
    from .record import RecorderWarning as RecorderWarning
    from .record import RedactionConfig as RedactionConfig
    from .record import Rollout as Rollout
    from .record import TerminalSession as TerminalSession
    from .record import TokenUsage as TokenUsage
    from .record import ToolCall as ToolCall
    from .record import Turn as Turn
    from .record import agent_message as agent_message
    from .record import open_rollout as open_rollout
    from .record import set_process_budget as set_process_budget
    from .record import task_message as task_message
    from .reduce import ReduceError as ReduceError
    from .reduce import reduce_bundle as reduce_bundle
    from .reduce import state_bytes as state_bytes
    from .view.diff_rollouts import diff_rollouts as diff_rollouts
    from .view.error_texts import ErrorTexts as ErrorTexts
    from .view.error_texts import error_texts as error_texts

    __version__: str


def _version() -> str:
    """The installed distribution's version: written once, in pyproject.toml."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rollout-trace-sdk")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
    else:
        home = _PUBLIC.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
