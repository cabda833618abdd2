"""The damage differential: a conformance bundle damaged *below its JSON*, in its files, then
judged as ``mutation.probe`` judges a mutant (the state or the refusal of the Codex of its
schema, ``reduce --lenient``, ``validate``, ``summary`` and ``show`` ending cleanly).

Schema 3 (``payloads/NNNNNN.zst``): a shard cut at a byte (in its frame header, a block, the
checksum) or cut inside its decompressed records (a record header, an id, a body: the frame
left open, or sealed over the cut); a byte flipped in the frame header, a block, the checksum,
a record header's length fields; shards swapped, renumbered, deleted, added, emptied, a
directory or a symlink in a shard's place; a record twice (in its shard, in another shard),
its id changed (to another record's, to none stored, to bytes that are not UTF-8); the
records in two frames (a bit of the second's header flipped), a skippable frame, a frame
with a content size (a bit of its header or a block flipped) or without a checksum, the
checksum wrong, the records uncompressed; a body that is not JSON, JSON of another kind, or
cut although its reference says it is whole.

Schema 2 (``payloads/N.json``): a payload file missing, empty, cut, not UTF-8, with a BOM, with
trailing bytes, a directory or a symlink where it belongs, two references naming one id or
one file. Both schemas: the manifest cut, with a BOM, CRLF or trailing bytes; ``trace.jsonl``
with CRLF line ends, a NUL byte, no final newline, a blank line in the middle, a BOM.

Each damage is a :data:`mutation.Mutation`: ``(bundle, rng) -> (kind, what was done)``; the
kind names the damage for the counts. :func:`judge` is ``mutation.probe`` but for symlinks:
Codex follows one, we refuse it on principle (``docs/reducing.md``, "What the reducer reads
(confinement)"), and the refusal must name the symlink.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import zstandard

from rollout_trace_sdk.model import layout
from rollout_trace_sdk.reduce import ReduceError, reduce_bundle
from rollout_trace_sdk.reduce.confined import BundleFileError
from tests.hostile import argv, run_in_process, verdict

from .mutation import probe

Records = list[tuple[bytes, bytes]]
_LOG = layout.EVENT_LOG
_MANIFEST = layout.MANIFEST
_BOM = b"\xef\xbb\xbf"
#: What a damaged body may become: not JSON, JSON of every kind, empty.
_BODIES = (b"", b"{", b"not json", b"\xff\xfe", b"[]", b"{}", b'"x"', b"1", b"null", b'["a"]')
#: Bytes appended after a file's end.
_TRAILERS = (b"\0", b"\n", b"\n\n", b" ", b"x", b"{}", b"\xff", b"\r\n", _BOM, b"\x1a")


# --- shard bytes ---------------------------------------------------------------------------------


def _records(data: bytes) -> Records:
    """A shard's records in file order, as (id bytes, body), duplicates kept."""
    out: Records = []
    offset, header = 0, layout.SHARD_RECORD_HEADER
    while offset + header.size <= len(data):
        id_len, body_len = header.unpack_from(data, offset)
        start = offset + header.size
        out.append((data[start : start + id_len], data[start + id_len : start + id_len + body_len]))
        offset = start + id_len + body_len
    return out


def _raw(records: Records) -> bytes:
    header = layout.SHARD_RECORD_HEADER
    return b"".join(header.pack(len(i), len(b)) + i + b for i, b in records)


def _frame(raw: bytes, checksum: bool = True, size: bool = False, level: int = 3) -> bytes:
    """One complete zstd frame of ``raw`` (a content size in its header if ``size``)."""
    return zstandard.ZstdCompressor(
        level=level, write_checksum=checksum, write_content_size=size
    ).compress(raw)


def _open_frame(raw: bytes) -> bytes:
    """A frame holding ``raw`` whose end was never written (a writer killed mid-shard)."""
    stream = zstandard.ZstdCompressor(write_checksum=True).compressobj()
    return stream.compress(raw) + stream.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)


