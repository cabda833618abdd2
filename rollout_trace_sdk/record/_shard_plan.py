"""Schema-3 payload placement for the recorder, on the event loop.

A schema-3 reference names its shard (``{"raw_payload_id", "kind", "shard"}``), and the caller
needs the reference before it can build the event that cites it, so *where* a payload goes is
decided when it is enqueued, on the event loop: :class:`ShardPlan` hands out the id, picks
the shard (rotating by decompressed size, as Codex does near 8 MiB) and applies the capture
limits, all in O(1) from byte counts. It returns the reference and a :data:`ShardRecord`, a
plain tuple (the body is not copied on the loop) that the garbage collector never has to scan.

Limits (v3.md §6), better than Codex's: ``max_payload_bytes`` keeps a payload's first bytes
(cut on a UTF-8 boundary, so the kept prefix is still text) and marks it ``truncated`` with
its original and retained sizes; ``max_bundle_bytes`` bounds the bundle's uncompressed bytes.
Codex stops its log when that budget is spent, so the recording never closes; here payloads
that no longer fit are ``omitted`` (or cut to the room left) while a reserve is kept for the
event lines, so the bundle still ends with ``recording_completed`` and its state says
``closed_with_partial_payloads``. Templates (payloads with ``parts``) are never cut: a cut
template would orphan its parts.

The records are written by ``_shards.ShardSink`` in the writer's worker thread.
"""

from __future__ import annotations

from typing import Any, Final

import attrs

from ..model import layout
from ..model.events import PayloadCapture, PayloadKind, RawPayloadRef
from ._deferred import LazyBody

#: ``(where, body)`` as queued for the worker thread. ``where`` is, for a payload the plan
#: placed whole, one integer: its shard and ordinal (a flat tuple of an int
#: and bytes is one the garbage collector stops tracking at once); else ``(shard, payload
#: id)``, or ``(shard, payload id, limit, capture)`` for a body to be cut short: the sink
#: cuts it to ``limit`` bytes and settles the capture's ``retained_bytes``.
ShardRecord = tuple["int | tuple[Any, ...]", "bytes | LazyBody"]
#: Bits of a placed record's integer that hold the payload's ordinal (the rest: its shard).
ORDINAL_BITS: Final = 40
ORDINAL_MASK: Final = (1 << ORDINAL_BITS) - 1


def is_cut(where: int | tuple[Any, ...]) -> bool:
    """Whether a record's ``where`` asks the sink to cut its body short."""
    return isinstance(where, tuple) and len(where) > 2


#: Below this much room a payload is omitted rather than cut to a useless stub.
MIN_TRUNCATED_BYTES: Final = 1024
#: How far past ``max_bundle_bytes`` event lines may go at least (see ``ceiling_bytes``).
EVENT_OVERDRAFT_BYTES: Final = 16 << 20
#: The share of ``max_bundle_bytes`` kept back for event lines and the closing records.
RESERVE_FRACTION: Final = 8
MAX_RESERVE_BYTES: Final = 4 << 20


