"""The bundles an export is given: list local paths and fsspec URLs, key and fingerprint each.

A SOURCE is a bundle directory, a root searched for bundles (every directory holding a
``manifest.json``; a bundle's own subdirectories are not searched), a reduced ``state.json``,
or a URL of a bundle or root on any filesystem fsspec opens. A bundle's key is a hash of its
path (resolved: ``root/../root/b`` and a symlink to ``b`` are the one bundle ``b``) or URL; its
fingerprint a hash of each file's relative path, size and modification time, plus a stamp of
the export options that change rows: a bundle whose key and fingerprint match a successful
manifest entry is skipped.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from ..model.layout import MANIFEST

__all__ = [
    "BundleSource",
    "bundle_key",
    "is_url",
    "lenient_hint",
    "list_bundles",
    "named",
    "os_text",
    "refusal",
]


@attrs.frozen
class BundleSource:
    """One bundle to export, as listed by the driver."""

    #: absolute local path, or a URL fsspec understands
    url: str
    #: stable name of the bundle's parts (hash of ``url``)
    key: str
    #: hash of the bundle's files (paths, sizes, mtimes); changes when the bundle does
    fingerprint: str
    size_bytes: int
    remote: bool
    #: a reduced ``state.json`` rather than a bundle (no payload text)
    state_file: bool = False


def is_url(spec: str) -> bool:
    """Whether a source names an fsspec filesystem rather than a local path."""
    return "://" in spec


def bundle_key(url: str) -> str:
    """The name of a bundle's parts: 24 hex digits of a hash of its path or URL (the export
    directory's manifest takes no other key, see :mod:`.export_dir`)."""
    return hashlib.sha256(_path_bytes(url)).hexdigest()[:24]


def _path_bytes(text: str) -> bytes:
    """A path's UTF-8, a byte the file system gave that is no UTF-8 (``os.walk`` hands it
    over as a lone surrogate) as that byte: a stray file so named in a bundle made the whole
    root unlistable (review36). A UTF-8 path gives the bytes it always gave, so keys and
    fingerprints that earlier exports recorded stay the same."""
    return text.encode("utf-8", "surrogateescape")


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _not_utf8(path: str) -> str:
    """The error of a bundle whose path is no UTF-8: the path is a column of every row it
    gives, and Parquet's strings are UTF-8 only."""
    shown = _path_bytes(path).decode("utf-8", "backslashreplace")
    return f"{shown}: cannot export: its path is not UTF-8 (rename it)"


def _fingerprint(files: Iterable[tuple[str, int, Any]], stamp: str) -> tuple[str, int]:
    digest = hashlib.sha256(stamp.encode())
    total = 0
    for rel, size, mtime in sorted(files):
        digest.update(_path_bytes(f"{rel}\0{size}\0{mtime}\n"))
        total += size
    return digest.hexdigest()[:32], total


def list_bundles(specs: Sequence[str], stamp: str, errors: list[str]) -> list[BundleSource]:
    """Every bundle named by ``specs``: a bundle directory, or a root searched for bundles
    (directories holding ``manifest.json``; a bundle's own subdirectories are not searched).

    Args:
        specs: local paths or fsspec URLs.
        stamp: the run's options that change rows (part of each fingerprint).
        errors: receives one line per source that cannot be listed.

    Returns:
        The bundles, deduplicated, in a stable order.
    """
    found: dict[str, BundleSource] = {}
    for spec in specs:
        before = len(errors)
        try:
            listed = list(
                _list_url(spec, stamp) if is_url(spec) else _list_local(spec, stamp, errors)
            )
        except (OSError, ValueError, ImportError) as exc:
            errors.append(f"{spec}: cannot list: {os_text(exc)}")
            continue
        if not listed and len(errors) == before:
            errors.append(f"{spec}: no bundle (no directory with {MANIFEST}) found")
        for source in listed:
            found.setdefault(source.key, source)
    return sorted(found.values(), key=lambda s: s.url)


def refusal(exc: Exception, path: str | Path, shown: str | None = None) -> str:
    """A source's refusal as an export words it, naming the source once: the reader's text
    named it up to three times on one line (``SOURCE: parse state SOURCE: ... (SOURCE)``;
    found by polish32). Where it happened is left out when it is the source itself or a file
    the message names already, and given relative to the source when inside it. The line
    that prints it heads it ``SOURCE:`` unless it names the source (:func:`named`).

    Args:
        exc: the reader's error (a :class:`~..reduce.ReduceError`, or any other).
        path: the path that was read: the source, or a remote source's local copy.
        shown: the source as the user knows it (default ``path``): it replaces ``path``.

    Returns:
        The text (a manifest entry's ``error``), not headed, and not with what ``--lenient``
        does (see :func:`lenient_hint`).
    """
    from ..reduce import ReduceError

    read, shown = str(path), str(path) if shown is None else shown
    if not isinstance(exc, ReduceError):
        return str(exc).replace(read, shown)
    text = exc.message + (f": {exc.cause}" if exc.cause is not None else "")
    where: list[str] = []
    file = exc.file
    if file is None or file == read or file in exc.message:
        file = None
    else:
        file = file.removeprefix(f"{read}/")
    if exc.line is not None:
        where.append(f"line {exc.line}" if file is None else f"{file}:{exc.line}")
    elif file is not None:
        where.append(file)
    if exc.seq is not None:
        where.append(f"seq {exc.seq}")
    if where:
        text += f" ({', '.join(where)})"
    return text.replace(read, shown)


