"""Offline reducer: replays a finished bundle into the RolloutTrace graph. Imports only the model.

The names below load on first use: ``reduce.errors`` or ``reduce.confined`` alone (as
``summary`` and the viewer's server need them) do not pull in the whole reducer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..model.state import RolloutTrace as RolloutTrace
    from ..model.state import state_bytes as state_bytes
    from .convert import convert_bundle as convert_bundle
    from .errors import ReduceError as ReduceError
    from .replay import reduce_bundle as reduce_bundle
    from .replay import replay_source as replay_source

_HOMES = {
    "ReduceError": ".errors",
    "convert_bundle": ".convert",
    "RolloutTrace": "..model.state",
    "reduce_bundle": ".replay",
    "replay_source": ".replay",
    "state_bytes": "..model.state",
}

__all__ = [
    "ReduceError",
    "RolloutTrace",
    "convert_bundle",
    "reduce_bundle",
    "replay_source",
    "state_bytes",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home, __name__), name)
