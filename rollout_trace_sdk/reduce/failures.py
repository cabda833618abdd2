"""Why calls failed, from the event log.

The reduced state keeps a failed or cancelled call's status but not its error text (Codex's
state has no field for it); the ``inference_failed`` / ``inference_cancelled`` and
``compaction_request_failed`` events do. The readers (``summary``, ``show``, the viewer) take
the text from here when the bundle is at hand: a bundle directory, or the bundle a
``state.json`` sits in, through ``view.turn_errors``, whose reader of the log uses these rules
in the one pass every reader of the log shares (``view.protocol_scan``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from ..model.layout import MANIFEST

#: The statuses of an object that ended badly: every reader's (the exports, ``summary``, ``show``).
FAILED_STATUSES: Final = frozenset({"failed", "aborted", "cancelled"})
#: The events that carry an error text.
FAILURE_EVENTS: Final = frozenset(
    {"inference_failed", "inference_cancelled", "compaction_request_failed"}
)
#: The same, as their line spells the type.
MARKERS: Final = tuple(f'"{kind}"'.encode() for kind in sorted(FAILURE_EVENTS))


def bundle_for(source: str | os.PathLike[str]) -> Path | None:
    """The bundle of ``source`` (a bundle, or a state file inside one), if there is one."""
    path = Path(source)
    if path.is_dir():
        return path
    return path.parent if (path.parent / MANIFEST).is_file() else None


def note_failure(
    texts: dict[str, str],
    payload: Mapping[str, Any],
    *,
    most: int | None = None,
    keep: Callable[[str], str] = str,
) -> None:
    """Put the error text (failed) or reason (cancelled) of one of the :data:`FAILURE_EVENTS`
    in ``texts``, by its inference call or compaction request id (a later one replaces an
    earlier); any other event is passed over. ``turn_errors`` reads the log for turns and
    calls in one pass with it.

    Args:
        texts: the texts so far.
        payload: one event's payload.
        most: hold at most this many ids (None: no bound); a new id past it is passed over.
        keep: what is kept of a text (the readers cut it as they show it).
    """
    if payload.get("type") not in FAILURE_EVENTS:
        return
    ident = payload.get("inference_call_id") or payload.get("compaction_request_id")
    text = payload.get("error")
    text = text if isinstance(text, str) else payload.get("reason")
    if not (isinstance(ident, str) and isinstance(text, str)):
        return
    if most is None or ident in texts or len(texts) < most:
        texts[ident] = keep(text)


def failed(state: Mapping[str, Any], key: str) -> bool:
    """Whether one of the objects of the state's map ``key`` ended failed, cancelled or
    aborted (its text is then worth a pass over the log)."""
    objects = state.get(key)
    return isinstance(objects, Mapping) and any(
        isinstance(o, Mapping)
        and isinstance(o.get("execution"), Mapping)
        and o["execution"].get("status") in FAILED_STATUSES
        for o in objects.values()
    )


def put_texts(state: dict[str, object], texts: Mapping[str, str]) -> None:
    """Give the inference calls and compaction requests ``texts`` names their ``error_text``."""
    for key in ("inference_calls", "compaction_requests"):
        objects = state.get(key)
        if not isinstance(objects, dict):
            continue
        for ident, text in texts.items():
            obj = objects.get(ident)
            if isinstance(obj, dict):
                obj["error_text"] = text
