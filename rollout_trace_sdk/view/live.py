"""Lenient notes of a bundle still being written that the writer is about to make untrue.

The recorder writes a batch's event lines and its payload records one after the other
(schema 3: records appended to the open shard, a zstd block flushed per batch). A reading in
between finds the log citing a payload its shard does not hold yet, and lenient reduction
notes ``missing payload raw_payload:N in shard S`` (or ``open shard``, for a shard whose file
is not there yet); a moment later the payload is there. ``view --serve`` reads a live bundle
on every change of its log, so it caught such moments and showed a missing payload that was
not missing.

Such a note is held back only while all of this holds: the recording is open (the state says
``unclosed``), the shard it names is the one still being written (the newest shard, not
sealed, or one past it) and the bundle changed in the last :data:`HOLD_S` seconds (a killed
recorder's bundle stays unclosed: its missing payloads are gone for good and are shown once
it has been still that long). A closed recording, a sealed shard, an older shard: the note
is shown at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import zstandard

from ..model import layout
from ..reduce.confined import BundleFiles
from ..reduce.errors import ReduceError
from ..reduce.shards import shard_of_note, shard_sealed
from .capture import recording_status

#: Seconds a bundle must stay unchanged before a held-back note is shown anyway: the
#: recorder writes a batch's payloads right after its lines, so a note that outlives this
#: names a payload that is not coming (a killed recorder, a disk that refused the write).
HOLD_S: Final = 10.0


def transient_notes(
    root: Path, state: Mapping[str, Any], notes: Sequence[str]
) -> tuple[list[str], tuple[str, ...]]:
    """The notes to hold back while the bundle is written, and the paths (relative to the
    bundle) whose next write may make them untrue: the shard being written and the payloads
    directory (a new shard); a reader watches them to read the bundle again.

    Args:
        root: the bundle directory.
        state: the state lenient reduction made of it.
        notes: what that reduction skipped.

    Returns:
        (notes to hold back, paths to watch); nothing is held when the recording has closed
        or the shards cannot be read (the notes are shown as they are).
    """
    named = [(note, shard_of_note(note)) for note in notes]
    if recording_status(state) not in ("unclosed", "recording") or all(
        shard is None for _, shard in named
    ):
        return [], ()
    try:
        with BundleFiles(root) as files:
            names = files.list_dir(layout.PAYLOADS_DIR, what="payload shards")
            numbers = [n for n in map(layout.shard_number, names) if n is not None]
            newest = max(numbers, default=0)
            sealed = False
            if newest:
                # its frames' headers only: decompressing the shard being written on each
                # reading cost 23-36 ms a 5 MiB shard, walking it under 1 ms
                raw = files.read_bytes(layout.shard_path(newest), what=f"payload shard {newest}")
                sealed = shard_sealed(raw)
    except (ReduceError, zstandard.ZstdError, OSError):
        return [], ()  # cannot tell: every note is shown
    # the shard being written: the newest while open, else the next one, not yet created
    writing = newest + 1 if sealed or not newest else newest
    held = [note for note, shard in named if shard is not None and shard >= writing]
    if not held:
        return [], ()
    return held, (layout.PAYLOADS_DIR, layout.shard_path(newest)) if newest else (
        layout.PAYLOADS_DIR,
    )
