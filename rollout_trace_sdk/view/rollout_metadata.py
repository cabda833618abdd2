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

import itertools
import json
from pathlib import Path
from typing import Any, Final

import orjson

from ..model.layout import ROLLOUT_METADATA_EVENT
from ..reduce.errors import ReduceError
from .guardrails import protocol_events
from .turn_errors import protocol_body

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
    from .payloads import PayloadReader  # here: it opens the bundle's payloads

    merged: dict[str, Any] = {}
    reader: PayloadReader | None = None
    try:
        for _, _, ref in protocol_events(bundle, ROLLOUT_METADATA_EVENT):
            if reader is None:  # opened at the first event: most bundles have none
                reader = PayloadReader(bundle)
            values = protocol_body(reader, ref).get("values")
            if isinstance(values, dict):
                merged.update(values)
    except ReduceError:  # the log (BundleFileError) or the payloads
        pass
    finally:
        if reader is not None:
            reader.close()
    return merged


def annotate_metadata(state: dict[str, Any], bundle: Path | None) -> None:
    """Give ``state`` its bundle's metadata under ``rollout_metadata`` (left out when none
    was recorded; a state file's own value is replaced by the bundle's when it has one)."""
    if bundle is None or not isinstance(state, dict):
        return
    metadata = read_metadata(bundle)
    if metadata:
        state[KEY] = metadata


def metadata_of(state: Any) -> dict[str, Any]:
    """The metadata ``annotate_metadata`` gave ``state`` (``{}``: none)."""
    value = state.get(KEY) if isinstance(state, dict) else None
    return value if isinstance(value, dict) else {}


#: The most pairs ``summary`` and the page show (a loop's per-step values given as 10,000
#: keys printed 1,413 lines before summary's totals); they say how many more there are.
METADATA_KEYS: Final = 20


def metadata_texts(
    metadata: dict[str, Any], most: int, keys: int | None = None
) -> list[tuple[str, str]]:
    """The metadata as (key, value) texts in recorded order, as ``summary`` and the page show
    it: a value as JSON unless text, it and its key cut to ``most`` characters (an ellipsis
    ends a cut one; ``summary --json`` and the exports have them whole).

    Args:
        metadata: ``read_metadata``'s or ``metadata_of``'s.
        most: the longest a key's or a value's text is.
        keys: the most pairs given (the first ones; ``None``: all).

    Returns:
        The (key, text) pairs.
    """
    texts = []
    for key, value in itertools.islice(metadata.items(), keys):
        try:
            text = value if isinstance(value, str) else orjson.dumps(value).decode()
        except TypeError:  # an integer past 64 bits, as the JSON may hold
            text = str(value)
        texts.append((_cut(str(key), most), _cut(text, most)))
    return texts


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


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
