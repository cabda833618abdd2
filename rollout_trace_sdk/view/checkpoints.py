"""A compaction whose checkpoint a capture limit cut: what it kept, said instead of "0 items".

Schema 3's capture limits (``max_payload_bytes``, ``max_bundle_bytes``; Codex's
``rollout_trace.max_payload_bytes`` / ``max_bytes``) may store a compaction's checkpoint
payload ``truncated`` or ``omitted``. The reducers then install the compaction with no input
and no replacement items, so every reader said ``0 items → 0``: a history replaced by
nothing, which is not what happened. The state does not link a compaction to its checkpoint
payload (only the log's ``compaction_installed`` does, with the payload's ``capture``), so the
log is read, for those lines alone, and only when a compaction holds no item.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from .capture import cut_status
from .protocol_scan import scan_log

#: The key :func:`annotate_cut_checkpoints` gives a compaction (one Codex's state does not
#: have: only the readers use it): its checkpoint payload's ``capture``.
CHECKPOINT_CAPTURE_KEY: Final = "checkpoint_capture"


def annotate_cut_checkpoints(state: dict[str, Any], bundle: Path | None) -> None:
    """Give each compaction of ``state`` whose checkpoint payload a capture limit cut its
    ``checkpoint_capture`` (the ``capture`` of the reference on its ``compaction_installed``
    line: status, original and retained bytes). The log is read only when a compaction holds
    no item (what the reducers install from a cut checkpoint), and only its
    ``compaction_installed`` lines are parsed; one that cannot be read gives none.

    Args:
        state: a reduced state as JSON values, changed in place.
        bundle: its bundle directory (None: a state file alone, nothing to read).
    """
    if bundle is not None:
        scan_log(bundle, [checkpoints_reader(state)])


def checkpoints_reader(state: dict[str, Any]) -> CutCheckpoints | None:
    """:func:`annotate_cut_checkpoints`'s share of a pass over the log (``protocol_scan``);
    None when every compaction holds an item (nothing to read)."""
    compactions = state.get("compactions")
    if not isinstance(compactions, dict):
        return None
    empty = {
        ident
        for ident, compaction in compactions.items()
        if isinstance(compaction, dict)
        and not compaction.get("input_item_ids")
        and not compaction.get("replacement_item_ids")
    }
    return CutCheckpoints(compactions, empty) if empty else None


class CutCheckpoints:
    """The ``compaction_installed`` lines of the compactions holding no item: each one's
    capture put in as its line goes by (a log that cannot be read: what was read stays)."""

    markers: Final = (b'"compaction_installed"',)

    def __init__(self, compactions: dict[str, Any], empty: set[str]) -> None:
        self.compactions, self.empty = compactions, empty

    def see(self, number: int, event: Mapping[str, Any], payload: Mapping[str, Any]) -> None:
        ident, ref = payload.get("compaction_id"), payload.get("checkpoint_payload")
        if isinstance(ident, str) and ident in self.empty and cut_status(ref) is not None:
            self.compactions[ident][CHECKPOINT_CAPTURE_KEY] = ref["capture"]  # type: ignore[index]

    def finish(self, whole: bool) -> None:
        pass


def checkpoint_words(compaction: Mapping[str, Any], *, short: bool = False) -> str | None:
    """What a compaction whose checkpoint was cut says instead of ``N items → M``
    (``checkpoint cut by a capture limit (2,000 of 7,246 bytes kept): its items unknown``),
    or None for one recorded whole, or one whose items the reducers still know. The page
    shows the same words (the view model carries them).

    Args:
        compaction: one of the state's compactions, as :func:`annotate_cut_checkpoints` left it.
        short: for a table's name column (``summary --thread``): ``checkpoint cut: 2,000 of
            7,246 B``.
    """
    capture = compaction.get(CHECKPOINT_CAPTURE_KEY)
    status = cut_status({"capture": capture})
    known = compaction.get("input_item_ids") or compaction.get("replacement_item_ids")
    if status is None or known or not isinstance(capture, Mapping):
        return None
    of, kept = capture.get("original_bytes"), capture.get("retained_bytes")
    size = (f"{of:,} B" if short else f"{of:,} bytes") if isinstance(of, int) else "its bytes"
    if status == "truncated" and isinstance(kept, int):
        if short:
            return f"checkpoint cut: {kept:,} of {size}"
        return f"checkpoint cut by a capture limit ({kept:,} of {size} kept): its items unknown"
    if short:
        return f"checkpoint left out: {size}"
    return f"checkpoint left out by a capture limit ({size}): its items unknown"
