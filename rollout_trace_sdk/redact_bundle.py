"""``rollout-trace redact``: redact an existing bundle (one recorded without redaction).

The copy is built in a temporary directory beside its destination and renamed into place
only once every file is written, so a failure (a full disk, a refused file) leaves the source
untouched and no half-made bundle behind. ``--in-place`` swaps the finished copy in for the
source the same way and removes the old files last. Directories are ``0700`` and files
``0600``, like the recorder's.

What is rewritten: ``trace.jsonl`` (line by line, in blocks), every payload file under
``payloads/`` (schema 3: every shard, decompressed, redacted record by record and
recompressed into the same shard number; see ``_redact_shards``), and every ``*.json`` file
beside the log (the manifest, and a ``state.json``
if present: reduced states hold prompt text; it is then made again from the redacted copy,
see ``_restate``). A viewer page beside the log (``view.html``,
which embeds the payloads) is left out and named; any other regular file is no part of the
format and may hold anything: left out of a copy (it stays in the source), kept as it is by
``--in-place`` (deleting it would lose it), named in the report either way. Nothing that is not
a regular file or a directory inside the bundle is read: symlinks, FIFOs and devices are
refused with an error naming them (reads go through the reducer's confined reader,
``reduce/confined.py``). The counts are recorded in the bundle as Codex's writer
would record a warning: a ``protocol_event_observed`` (``event_type`` ``"warning"``) just
before ``recording_completed``.

Deliberately not part of ``reduce/`` (which must never import ``record/``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, TextIO

import attrs
import orjson

from ._redact_shards import ShardError, ShardRewriter, fix_retained, is_shard
from ._signals import held
from .model import layout
from .model.json_check import manifest_value
from .record.redact import RedactionConfig, Redactor
from .reduce.confined import BundleFileError, BundleFiles

DIR_MODE: Final = layout.PRIVATE_DIR_MODE
FILE_MODE: Final = layout.PRIVATE_FILE_MODE
_NEW: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
#: trace.jsonl is redacted in blocks of whole lines of about this size
_BLOCK: Final = 4 << 20


class RedactBundleError(Exception):
    """The bundle cannot be redacted; the message names the file and the reason."""


class OutputExists(RedactBundleError):
    """The copy's directory exists (a usage error for the CLI: nothing is written over)."""


