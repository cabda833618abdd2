"""A rollout's metadata (an episode's id, its task, its reward), from its ``rollout_metadata``
protocol events (``Rollout.add_metadata``, ``open_rollout(metadata=)``).

Both Codex reducers register a protocol event and skip it, so the reduced state has no trace
of the metadata: the readers (``summary``, the page, the exports' ``rollouts.metadata``)
take it from the log, as they take a turn's guardrails (``guardrails``). The events' values
merge in log order, a later value of a key replacing an earlier one (a reward recorded at the
episode's end after the id recorded at its start). A value the agent's JSON made of any type
is kept as it is; a body that is not an object, or an event whose payload cannot be read,
adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import orjson

from ..model.layout import ROLLOUT_METADATA_EVENT
from .protocol_scan import ProtocolEvents, scan_log

#: The key the state gets (Codex's has none): the merged metadata, when there is any.
KEY: Final = "rollout_metadata"


def read_metadata(bundle: Path) -> dict[str, Any]:
    """The metadata recorded in ``bundle``, merged in log order.

    Args:
        bundle: the bundle directory.

    Returns:
        Each key's latest value (``{}``: none recorded, or a log that cannot be read; what
        was read before a read failed stays).
    """
    reader = Metadata(bundle)
    scan_log(bundle, [reader])
    return reader.merged


def annotate_metadata(state: dict[str, Any], bundle: Path | None) -> None:
    """Give ``state`` its bundle's metadata under ``rollout_metadata`` (left out when none
    was recorded; a state file's own value is replaced by the bundle's when it has one)."""
    if bundle is not None and isinstance(state, dict):
        scan_log(bundle, [Metadata(bundle, state)])


class Metadata(ProtocolEvents):
    """:func:`read_metadata`'s share of a pass over the log (``protocol_scan``): the values
    merged in :attr:`merged`, put in ``state`` (when given) once the pass is over."""

    def __init__(self, bundle: Path, state: dict[str, Any] | None = None) -> None:
        super().__init__(bundle, ROLLOUT_METADATA_EVENT)
        self.state = state
        self.merged: dict[str, Any] = {}

    def take(self, wall: int | None, seq: int | None, body: Mapping[str, Any]) -> None:
        values = body.get("values")
        if isinstance(values, dict):
            self.merged.update(values)

    def finish(self, whole: bool) -> None:
        super().finish(whole)
        if self.state is not None and self.merged:
            self.state[KEY] = self.merged


def metadata_of(state: Any) -> dict[str, Any]:
    """The metadata ``annotate_metadata`` gave ``state`` (``{}``: none)."""
    value = state.get(KEY) if isinstance(state, dict) else None
    return value if isinstance(value, dict) else {}


def metadata_texts(metadata: dict[str, Any], most: int) -> list[tuple[str, str]]:
    """The metadata as (key, value) texts in recorded order, as ``summary`` and the page show
    it: a value as JSON unless text, cut to ``most`` characters (an ellipsis ends a cut one;
    ``summary --json`` and the exports have it whole).

    Args:
        metadata: ``read_metadata``'s or ``metadata_of``'s.
        most: the longest a value's text is.

    Returns:
        The (key, text) pairs.
    """
    texts = []
    for key, value in metadata.items():
        try:
            text = value if isinstance(value, str) else orjson.dumps(value).decode()
        except TypeError:  # an integer past 64 bits, as the JSON may hold
            text = str(value)
        texts.append((str(key), text if len(text) <= most else text[: most - 1] + "…"))
    return texts


def metadata_json(state: Any) -> str | None:
    """The metadata ``annotate_metadata`` gave ``state`` as a JSON object in recorded order
    (the exports' ``rollouts.metadata``; ``None``: none). An integer past 64 bits, as the
    agent's JSON may hold, is written by the standard library."""
    metadata = metadata_of(state)
    if not metadata:
        return None
    try:
        return orjson.dumps(metadata).decode()
    except TypeError:
        return json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), default=str)
