"""The ``fcntl`` module where the system has one, for the writer's lock on its log
(``record._files.lock_log``) and the readers' probe of it (``reduce.liveness``): one place
for the lazy import both layers share (the reducer never imports the recorder)."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def fcntl_module() -> Any:
    """The ``fcntl`` module, imported on first use; ``None`` where it does not exist
    (Windows): there is then no lock, and readers say ``unclosed`` as before."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    return fcntl
