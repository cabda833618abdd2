"""Our reducer next to ``codex debug trace-reduce`` on one bundle: the same bytes, or the
same refusal.

This is the check every reducer rule is held to (see ``docs/architecture.md``, "add a reducer
rule"), packaged so that a project importing bundles of its own can run it too.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Final

import attrs
import orjson

from ..model import layout
from ..model.state import state_bytes
from ..reduce import ReduceError, reduce_bundle


@attrs.frozen
class Comparison:
    """What both reducers made of one bundle.

    ``ours``/``codex`` are the state bytes each wrote (None where it refused); ``error`` is our
    refusal, ``codex_stderr`` what Codex printed, ``codex_status`` its exit status.
    """

    bundle: Path
    ours: bytes | None
    error: ReduceError | None
    codex: bytes | None
    codex_stderr: str
    codex_status: int

    @property
    def same(self) -> bool:
        """Both wrote identical bytes, or both refused with the same headline (the first line
        Codex prints). Below the headline our cause may say more than Codex's (a path, say):
        see :attr:`same_text` for the whole text. Lines end at ``\n`` only: a message may
        hold U+2028 or U+0085 (a thread id as given), which ``str.splitlines`` breaks at."""
        if self.ours is not None or self.codex is not None:
            return self.ours == self.codex
        return self.error is not None and self.codex_stderr.strip().split("\n")[:1] == [
            f"Error: {self.error.message}"
        ]

    @property
    def same_text(self) -> bool:
        """Like :attr:`same`, but a refusal must repeat Codex's whole text, cause included."""
        if self.ours is not None or self.codex is not None:
            return self.same
        return self.error is not None and self.error.codex_text() in self.codex_stderr

    def explain(self) -> str:
        """A few lines for an assertion message: who did what, and where the states part.

        Returns:
            ``"same"`` when both agree, else a description of the difference (for two states,
            the JSON path of the first differing value, both sides shown).
        """
        if self.same_text:
            return "same"
        ours = (
            f"we wrote {len(self.ours)} bytes"
            if self.ours is not None
            else f"we refused: {self.error.codex_text() if self.error else '?'}"
        )
        theirs = (
            f"Codex wrote {len(self.codex)} bytes"
            if self.codex is not None
            else f"Codex exited {self.codex_status}: {self.codex_stderr.strip()[-2000:]}"
        )
        text = f"{self.bundle}: {ours}; {theirs}"
        if self.ours is not None and self.codex is not None:
            where = first_difference(orjson.loads(self.ours), orjson.loads(self.codex))
            text += f"; states differ first at {where}"
        return text


def first_difference(ours: Any, theirs: Any, path: str = "$") -> str:
    """The JSON path of the first place two values differ (key order counts), both shown.

    Args:
        ours: a parsed JSON value.
        theirs: the value to compare it with.
        path: the path of these values inside the whole document.

    Returns:
        ``"$.tool_calls.x.status: ours 'a' != codex 'b'"``-style text.
    """
    if isinstance(ours, dict) and isinstance(theirs, dict):
        if list(ours) != list(theirs):
            return f"{path}: keys {list(ours)} != {list(theirs)}"
        for key in ours:
            if ours[key] != theirs[key]:
                return first_difference(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        for n, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            if a != b:
                return first_difference(a, b, f"{path}[{n}]")
    return f"{path}: ours {ours!r:.300} != codex {theirs!r:.300}"


def run_codex_reduce(
    bundle: str | Path, codex_bin: str | Path, out: str | Path, *, timeout: float = 300
) -> subprocess.CompletedProcess[bytes]:
    """Run ``codex debug trace-reduce bundle -o out``.

    ``RUST_BACKTRACE`` is removed from the child's environment, so an error is Codex's message
    alone (a backtrace would make every refusal compare unequal), and the warning Codex
    prints when it cannot set up its home's PATH aliases (runs at once contend for a lock on
    it: "operation would block") is taken out of ``stderr``: it says nothing of the bundle.

    Args:
        bundle: the bundle directory.
        codex_bin: the Codex executable (0.169 reads schema 2, 0.171 schema 3).
        out: where Codex writes the state.
        timeout: seconds before the child is killed (``subprocess.TimeoutExpired``).

    Returns:
        The finished process, stdout and stderr captured as bytes.
    """
    env = {k: v for k, v in os.environ.items() if k != "RUST_BACKTRACE"}
    done = subprocess.run(
        [str(codex_bin), "debug", "trace-reduce", str(bundle), "-o", str(out)],
        capture_output=True,
        timeout=timeout,
        check=False,
        env=env,
    )
    if done.stderr.startswith(_HOME_WARNING):
        done.stderr = done.stderr.split(b"\n", 1)[1] if b"\n" in done.stderr else b""
    return done


#: The first line Codex prints when setting up its home failed (seen with runs at once).
_HOME_WARNING: Final = b"WARNING: proceeding, even though we could not create PATH aliases"


def reduce_and_compare(
    bundle: str | Path, codex_bin: str | Path, *, timeout: float = 300
) -> Comparison:
    """Reduce ``bundle`` with our reducer and with Codex, and compare the outcomes.

    The bundle is left as it was: Codex writes its state into a temporary directory.

    Args:
        bundle: the bundle directory.
        codex_bin: the Codex executable for the bundle's schema.
        timeout: seconds Codex may take.

    Returns:
        A :class:`Comparison`; ``assert result.same, result.explain()`` is the usual check.
    """
    path = Path(bundle)
    ours: bytes | None = None
    error: ReduceError | None = None
    try:
        ours = state_bytes(reduce_bundle(path))
    except ReduceError as exc:
        error = exc
    with tempfile.TemporaryDirectory(prefix="codex-reduce-") as tmp:
        out = Path(tmp) / layout.STATE_FILE
        done = run_codex_reduce(path, codex_bin, out, timeout=timeout)
        codex = out.read_bytes() if done.returncode == 0 and out.is_file() else None
    return Comparison(
        path, ours, error, codex, done.stderr.decode("utf-8", "replace"), done.returncode
    )
