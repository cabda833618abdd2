"""Offline reducer: replays a finished bundle into the RolloutTrace graph. Imports only the model."""

from ..model.state import RolloutTrace, state_bytes
from .errors import ReduceError
from .replay import reduce_bundle, replay_source

__all__ = ["ReduceError", "RolloutTrace", "reduce_bundle", "replay_source", "state_bytes"]
