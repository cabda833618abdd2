"""A replay kept between readings of a bundle whose log grows: each reading applies only the
lines appended since the last one.

``show --follow`` read a live bundle again whole at every change of its log: on a 14.7 MB
bundle one reading took seconds, and the transcript ran ten seconds behind. A
:class:`Replay` keeps its ``ReplayContext`` (the trace and the indexes replay builds) and
where it stands in the log, and feeds it the whole lines written since (a line still being
written waits for its newline). :meth:`Replay.finalised` gives the trace as a reduction of
the log read so far gives it: finalisation (``replay.finalize``) changes the trace for good,
so it is run on the live trace and undone afterwards, which copies only what it touches
(the thread history lists, the acceptance stamps, the exec tools' cells, the edges).

Two things a whole reduction does that a kept replay must not:

- A line that cites a payload the writer has not stored yet (schema 3 flushes a shard's
  block after the batch's lines) is passed over by a lenient reduction, with a note, and
  read whole by the next one. A kept replay would keep the gap: such a line is not applied,
  the feed stops before it (:attr:`Replay.held`), and the next feed tries it again.
- A log or manifest rewritten rather than appended (a new file, a shorter one, other bytes
  where a line was read) cannot be fed on: :class:`LogRewritten`, and the reader starts a
  new replay.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from ..model import state as st
from .bundle import EVENT_LOG, MANIFEST, Bundle, LocatedEvent, LogCursor
from .confined import BundleFileError
from .errors import MissingPayload, ReduceError
from .replay import apply_located, finalize, new_context, payload_refs

__all__ = ["LogRewritten", "Replay"]


class LogRewritten(Exception):
    """The log or the manifest changed otherwise than by lines appended: replay anew."""


class Replay:
    """A bundle's replay, fed the log's new lines at each :meth:`feed`.

    Args:
        bundle: the opened bundle (its ``lenient`` and ``skipped`` apply; the replay closes
            it at :meth:`close`).
    """

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.context = new_context(bundle, lenient=bundle.lenient, notes=bundle.skipped)
        self.cursor = LogCursor()
        #: bytes of the log applied (whole lines), and the last line applied
        self.offset = 0
        self._last = b""
        self._log_id: tuple[int, int] | None = None
        self._manifest = bundle.files.read_bytes(MANIFEST, what="manifest")
        #: the last feed stopped at a line citing a payload not stored yet
        self.held = False
        #: bytes of the log after :attr:`offset` at the last feed (a line being written, or
        #: lines held)
        self.unread = 0

    @classmethod
    def open(cls, path: str | Path, *, lenient: bool = True) -> Replay:
        """A replay of the bundle at ``path``, no line read yet.

        Raises:
            ReduceError: the manifest is refused (``Bundle.open``'s errors).
        """
        bundle = Bundle.open(path, lenient=lenient)
        try:
            return cls(bundle)
        except BundleFileError as exc:
            bundle.close()
            raise ReduceError(exc.message, cause=exc.cause, file=exc.file) from None

    def close(self) -> None:
        self.bundle.close()

    def feed(self) -> bool:
        """Apply the whole lines the log has gained since the last feed, with the per-line
        checks of a whole reading (``Bundle.line_event``).

        Returns:
            Whether every whole line was applied; False when one cites a payload the
            recorder has not stored yet (:attr:`held`: it is tried again at the next feed).

        Raises:
            LogRewritten: the log or the manifest was not only appended to.
            ReduceError: what a whole reading refuses (a line's checks); the replay is not to
                be fed again after it.
        """
        bundle = self.bundle
        try:
            manifest = bundle.files.read_bytes(MANIFEST, what="manifest")
        except BundleFileError:
            raise LogRewritten("the manifest cannot be read again") from None
        if manifest != self._manifest:
            raise LogRewritten("the manifest changed")
        if bundle.shards is not None:
            bundle.shards.forget_unsealed()
        try:
            handle = bundle.files.open(
                EVENT_LOG, what=f"trace event log {bundle.event_log_display}"
            )
        except BundleFileError:
            raise LogRewritten("the log cannot be opened again") from None
        with handle:
            info = os.fstat(handle.fileno())
            log_id = (info.st_dev, info.st_ino)
            if self._log_id is not None and log_id != self._log_id:
                raise LogRewritten("the log is another file")
            self._log_id = log_id
            if info.st_size < self.offset:
                raise LogRewritten("the log is shorter")
            if self._last:
                handle.seek(self.offset - len(self._last))
                if handle.read(len(self._last)) != self._last:
                    raise LogRewritten("the log's last line read changed")
            handle.seek(self.offset)
            self.held = False
            left = info.st_size - self.offset
            while left > 0:
                raw = handle.readline(left)
                if not raw.endswith(b"\n"):
                    break  # being written: read whole at a later feed
                if not self._apply(raw):
                    self.held = True
                    break
                left -= len(raw)
            self.unread = info.st_size - self.offset
        return not self.held

    def _apply(self, raw: bytes) -> bool:
        """Apply one whole line; False (nothing changed) when it cites a payload not stored."""
        cursor = self.cursor
        before = attrs.evolve(cursor)
        located = self.bundle.line_event(raw, cursor)
        if isinstance(located, LocatedEvent):
            if not _stored(self.bundle, located):
                self.cursor = before
                return False
            apply_located(self.context, located, self.bundle.event_log_display)
        self.offset += len(raw)
        self._last = raw
        return True

    @contextmanager
    def finalised(self) -> Iterator[tuple[st.RolloutTrace, list[str]]]:
        """The trace, finalised as a reduction of the lines fed gives it, and the notes that
        reduction gives (lenient); finalisation is undone on leaving, so the replay can be
        fed on. The trace is valid inside the ``with`` only.

        Raises:
            ReduceError: what that reduction's end checks refuse (the trace is left as it was).
        """
        replay = self.context
        trace = replay.trace
        bundle = self.bundle
        fed_notes = bundle.skipped
        notes = list(fed_notes)
        stamps = [
            (item, item.accepted_at_unix_ms, item.accepted_seq)
            for item in trace.conversation_items.values()
        ]
        histories = [(t, t.conversation_item_ids) for t in trace.threads.values()]
        cells = [(tool, tool.started_code_cell_id) for tool in trace.tool_calls.values()]
        edges, pending = trace.interaction_edges, replay.pending_edges
        targets = set(replay.edge_target_items)
        flags = (trace.recording_complete, trace.lenient_gaps)
        try:
            for thread, _ in histories:
                thread.conversation_item_ids = list(thread.conversation_item_ids)
            trace.interaction_edges = {key: _edge_copy(edge) for key, edge in edges.items()}
            replay.pending_edges = list(pending)
            bundle.skipped = replay.notes = notes
            finalize(bundle, replay)
            yield trace, notes
        finally:
            bundle.skipped = replay.notes = fed_notes
            for item, at, seq in stamps:
                item.accepted_at_unix_ms, item.accepted_seq = at, seq
            for thread, ids in histories:
                thread.conversation_item_ids = ids
            for tool, cell in cells:
                tool.started_code_cell_id = cell
            trace.interaction_edges, replay.pending_edges = edges, pending
            replay.edge_target_items = targets
            trace.recording_complete, trace.lenient_gaps = flags


def _edge_copy(edge: st.InteractionEdge) -> st.InteractionEdge:
    """An edge finalisation may widen and add to (``edges._upsert``), leaving ``edge`` as is."""
    return attrs.evolve(
        edge,
        carried_item_ids=list(edge.carried_item_ids),
        carried_raw_payload_ids=list(edge.carried_raw_payload_ids),
    )


def _stored(bundle: Bundle, located: LocatedEvent) -> bool:
    """Whether every payload the event cites that its recorder stores can be read now (the
    writer stores a payload before or just after the line citing it). What is there but
    refused (a bad shard, a bad file) counts as stored: the replay refuses or notes it as a
    whole reading does."""
    shards = bundle.shards
    for ref in payload_refs(located.event.payload):
        for each in ref.walk():
            if shards is not None:
                if each.shard is None:
                    continue
                try:
                    shards.record(each.raw_payload_id, each.shard)
                except MissingPayload:
                    return False
                except ReduceError:
                    continue
            elif each.path and not _exists(bundle, each.path):
                return False
    return True


def _exists(bundle: Bundle, path: str) -> bool:
    """A schema-2 payload file is there (or refused for another reason than its absence)."""
    try:
        fd, _ = bundle.files.open_fd(path, what="payload")
    except BundleFileError as exc:
        return not isinstance(exc.os_error, FileNotFoundError)
    os.close(fd)
    return True
