"""The open rollout an ``async with open_rollout(...)`` gives: its bundle, its root thread, its
writer's counters, and the metadata a user attaches to it (an episode's id, its reward).

Metadata is recorded as the protocol event ``rollout_metadata`` (``layout.ROLLOUT_METADATA_EVENT``)
on the root thread: both Codex reducers register a protocol event and skip it, so a bundle
with metadata reduces as one without; ``summary``, the viewer and the exports read it back from
the log (``view/rollout_metadata.py``). Each call adds its values; a later value of a key
replaces an earlier one, so a reward known at the episode's end is recorded then.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final

from ..model.layout import ROLLOUT_METADATA_EVENT
from ._guard import call_failed
from .threads import NULL_THREAD, AgentThread

if TYPE_CHECKING:
    from .runtime import Runtime
    from .writer import BundleWriter, WriterStats


#: The warning for metadata added once the rollout closed.
_AFTER_CLOSE: Final = (
    "metadata added after the rollout closed (call add_metadata inside its `async with` block)"
)


class Rollout:
    """An open, recording rollout: one bundle, a root thread and the threads it spawns."""

    enabled: ClassVar[bool] = True

    def __init__(self, rt: Runtime, writer: BundleWriter, root: AgentThread) -> None:
        self._rt = rt
        self._writer = writer
        #: the root thread (agent path ``/root``)
        self.root = root
        self.trace_id: str = rt.trace_id
        self.rollout_id: str = rt.rollout_id

    @property
    def bundle_dir(self) -> Path | None:
        """The bundle directory (``<root>/trace-<trace_id>-<root_thread_id>``)."""
        return self._writer.bundle_dir

    @property
    def stats(self) -> WriterStats | None:
        """The writer's counters: written, dropped, queued bytes (``None`` when disabled)."""
        return self._writer.stats

    @property
    def backlogged(self) -> bool:
        """More than half the writer's budget is queued: a producer that cannot ``await``
        (a callback in another thread) should wait for :meth:`flush` before recording more,
        which is what ``overflow="wait"`` does at every ``async with``."""
        return self._writer.held_bytes > self._writer.max_queued_bytes // 2

    def add_metadata(self, values: Mapping[str, Any] | None = None, /, **fields: Any) -> None:
        """Attach metadata to the rollout: an episode's id, its task, its reward, ...
        ``summary`` prints it, the viewer shows it, and the exports' ``rollouts.metadata``
        holds it as JSON (``json_extract(metadata, '$.reward')`` in DuckDB).

        Each call records its values at once (secrets redacted as in every payload); a key
        given again replaces its earlier value where the readers merge them, so call it
        again at the end with what is known only then. Never raises: a value the recorder
        cannot take is recorded approximately and counted, as any other; metadata added
        once the rollout closed reaches no bundle, and the first such call warns.

        Args:
            values: keys and values (keys that are not identifiers: ``{"task-id": 3}``).
            **fields: more keys and values.
        """
        try:
            merged: dict[str, Any] = dict(values) if values is not None else {}
            merged.update(fields)
        except Exception as exc:  # not a mapping, or one that fails when read
            call_failed(self, "add_metadata", exc)
            return
        if merged and self._rt.sink.values.closed:
            # a reward scored after the ``async with`` block reaches no bundle: said once
            self._rt.sink.values.note("after end", says=_AFTER_CLOSE)
        elif merged:
            self.root.protocol_event(ROLLOUT_METADATA_EVENT, {"values": merged})

    async def flush(self) -> None:
        """Wait until everything recorded so far is on disk (written, not fsynced)."""
        await self._writer.flush()


class _NullRollout(Rollout):
    """The disabled twin of :class:`Rollout`."""

    enabled: ClassVar[bool] = False

    def __init__(self) -> None:  # nothing to record into
        self.root = NULL_THREAD
        self.trace_id = ""
        self.rollout_id = ""

    @property
    def bundle_dir(self) -> Path | None:
        return None

    @property
    def stats(self) -> WriterStats | None:
        return None

    @property
    def backlogged(self) -> bool:
        return False

    def add_metadata(self, values: Mapping[str, Any] | None = None, /, **fields: Any) -> None:
        return None

    async def flush(self) -> None:
        return None


NULL_ROLLOUT: Final[Rollout] = _NullRollout()
