"""Reading payload bodies for the viewer, confined to the bundle directory.

The page asks for payloads by id; the id is looked up in the reduced state's ``raw_payloads``
map, so the only paths we ever open are ones the state names, and each is checked the way the
reducer checks them: no absolute paths, no ``..``, no symlink anywhere below the bundle root,
regular files only, opened non-blocking so a FIFO cannot hang the server.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
#: Largest payload the viewer reads into memory (the page shows a note past it).
MAX_PAYLOAD_BYTES: Final = 64 * 1024 * 1024


class PayloadRefused(Exception):
    """A payload the viewer will not read, with the reason (shown to the user)."""


class PayloadReader:
    """Confined, read-only access to one bundle's payload files."""

    def __init__(self, root: str | Path) -> None:
        self.root = os.path.realpath(root)

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
        parts = path.replace("\\", "/").split("/")
        if os.path.isabs(path) or "\x00" in path or any(p in ("", ".", "..") for p in parts):
            raise PayloadRefused(
                f"{payload_id}: refusing path {path!r} (not a plain path inside the bundle)"
            )
        current = self.root
        for part in parts[:-1]:
            current = os.path.join(current, part)
            try:
                mode = os.lstat(current).st_mode
            except OSError as exc:
                raise PayloadRefused(
                    f"{payload_id}: {path}: {os.strerror(exc.errno or 0)}"
                ) from None
            if not stat.S_ISDIR(mode):
                raise PayloadRefused(
                    f"{payload_id}: refusing {path!r}: {part!r} is not a directory inside the bundle"
                )
        full = os.path.join(current, parts[-1])
        try:
            fd = os.open(full, _FLAGS)
        except OSError as exc:
            raise PayloadRefused(f"{payload_id}: {path}: {os.strerror(exc.errno or 0)}") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise PayloadRefused(f"{payload_id}: refusing {path!r}: not a regular file")
            if info.st_size > MAX_PAYLOAD_BYTES:
                raise PayloadRefused(
                    f"{payload_id}: {path} is {info.st_size:,} bytes, over the viewer's {MAX_PAYLOAD_BYTES:,}-byte limit"
                )
            with open(fd, "rb", closefd=False) as handle:
                return handle.read()
        except OSError as exc:
            raise PayloadRefused(f"{payload_id}: {path}: {os.strerror(exc.errno or 0)}") from None
        finally:
            os.close(fd)

    def read(self, payload_id: str, path: str) -> bytes | None:
        """The payload's bytes, or None when it is refused or unreadable."""
        try:
            return self.read_checked(payload_id, path)
        except PayloadRefused:
            return None