def _skippable(content: bytes, number: int = 0) -> bytes:
    return (
        (0x184D2A50 + number).to_bytes(4, "little") + len(content).to_bytes(4, "little") + content
    )


def _layout(frame: bytes) -> dict[str, tuple[int, int]]:
    """Where a single frame's parts lie: header, block headers' span, content, checksum."""
    descriptor = frame[4]
    single = bool(descriptor & 0x20)
    header_end = 5 + (not single) + (0, 1, 2, 4)[descriptor & 3]
    header_end += (1 if single else 0, 2, 4, 8)[descriptor >> 6]
    offset, last = header_end, False
    blocks_start = offset
    block_headers = []
    while not last and offset + 3 <= len(frame):
        block = int.from_bytes(frame[offset : offset + 3], "little")
        last, kind, length = bool(block & 1), (block >> 1) & 3, block >> 3
        block_headers.append(offset)
        offset += 3 + (1 if kind == 1 else length)
    checksum = (offset, offset + 4) if descriptor & 4 else (offset, offset)
    return {
        "header": (0, header_end),
        "block-header": (block_headers[0], block_headers[0] + 3),
        "block": (blocks_start + 3, max(blocks_start + 4, offset)),
        "checksum": checksum,
    }


# --- schema 3 --------------------------------------------------------------------------------------


def _shards(bundle: Path) -> list[Path]:
    return sorted((bundle / layout.PAYLOADS_DIR).glob("*.zst"))


def _cut_file(shard: Path, rng: random.Random) -> tuple[str, str]:
    data = shard.read_bytes()
    parts = _layout(data)
    where = rng.choice(["header", "block", "checksum", "anywhere"])
    start, end = parts.get(where, (0, len(data)))
    at = rng.randrange(start, max(start + 1, end))
    shard.write_bytes(data[:at])
    return f"shard-cut-{where}", f"{shard.name} cut at byte {at} of {len(data)}"


def _flip_file(shard: Path, rng: random.Random) -> tuple[str, str]:
    data = shard.read_bytes()
    where = rng.choice(["header", "block-header", "block", "checksum"])
    start, end = _layout(data)[where]
    if end <= start:
        where, (start, end) = "block", _layout(data)["block"]
    at = rng.randrange(start, min(end, len(data)))
    bit = 1 << rng.randrange(8)
    shard.write_bytes(data[:at] + bytes([data[at] ^ bit]) + data[at + 1 :])
    return f"shard-flip-{where}", f"{shard.name} byte {at} ^ {bit:#x}"


def _cut_records(shard: Path, rng: random.Random) -> tuple[str, str]:
    """Records cut inside one (header, id or body), the frame left open or sealed over it."""
    raw = _decompressed(shard)
    records = _records(raw)
    index = rng.randrange(len(records))
    before = len(_raw(records[:index]))
    ident, body = records[index]
    where = rng.choice(["record-header", "id", "body"])
    size = {"record-header": 10, "id": len(ident), "body": len(body)}[where]
    offset = {"record-header": 0, "id": 10, "body": 10 + len(ident)}[where]
    at = before + offset + rng.randrange(max(size, 1))
    sealed = rng.random() < 0.5
    shard.write_bytes(_frame(raw[:at]) if sealed else _open_frame(raw[:at]))
    state = "sealed" if sealed else "open"
    return f"records-cut-{where}-{state}", f"{shard.name} records cut at {at} of {len(raw)}"


def _flip_lengths(shard: Path, rng: random.Random) -> tuple[str, str]:
    raw = bytearray(_decompressed(shard))
    records = _records(bytes(raw))
    index = rng.randrange(len(records))
    start = len(_raw(records[:index]))
    field = rng.choice(["id-length", "body-length"])
    at = start + (rng.randrange(2) if field == "id-length" else 2 + rng.randrange(8))
    bit = 1 << rng.randrange(8)
    raw[at] ^= bit
    shard.write_bytes(_frame(bytes(raw)))
    return f"records-flip-{field}", f"{shard.name} record {index} byte {at} ^ {bit:#x}"