@attrs.frozen
class CaptureLimits:
    """Size limits of one bundle (``None`` = no limit).

    Attributes:
        max_payload_bytes: the largest body stored whole; longer plain bodies keep their first
            bytes and are marked ``truncated``.
        max_bundle_bytes: the bundle's uncompressed bytes (payload bodies plus event lines);
            payloads beyond it are ``omitted`` while a reserve is kept for events.
    """

    max_payload_bytes: int | None = None
    max_bundle_bytes: int | None = None

    @property
    def ceiling_bytes(self) -> int | None:
        """Where events stop too: ``max_bundle_bytes`` bounds the payloads, and the event
        lines are kept past it (nothing but payloads is lost to the limit) up to twice the
        limit, or the limit and :data:`EVENT_OVERDRAFT_BYTES`, whichever is more. Past that
        only the ends of what is running are written, so a busy agent recording for hours
        still makes a bounded bundle."""
        total = self.max_bundle_bytes
        if total is None:
            return None
        return total + max(total, EVENT_OVERDRAFT_BYTES)

    @property
    def reserve_bytes(self) -> int:
        """Bytes of ``max_bundle_bytes`` that payloads never use: room for event lines."""
        if self.max_bundle_bytes is None:
            return 0
        return min(self.max_bundle_bytes // RESERVE_FRACTION, MAX_RESERVE_BYTES)


_NO_LIMITS: Final = CaptureLimits()
# looked up once: place_whole runs for most payloads of a tool call
_raw_payload_id: Final = layout.raw_payload_id
_RAW_PAYLOAD_PREFIX: Final = layout.RAW_PAYLOAD_PREFIX
_RECORD_HEADER_SIZE: Final = layout.SHARD_RECORD_HEADER.size


class ShardPlan:
    """Ids, shard numbers and capture for a bundle's payloads, decided at enqueue time.

    Runs on the event loop; every method is O(1) apart from copying a truncated prefix.
    """

    __slots__ = (
        "_budget",
        "_limits",
        "_ordinal",
        "_placed",
        "_rotate",
        "_shard",
        "_shard_bytes",
        "_used",
        "finished",
        "limited",
        "omitted",
        "truncated",
    )

    def __init__(
        self, limits: CaptureLimits | None = None, *, rotate_bytes: int = layout.SHARD_ROTATE_BYTES
    ) -> None:
        self._limits = limits or CaptureLimits()
        self._rotate = max(int(rotate_bytes), 1)
        self._ordinal = 0
        self._shard = 1
        self._shard_bytes = 0
        self._placed = 0  # records placed in the current shard
        #: shard -> how many records were placed in it, for the shards the plan moved past:
        #: the sink seals such a shard as soon as it has written that many (read from the
        #: worker thread; a crash then leaves only the last shard unsealed, as Codex requires)
        self.finished: dict[int, int] = {}
        self._used = 0  # uncompressed bytes charged to max_bundle_bytes
        total = self._limits.max_bundle_bytes
        self._budget = None if total is None else max(total - self._limits.reserve_bytes, 0)
        #: whether any size limit applies (its decisions need a body's exact size at once)
        self.limited = self._limits != _NO_LIMITS
        #: payloads stored cut short / not stored, so far
        self.truncated = 0
        self.omitted = 0

    @property
    def limits(self) -> CaptureLimits:
        return self._limits

    @property
    def used_bytes(self) -> int:
        """Uncompressed bytes charged so far (records and event lines)."""
        return self._used

    @property
    def partial(self) -> bool:
        """Some payload was truncated or omitted: the state will say
        ``closed_with_partial_payloads``."""
        return bool(self.truncated or self.omitted)

    @property
    def current_shard(self) -> int:
        """The shard the next record goes to (the writer seals every shard below it once its
        queue is empty)."""
        return self._shard

    def omit(
        self, kind: PayloadKind, size: int, parts: tuple[RawPayloadRef, ...] = ()
    ) -> RawPayloadRef:
        """A payload of ``size`` bytes that will not be stored (the writer's queue was full,
        or it failed): an ``omitted`` reference, so the bundle says what is missing and the
        event citing it is still written."""
        n = self._ordinal = self._ordinal + 1
        self.omitted += 1
        capture = PayloadCapture("omitted", size)
        return RawPayloadRef(layout.raw_payload_id(n), kind, "", None, capture, parts)

    def charge(self, nbytes: int) -> bool:
        """Count ``nbytes`` of event lines against ``max_bundle_bytes`` (an estimate when an
        event is queued, ``_line_cost.line_estimate``; corrected by the writer once the lines of a
        chunk are encoded, so the limit is not overdrawn by what waits in the queue).

        Returns:
            Whether the bundle has reached :attr:`CaptureLimits.ceiling_bytes`.
        """
        self._used += nbytes
        ceiling = self._limits.ceiling_bytes
        if ceiling is None or self._used < ceiling:
            return False
        # full: no payload is stored any more (their events are left out too, but for the
        # ends of what is running, whose results are then recorded omitted)
        self._budget = 0
        return True

    def place(
        self,
        kind: PayloadKind,
        body: bytes | LazyBody,
        parts: tuple[RawPayloadRef, ...] = (),
        *,
        closing: bool = False,
    ) -> tuple[RawPayloadRef, ShardRecord | None]:
        """Allocate the next payload id for ``body`` and decide where (and whether, and how
        much of it) it is stored.

        Args:
            kind: the payload kind the reference carries.
            body: the payload text (JSON, or a template's fragment array when ``parts``).
            parts: the template's parts (already placed), in splice order.
            closing: a closing report (the loss report, the redaction report): stored
                whole, in the room ``max_bundle_bytes`` keeps back, however full the bundle,
                and whatever ``max_payload_bytes`` is (cut, it no longer parses: the bundle
                reads as not lossy).

        Returns:
            The reference to put in events, and the record to queue for :class:`ShardSink`
            (``None`` when the payload is omitted).
        """
        if not self.limited:
            payload_id, shard, record = self.place_whole(body)
            return RawPayloadRef(payload_id, kind, "", shard, None, parts), record
        n = self._ordinal = self._ordinal + 1
        payload_id = layout.raw_payload_id(n)
        size = kept = len(body)
        cut: int | None = None
        limit = self._limits.max_payload_bytes
        if not parts and not closing and limit is not None and size > limit:
            cut = kept = limit
        budget = self._budget
        if budget is not None and not closing:
            # what the record takes besides the body: its header and id
            room = budget - self._used - layout.SHARD_RECORD_HEADER.size - len(payload_id)
            if kept > room:
                if parts or room < MIN_TRUNCATED_BYTES:
                    self.omitted += 1
                    omitted = PayloadCapture("omitted", size)
                    return RawPayloadRef(payload_id, kind, "", None, omitted, parts), None
                cut = kept = room
        shard = self._take(layout.SHARD_RECORD_HEADER.size + len(payload_id) + kept)
        if cut is None:
            return RawPayloadRef(payload_id, kind, "", shard, None, parts), (
                (shard << ORDINAL_BITS) | n,
                body,
            )
        self.truncated += 1
        # retained_bytes is settled by the sink, once the body is redacted and cut
        capture = PayloadCapture("truncated", size, None)
        ref = RawPayloadRef(payload_id, kind, "", shard, capture, parts)
        return ref, ((shard, payload_id, cut, capture), body)

    def move_past(self, shard: int) -> None:
        """Place the next record in a shard after ``shard``: the sink ended that one's frame
        early (``ShardSink.cut``, after a write failure) and can take nothing more in it."""
        if self._shard <= shard:
            self.finished[self._shard] = self._placed
            self._shard = shard + 1
            self._shard_bytes = 0
            self._placed = 0

    def place_whole(self, body: bytes | LazyBody) -> tuple[str, int, ShardRecord]:
        """:meth:`place` for a plan with no limits (every body is stored whole), without
        making a reference: the payload's id, its shard and the record. The recorder's
        hottest calls build their references as flat tuples (``_known_refs``) from these."""
        n = self._ordinal = self._ordinal + 1
        payload_id = f"{_RAW_PAYLOAD_PREFIX}{n}"  # layout.raw_payload_id, inline
        length = _RECORD_HEADER_SIZE + len(payload_id) + len(body)
        held = self._shard_bytes
        if held and held + length > self._rotate:
            shard = self._take(length)  # the next shard
        else:  # _take's common case, inline (three places a tool call)
            shard = self._shard
            self._shard_bytes = held + length
            self._placed += 1
            self._used += length
        return payload_id, shard, ((shard << ORDINAL_BITS) | n, body)

    def _take(self, length: int) -> int:
        """Room for a record of ``length`` bytes (header, id, body): the shard it goes to,
        the next one when it would carry the current one past the rotation size (a shard
        is never empty)."""
        shard = self._shard
        if self._shard_bytes and self._shard_bytes + length > self._rotate:
            self.finished[shard] = self._placed
            shard = self._shard = shard + 1
            self._shard_bytes = 0
            self._placed = 0
        self._shard_bytes += length
        self._placed += 1
        self._used += length
        return shard
