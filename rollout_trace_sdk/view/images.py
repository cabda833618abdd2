"""Where an item's images are, for the page to draw them: which payload holds each one and how
to find it there.

The reduced state keeps no image bytes in an item. A user's ``input_image`` or a
``view_image`` tool's image output is a ``payload_ref`` part naming the payload the item was
reduced from (schema 2: the request file; schema 3: the request template, whose parts hold the
image as a ``content_value``), with the SHA-256 of the image element's canonical JSON; an
image a capture limit cut names the cut ``content_value`` itself. A generated image is an
``image_generation_call`` item kept whole as a JSON part (its ``result`` is the base64 image)
naming the response payload. The page loads that payload when the item is drawn and picks
the image out (``static/images.js``): by hash, or by the generation call's id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

#: ``payload_ref`` labels that stand for an image element (``{"type": label, "image_url": …}``).
IMAGE_LABELS: Final = frozenset({"input_image"})
_GENERATED: Final = '{"type":"image_generation_call"'


def image_refs(body: Any) -> list[list[str | None]]:
    """The images an item's body stands for, in order.

    Args:
        body: the item's ``body`` as the reducer wrote it.

    Returns:
        ``[label, payload id, key]`` each: ``key`` is an ``input_image``'s ``content_sha256``
        (None when the part has none) or a generated image's call id. Empty for an item with
        no image.
    """
    parts = body.get("parts") if isinstance(body, Mapping) else None
    refs: list[list[str | None]] = []
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, Mapping) or not isinstance(part.get("raw_payload_id"), str):
            continue
        ident = part["raw_payload_id"]
        kind, label = part.get("type"), part.get("label")
        if kind == "payload_ref" and label in IMAGE_LABELS:
            digest = part.get("content_sha256")
            refs.append([label, ident, digest if isinstance(digest, str) else None])
        elif kind == "json" and str(part.get("summary", "")).startswith(_GENERATED):
            call = _generated_call(str(part["summary"]))
            if call is not None:
                refs.append(["image_generation_call", ident, call])
    return refs


def _generated_call(summary: str) -> str | None:
    """A generated image's call id, when the item holds an image (a ``result`` string)."""
    try:
        value = orjson.loads(summary)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("result"), str):
        return None
    ident = value.get("id")
    return ident if isinstance(ident, str) and value["result"] else None