@attrs.frozen
class RedactReport:
    """What ``redact_bundle`` did."""

    output: Path
    counts: dict[str, int]
    #: the bundle files read and redacted (the counts' payload a copy adds is not one)
    files: int
    #: files kept without redaction by ``in_place`` (not part of the bundle format)
    copied: tuple[str, ...]
    #: whether the counts were recorded in the bundle's log
    recorded: bool
    #: pages made from the bundle (``view.html``), left out: they embed its payloads as
    #: they were, and cannot be redacted; ``rollout-trace view`` makes them again
    left_out: tuple[str, ...] = ()
    #: shards that ended in a record cut short (a crash), with its bytes, left out
    cut_records: tuple[tuple[str, int], ...] = ()
    #: shards whose zstd frame was not finished (a crash, a full disk): finished in the copy
    unsealed: tuple[str, ...] = ()
    #: files not part of the bundle format, left out of a copy (they may hold anything, and
    #: a redacted copy is one to hand on); they stay in the source
    not_copied: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def redact_bundle(
    bundle: Path | str,
    output: Path | str | None = None,
    *,
    in_place: bool = False,
    config: RedactionConfig | None = None,
) -> RedactReport:
    """Write a redacted copy of ``bundle``.

    Args:
        bundle: the bundle directory.
        output: the new bundle directory (must not exist); default ``<bundle>-redacted``.
        in_place: replace ``bundle`` itself (``output`` must then be ``None``); only a bundle
            its recorder closed (one still being recorded would lose what it writes next).
        config: what to redact (the defaults when omitted; ``enabled`` is ignored).

    Returns:
        A :class:`RedactReport`.

    Raises:
        RedactBundleError: the bundle is not a readable bundle or the copy cannot be written;
            the source is unchanged.
    """
    _check_dir(Path(bundle), "bundle")
    # the real path: "." names no parent to put the copy or the default output beside
    source = Path(os.path.realpath(bundle))
    if in_place and output is not None:
        raise RedactBundleError("give either an output directory or --in-place, not both")
    if output is not None and str(output) in ("", "-"):
        raise RedactBundleError(f"cannot write a bundle to {str(output)!r}: give a new directory")
    target = source if in_place else Path(output or f"{source}{layout.REDACTED_SUFFIX}")
    if not in_place and (target.exists() or target.is_symlink()):
        # a bundle there: redacted before (``redact ROOT --latest`` run twice)
        if output is None and os.path.lexists(target / layout.MANIFEST):
            raise OutputExists(
                f"{source} has a redacted copy already: {target}; give another directory "
                "with -o, or redact it with --in-place"
            )
        raise OutputExists(f"{target} already exists; give a new directory")
    if not in_place and Path(os.path.realpath(target)).is_relative_to(source):
        raise RedactBundleError(f"{target} is inside the bundle; give a directory outside it")
    if in_place:
        _check_closed(source)
    cfg = attrs.evolve(config or RedactionConfig(), enabled=True)
    redactor = Redactor(cfg)
    parent = target.parent if str(target.parent) else Path(".")
    try:
        temp = Path(tempfile.mkdtemp(prefix=layout.work_prefix(target.name, "redact"), dir=parent))
    except OSError as exc:
        raise RedactBundleError(f"cannot create a directory in {parent}: {exc.strerror}") from None
    try:
        files, others, recorded, left_out, cut, unsealed = _copy(
            source, temp, redactor, keep_others=in_place
        )
        _restate(temp)
        _swap(source, temp, target, in_place)
    except OSError as exc:  # another process made the output meanwhile, a busy mount, ...
        shutil.rmtree(temp, ignore_errors=True)
        why = "it exists now" if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) else exc.strerror
        raise RedactBundleError(f"cannot write {target}: {why}") from None
    except BaseException:
        with held():  # a second signal must not stop the removal half-way (see convert)
            shutil.rmtree(temp, ignore_errors=True)
        raise
    return RedactReport(
        target,
        dict(redactor.counts),
        files,
        tuple(others) if in_place else (),
        recorded,
        tuple(left_out),
        cut,
        unsealed,
        () if in_place else tuple(others),
    )


def _copy(
    source: Path, temp: Path, redactor: Redactor, *, keep_others: bool
) -> tuple[int, list[str], bool, list[str], tuple[tuple[str, int], ...], tuple[str, ...]]:
    """Write the redacted bundle into ``temp``; the files no part of the format are kept
    as they are when ``keep_others``, else left out (returned, either way)."""
    files = 0
    copied: list[str] = []
    left_out: list[str] = []
    with BundleFiles(source) as bundle:
        schema = _check_schema(bundle)
        # the log first: a recorder still writing writes a payload before the line citing it,
        # so every payload this log cites is in what is read next (read last, it cited payloads
        # written meanwhile, missing from the copy)
        log = _read(bundle, layout.EVENT_LOG)
        shards = ShardRewriter(temp / layout.PAYLOADS_DIR, redactor) if schema == 3 else None
        # (a recorder's space reserve, left by one that was killed, is room, not data)
        skip = (layout.EVENT_LOG, layout.SPACE_RESERVE)
        for rel, data in _walk(bundle, [n for n in sorted(os.listdir(source)) if n not in skip]):
            dest = temp / rel
            if data is None:
                _mkdir(dest)
            elif shards is not None and is_shard(rel):
                number = layout.shard_number(rel.rpartition("/")[2])
                assert number is not None
                try:
                    shards.rewrite(number, data)
                except (ShardError, OSError) as exc:
                    raise RedactBundleError(f"{bundle.shown(rel)}: {exc}") from None
                files += 1
            elif rel.endswith(".json") and (
                rel.startswith(f"{layout.PAYLOADS_DIR}/") or "/" not in rel
            ):
                _write(dest, redactor.redact(data))  # a payload, the manifest, a state.json
                files += 1
            elif rel.endswith(".html") and "/" not in rel:
                left_out.append(rel)  # a viewer page: the payloads, deflated, unredacted
            else:
                if keep_others:
                    _write(dest, data)
                copied.append(rel)
        _mkdir(temp / layout.PAYLOADS_DIR)
    recorded = _redact_log(log, temp, redactor, shards)
    cut = tuple(
        (f"{layout.PAYLOADS_DIR}/{layout.shard_name(n)}", size)
        for n, size in sorted(shards.cut.items() if shards is not None else ())
    )
    unsealed = tuple(
        f"{layout.PAYLOADS_DIR}/{layout.shard_name(n)}"
        for n in sorted(shards.unsealed if shards is not None else ())
    )
    return files + 1, copied, recorded, left_out, cut, unsealed


