"""Schema-3 payload storage for the differential driver, laid out the way Codex 0.171 does.

Payloads become compact records in zstd shards (one frame with a checksum per shard). Image
data URLs are ``content_value`` payloads in shards of their own, spliced into the requests and
model items that embed them (templates). Every inference gets a prepared prompt: a template
whose parts are ``model_item`` payloads, each written once and reused by later prompts. With
``capture``, some payloads are recorded cut (truncated) or left out (omitted), chosen by a hash
of their bytes so that one script always gives the same bundle.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import orjson
import zstandard

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.model import layout

_SENTINEL = "\x00content-value\x00"
#: kinds whose payloads may be cut or left out when ``capture`` is on
_CAPTURABLE = frozenset(
    {"inference_request", "inference_response", "tool_invocation", "tool_result", "protocol_event"}
)


class Schema3Payloads:
    def __init__(self, directory: Path, *, capture: bool = False) -> None:
        self.dir = directory
        self.capture = capture
        self.count = 0
        self.shard = 1
        self.shards: dict[int, list[bytes]] = {}
        self.content_values: dict[str, ev.RawPayloadRef] = {}
        self.model_items: dict[bytes, ev.RawPayloadRef] = {}
        #: the prepared prompt of the last request written (its inference_started needs it)
        self.last_prompt: ev.RawPayloadRef | None = None

    # --- records ---------------------------------------------------------------------------

    def _next_id(self) -> str:
        self.count += 1
        return layout.raw_payload_id(self.count)

    def _store(self, payload_id: str, body: bytes, *, alone: bool = False) -> int:
        if alone and self.shards.get(self.shard):
            self.shard += 1
        number = self.shard
        self.shards.setdefault(number, []).append(layout.shard_record(payload_id, body))
        if alone:
            self.shard += 1
        return number

    def _ref(
        self,
        kind: ev.PayloadKind,
        body: bytes,
        parts: tuple[ev.RawPayloadRef, ...] = (),
        *,
        alone: bool = False,
    ) -> ev.RawPayloadRef:
        payload_id = self._next_id()
        choice = zlib.crc32(body) % 9 if self.capture and kind in _CAPTURABLE else -1
        if choice == 0:
            return ev.RawPayloadRef(
                payload_id, kind, "", None, ev.PayloadCapture("omitted", len(body)), parts
            )
        if choice == 1 and not parts:
            kept = body[: max(1, len(body) // 3)]
            shard = self._store(payload_id, kept)
            capture = ev.PayloadCapture("truncated", len(body), len(kept))
            return ev.RawPayloadRef(payload_id, kind, "", shard, capture)
        shard = self._store(payload_id, body, alone=alone)
        return ev.RawPayloadRef(payload_id, kind, "", shard, None, parts)

    # --- templates -------------------------------------------------------------------------

    def _template(
        self, kind: ev.PayloadKind, value: Any
    ) -> tuple[bytes, tuple[ev.RawPayloadRef, ...]]:
        """The body of ``value``: plain compact JSON, or a template with each image data URL
        cut out into a ``content_value`` part."""
        images: list[str] = []

        def cut(node: Any) -> Any:
            if isinstance(node, dict):
                out = {}
                for key, item in node.items():
                    if key == "image_url" and isinstance(item, str):
                        images.append(item)
                        out[key] = _SENTINEL
                    else:
                        out[key] = cut(item)
                return out
            if isinstance(node, list):
                return [cut(item) for item in node]
            return node

        text = layout.compact_json(cut(value))
        if not images:
            return text, ()
        marker = orjson.dumps(_SENTINEL)
        fragments = [piece.decode() for piece in text.split(marker)]
        parts = tuple(self._content_value(image) for image in images)
        return orjson.dumps(fragments), parts

    def _content_value(self, value: str) -> ev.RawPayloadRef:
        known = self.content_values.get(value)
        if known is None:
            known = self._ref("content_value", orjson.dumps(value), alone=True)
            self.content_values[value] = known
        return known

    def _model_item(self, item: Any) -> ev.RawPayloadRef:
        key = orjson.dumps(item)
        known = self.model_items.get(key)
        if known is None:
            body, parts = self._template("model_item", item)
            known = self._ref("model_item", body, parts)
            self.model_items[key] = known
        return known

    def _prompt(self, request: dict[str, Any]) -> ev.RawPayloadRef:
        items = [self._model_item(item) for item in request.get("input", [])[1:]]
        head = '{"input":['
        tail = '],"tools":[],"parallel_tool_calls":false,"output_schema":null}'
        fragments = [head, *[","] * (len(items) - 1), tail] if items else [head + tail]
        return self._ref("prepared_prompt", orjson.dumps(fragments), tuple(items))

    # --- the driver's entry point ---------------------------------------------------------

    def payload(self, kind: ev.PayloadKind, value: Any) -> ev.RawPayloadRef:
        """Store ``value`` as Codex 0.171 would; a request also gets its prepared prompt."""
        body, parts = self._template(kind, value)
        ref = self._ref(kind, body, parts)
        if kind == "inference_request":
            self.last_prompt = self._prompt(value)
        return ref

    def close(self) -> None:
        directory = self.dir / layout.PAYLOADS_DIR
        directory.mkdir(exist_ok=True)
        compressor = zstandard.ZstdCompressor(write_checksum=True)
        for number, records in self.shards.items():
            data = compressor.compress(b"".join(records))
            (self.dir / layout.shard_path(number)).write_bytes(data)
