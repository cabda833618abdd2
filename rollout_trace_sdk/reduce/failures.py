"""Why inference calls failed, from the event log.

The reduced state keeps a failed or cancelled call's status but not its error text (Codex's
state has no field for it); the ``inference_failed`` / ``inference_cancelled`` events do. The
readers (``summary``, ``show``, the viewer) take the text from here when the bundle is at hand:
a bundle directory, or the bundle a ``state.json`` sits in.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

import orjson

from ..model.layout import EVENT_LOG, MANIFEST

_MARKERS: Final = (b'"inference_failed"', b'"inference_cancelled"')


def log_for(source: str | os.PathLike[str]) -> Path | None:
    """The event log of ``source`` (a bundle, or a state file inside one), if there is one."""
    path = Path(source)
    bundle = path if path.is_dir() else path.parent
    if not path.is_dir() and not (bundle / MANIFEST).is_file():
        return None
    log = bundle / EVENT_LOG
    return log if log.is_file() and not log.is_symlink() else None


def failure_texts(log: Path) -> dict[str, str]:
    """``inference_call_id`` → the error text (failed) or reason (cancelled), in log order.

    Lines are looked at only when they name one of the two events, so a large log costs one
    pass over its bytes. A log that cannot be read gives no texts (the caller shows the state
    as it is)."""
    texts: dict[str, str] = {}
    try:
        fd = os.open(log, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return texts
    with open(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return texts
        for line in handle:
            if not any(marker in line for marker in _MARKERS):
                continue
            try:
                payload = orjson.loads(line)["payload"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            if not isinstance(payload, dict):
                continue
            call_id = payload.get("inference_call_id")
            text = payload.get("error") if payload.get("type") == "inference_failed" else None
            text = text if text is not None else payload.get("reason")
            if isinstance(call_id, str) and isinstance(text, str):
                texts[call_id] = text
    return texts


def annotate_failures(state: dict[str, object], source: str | os.PathLike[str]) -> None:
    """Give each failed or cancelled inference call of ``state`` its ``error_text`` from the
    log of ``source`` (a key Codex's state does not have: only the readers use it)."""
    calls = state.get("inference_calls")
    if not isinstance(calls, dict):
        return
    log = log_for(source)
    texts = failure_texts(log) if log is not None else {}
    for call_id, text in texts.items():
        call = calls.get(call_id)
        if isinstance(call, dict):
            call["error_text"] = text
