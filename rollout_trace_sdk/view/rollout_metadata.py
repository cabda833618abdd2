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
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import orjson

from ..model.layout import ROLLOUT_METADATA_EVENT
from .capture import cut_status
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
    return metadata_and_cut(bundle)[0]


def metadata_and_cut(bundle: Path) -> tuple[dict[str, Any], int]:
    """:func:`read_metadata`'s metadata, and how many of its records a capture limit cut or
    left out (schema 3's ``max_payload_bytes``, ``max_bundle_bytes``: a reward recorded at
    the end of a rollout that spent its budget), whose values are unknown: ``summary`` says
    so rather than show the rest as the whole."""
    reader = Metadata(bundle)
    scan_log(bundle, [reader])
    return reader.merged, reader.cut


def annotate_metadata(state: dict[str, Any], bundle: Path | None) -> None:
    """Give ``state`` its bundle's metadata under ``rollout_metadata`` (left out when none
    was recorded; a state file's own value is replaced by the bundle's when it has one)."""
    if bundle is not None and isinstance(state, dict):
        scan_log(bundle, [Metadata(bundle, state)])


class Metadata(ProtocolEvents):
    """:func:`metadata_and_cut`'s share of a pass over the log (``protocol_scan``): the
    values merged in :attr:`merged` (put in ``state``, when given, once the pass is over),
    the records a capture limit cut counted in :attr:`cut`."""

    def __init__(self, bundle: Path, state: dict[str, Any] | None = None) -> None:
        super().__init__(bundle, ROLLOUT_METADATA_EVENT)
        self.state = state
        self.merged: dict[str, Any] = {}
        self.cut = 0

    def see(self, number: int, event: Mapping[str, Any], payload: Mapping[str, Any]) -> None:
        if (
            not self.broken
            and payload.get("type") == "protocol_event_observed"
            and payload.get("event_type") == self.event_type
            and cut_status(payload.get("event_payload")) is not None
        ):
            self.cut += 1  # a cut body is no JSON: nothing of it is known
            return
        super().see(number, event, payload)

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
        text = value if isinstance(value, str) else _dumps(value)
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
    """``value`` as compact JSON; an integer past 64 bits, as the agent's JSON may hold,
    written by the standard library."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