def _restate(temp: Path) -> None:
    """A reduced state the bundle held (redacted above as text, so no secret is left in it)
    replaced by the redacted bundle's own: the counts this redaction added to the log and
    the payloads' new sizes are part of it, and a reader of ``state.json`` takes it for the
    bundle's. Reduced as ``reduce`` reduces, strictly, else leniently (a state may sit beside
    a log a crash cut); a bundle neither reduces keeps the redacted text."""
    from .model.state_json import state_chunks
    from .reduce import ReduceError, reduce_bundle

    path = temp / layout.STATE_FILE
    if not path.is_file():
        return
    for lenient in (False, True):
        try:
            trace = reduce_bundle(temp, lenient=lenient)
        except ReduceError:
            continue
        data = b"".join(state_chunks(trace))
        path.unlink()
        _write(path, data)
        return


def _check_schema(bundle: BundleFiles) -> int:
    """The bundle's schema (2: payload files; 3: zstd shards, rewritten record by record)."""
    raw = _read(bundle, layout.MANIFEST)
    try:
        manifest = manifest_value(raw)
        version = manifest.get("schema_version")
    except (ValueError, AttributeError):
        raise RedactBundleError(f"{bundle.shown(layout.MANIFEST)}: not a JSON object") from None
    if version not in layout.SUPPORTED_SCHEMAS:
        raise RedactBundleError(
            f"{bundle.shown(layout.MANIFEST)}: schema_version {version!r}; only schemas "
            f"{layout.SCHEMA_2} and {layout.SCHEMA_3} can be redacted"
        )
    return int(version)


def _walk(bundle: BundleFiles, names: list[str]) -> Iterator[tuple[str, bytes | None]]:
    """``(relpath, content)`` for every file below the bundle (``None`` for a directory,
    before its entries). Reads go through the reducer's confined reader: regular files and
    real directories inside the bundle only; a symlink, FIFO or device is refused."""
    for rel in names:
        try:
            yield rel, bundle.read_bytes(rel, what=rel)
        except BundleFileError as exc:
            if exc.os_error is None or exc.os_error.errno != errno.EISDIR:
                raise RedactBundleError(f"{bundle.shown(rel)}: {exc.cause or exc}") from None
            yield rel, None
            listed = bundle.list_dir(rel, what=rel)
            yield from _walk(bundle, [f"{rel}/{name}" for name in listed])


def _read(bundle: BundleFiles, rel: str) -> bytes:
    try:
        return bundle.read_bytes(rel, what=rel)
    except BundleFileError as exc:
        raise RedactBundleError(f"{bundle.shown(rel)}: {exc.cause or exc}") from None


def _redact_log(
    data: bytes, temp: Path, redactor: Redactor, shards: ShardRewriter | None = None
) -> bool:
    """Redact the log in blocks of whole lines; then record the counts before a final
    ``recording_completed`` (or after the last line when the recording was cut short).
    Schema 3: references to truncated bodies whose length redaction changed are updated."""
    parts: list[bytes] = []
    at = 0
    while at < len(data):
        end = data.find(b"\n", min(at + _BLOCK, len(data) - 1))
        end = len(data) if end < 0 else end + 1
        block = redactor.redact(data[at:end], lines=True)
        if shards is not None and shards.changed:
            block = b"\n".join(fix_retained(line, shards.changed) for line in block.split(b"\n"))
        parts.append(block)
        at = end
    out = b"".join(parts)
    out, recorded = _with_summary(out, temp, redactor.counts, shards)
    _write(temp / layout.EVENT_LOG, out)
    return recorded


