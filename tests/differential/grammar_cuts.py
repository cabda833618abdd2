"""Capture limits inside templates (schema 3) for :class:`tests.differential.grammar.Grammar`:
now and then a payload is written as Codex 0.171 writes one under
``rollout_trace.max_payload_bytes`` / ``max_bytes``, a template whose gaps are parts, and
some of those parts cut or left out, which Codex splices as ``{"$trace_unavailable": id}``.

What is cut out: any string value (a text, an image URL, arguments, an output, a call id, a
type, an id: the reducer reads the placeholder as a reference in some places and as plain
JSON in all others) as a ``content_value`` part, and whole items of the item lists (a
request's input, a response's output, a checkpoint's histories) as ``model_item`` parts, such
a part now and then a template of its own (a nested part). Each part is kept, truncated or
omitted; a kept string part is now and then reused by a later payload (one reference, many
templates); the outer payload is now and then omitted with its parts; and now and then a
placeholder naming a part of *another* payload is written as plain text, where it is
ordinary JSON. The grammar never made any of these before: its templates were image data
URLs, always kept.

Every choice is drawn from a generator of its own, so each seed's other choices stay as they
were."""

from __future__ import annotations

import random
import re
from typing import Any

import orjson

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.testing import BundleBuilder, Capture

#: the lists whose elements are Responses items (cut whole as ``model_item`` parts)
ITEM_LISTS = frozenset({"input", "output", "output_items", "input_history", "replacement_history"})
#: the payload kinds Codex reads into typed structs (thread metadata, tool payloads)
_READ_WHOLE = frozenset(
    {"session_metadata", "tool_invocation", "tool_runtime_event", "tool_result"}
)
#: the keys whose strings Codex's limits cut out (texts, outputs, arguments, images, ...)
_LONG = frozenset(
    {
        "text",
        "output",
        "arguments",
        "input",
        "image_url",
        "encrypted_content",
        "result",
        "revised_prompt",
        "message",
        "prompt",
        "aggregated_output",
        "source_js",
        "error",
    }
)
#: a gap in the JSON text before it is split into a template's fragments
_GAP = re.compile(rb'"@@gap-(\d+)@@"')

_Path = tuple[str | int, ...]


