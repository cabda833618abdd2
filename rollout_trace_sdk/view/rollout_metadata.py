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
from .capture import cut_status
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
    return metadata_and_cut(bundle)[0]


def metadata_and_cut(bundle: Path) -> tuple[dict[str, Any], int]:
    """:func:`read_metadata`'s metadata, and how many of its records a capture limit cut or
    left out (schema 3's ``max_payload_bytes``, ``max_bundle_bytes``: a reward recorded at
    the end of a rollout that spent its budget), whose values are unknown: ``summary`` says
    so rather than show the rest as the whole."""
    from .payloads import PayloadReader  # here: it opens the bundle's payloads

    merged: dict[str, Any] = {}
    cut = 0
    reader: PayloadReader | None = None
    try:
        for _, _, ref in protocol_events(bundle, ROLLOUT_METADATA_EVENT):
            if cut_status(ref) is not None:  # a cut body is no JSON: nothing of it is known
                cut += 1
                continue
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
    return merged, cut


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


def metadata_json(state: Any, most: int | None = None) -> str | None:
    """The metadata ``annotate_metadata`` gave ``state`` as a JSON object in recorded order
    (the exports' ``rollouts.metadata``; ``None``: none). An integer past 64 bits, as the
    agent's JSON may hold, is written by the standard library.

    Args:
        state: the annotated state.
        most: the most UTF-8 bytes the text may take (``None``: any): past that a value
            whose JSON is long is its text cut, the keys that fit are kept, and a last key
            ``…`` says how many were left out (the OTLP span's attribute: receivers cap
            attribute sizes, and every other long value there is cut too).
    """
    metadata = metadata_of(state)
    if not metadata:
        return None
    text = _dumps(metadata)
    if most is None or len(text.encode("utf-8", "surrogatepass")) <= most:
        return text
    kept: dict[str, Any] = {}
    size, room = 2, most - _NOTE_BYTES  # the braces; the note of what was left out
    for key, value in metadata.items():
        value_text = _dumps(value)
        if len(value_text) > _VALUE_CHARS:
            value = _cut(value if isinstance(value, str) else value_text, _VALUE_CHARS)
        key = _cut(str(key), _VALUE_CHARS)
        pair = len(_dumps({key: value}).encode("utf-8", "surrogatepass")) - 1  # +1 comma
        if size + pair > room:
            break
        kept[key] = value
        size += pair
    if len(kept) < len(metadata):
        kept["…"] = f"{len(metadata) - len(kept):,} more keys (too long for a span)"
    return _dumps(kept)


#: A value (or key) cut when the whole is too long for ``metadata_json``'s ``most``, in
#: characters (at most 4 UTF-8 bytes each), and the room kept for the note of keys left out.
_VALUE_CHARS: Final = 1000
_NOTE_BYTES: Final = 100


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
