"""Why things failed, from Python: :func:`error_texts`, the texts of the exports' ``error_text``.

Codex's reduced state (a :class:`RolloutTrace`) keeps each call's status but no error text:
a failed tool call's error is in its output items, its terminal's stderr or its raw result
payload (``tool.failed(error)``), a failed model request's in the log. ``show``, ``summary``,
the page and the Parquet export already read them; without this function a script holding a
``RolloutTrace`` had no public way to ask why a tool call failed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..reduce.failures import FAILED_STATUSES, bundle_for
from .capture import capture_notes
from .item_text import cut, failed_tool_text

if TYPE_CHECKING:
    from ..model.state import RolloutTrace

__all__ = [
    "ErrorTexts",
    "ended_badly",
    "error_texts",
    "logged_error",
    "put_error_texts",
    "put_tool_errors",
    "tool_error",
]


@attrs.frozen(kw_only=True)
class ErrorTexts:
    """Why each object of a rollout that ended failed, cancelled or aborted did, by its id:
    the ``error_text`` columns of the Parquet export (docs/exports.md, "Why it failed"), so a
    script and a SQL query give the same answer. An object nothing explains is absent."""

    #: by ``tool_call_id``: output items, output preview, terminal stderr, the raw result's
    #: error, each once; else what stopped it (``aborted: its turn was interrupted``)
    tool_calls: Mapping[str, str]
    #: by ``inference_call_id``: ``inference_failed``'s error or ``inference_cancelled``'s reason
    inference_calls: Mapping[str, str]
    #: by ``compaction_request_id``: ``compaction_request_failed``'s error
    compaction_requests: Mapping[str, str]
    #: by ``codex_turn_id``: the closing ``turn_complete`` error, else the ``error`` before
    #: it; an interrupted turn's ``turn_aborted`` reason
    turns: Mapping[str, str]


def error_texts(bundle: str | os.PathLike[str], trace: RolloutTrace | None = None) -> ErrorTexts:
    """The error text of every tool call, model request, compaction request and turn of a
    rollout that ended badly, read where ``show`` reads them (the log, the raw result
    payloads, the state's output items and terminal results).

    Args:
        bundle: the bundle directory (or a ``state.json`` inside one).
        trace: its reduced state, if already reduced (``reduce_bundle(bundle)``, lenient or
            not); None reduces the bundle.

    Returns:
        The texts, each cut at 20,000 characters as the export and ``show --full`` cut them;
        bounded as the export bounds them (the first 1,000 of each kind).

    Raises:
        ReduceError: ``trace`` is None and the bundle does not reduce, or ``bundle`` is no
            bundle.
    """
    from ..reduce import ReduceError, reduce_bundle

    root = bundle_for(bundle)
    if root is None:
        raise ReduceError(f"{os.fspath(bundle)}: not a bundle directory or a state.json in one")
    state: dict[str, Any] = (reduce_bundle(root) if trace is None else trace).to_json()
    put_error_texts(root, state)
    notes = capture_notes(state)
    tool_texts = {
        ident: why
        for ident, tool in state["tool_calls"].items()
        if (why := tool_error(state, tool, notes))
    }
    return ErrorTexts(
        tool_calls=tool_texts,
        inference_calls=_logged(state["inference_calls"]),
        compaction_requests=_logged(state["compaction_requests"]),
        turns=_logged(state["codex_turns"]),
    )


def put_error_texts(root: Path, state: Any) -> None:
    """Put in ``state`` the error texts Codex's state does not keep, as ``show`` reads them
    (the export's ``error_text`` columns, :func:`error_texts`): the log's, read in one pass and
    only when a call, request or turn ended badly, and each failed tool call's raw result
    (one payload at a time). Bounded as ``load_state`` bounds them: the first
    ``item_text.MOST_TEXTS`` of each kind, each cut as the columns keep it (every failed
    tool's text was kept whole: 3,000 tools failing with 50 KB errors held 300 MB more than
    ``show`` of the same bundle).

    Args:
        root: the bundle directory.
        state: its reduced state as JSON values, changed in place.
    """
    from .turn_errors import annotate_logged_errors  # here: it opens the bundle's log

    annotate_logged_errors(state, root)
    put_tool_errors(root, state)


def put_tool_errors(root: Path, state: Any) -> None:
    """Put in ``state`` each failed tool call's error text, from its raw result
    (:func:`put_error_texts` without the log's texts: the Parquet export reads those with
    its other readers of the log, in one pass, ``load.annotate_from_log``)."""
    from .payloads import failed_tool_errors  # here: it opens the bundle's payloads

    tools = state.get("tool_calls")
    if not isinstance(tools, dict):
        return
    for ident, text in failed_tool_errors(root, state).items():
        tools[ident]["error_text"] = text


def ended_badly(obj: Mapping[str, Any]) -> bool:
    """Whether a call, request or turn ended failed, cancelled or aborted."""
    execution = obj.get("execution")
    return isinstance(execution, Mapping) and execution.get("status") in FAILED_STATUSES


def logged_error(obj: Mapping[str, Any]) -> str | None:
    """The ``error_text`` :func:`put_error_texts` gave a call, request or turn that ended
    badly, cut as the viewer cuts it; ``None`` for one that did not, or has none."""
    text = obj.get("error_text")
    return cut(text) if isinstance(text, str) and text and ended_badly(obj) else None


def tool_error(state: Any, tool: Mapping[str, Any], notes: Mapping[str, str]) -> str | None:
    """A tool call that ended badly: its error as ``show`` prints it (``--full``)."""
    return failed_tool_text(state, tool, notes) if ended_badly(tool) else None


def _logged(objects: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Each object's :func:`logged_error`, by id, where it has one."""
    return {ident: text for ident, obj in objects.items() if (text := logged_error(obj))}
