"""The trace vocabulary: attrs classes and the one cattrs converter. No I/O lives here."""

from . import codec, events
from .codec import DecodeError, converter

__all__ = ["DecodeError", "codec", "converter", "events"]
