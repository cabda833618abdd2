"""The reduced state the viewer's commands read: a bundle reduced now, or a ``state.json``
file, as plain JSON values (what :mod:`.model`, :mod:`.show` and the exports walk), with the
error texts Codex's state does not hold (and what tools answered that no request carried) put
back from the bundle."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ..reduce.errors import ReduceError
from ..reduce.liveness import log_is_live
from .capture import WRITER_LIVE_KEY

if TYPE_CHECKING:
    from ..reduce.bundle import Progress

__all__ = ["annotate_from_log", "bundle_state", "load_state", "mark_live", "read_state_bytes"]


def load_state(
    source: str | Path,
    *,
    lenient: bool = False,
    skipped: list[str] | None = None,
    progress: Progress | None = None,
) -> Any:
    """The reduced state of a bundle directory (reduced now) or of a ``state.json`` file.

    Args:
        source: a bundle directory or a state file.
        lenient: reduce what a crashed or still-running recorder left behind.
        skipped: receives lenient mode's notes.
        progress: told how far the reduction has read the log (``progress.reduction_progress``
            draws it); a state file is read with no call to it.

    Returns:
        The state as plain JSON values.

    Raises:
        ReduceError: the input cannot be read or is not a reduced state.
    """
    from ..reduce.failures import bundle_for

    path = Path(source)
    if path.is_dir():
        from ..reduce import reduce_bundle, state_bytes

        live = log_is_live(path)  # asked first: a writer closing meanwhile leaves it whole
        raw = state_bytes(reduce_bundle(path, lenient=lenient, skipped=skipped, progress=progress))
        # the trace is let go before the state is parsed: both at once were the peak of
        # `view` on a large rollout (1.1 GB against 0.9 GB at `demo --scale 2000`)
        state = orjson.loads(raw)
        del raw
        return bundle_state(state, path, live)
    raw = read_state_bytes(str(source))
    try:
        state = orjson.loads(raw)
    except orjson.JSONDecodeError:
        from .state_shape import not_json

        raise not_json(raw, source) from None
    from .state_shape import refuse_unless_state

    refuse_unless_state(state, source)

    bundle = bundle_for(path)  # when the state sits in its bundle: what it holds put back
    return state if bundle is None else bundle_state(state, bundle, log_is_live(bundle))


def bundle_state(
    state: Any,
    bundle: Path,
    live: bool | None,
    known: dict[tuple[str, bytes], str] | None = None,
) -> Any:
    """``bundle``'s reduced state (parsed from ``state_bytes``, or its ``state.json``) as the
    viewer reads it: marked live when ``live`` (:func:`mark_live`, asked before the
    reduction), with the error texts, guardrails, agents run as tools' calls, approvals, the
    rollout's metadata and cut checkpoints read from the bundle put back (``known``: the tool results'
    texts read before, ``payloads.tool_result_texts``)."""
    from .payloads import annotate_tool_errors

    mark_live(state, live)
    annotate_tool_errors(state, bundle, known)
    annotate_from_log(state, bundle)
    return state


def annotate_from_log(state: Any, bundle: Path, *, checkpoints: bool = True) -> None:
    """Put in ``state`` what every reader of ``bundle``'s log takes from it, in one pass
    (``protocol_scan``: each read it whole for itself, four to six passes): the error texts
    of the calls, requests and turns that ended badly (``turn_errors``), the guardrails, the
    agents run as tools' calls, the rollout's metadata, the approvals and, with
    ``checkpoints``, the cut checkpoints. No reader with anything to look for: no pass."""
    from .agent_tools import agent_tools_reader
    from .approvals import approvals_reader
    from .checkpoints import checkpoints_reader
    from .guardrails import guardrails_reader
    from .protocol_scan import scan_log
    from .rollout_metadata import Metadata
    from .turn_errors import errors_reader

    scan_log(
        bundle,
        [
            errors_reader(state, bundle),  # first: a guardrail may take its turn's error
            guardrails_reader(state, bundle),
            agent_tools_reader(state, bundle),
            Metadata(bundle, state) if isinstance(state, dict) else None,
            approvals_reader(state, bundle),
            checkpoints_reader(state) if checkpoints else None,
        ],
    )


def mark_live(state: Any, live: bool | None) -> None:
    """Say in ``state`` that its bundle's recorder still holds the log (``recording``, not
    ``unclosed``: see :func:`.capture.recording_status`)."""
    if live and isinstance(state, dict):
        state[WRITER_LIVE_KEY] = True


def read_state_bytes(source: str) -> bytes:
    """The bytes of a state file the user named: a regular file only, opened without
    blocking (a FIFO or a device named here would hang or never end).

    Raises:
        ReduceError: the file cannot be opened or read, or is not a regular file.
    """
    from ..reduce.bundle import io_error_text

    try:
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ReduceError(f"read {source}", cause=io_error_text(exc), file=source) from None
    with open(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ReduceError(f"read {source}", cause="not a regular file", file=source)
        os.set_blocking(fd, True)
        try:
            return handle.read()
        except OSError as exc:
            raise ReduceError(f"read {source}", cause=io_error_text(exc), file=source) from None
