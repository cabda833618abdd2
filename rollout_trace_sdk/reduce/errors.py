"""The reducer's one exception type.

``message`` repeats Codex's text exactly (tests and users match on it); ``cause`` is the lower
error Codex prints under "Caused by:". ``file``/``line``/``seq`` say where, when known: Codex
leaves them out, we add them because a person needs them.
"""

from __future__ import annotations

from pathlib import Path


class ReduceError(Exception):
    """A bundle could not be reduced (or validated)."""

    def __init__(
        self,
        message: str,
        *,
        cause: str | None = None,
        file: str | Path | None = None,
        line: int | None = None,
        seq: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause
        self.file = None if file is None else str(file)
        self.line = line
        self.seq = seq
        #: The event log's line of the event being applied when ``file`` names one of its
        #: payloads (a payload file, a shard) instead of the log: the line citing it, which
        #: ``validate`` names beside the seq (pass 1 names it for what it finds itself).
        self.log_line: int | None = None
        #: Whether lenient reduction passes over what this error is about (a torn last line,
        #: an event replay cannot apply, a payload the end checks refuse), set where strict
        #: reduction raises it: the looking commands then say ``--lenient`` shows the rest, and
        #: only then (a seq gap or a bad line mid-log is refused by lenient reduction as well).
        self.lenient_skips = False

    def codex_text(self) -> str:
        """What ``codex debug trace-reduce`` prints for this error.

        Returns:
            ``Error: <message>`` and, with a cause, Codex's "Caused by:" block; no location.
        """
        text = f"Error: {self.message}"
        if self.cause is not None:
            # anyhow indents every line of a cause, not its first only (a value the cause
            # quotes may hold a newline: an unknown variant `a\nb`)
            text += "\n\nCaused by:\n    " + self.cause.replace("\n", "\n    ")
        return text

    def location(self) -> str | None:
        """Where it happened, which Codex does not say.

        Returns:
            ``"file:line, seq N"`` (the parts that are known), or None when none is.
        """
        parts: list[str] = []
        if self.file is not None:
            parts.append(self.file if self.line is None else f"{self.file}:{self.line}")
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.seq is not None:
            parts.append(f"seq {self.seq}")
        return ", ".join(parts) or None

    def __str__(self) -> str:
        text = self.message
        if self.cause is not None:
            text += f": {self.cause}"
        where = self.location()
        return f"{text} ({where})" if where else text


class MissingPayload(ReduceError):
    """A payload is absent (its file, or its shard record); lenient replay skips the event
    that needed it."""


# --- wording shared by ``reduce`` and ``validate`` ------------------------------------------------
# Codex's headlines for the per-line checks, in one place so both commands word the same mistake
# the same way.


def missing_or_reordered(expected_seq: int) -> str:
    return f"missing or reordered trace event {expected_seq}"


def read_line(line: int) -> str:
    return f"read trace event line {line}"


def parse_line(line: int) -> str:
    return f"parse trace event line {line}"


AFTER_COMPLETED = "trace event after recording completed"
OTHER_ROLLOUT = "trace event belongs to another rollout"
#: Schema 3: a stored payload whose reference names no shard, once it is read or checked.
OMITTED_BY_SIZE = "payload omitted by size limit"
NOT_UTF8 = "stream did not contain valid UTF-8"
