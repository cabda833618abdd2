"""Where a :class:`~rollout_trace_sdk.testing.BundleBuilder` puts payload bodies.

Schema 2 (Codex 0.169): one pretty-printed ``payloads/<n>.json`` per payload, written at once.
Schema 3 (Codex 0.171): compact bodies as records of zstd shards; an image data URL becomes a
``content_value`` in a shard of its own, spliced into the body that held it (a template); every
inference request gets a prepared prompt whose parts are ``model_item`` payloads, each item
stored once and reused by later prompts. Every fact about names and framing comes from
``model/layout``; nothing here reads the recorder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Literal

import orjson
import zstandard

from ..model import events as ev
from ..model import layout

#: A partial capture a test may ask for (schema 3 only).
Capture = Literal["truncated", "omitted"]

_SENTINEL: Final = "\x00content-value\x00"
_PROMPT_HEAD: Final = '{"input":['
_PROMPT_TAIL: Final = '],"tools":[],"parallel_tool_calls":false,"output_schema":null}'


class V2Store:
    """Schema 2: each payload is a file the moment it is added (before any event cites it)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        (root / layout.PAYLOADS_DIR).mkdir(parents=True, exist_ok=True)

    def add(
        self, number: int, kind: ev.PayloadKind, body: bytes, capture: Capture | None
    ) -> ev.RawPayloadRef:
        if capture is not None:
            raise ValueError("schema 2 has no partial captures; use schema=3")
        path = layout.payload_path(number)
        (self._root / path).write_bytes(body)
        return ev.RawPayloadRef(layout.raw_payload_id(number), kind, path)

    def encode(self, value: Any) -> bytes:
        return layout.pretty_json(value)

    def flush(self) -> None:
        """Nothing waits: every file is already on disk."""


class V3Store:
    """Schema 3: records collect per shard; a shard is written whole when it is finished or at
    :meth:`flush` (the open one is rewritten, so the bundle on disk is always readable)."""

    def __init__(self, root: Path, next_number: Callable[[], int], *, split_images: bool) -> None:
        self._root = root
        self._next_number = next_number
        self._split_images = split_images
        (root / layout.PAYLOADS_DIR).mkdir(parents=True, exist_ok=True)
        self._shard = 1
        self._records: list[bytes] = []
        self._size = 0
        self._dirty = False
        self._content_values: dict[str, ev.RawPayloadRef] = {}
        self._model_items: dict[bytes, ev.RawPayloadRef] = {}
        self._compressor = zstandard.ZstdCompressor(write_checksum=True)
        #: the prepared prompt of the last inference request stored
        self.last_prompt: ev.RawPayloadRef | None = None

    def encode(self, value: Any) -> bytes:
        return layout.compact_json(value)

    # --- records ------------------------------------------------------------------------------

    def _store(self, payload_id: str, body: bytes, *, alone: bool = False) -> int:
        record = layout.shard_record(payload_id, body)
        if self._records and (alone or self._size + len(record) > layout.SHARD_ROTATE_BYTES):
            self._finish_shard()
        self._records.append(record)
        self._size += len(record)
        self._dirty = True
        number = self._shard
        if alone:  # a content value keeps its shard to itself, as Codex does
            self._finish_shard()
        return number

    def _finish_shard(self) -> None:
        self._write_shard()
        self._shard += 1
        self._records = []
        self._size = 0

    def _write_shard(self) -> None:
        if self._dirty:
            data = self._compressor.compress(b"".join(self._records))
            (self._root / layout.shard_path(self._shard)).write_bytes(data)
            self._dirty = False

    def flush(self) -> None:
        """Write the open shard as it stands (finished shards are on disk already)."""
        self._write_shard()

    def add(
        self,
        number: int,
        kind: ev.PayloadKind,
        body: bytes,
        capture: Capture | None,
        parts: tuple[ev.RawPayloadRef, ...] = (),
        *,
        alone: bool = False,
    ) -> ev.RawPayloadRef:
        payload_id = layout.raw_payload_id(number)
        if capture == "omitted":
            omitted = ev.PayloadCapture("omitted", len(body))
            return ev.RawPayloadRef(payload_id, kind, "", None, omitted, parts)
        if capture == "truncated":
            if parts:
                raise ValueError("a template (a body with image parts) cannot be truncated")
            kept = body[: max(1, len(body) // 3)]
            cut = ev.PayloadCapture("truncated", len(body), len(kept))
            return ev.RawPayloadRef(payload_id, kind, "", self._store(payload_id, kept), cut)
        shard = self._store(payload_id, body, alone=alone)
        return ev.RawPayloadRef(payload_id, kind, "", shard, None, parts)

    # --- templates ----------------------------------------------------------------------------

    def template(self, value: Any) -> tuple[bytes, tuple[ev.RawPayloadRef, ...]]:
        """The body of ``value``: compact JSON, or (image data URLs present) a template whose
        gaps are ``content_value`` parts."""
        if not self._split_images:
            return layout.compact_json(value), ()
        images: list[str] = []
        text = layout.compact_json(_cut_images(value, images))
        if not images:
            return text, ()
        fragments = [piece.decode() for piece in text.split(orjson.dumps(_SENTINEL))]
        parts = tuple(self._content_value(image) for image in images)
        return orjson.dumps(fragments), parts

    def _content_value(self, value: str) -> ev.RawPayloadRef:
        known = self._content_values.get(value)
        if known is None:
            body = orjson.dumps(value)
            known = self.add(self._next_number(), "content_value", body, None, alone=True)
            self._content_values[value] = known
        return known

    def _model_item(self, item: Any) -> ev.RawPayloadRef:
        key = orjson.dumps(item)
        known = self._model_items.get(key)
        if known is None:
            body, parts = self.template(item)
            known = self.add(self._next_number(), "model_item", body, None, parts)
            self._model_items[key] = known
        return known

    def prompt(self, request: Any) -> ev.RawPayloadRef:
        """A prepared prompt for ``request``: every input item but a leading developer message
        (Codex carries that one as base instructions), each a ``model_item`` part."""
        items = list(request.get("input", [])) if isinstance(request, dict) else []
        if items and isinstance(items[0], dict) and items[0].get("role") == "developer":
            items = items[1:]
        refs = tuple(self._model_item(item) for item in items)
        if refs:
            fragments = [_PROMPT_HEAD, *[","] * (len(refs) - 1), _PROMPT_TAIL]
        else:
            fragments = [_PROMPT_HEAD + _PROMPT_TAIL]
        body = orjson.dumps(fragments)
        self.last_prompt = self.add(self._next_number(), "prepared_prompt", body, None, refs)
        return self.last_prompt


def _cut_images(node: Any, found: list[str]) -> Any:
    """``node`` with every ``image_url`` data URL replaced by a sentinel (collected in order)."""
    if isinstance(node, dict):
        out = {}
        for key, item in node.items():
            if key == "image_url" and isinstance(item, str) and item.startswith("data:"):
                found.append(item)
                out[key] = _SENTINEL
            else:
                out[key] = _cut_images(item, found)
        return out
    if isinstance(node, list):
        return [_cut_images(item, found) for item in node]
    return node
