"""The trace vocabulary: attrs classes and the one cattrs converter. No I/O lives here.

``codec`` (cattrs) and ``events`` load on first use, so a command that needs only
``model.layout`` (file names) does not pay for the converter; the reducer reads events through
``structure`` (the converter's own structure hooks, without cattrs) and never loads it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import codec as codec
    from . import events as events
    from .codec import DecodeError as DecodeError
    from .codec import converter as converter

__all__ = ["DecodeError", "codec", "converter", "events"]


def __getattr__(name: str) -> Any:
    if name in ("codec", "events"):
        return importlib.import_module(f".{name}", __name__)
    if name in ("DecodeError", "converter"):
        return getattr(importlib.import_module(".codec", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