def _spots(value: Any, at: _Path = ()) -> list[tuple[_Path, str]]:
    """Where a part may stand, in the order the compact JSON text holds them: string values
    (not keys) and the elements of item lists."""
    found: list[tuple[_Path, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ITEM_LISTS and isinstance(item, list):
                for n, element in enumerate(item):
                    found.append(((*at, key, n), "item"))
                    found += _spots(element, (*at, key, n))
            else:
                found += _spots(item, (*at, key))
    elif isinstance(value, list):
        for n, element in enumerate(value):
            found += _spots(element, (*at, n))
    elif isinstance(value, str):
        found.append((at, "string"))
    return found


def _inside(path: _Path, other: _Path) -> bool:
    return len(other) < len(path) and path[: len(other)] == other


class Cuts:
    """Payloads written as templates with parts cut or left out (see the module)."""

    #: how often a payload is made a template of cut parts
    share = 0.1
    #: the kinds Codex reads whole (a cut part refuses the bundle: ``partial payload``) are cut
    #: less often, so that most cut bundles go on to the items
    whole_share = 0.02

    def __init__(self, b: BundleBuilder, rng: random.Random) -> None:
        self.b = b
        self.rng = rng
        #: kept string parts, by their text, that a later template may reuse
        self.kept: dict[str, ev.RawPayloadRef] = {}
        #: ids of parts not kept (a later plain body may name one in a placeholder)
        self.unkept: list[str] = []
        #: the prepared prompt made for the last request cut here (taken by the grammar)
        self.prompt: ev.RawPayloadRef | None = None

    def payload(
        self, kind: ev.PayloadKind, value: Any, capture: Capture | None
    ) -> ev.RawPayloadRef | None:
        """``value`` stored as a template of cut parts, or None (most of the time: the
        grammar stores it as usual). ``capture`` is the outer payload's (not truncated)."""
        whole = kind in _READ_WHOLE
        if self.rng.random() >= (self.whole_share if whole else self.share):
            return None
        spots = _spots(value)
        if not spots:
            return None
        if self.unkept and self.rng.random() < 0.1:
            # a placeholder in a body that has no such part: plain JSON there
            path, _ = self.rng.choice([s for s in spots if s[1] == "string"] or spots)
            value = self._replaced(
                value, {path: {"$trace_unavailable": self.rng.choice(self.unkept)}}
            )
            return self.b.payload(kind, value, capture=capture)
        # mostly where Codex cuts (long texts, whole items), now and then any string (a type,
        # an id, a role: refused or read as plain JSON)
        likely = [s for s in spots if s[1] == "item" or s[0][-1] in _LONG]
        if likely and self.rng.random() < 0.85:
            spots = likely
        chosen: list[tuple[_Path, str]] = []
        for spot in self.rng.sample(spots, min(len(spots), self.rng.choice([1, 1, 2, 3]))):
            if not any(_inside(spot[0], c[0]) or _inside(c[0], spot[0]) for c in chosen):
                chosen.append(spot)
        body, parts = self._template(value, chosen, depth=0)
        ref = self.b.raw_payload(kind, body, capture=capture, parts=parts)
        if capture is not None:
            self.unkept.append(ref.raw_payload_id)
        if kind == "inference_request":
            # the builder makes a prompt for the requests it stores itself; Codex does not
            # read a prompt's content, only registers it
            self.prompt = self.b.payload("prepared_prompt", {"input": []})
        return ref

    def take_prompt(self) -> ev.RawPayloadRef | None:
        prompt, self.prompt = self.prompt, None
        return prompt

    def _template(
        self, value: Any, chosen: list[tuple[_Path, str]], depth: int
    ) -> tuple[bytes, tuple[ev.RawPayloadRef, ...]]:
        """The template body (a JSON array of fragments) of ``value`` with a part at each of
        ``chosen``, and those parts, in text order."""
        order = {path: n for n, (path, _) in enumerate(_spots(value))}
        chosen = sorted(chosen, key=lambda spot: order[spot[0]])
        gaps = {path: f"@@gap-{n}@@" for n, (path, _) in enumerate(chosen)}
        text = orjson.dumps(self._replaced(value, gaps))
        pieces = _GAP.split(text)
        fragments = [piece.decode() for piece in pieces[0::2]]
        parts = tuple(self._part(self._get(value, path), how, depth) for path, how in chosen)
        assert len(fragments) == len(parts) + 1
        return orjson.dumps(fragments), parts

    def _part(self, value: Any, how: str, depth: int) -> ev.RawPayloadRef:
        capture: Capture | None = self.rng.choice([None, None, "omitted", "omitted", "truncated"])
        if how == "string":
            known = self.kept.get(value)
            if known is not None and self.rng.random() < 0.5:
                return known  # one content value, many templates (as Codex de-duplicates)
            ref = self.b.raw_payload("content_value", orjson.dumps(value), capture=capture)
            if capture is None:
                self.kept.setdefault(value, ref)
            else:
                self.unkept.append(ref.raw_payload_id)
            return ref
        inner = [s for s in _spots(value) if s[1] == "string"]
        if depth == 0 and inner and self.rng.random() < 0.4:
            # a model item with a part of its own (cut or not): a nested template
            capture = None if capture == "truncated" else capture
            body, parts = self._template(value, [self.rng.choice(inner)], depth + 1)
            ref = self.b.raw_payload("model_item", body, capture=capture, parts=parts)
        else:
            ref = self.b.raw_payload("model_item", orjson.dumps(value), capture=capture)
        if capture is not None:
            self.unkept.append(ref.raw_payload_id)
        return ref

    @staticmethod
    def _get(value: Any, path: _Path) -> Any:
        for step in path:
            value = value[step]
        return value

    @classmethod
    def _replaced(cls, value: Any, at: dict[_Path, Any], path: _Path = ()) -> Any:
        """A copy of ``value`` with the value at each path of ``at`` replaced."""
        if path in at:
            return at[path]
        if isinstance(value, dict):
            return {k: cls._replaced(v, at, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [cls._replaced(v, at, (*path, n)) for n, v in enumerate(value)]
        return value