def _with_summary(
    log: bytes, temp: Path, counts: dict[str, int], shards: ShardRewriter | None
) -> tuple[bytes, bool]:
    whole, blank = _blank_tail(log)  # Codex skips blank lines at the end: they stay last
    if not counts or not whole.endswith(b"\n"):
        return log, False
    log = whole
    body = log[:-1]
    cut = body.rfind(b"\n") + 1
    try:
        last = orjson.loads(body[cut:])
        seq = int(last["seq"])
        rollout_id = last["rollout_id"]
        completed = last["payload"]["type"] == "recording_completed"
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return log, False
    report = {"type": "warning", "message": layout.redaction_report(counts)}
    ref: dict[str, Any]
    ordinal = _next_ordinal(log, temp / layout.PAYLOADS_DIR, shards)
    if shards is not None:
        ident = layout.raw_payload_id(ordinal)
        # a shard of its own, numbered past every shard on disk and every one the log cites
        # (one it cites may be missing: its number must keep saying so)
        cited = (int(n) for n in re.findall(rb'"shard":(\d+)', log))
        shards.max_shard = max(shards.max_shard, *cited, 0)
        shard = shards.add(ident, orjson.dumps(report))
        ref = {"raw_payload_id": ident, "kind": {"type": "protocol_event"}, "shard": shard}
    else:
        _write(
            temp / layout.payload_path(ordinal), orjson.dumps(report, option=orjson.OPT_INDENT_2)
        )
        ref = {
            "raw_payload_id": layout.raw_payload_id(ordinal),
            "kind": {"type": "protocol_event"},
            "path": layout.payload_path(ordinal),
        }
    warning_seq = seq if completed else seq + 1
    line = {
        "schema_version": last.get("schema_version", 2),
        "seq": warning_seq,
        "wall_time_unix_ms": last["wall_time_unix_ms"],
        "rollout_id": rollout_id,
        "thread_id": None,
        "codex_turn_id": None,
        "payload": {
            "type": "protocol_event_observed",
            "event_type": "warning",
            "event_payload": ref,
        },
    }
    added = orjson.dumps(line) + b"\n"
    if not completed:
        return log + added + blank, True
    last["seq"] = seq + 1
    return log[:cut] + added + orjson.dumps(last) + b"\n" + blank, True


def _blank_tail(log: bytes) -> tuple[bytes, bytes]:
    """``log`` split before the blank (empty or whitespace) lines it ends with."""
    end = len(log)
    while end and log.endswith(b"\n", 0, end):
        start = log.rfind(b"\n", 0, end - 1) + 1
        if log[start : end - 1].strip():
            break
        end = start
    return log[:end], log[end:]


#: Every payload id a line cites (Codex writes compact lines; spaces are allowed anyway).
_CITED_IDS: Final = re.compile(rb'"raw_payload_id"\s*:\s*"raw_payload:([0-9]{1,19})"')


def _next_ordinal(log: bytes, payloads: Path, shards: ShardRewriter | None) -> int:
    """A payload number no id of the bundle has and no file of its payloads directory is
    named by: past every id the log cites (payloads a size limit omitted have no record),
    every record of its shards and every ``N.json`` (a file need not be named by its id)."""
    highest = max((int(n) for n in _CITED_IDS.findall(log)), default=0)
    if shards is not None:
        highest = max(highest, shards.max_ordinal)
    for name in os.listdir(payloads):
        number = layout.payload_file_number(name)
        if number is not None:
            highest = max(highest, number)
    return highest + 1


