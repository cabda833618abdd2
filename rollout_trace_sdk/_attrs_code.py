"""The code attrs generates for this package's classes, kept between runs of the command line.

attrs writes each class's ``__init__``, ``__repr__``, ``__eq__`` and ``__hash__`` as Python
source and compiles it when the class is created: for the ~80 classes ``rollout-trace reduce``
loads, compiling is 18 ms of its ~85 ms of imports, every run, for the same source. Python
keeps a module's bytecode in ``__pycache__``; this keeps attrs' compiled code beside it, in
``__pycache__/attrs-methods.<cache tag>.marshal``, one entry per generated file name holding
the source it was compiled from. The structure functions ``model.structure`` writes for the
event classes (``compile_kept``) are kept the same way.

Only the command line installs it (:func:`install`, from ``cli.main`` run as the process's entry
point): a program that imports the package, or calls ``main(argv)``, gets attrs unchanged. The hook is attrs' module-level name ``compile`` in
``attr._make`` (the builtin, looked up where ``_compile_and_eval`` calls it): for source attrs
generates for this package's classes it returns the kept code when the source is the same,
else compiles; everything else is the builtin's. The command line loads attrs only after
installing it, and attrs' own classes, built as it is imported, are kept too (the builtin
``compile`` is the hook for as long as that import takes). An attrs that compiles elsewhere simply gets
no help. The one thing in attrs' source that differs from run to run is the type's hash salt
(``hash(<file name>)``, randomised per process): it is left out of the comparison, so a class's
instances hash with the salt of the run that compiled its code (any constant does: it only
keeps equal tuples of different classes apart).

The file is written at exit when something was compiled, atomically; not at all under
``PYTHONDONTWRITEBYTECODE`` (``sys.dont_write_bytecode``) or a ``PYTHONPYCACHEPREFIX``, or where
the package's directory is not writable. A file that cannot be read, or from another Python, is
ignored, and so is an entry that is not a (source, code) pair.
"""

from __future__ import annotations

import builtins
import contextlib
import marshal
import os
import re
import sys
from pathlib import Path
from types import CodeType
from typing import Any, Final

#: How attrs names the source it generates: ``<attrs generated methods pkg.mod.Class>``.
_GENERATED: Final = "<attrs generated "
_OURS: Final = " rollout_trace_sdk."
#: attrs' own classes (``attr.validators``...), built as it is imported.
_ATTRS: Final = " attr."
#: How this package names source it generates itself (``compile_kept``).
_OWN: Final = "<rollout_trace_sdk generated "
#: The hash salt attrs writes first in ``__hash__``'s tuple.
_SALT: Final = re.compile(r"hash\(\(\n\s*-?\d+,")
_compile: Final = builtins.compile


class _Cache:
    """File name → (source without its salt, code), as read and as compiled this run."""

    def __init__(self, path: Path | None, stamp: str, *, write: bool) -> None:
        self.path = path
        self.stamp = stamp
        self.write = write
        self.entries: dict[str, tuple[str, CodeType]] = {}
        self.compiled = 0
        self.reused = 0

    def load(self) -> None:
        if self.path is None:
            return
        try:
            stamp, entries = marshal.loads(self.path.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            return
        if stamp == self.stamp and isinstance(entries, dict):
            self.entries = entries

    def compile(self, source: Any, filename: Any, mode: Any, *args: Any, **kwargs: Any) -> Any:
        """``compile``, but for source attrs generates for this package, kept code."""
        if (
            args
            or kwargs
            or mode != "exec"
            or not isinstance(source, str)
            or not isinstance(filename, str)
            or not (
                (filename.startswith(_GENERATED) and (_OURS in filename or _ATTRS in filename))
                or filename.startswith(_OWN)
            )
        ):
            return _compile(source, filename, mode, *args, **kwargs)
        key = _SALT.sub("hash((", source)
        kept = self.entries.get(filename)
        # a (source, code) pair, or nothing to use (a file that marshal reads but this run
        # did not write: another version of this format, or damage)
        if type(kept) is tuple and len(kept) == 2 and kept[0] == key and type(kept[1]) is CodeType:
            self.reused += 1
            return kept[1]
        code = _compile(source, filename, mode)
        self.entries[filename] = (key, code)
        if not self.compiled and self.write:
            import atexit

            atexit.register(self.save)
        self.compiled += 1
        return code

    def save(self) -> None:
        """Write the entries (read and compiled) in place of the file, all or nothing."""
        if self.path is None or not self.compiled or not self.write:
            return
        part = self.path.with_name(f"{self.path.name}.{os.getpid()}")
        try:
            self.path.parent.mkdir(exist_ok=True)
            part.write_bytes(marshal.dumps((self.stamp, self.entries)))
            os.replace(part, self.path)
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                part.unlink(missing_ok=True)


_installed: _Cache | None = None


def compile_kept(source: str, filename: str) -> CodeType:
    """``compile(source, filename, "exec")`` for source this package generates itself
    (``filename`` starting ``<rollout_trace_sdk generated ``): kept between runs as attrs'
    code is, once the command line has installed the cache; compiled every time otherwise."""
    if _installed is None:
        return _compile(source, filename, "exec")
    return _installed.compile(source, filename, "exec")  # type: ignore[no-any-return]


def _default_path() -> Path | None:
    tag = sys.implementation.cache_tag
    if tag is None:
        return None
    return Path(__file__).parent / "__pycache__" / f"attrs-methods.{tag}.marshal"


def install(path: Path | None = None) -> _Cache:
    """Keep attrs' generated code for this package's classes in ``path`` (default: the
    package's ``__pycache__``, read always, written when Python writes bytecode there).
    Idempotent: the first call's cache stays."""
    global _installed
    if _installed is not None:
        return _installed
    write = path is not None or not (sys.dont_write_bytecode or sys.pycache_prefix is not None)
    # the code compiled from the same source is the same under the same Python, whatever
    # attrs made it (and ``attr.__version__`` would load importlib.metadata: 13 ms)
    cache = _Cache(path or _default_path(), sys.version, write=write)
    cache.load()
    # attrs builds ~30 classes of its own as it is imported (validators, converters), before
    # its ``compile`` can be replaced: while it loads, the builtin is ours (3 ms of start-up).
    # Nothing when attrs was imported already.
    builtins.compile = cache.compile
    try:
        import attr._make
    finally:
        builtins.compile = _compile
    if hasattr(attr._make, "_compile_and_eval"):
        attr._make.compile = cache.compile  # type: ignore[attr-defined]
    _installed = cache
    return cache