def _decompressed(shard: Path) -> bytes:
    return zstandard.ZstdDecompressor().decompressobj().decompress(shard.read_bytes())


def _write_records(shard: Path, records: Records) -> None:
    shard.write_bytes(_frame(_raw(records)))


def _duplicate(bundle: Path, shard: Path, rng: random.Random) -> tuple[str, str]:
    records = _records(_decompressed(shard))
    record = rng.choice(records)
    others = [s for s in _shards(bundle) if s != shard]
    if others and rng.random() < 0.5:
        other = rng.choice(others)
        into = _records(_decompressed(other))
        into.insert(rng.randrange(len(into) + 1), record)
        _write_records(other, into)
        return "record-dup-across", f"{record[0]!r} of {shard.name} also in {other.name}"
    same = rng.random() < 0.5
    copy = record if same else (record[0], rng.choice(_BODIES))
    records.insert(rng.randrange(len(records) + 1), copy)
    _write_records(shard, records)
    return "record-dup-same", f"{record[0]!r} twice in {shard.name} ({'same' if same else 'other'})"


def _rename(bundle: Path, shard: Path, rng: random.Random) -> tuple[str, str]:
    records = _records(_decompressed(shard))
    index = rng.randrange(len(records))
    ident, body = records[index]
    ids = [i for s in _shards(bundle) for i, _ in _records(_decompressed(s)) if i != ident]
    choice = rng.choice(["existing", "nonexistent", "not-utf8", "empty", "padded"])
    if choice == "existing" and ids:
        new = rng.choice(ids)
    elif choice == "not-utf8":
        new = ident[:-1] + b"\xff"
    elif choice == "empty":
        new = b""
    elif choice == "padded":
        new = ident + rng.choice([b" ", b"\0", b"0"])
    else:
        choice, new = "nonexistent", b"raw_payload:" + str(rng.randrange(100, 100_000)).encode()
    records[index] = (new, body)
    _write_records(shard, records)
    return f"record-id-{choice}", f"{shard.name} {ident!r} -> {new!r}"


def _body(shard: Path, rng: random.Random) -> tuple[str, str]:
    records = _records(_decompressed(shard))
    index = rng.randrange(len(records))
    ident, body = records[index]
    how = rng.choice(["replaced", "cut", "trailing"])
    if how == "replaced":
        new = rng.choice(_BODIES)
    elif how == "cut":
        new = body[: rng.randrange(max(len(body), 1))]
    else:
        new = body + rng.choice(_TRAILERS)
    records[index] = (ident, new)
    _write_records(shard, records)
    return f"body-{how}", f"{shard.name} {ident!r}: {body[:40]!r} -> {new[:40]!r}"


