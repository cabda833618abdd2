"""Schema-3 payload storage, what is done to a body before it is stored (by
``_shards.ShardSink``, in the worker thread): which bodies go through the writer's redaction
filter, checked together where they can be; and the cut of a body longer than its capture
limit, at a character's start, its capture then saying how much was kept."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable
from typing import Final

from ..model.events import PayloadCapture

#: What the sink applies to each body before storing it (the writer's redaction).
BodyFilter = Callable[[bytes], bytes]
#: Small bodies are checked for anything to filter in batches of about this many bytes.
CLEAN_BATCH_BYTES: Final = 64 << 10


def filtered(
    bodies: list[bytes],
    body_filter: BodyFilter | None,
    check: Callable[[list[bytes]], bool] | None,
) -> list[bytes]:
    """``bodies`` through ``body_filter``, except those that ``check`` says certainly need
    none: small bodies are checked together, in batches of about :data:`CLEAN_BATCH_BYTES`
    (one scan instead of one per body; a batch of one is left to the filter's own scan).
    The batches' ends are found by bisection over the bodies' running sizes, so a chunk
    of small bodies costs no Python step per body (there are thousands)."""
    if body_filter is None or not bodies:
        return bodies
    sizes = list(map(len, bodies))
    if check is None or max(sizes) >= CLEAN_BATCH_BYTES:
        flags = _known_clean(bodies, check)
        return [body if flags[i] else body_filter(body) for i, body in enumerate(bodies)]
    ends = list(itertools.accumulate(sizes))
    out = bodies
    count = len(bodies)
    start = 0
    while start < count:
        # the batch ends with the body that brings it to CLEAN_BATCH_BYTES (or the last)
        stop = min(
            bisect.bisect_left(ends, (ends[start - 1] if start else 0) + CLEAN_BATCH_BYTES) + 1,
            count,
        )
        if stop - start < 2 or not check(bodies[start:stop]):
            if out is bodies:
                out = list(bodies)
            for i in range(start, stop):
                out[i] = body_filter(bodies[i])
        start = stop
    return out


def _known_clean(bodies: list[bytes], check: Callable[[list[bytes]], bool] | None) -> list[bool]:
    """Which bodies certainly need no filtering (the general case of :func:`filtered`:
    a body of :data:`CLEAN_BATCH_BYTES` or more is never checked with others)."""
    flags = [False] * len(bodies)
    if check is None:
        return flags
    batch: list[int] = []
    size = 0
    for index, body in enumerate(bodies):
        if len(body) >= CLEAN_BATCH_BYTES:
            continue
        batch.append(index)
        size += len(body)
        if size >= CLEAN_BATCH_BYTES:
            if len(batch) > 1 and check([bodies[i] for i in batch]):
                for i in batch:
                    flags[i] = True
            batch = []
            size = 0
    if len(batch) > 1 and check([bodies[i] for i in batch]):
        for i in batch:
            flags[i] = True
    return flags


def utf8_prefix(body: bytes, limit: int) -> bytes:
    """The longest prefix of ``body`` of at most ``limit`` bytes that does not end inside a
    UTF-8 sequence (a truncated body is still text a person can read)."""
    if len(body) <= limit:
        return body
    end = limit
    # step back over continuation bytes (10xxxxxx) to the start of the cut character
    while end > 0 and body[end] & 0xC0 == 0x80:
        end -= 1
    return body[:end]


def settle_capture(capture: PayloadCapture, retained: int) -> None:
    """Fill in a truncated capture's ``retained_bytes`` (in the worker thread, once the body
    is redacted and cut). The reference is frozen for everyone else; until the record is
    written no line citing it is encoded (the writer sees to that)."""
    object.__setattr__(capture, "retained_bytes", retained)