def _swap(source: Path, temp: Path, target: Path, in_place: bool) -> None:
    os.chmod(temp, DIR_MODE)
    if not in_place:
        os.rename(temp, target)  # target does not exist: checked, and rename never merges
        return
    old = Path(tempfile.mkdtemp(prefix=layout.work_prefix(source.name, "old"), dir=temp.parent))
    os.rmdir(old)
    # Held from the first rename to the last file removed: stopped between them, the old copy
    # (the secrets) was left hidden beside the bundle and the command said "terminated"
    # though the redaction was done. A signal that comes meanwhile ends the command after.
    with held():
        os.rename(source, old)
        try:
            os.rename(temp, source)
        except BaseException:
            os.rename(old, source)
            raise
        shutil.rmtree(old, ignore_errors=True)


def _check_closed(source: Path) -> None:
    """Refuse to replace a bundle its recorder did not close. One still being recorded keeps
    its log and shard open: swapped out, everything it wrote next went to the removed files,
    lost without a word (``redact --in-place`` while a rollout ran kept 21,491 of its 121,507
    events and exited 0; found by review cli21). Nothing tells a live recorder from a killed
    one where the log cannot be locked (``reduce.liveness``), so neither is replaced; a copy
    (``-o``) is safe for both."""
    from ._log_status import bundle_status  # the log's lock and tail: nothing else is asked

    status = bundle_status(source).status
    if status != "complete":
        why = (
            "still being recorded"
            if status == "recording"
            else "the recorder was stopped, or where it cannot be told, still recording"
        )
        raise RedactBundleError(
            f"{source} was not closed by its recorder ({status}: {why}); replaced in place, "
            "what a live recorder writes next would be lost: write a redacted copy with "
            "-o DIR instead"
        )


def _check_dir(path: Path, what: str) -> None:
    try:
        info = os.stat(path)  # a symlink to a bundle names it, as for reduce and convert
    except OSError as exc:
        raise RedactBundleError(f"{path}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise RedactBundleError(f"{path}: the {what} is not a directory")


def _write(path: Path, data: bytes) -> None:
    try:
        fd = os.open(path, _NEW, FILE_MODE)
    except OSError as exc:
        raise RedactBundleError(f"{path}: {exc.strerror}") from None
    with open(fd, "wb", closefd=True) as handle:
        os.fchmod(fd, FILE_MODE)
        try:
            handle.write(data)
        except OSError as exc:
            raise RedactBundleError(f"{path}: {exc.strerror}") from None


def _mkdir(path: Path) -> None:
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, DIR_MODE)
    os.chmod(path, DIR_MODE)


def run_cli(bundle: str, output: str | None, in_place: bool, out: TextIO, err: TextIO) -> int:
    """``rollout-trace redact``: 0 done, 1 refused (the message says why)."""
    from .view.visible import visible  # paths and names are the bundle maker's: spelled out

    try:
        report = redact_bundle(bundle, output, in_place=in_place)
    except RedactBundleError as exc:
        print(visible(f"rollout-trace redact: {exc}"), file=err)
        return 2 if isinstance(exc, OutputExists) else 1
    detail = ", ".join(f"{kind} {n}" for kind, n in sorted(report.counts.items()))
    print(visible(str(report.output)), file=out)
    # the files checked, not the files secrets were in (2 secrets of one payload read as
    # spread over all 75 files)
    print(
        f"{report.total} secret{'' if report.total == 1 else 's'} redacted"
        + (f" ({detail})" if detail else "")
        + f"; {report.files} files checked",
        file=out,
    )
    for name in report.copied:
        print(visible(f"note: kept without redaction (not a bundle file): {name}"), file=err)
    for name in report.not_copied:
        print(
            visible(
                f"note: left out {name}: not a bundle file, so not redacted "
                "(it stays in the source)"
            ),
            file=err,
        )
    for name in report.left_out:
        print(
            f"note: left out {name}: a page holding the payloads as they were; "
            "make it again with rollout-trace view",
            file=err,
        )
    for name, size in report.cut_records:
        print(
            f"note: {name} ended in a record cut short ({size:,} bytes, a crash while it was "
            "written): left out",
            file=err,
        )
    for name in report.unsealed:
        print(
            f"note: {name} was not finished (a crash or a full disk while it was written): "
            "the copy's is",
            file=err,
        )
    if report.total and not report.recorded:
        print(
            "note: the counts are not recorded in the bundle: its log does not end with a "
            "whole event line",
            file=err,
        )
    return 0
