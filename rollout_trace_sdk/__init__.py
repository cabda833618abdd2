"""rollout_trace_sdk: record rollout traces of async agent loops as Codex-compatible bundles
(schema 2), and reduce them offline into the graph that explains what happened."""

from .model import DecodeError
from .reduce import ReduceError

__all__ = ["DecodeError", "ReduceError"]
__version__ = "0.1.0"