def _reframe(shard: Path, rng: random.Random) -> tuple[str, str]:
    raw = _decompressed(shard)
    how = rng.choice(
        ["two-frames", "frames-mid-record", "skippable", "content-size", "no-checksum",
         "bad-checksum", "uncompressed", "trailing", "level", "content-size-flip",
         "two-frames-flip"]
    )  # fmt: skip
    if how in ("two-frames", "frames-mid-record"):
        records = _records(raw)
        if how == "two-frames":
            at = len(_raw(records[: rng.randrange(len(records) + 1)]))
        else:
            at = rng.randrange(len(raw) + 1)
        data = _frame(raw[:at]) + _frame(raw[at:])
    elif how == "skippable":
        frame = _frame(raw)
        skip = _skippable(rng.randbytes(rng.randrange(0, 20)), rng.randrange(16))
        data = rng.choice([skip + frame, frame + skip, skip + skip + frame])
    elif how == "content-size":
        data = _frame(raw, size=True)
    elif how == "content-size-flip":
        sized = bytearray(_frame(raw, size=True))
        start, end = _layout(bytes(sized))[rng.choice(["header", "block"])]
        at = rng.randrange(max(4, start), min(end, len(sized)))
        sized[at] ^= 1 << rng.randrange(8)
        data = bytes(sized)
    elif how == "two-frames-flip":
        # the second of two frames giving their sizes, a bit of its header flipped: how
        # much room Codex's read has as it starts decides libzstd's path and words
        cut = rng.randrange(len(raw) + 1)
        first = _frame(raw[:cut], size=True)
        second = bytearray(_frame(raw[cut:], size=True))
        at = rng.randrange(4, _layout(bytes(second))["header"][1])
        second[at] ^= 1 << rng.randrange(8)
        data = first + bytes(second)
    elif how == "no-checksum":
        data = _frame(raw, checksum=False)
    elif how == "bad-checksum":
        frame = _frame(raw)
        data = frame[:-4] + bytes(b ^ 0xFF for b in frame[-4:])
    elif how == "uncompressed":
        data = raw
    elif how == "trailing":
        data = _frame(raw) + rng.choice(_TRAILERS)
    else:
        data = _frame(raw, level=rng.choice([-5, 1, 19]))
    shard.write_bytes(data)
    return f"frame-{how}", f"{shard.name} reframed ({how})"


def _shard_files(bundle: Path, rng: random.Random) -> tuple[str, str]:
    shards = _shards(bundle)
    how = rng.choice(["swap", "renumber", "missing", "extra", "empty", "directory", "symlink"])
    shard = rng.choice(shards)
    if how == "swap" and len(shards) > 1:
        a, b = rng.sample(shards, 2)
        temp = a.with_suffix(".tmp")
        a.rename(temp)
        b.rename(a)
        temp.rename(b)
        return "shards-swap", f"{a.name} <-> {b.name}"
    if how in ("swap", "renumber"):
        current = layout.shard_number(shard.name)
        number = rng.choice([n for n in (0, 1, 2, 3, 9, 1234567) if n != current])
        target = shard.parent / layout.shard_name(number)
        if target.exists():
            temp = shard.with_suffix(".tmp")
            shard.rename(temp)
            target.rename(shard)
            temp.rename(target)
        else:
            shard.rename(target)
        return "shards-renumber", f"{shard.name} -> {target.name}"
    if how == "missing":
        shard.unlink()
        return "shards-missing", f"{shard.name} deleted"
    if how == "directory":
        shard.unlink()
        shard.mkdir()
        return "shards-directory", f"{shard.name} is a directory"
    if how == "symlink":
        copy = bundle / "copy.zst"
        shard.rename(copy)
        where = rng.choice(["inside", "dangling"])
        shard.symlink_to("../copy.zst" if where == "inside" else "nowhere.zst")
        return f"shards-symlink-{where}", f"{shard.name} -> {shard.readlink()}"
    if how == "empty":
        shard.write_bytes(rng.choice([b"", _frame(b""), _open_frame(b"")]))
        return "shards-empty", f"{shard.name} emptied"
    number = rng.choice([0, len(shards) + 1, 99])
    target = shard.parent / layout.shard_name(number)
    content = rng.choice([b"", b"garbage", shard.read_bytes(), _frame(b"\x01\x00")])
    existed = target.exists()
    target.write_bytes(content)
    return "shards-extra", f"{target.name} {'replaced' if existed else 'added'} ({len(content)} B)"


