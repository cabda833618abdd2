"""Reading payload bodies for the viewer, confined to the bundle directory.

The page asks for payloads by id; the id is looked up in the reduced state's ``raw_payloads``
map, so the only paths ever opened are ones the state names, and each is opened through the
reducer's confined reader (``reduce.confined.BundleFiles``): no absolute paths, no ``..``,
no symlink anywhere below the bundle root, regular files only, opened non-blocking so a FIFO
cannot hang the server. The viewer adds a size cap, since it holds a payload in memory to
send or embed it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from ..reduce.confined import BundleFileError, BundleFiles

#: Largest payload the viewer reads into memory (the page shows the reason past it).
MAX_PAYLOAD_BYTES: Final = 64 * 1024 * 1024


class PayloadRefused(Exception):
    """A payload the viewer will not read, with the reason (shown to the user)."""


class PayloadReader:
    """Confined, read-only access to one bundle's payload files (safe to share between the
    server's threads: reads are serialised, each is one open and one read)."""

    def __init__(self, root: str | Path) -> None:
        self._files = BundleFiles(root)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release the bundle's directory descriptors."""
        with self._lock:
            self._files.close()

    def path_of(self, state: Mapping[str, Any], payload_id: str) -> str:
        """The bundle-relative path the state gives for ``payload_id``.

        Raises:
            PayloadRefused: the state names no such payload.
        """
        payloads = state.get("raw_payloads")
        ref = payloads.get(payload_id) if isinstance(payloads, Mapping) else None
        path = ref.get("path") if isinstance(ref, Mapping) else None
        if not isinstance(path, str):
            raise PayloadRefused(f"the reduced state names no payload {payload_id!r}")
        return path

    def read_checked(self, payload_id: str, path: str) -> bytes:
        """The payload's bytes.

        Raises:
            PayloadRefused: the path leaves the bundle, crosses a symlink, is not a regular
                file, is too large, or cannot be read (the reason says which).
        """
        what = f"payload {payload_id}"
        try:
            with self._lock, self._files.open(path, what=what) as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > MAX_PAYLOAD_BYTES:
                    raise PayloadRefused(
                        f"{payload_id}: {path} is {size:,} bytes, over the viewer's "
                        f"{MAX_PAYLOAD_BYTES:,}-byte limit"
                    )
                return handle.read()
        except BundleFileError as exc:
            cause = f": {exc.cause}" if exc.cause else ""
            raise PayloadRefused(f"{exc.message}{cause}") from None
        except OSError as exc:
            raise PayloadRefused(f"{payload_id}: {path}: {os.strerror(exc.errno or 0)}") from None

    def read(self, payload_id: str, path: str) -> bytes | None:
        """The payload's bytes, or None when it is refused or unreadable."""
        try:
            return self.read_checked(payload_id, path)
        except PayloadRefused:
            return None
