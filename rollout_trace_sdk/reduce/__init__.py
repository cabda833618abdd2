"""Offline reducer: replays a finished bundle into the RolloutTrace graph. Imports only the model."""

from .errors import ReduceError

__all__ = ["ReduceError"]
