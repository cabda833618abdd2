"""The readings of ``show --follow``: the state of a bundle being recorded, each time its log
moved, from a replay kept between readings (``reduce/incremental.py``) that is fed only the
lines written since the last one.

Each reading gives what ``load_state(bundle, lenient=True, skipped=notes)`` gives, notes
included: the replay is finalised as a whole reduction of the lines read so far would be,
its trace taken as plain values (``RolloutTrace.to_json``: what parsing its ``state.json``
bytes gives, without writing nor parsing them) and annotated as ``load_state`` does. Those
values share the trace's lists of plain values (ids, a payload's JSON): a reading is read,
not changed below its records (the annotations add keys to records, which are the
reading's own), and the next :meth:`Readings.read` may change them. The costs left grow
with the state (its plain values, the transcript), no more with the log's replay. A reading
is whole, as before, when the kept replay cannot answer for it:

- a line cites a payload the recorder has not stored yet (the replay waits for it at the
  next reading; a whole reading passes over it with a note, held back as ``live.py`` says);
- the last reading, the writer gone and the log quiet: a line it left cut, or a payload it
  never stored, is read as a whole reduction reads it;
- a recording that says it completed while bytes follow its last line;
- the log or the manifest was rewritten rather than appended (the replay starts anew at
  the next reading), or the replay refused a line (every later reading is whole: what a
  whole reading raises, ``follow`` says as it always did).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..reduce.errors import ReduceError
from ..reduce.incremental import LogRewritten, Replay
from ..reduce.liveness import log_is_live
from .load import bundle_state, load_state


class Readings:
    """A bundle's readings while it is followed.

    Args:
        bundle: the bundle directory.
    """

    def __init__(self, bundle: Path) -> None:
        self.bundle = bundle
        self._replay: Replay | None = None
        #: the descriptor of Codex's log found last (``log_is_live``): asked again each reading
        self._seen: list[tuple[str, str]] = []
        #: the replay refused a line: every reading is whole from then on
        self._refused = False
        #: readings answered by the kept replay, and whole ones (for tests and benchmarks)
        self.fed = 0
        self.whole = 0
        #: the tool results' texts the last fed reading read (``payloads.tool_result_texts``:
        #: 1,000 payloads read again at each reading of the 14.7 MB benchmark bundle)
        self._texts: dict[tuple[str, bytes], str] = {}

    def read(self, skipped: list[str], *, last: bool = False) -> Any:
        """The bundle's state now, as ``load_state`` gives it leniently, its notes appended
        to ``skipped``: to read until the next call, not to change below its records (it
        shares lists with the kept replay).

        Args:
            skipped: receives the reading's notes.
            last: the writer is gone and the log stayed quiet: the last reading, whole.

        Raises:
            ReduceError: the bundle cannot be read (as ``load_state`` raises it).
        """
        if last or self._refused:
            return self._whole(skipped)
        live = log_is_live(self.bundle, self._seen)  # asked first, as load_state asks it
        try:
            if self._replay is None:
                self._replay = Replay.open(self.bundle)
            replay = self._replay
            if not replay.feed():
                return self._whole(skipped)
            with replay.finalised() as (trace, notes):
                if trace.recording_complete and replay.unread:
                    return self._whole(skipped)
                # the state's plain values straight from the trace, no JSON between:
                # what parsing ``state_bytes(trace)`` gives, at half the cost
                state = trace.to_json()
        except (LogRewritten, OSError):  # OSError: a read the whole reading words as Codex does
            self.close()
            return self._whole(skipped)
        except ReduceError:
            self._refused = self._replay is not None
            self.close()
            return self._whole(skipped)
        skipped.extend(notes)
        self.fed += 1
        return bundle_state(state, self.bundle, live, self._texts)

    def _whole(self, skipped: list[str]) -> Any:
        self.whole += 1
        return load_state(self.bundle, lenient=True, skipped=skipped)

    def close(self) -> None:
        """Let the kept replay go (its bundle's descriptors and the state it holds), and the
        tool results' texts read (a bundle rewritten may name other payloads by the same ids)."""
        self._texts.clear()
        if self._replay is not None:
            self._replay.close()
            self._replay = None