def named(source: str, text: str) -> str:
    """``text`` headed ``source:`` unless it names the source already (a file in it)."""
    return text if source in text else f"{source}: {text}"


def lenient_hint(error: str | None) -> str:
    """A refusal's text with what ``--lenient`` does: for the command line only (a result's
    or a manifest's ``error`` stays the reducer's words)."""
    return f"{error} (--lenient exports the rest)"


def os_text(exc: BaseException) -> str:
    """An error as a short lower-case reason (``no such file or directory``)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def _list_local(spec: str, stamp: str, errors: list[str]) -> Iterator[BundleSource]:
    # one bundle, one key: ``root/../root/b`` and a symlink to ``b`` name the same bundle
    root = Path(os.path.realpath(spec))
    if root.is_file():
        url = str(root)
        if not _is_utf8(url):
            errors.append(_not_utf8(url))
            return
        st = root.stat()
        fingerprint, size = _fingerprint([(root.name, st.st_size, st.st_mtime_ns)], stamp)
        yield BundleSource(url, bundle_key(url), fingerprint, size, False, state_file=True)
        return
    if not root.is_dir():
        raise OSError(2, "No such directory")

    def unlisted(exc: OSError) -> None:
        # a directory below the root that cannot be read: the bundles in it would be left out
        # without a word, the export's exit status 0 (found by review34)
        errors.append(f"{exc.filename}: cannot list: {os_text(exc)}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=unlisted):
        dirnames.sort()
        if MANIFEST not in filenames:
            continue
        dirnames.clear()
        url = str(Path(dirpath))
        if not _is_utf8(url):
            errors.append(_not_utf8(url))
            continue
        fingerprint, size = _fingerprint(_bundle_files(url), stamp)
        yield BundleSource(url, bundle_key(url), fingerprint, size, remote=False)


def _bundle_files(bundle: str) -> Iterator[tuple[str, int, int]]:
    """Each file under ``bundle`` (normalised, as ``os.walk`` gives it): its path relative to
    it, size and modification time. In strings, not ``Path``s: a bundle holds a file per
    payload, and pathlib's parsing was over half of a re-export that skipped everything
    (10,000 small bundles, 234,000 files: 10.2 s of listing, review scale33). The relative
    paths are ``Path.relative_to``'s, so fingerprints stay what earlier exports recorded."""
    skip = len(bundle) + 1
    for sub, _, names in os.walk(bundle):
        inner = sub[skip:]
        for name in names:
            try:
                st = os.lstat(os.path.join(sub, name))
            except OSError:
                continue
            yield (os.path.join(inner, name) if inner else name), st.st_size, st.st_mtime_ns


def _mtime(info: dict[str, Any]) -> Any:
    """Whatever modification stamp this filesystem reports (names differ between backends)."""
    for name in ("mtime", "LastModified", "updated", "last_modified", "created", "ETag", "etag"):
        if info.get(name) is not None:
            return info[name]
    return None


def _outermost(path: str, bundles: set[str], *, below: bool = False) -> str | None:
    """The first of ``path``'s ancestors (then ``path`` itself, unless ``below``) that is in
    ``bundles``, or ``None``. The empty path is one (``/x``'s, where a filesystem's root
    holds a bundle's manifest: ``memory://``)."""
    at = path.find("/")
    while at != -1:
        if path[:at] in bundles:
            return path[:at]
        at = path.find("/", at + 1)
    return path if not below and path in bundles else None


def _list_url(spec: str, stamp: str) -> Iterator[BundleSource]:
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(spec)
    root = root.rstrip("/")
    infos: dict[str, dict[str, Any]] = fs.find(root, detail=True)
    if not infos:
        raise OSError(2, "No such directory")
    bundles = {p.rsplit("/", 1)[0] for p in infos if p.rsplit("/", 1)[-1] == MANIFEST}
    # a bundle's own subdirectories are not searched: a bundle inside another is its files.
    # Each path is matched by its ancestors (a set lookup each), not against every bundle:
    # that was quadratic, 4.2 s for 2,000 bundles of 5 files (review scale33)
    outer = {b for b in bundles if _outermost(b, bundles) == b}
    files: dict[str, list[tuple[str, int, Any]]] = {b: [] for b in outer}
    for path, info in infos.items():
        bundle = _outermost(path, outer, below=True)
        if bundle is not None:
            files[bundle].append(
                (path[len(bundle) + 1 :], int(info.get("size") or 0), _mtime(info))
            )
    for bundle in sorted(outer):
        fingerprint, size = _fingerprint(files[bundle], stamp)
        url = fs.unstrip_protocol(bundle)
        yield BundleSource(url, bundle_key(url), fingerprint, size, remote=True)