def _damage_v3(bundle: Path, rng: random.Random) -> tuple[str, str]:
    shard = rng.choice(_shards(bundle))
    pick = rng.choices(
        ["cut-file", "flip-file", "cut-records", "lengths", "dup", "rename", "body", "reframe",
         "files"],
        [3, 3, 3, 2, 2, 2, 3, 3, 3],
    )[0]  # fmt: skip
    if pick == "cut-file":
        return _cut_file(shard, rng)
    if pick == "flip-file":
        return _flip_file(shard, rng)
    if pick == "cut-records":
        return _cut_records(shard, rng)
    if pick == "lengths":
        return _flip_lengths(shard, rng)
    if pick == "dup":
        return _duplicate(bundle, shard, rng)
    if pick == "rename":
        return _rename(bundle, shard, rng)
    if pick == "body":
        return _body(shard, rng)
    if pick == "reframe":
        return _reframe(shard, rng)
    return _shard_files(bundle, rng)


# --- schema 2 --------------------------------------------------------------------------------------

_REF = re.compile(rb'"raw_payload_id":"(raw_payload:\d+)","kind":\{[^{}]*\},"path":"([^"]*)"')


def _damage_v2(bundle: Path, rng: random.Random) -> tuple[str, str]:
    files = sorted((bundle / layout.PAYLOADS_DIR).glob("*.json"))
    target = rng.choice(files)
    data = target.read_bytes()
    how = rng.choice(
        ["missing", "empty", "cut", "not-utf8", "bom", "trailing", "directory", "symlink",
         "same-id", "same-file"]
    )  # fmt: skip
    shown = target.name
    if how == "missing":
        target.unlink()
    elif how == "empty":
        target.write_bytes(b"")
    elif how == "cut":
        at = rng.randrange(max(len(data), 1))
        target.write_bytes(data[:at])
        shown += f" at {at} of {len(data)}"
    elif how == "not-utf8":
        at = rng.randrange(len(data) + 1)
        target.write_bytes(data[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80"]) + data[at:])
        shown += f" at {at}"
    elif how == "bom":
        target.write_bytes(_BOM + data)
    elif how == "trailing":
        trailer = rng.choice(_TRAILERS)
        target.write_bytes(data + trailer)
        shown += f" + {trailer!r}"
    elif how == "directory":
        target.unlink()
        target.mkdir()
        if rng.random() < 0.5:
            (target / "inside.json").write_bytes(data)
    elif how == "symlink":
        return _symlink_v2(bundle, target, data, rng)
    else:
        return _same_reference(bundle, how, rng)
    return f"payload-{how}", shown


def _symlink_v2(bundle: Path, target: Path, data: bytes, rng: random.Random) -> tuple[str, str]:
    """A symlink where the payload file belongs: to a copy inside the bundle, outside it, or
    nowhere."""
    where = rng.choice(["inside", "outside", "dangling"])
    target.unlink()
    if where == "inside":
        (bundle / "copy.json").write_bytes(data)
        target.symlink_to("../copy.json")
    elif where == "outside":
        outside = bundle.parent / f"{bundle.name}-outside.json"
        outside.write_bytes(data)
        target.symlink_to(outside)
    else:
        target.symlink_to("nowhere.json")
    return f"payload-symlink-{where}", target.name


def _same_reference(bundle: Path, how: str, rng: random.Random) -> tuple[str, str]:
    """Two references with one id (each keeps its file) or one file (each keeps its id)."""
    log = bundle / _LOG
    text = log.read_bytes()
    refs = list(_REF.finditer(text))
    distinct = {m.group(1): m for m in refs}
    if len(distinct) < 2:
        return f"payload-{how}", "no two references"
    a, b = rng.sample(sorted(distinct.values(), key=lambda m: m.start()), 2)
    group = 1 if how == "same-id" else 2
    old, new = b.group(group), a.group(group)
    start, end = b.span(group)
    log.write_bytes(text[:start] + new + text[end:])
    return f"payload-{how}", f"{old!r} -> {new!r} at byte {start}"


# --- both schemas ----------------------------------------------------------------------------------


def _manifest(bundle: Path, rng: random.Random) -> tuple[str, str]:
    path = bundle / _MANIFEST
    data = path.read_bytes()
    how = rng.choice(["cut", "bom", "crlf", "trailing", "nul"])
    if how == "cut":
        at = rng.randrange(len(data))
        new, shown = data[:at], f"cut at {at} of {len(data)}"
    elif how == "bom":
        new, shown = _BOM + data, "BOM"
    elif how == "crlf":
        new, shown = data.replace(b"\n", b"\r\n"), "CRLF"
    elif how == "trailing":
        trailer = rng.choice(_TRAILERS)
        new, shown = data + trailer, f"+ {trailer!r}"
    else:
        at = rng.randrange(len(data) + 1)
        new, shown = data[:at] + b"\0" + data[at:], f"NUL at {at}"
    path.write_bytes(new)
    return f"manifest-{how}", shown


def _log(bundle: Path, rng: random.Random) -> tuple[str, str]:
    path = bundle / _LOG
    lines = path.read_bytes().splitlines(keepends=True)
    how = rng.choice(["crlf-all", "crlf-one", "nul", "no-final-newline", "blank", "bom",
                      "bom-line"])  # fmt: skip
    index = rng.randrange(len(lines))
    shown = f"line {index + 1}"
    if how == "crlf-all":
        lines = [line.removesuffix(b"\n") + b"\r\n" for line in lines]
    elif how == "crlf-one":
        lines[index] = lines[index].removesuffix(b"\n") + b"\r\n"
    elif how == "nul":
        at = rng.randrange(len(lines[index]) + 1)
        lines[index] = lines[index][:at] + b"\0" + lines[index][at:]
        shown += f" at {at}"
    elif how == "no-final-newline":
        lines[-1] = lines[-1].removesuffix(b"\n")
    elif how == "blank":
        lines.insert(index, rng.choice([b"\n", b"  \n", b"\r\n", b"\t\n", b"\x0b\n", b"\0\n"]))
    elif how == "bom":
        lines[0] = _BOM + lines[0]
    else:
        lines[index] = _BOM + lines[index]
    path.write_bytes(b"".join(lines))
    return f"log-{how}", shown


def mutate(bundle: Path, rng: random.Random) -> tuple[str, str]:
    """Damage ``bundle``'s files once (see the module's docstring): its payload storage two
    times in three, else its manifest or log."""
    if rng.random() < 2 / 3:
        if list((bundle / layout.PAYLOADS_DIR).glob("*.zst")):
            return _damage_v3(bundle, rng)
        return _damage_v2(bundle, rng)
    return (_manifest if rng.random() < 0.4 else _log)(bundle, rng)


def _symlinks(bundle: Path) -> list[Path]:
    return [p for p in bundle.rglob("*") if p.is_symlink()]


def judge(bundle: Path, schema: int, outcomes: Counter[str]) -> str | None:
    """:func:`mutation.probe`, but a bundle holding a symlink: we refuse it (Codex follows
    it), a refusal naming the symlink, and the other commands end cleanly."""
    links = _symlinks(bundle)
    if not links:
        return probe(bundle, schema, outcomes)
    try:
        reduce_bundle(bundle)
    except BundleFileError as exc:
        if not exc.unsafe or "symlink" not in (exc.cause or ""):
            return f"symlink: refused otherwise: {exc.codex_text()}"
        if exc.relpath not in {link.relative_to(bundle).as_posix() for link in links}:
            return f"symlink: refused naming another file: {exc.codex_text()}"
    except ReduceError as exc:
        return f"symlink: refused otherwise: {exc.codex_text()}"
    else:
        return "symlink: accepted"
    outcomes["refused by our confinement"] += 1
    for command in (("reduce", "--lenient"), ("validate",), ("summary",), ("show",)):
        code, text = run_in_process(argv(command, bundle, bundle.parent / "state.json"), 60)
        broken = verdict(code, text)
        if broken is not None:
            return f"{' '.join(command)}: {broken}: {text[-1500:]}"
    return None
