"""Converting a bundle between schema 2 (Codex 0.169) and schema 3 (Codex 0.171).

The source is read with the reducer's reader (confined files, Codex's checks per line); the
target is written from ``model/layout`` facts by a small writer here, never by the recorder.
What a conversion cannot carry over, and what the other Codex will therefore reduce
differently, is listed in ``docs/reducing.md``:

* 2 → 3: payload files become records of zstd shards (bodies kept byte for byte); every
  ``inference_started`` gets a prepared prompt (an empty ``{}`` body, ids after the last one);
  no ``tool_output_payload`` and no ``code_cell_wait_target_resolved`` are invented; an
  acceptance whose receipt is not its agent message is refused (0.169 reads it only when the
  thread lacks the item, 0.171 even then).
* 3 → 2: every available payload becomes ``payloads/<n>.json`` holding its spliced text; the
  schema-3 only payloads (prompts, model items, content values, tool-output payloads) and the
  confirmed-wait events are dropped (seq renumbered); so is an acceptance's payload that is
  not an agent message (0.171 reads a tool output there, 0.169 only an agent message); a cut
  or omitted payload cannot be expressed in schema 2 and is refused, and so is a tool call's
  invocation 0.169 would refuse: not JSON to serde, or a ``wait`` whose arguments name no cell
  (0.169 reads every invocation, 0.171 only a ``write_stdin``'s).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import orjson
import zstandard

from .._signals import held
from ..model import codec, layout
from ..model import events as ev
from ..model.structure import loads_value
from .acceptance import ACCEPTED_TOOL_OUTPUTS
from .bundle import Bundle, LocatedEvent
from .canonical import parse_keeping_numbers
from .convert_lenient import KeptEvents
from .errors import ReduceError
from .replay import payload_refs
from .tools import wait_cell_id


def convert_bundle(
    source: str | Path,
    target: str | Path,
    schema: int,
    *,
    lenient: bool = False,
    skipped: list[str] | None = None,
) -> None:
    """Write ``source`` as a bundle of ``schema`` (2 or 3) into the new directory ``target``.

    Args:
        source: a bundle directory (schema 2 or 3).
        target: a directory that must not exist yet.
        schema: the schema to write, the one the source is not.
        lenient: carry over what ``reduce --lenient`` keeps of a bundle a crash cut short,
            and leave out the rest (``convert_lenient``), instead of refusing it.
        skipped: with ``lenient``, a list that receives one sentence per thing left out.

    Raises:
        ReduceError: the source is refused by the reader, or holds what ``schema`` cannot say.
        OSError: the target cannot be written (it exists, its parent is missing, the disk is
            full), its ``filename`` the target: nothing is left behind.
    """
    if schema not in layout.SUPPORTED_SCHEMAS:
        raise ReduceError(f"cannot convert to schema {schema}; schemas 2 and 3 are written")
    if str(target) in ("", "-"):
        raise ReduceError(f"cannot write a bundle to {str(target)!r}: give a new directory")
    notes = skipped if skipped is not None else []
    with Bundle.open(source, lenient=lenient, skipped=notes) as bundle:
        if bundle.schema == schema:
            # the writers map one schema onto the other: a schema-3 source written as schema 3
            # lost its capture statuses and templates (a cut payload read as whole)
            raise ReduceError(
                f"the bundle is schema {schema} already; convert writes the other schema",
                file=f"{bundle.display}/{layout.MANIFEST}",
            )
        final = Path(target)
        if final.exists() or final.is_symlink():
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(final))
        if Path(os.path.realpath(final)).is_relative_to(os.path.realpath(source)):
            raise ReduceError(f"{final} is inside the bundle; give a directory outside it")
        # written beside the target and renamed into place whole: a conversion that fails (a
        # payload schema 2 cannot hold, a full disk) leaves nothing a reader could take for a bundle
        out = final.parent / (layout.work_prefix(final.name, "convert") + os.urandom(6).hex())
        try:
            out.mkdir(mode=layout.PRIVATE_DIR_MODE)
            (out / layout.PAYLOADS_DIR).mkdir(mode=layout.PRIVATE_DIR_MODE)
            manifest = attrs.evolve(bundle.manifest, schema_version=schema)
            (out / layout.MANIFEST).write_bytes(codec.manifest_bytes(manifest))
            # what the copy cites must be whole; 2 → 3 carries every reference over
            carried = carried_v2 if schema == layout.SCHEMA_2 else None
            kept = KeptEvents(bundle, notes, carried) if lenient else None
            events = bundle.events() if kept is None else iter(kept)
            with (out / layout.EVENT_LOG).open("wb") as log:
                if schema == layout.SCHEMA_3:
                    _to_v3(bundle, events, _last_payload_number(source, lenient), out, log)
                else:
                    _to_v2(bundle, events, out, log, check_shards=kept is None)
            for path in out.rglob("*"):  # files private, as the folders: prompts, outputs
                if path.is_file():
                    path.chmod(layout.PRIVATE_FILE_MODE)
            os.rename(out, final)
        except OSError as exc:
            shutil.rmtree(out, ignore_errors=True)
            raise OSError(exc.errno, exc.strerror or str(exc), str(final)) from None
        except BaseException:
            # a second signal (timeout sends one to the command and one to its group; Ctrl-C
            # twice) stopped the removal half-way and left the work directory: held back
            # until it is gone, then handed on
            with held():
                shutil.rmtree(out, ignore_errors=True)
            raise


# --- 2 → 3 ------------------------------------------------------------------------------------------


class _ShardWriter:
    """Records into ``payloads/NNNNNN.zst``: one zstd frame with a checksum per shard, a new
    shard near Codex's rotation size. Memory holds one compressor's window, not the shard."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.number = 0
        self.size = 0
        self._file: BinaryIO | None = None
        self._writer: Any = None

    def add(self, payload_id: str, body: bytes) -> int:
        record = layout.shard_record(payload_id, body)
        if self._writer is None or self.size + len(record) > layout.SHARD_ROTATE_BYTES:
            self._rotate()
        self._writer.write(record)
        self.size += len(record)
        return self.number

    def _rotate(self) -> None:
        self.close()
        self.number += 1
        self.size = 0
        self._file = (self.root / layout.shard_path(self.number)).open("wb")
        compressor = zstandard.ZstdCompressor(write_checksum=True)
        self._writer = compressor.stream_writer(self._file, closefd=False)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            assert self._file is not None
            self._file.close()
        self._writer = self._file = None


def _last_payload_number(source: str | Path, lenient: bool) -> int:
    """The highest ``raw_payload:N`` the log cites (read in a pass of its own, whose lenient
    notes are not the conversion's)."""
    last = 0
    with Bundle.open(source, lenient=lenient) as bundle:
        for located in bundle.events():
            for cited in payload_refs(located.event.payload):
                for ref in cited.walk():
                    last = max(last, layout.payload_number(ref.raw_payload_id) or 0)
    return last


def _to_v3(
    bundle: Bundle, events: Iterator[LocatedEvent], last_id: int, out: Path, log: BinaryIO
) -> None:
    shards = _ShardWriter(out)
    stored: dict[str, ev.RawPayloadRef] = {}
    next_id = last_id + 1
    seq = 0  # renumbered: lenient conversion leaves events out

    cited: dict[str, tuple[str, str]] = {}  # payload id -> (path, kind) as first cited

    def store(ref: ev.RawPayloadRef) -> ev.RawPayloadRef:
        known = stored.get(ref.raw_payload_id)
        if known is None:
            if len(ref.raw_payload_id.encode()) > layout.MAX_SHARD_ID_BYTES:
                raise ReduceError(
                    f"payload id of {len(ref.raw_payload_id.encode()):,} bytes; a schema-3 "
                    f"shard record holds ids of at most {layout.MAX_SHARD_ID_BYTES:,}"
                )
            shard = shards.add(ref.raw_payload_id, bundle.read_payload_bytes(ref))
            known = ev.RawPayloadRef(ref.raw_payload_id, ref.kind, "", shard)
            stored[ref.raw_payload_id] = known
            cited[ref.raw_payload_id] = (ref.path, ref.kind)
        elif cited[ref.raw_payload_id] != (ref.path, ref.kind):
            # schema 3 names a payload by its id alone: one of the two would be lost
            path, kind = cited[ref.raw_payload_id]
            raise ReduceError(
                f"payload {ref.raw_payload_id} is cited as {ref.kind} at {ref.path}, and "
                f"earlier as {kind} at {path}; schema 3 cannot tell them apart"
            )
        return known

    try:
        for located in events:
            event = located.event
            with _where(bundle, located):
                payload = _map_refs(event.payload, store)
            if type(payload) is ev.InferenceStarted:
                prompt_id = layout.raw_payload_id(next_id)
                next_id += 1
                prompt = ev.RawPayloadRef(
                    prompt_id, "prepared_prompt", "", shards.add(prompt_id, b"{}")
                )
                payload = ev.with_prepared_prompt(payload, prompt)
            elif type(payload) is ev.HistoryItemAccepted:
                with _where(bundle, located):
                    _check_receipt_v3(bundle, event.payload)
                payload = ev.HistoryItemAcceptedV3(payload.item_id, payload.agent_message_payload)
            seq += 1
            converted = attrs.evolve(
                event, schema_version=layout.SCHEMA_3, seq=seq, payload=payload
            )
            log.write(codec.event_line(converted, layout.SCHEMA_3))
    finally:
        shards.close()


def _check_receipt_v3(bundle: Bundle, accepted: ev.EventPayload) -> None:
    """Refuse a receipt that is not the accepted item's agent message. Codex 0.169 reads a
    receipt only when the thread has no item of that id yet, so a source it accepts may hold
    one (beside a user message of that id, say); 0.171 makes an item of every receipt whose
    id no accepted item of the thread holds, and would refuse it."""
    assert isinstance(accepted, ev.HistoryItemAccepted)
    ref = accepted.agent_message_payload
    if ref is not None:
        body = _json(bundle, ref)
        _check_receipt(body, ref, accepted.item_id, layout.SCHEMA_3)
        _check_agent_message(bundle, body, ref, layout.SCHEMA_3)


@contextlib.contextmanager
def _where(bundle: Bundle, located: LocatedEvent) -> Iterator[None]:
    """A refusal while converting ``located`` names its line, or (one that names a payload
    file or shard) the seq of the event that cited it, as ``reduce`` does."""
    try:
        yield
    except ReduceError as exc:
        if exc.file is None:
            exc.file = f"{bundle.display}/{layout.EVENT_LOG}"
            exc.line = located.line
        if exc.seq is None:
            exc.seq = located.event.seq
        raise


def _map_refs(payload: ev.EventPayload, change: Any) -> ev.EventPayload:
    updates: dict[str, Any] = {}
    for field in attrs.fields(type(payload)):
        value = getattr(payload, field.name)
        if isinstance(value, ev.RawPayloadRef):
            updates[field.name] = change(value)
        elif isinstance(value, list) and any(isinstance(v, ev.RawPayloadRef) for v in value):
            updates[field.name] = [change(v) for v in value]
    return attrs.evolve(payload, **updates) if updates else payload


# --- 3 → 2 ------------------------------------------------------------------------------------------


def _to_v2(
    bundle: Bundle, events: Iterator[LocatedEvent], out: Path, log: BinaryIO, *, check_shards: bool
) -> None:
    paths: dict[str, str] = {}  # payload id -> its file, one file per id
    taken: set[str] = set()
    cited: list[ev.RawPayloadRef] = []

    def store(ref: ev.RawPayloadRef) -> ev.RawPayloadRef:
        cited.append(ref)
        for part in ref.walk():  # a template's part cut short is a body cut short
            if not part.available:
                status = part.capture.status if part.capture else "not stored"
                within = "" if part is ref else f" (a part of {ref.raw_payload_id})"
                raise ReduceError(
                    f"payload {part.raw_payload_id}{within} was {status} by the recorder; "
                    "schema 2 cannot say so"
                )
        path = paths.get(ref.raw_payload_id)
        if path is None:
            path = _v2_path(ref.raw_payload_id, taken)
            (out / path).write_bytes(bundle.read_payload_bytes(ref))
            paths[ref.raw_payload_id] = path
            taken.add(path)
        return ev.RawPayloadRef(ref.raw_payload_id, ref.kind, path)

    seq = 0
    for located in events:
        event = located.event
        with _where(bundle, located):
            carried = carried_v2(event.payload)
            if carried is None:
                continue
            if isinstance(carried, ev.HistoryItemAccepted):
                carried = _acceptance_v2(bundle, carried)
            payload = _map_refs(carried, store)
            if isinstance(payload, ev.ToolCallStarted):
                _check_invocation_v2(bundle, carried)
        seq += 1
        converted = attrs.evolve(event, schema_version=layout.SCHEMA_2, seq=seq, payload=payload)
        log.write(codec.event_line(converted, layout.SCHEMA_2))
    # a shard left unfinished where the reader requires it finished (under a closed log, or
    # before the last shard) makes the source unreadable to 0.171: schema 2 cannot say so
    # (lenient conversion notes it instead: KeptEvents)
    completed = isinstance(payload, ev.RecordingCompleted) if seq else False
    if bundle.shards is not None and check_shards:
        for error in bundle.shards.footer_errors(cited, completed):
            raise error


def carried_v2(payload: ev.EventPayload) -> ev.EventPayload | None:
    """A schema-3 event's payload as schema 2 writes it (its references still the source's),
    None for an event schema 2 has not (a confirmed wait)."""
    if isinstance(payload, ev.CodeCellWaitTargetResolved):
        return None
    if isinstance(payload, ev.InferenceStartedV3):
        return _started_v2(payload)
    if isinstance(payload, ev.HistoryItemAcceptedV3):
        return ev.HistoryItemAccepted(payload.item_id, payload.agent_message_payload)
    return payload


def _started_v2(started: ev.InferenceStartedV3) -> ev.InferenceStarted:
    """A schema-3 start as schema 2 writes it. A warm-up context (reduced instead of the
    request) and stripped tool-output ids change what 0.171 reduces and have no schema-2
    form: refused rather than dropped."""
    if started.warmup_context_payload is not None:
        raise ReduceError("inference_started has a warmup_context_payload; schema 2 cannot say so")
    if started.stripped_tool_output_ids:
        raise ReduceError("inference_started has stripped_tool_output_ids; schema 2 cannot say so")
    return ev.without_prepared_prompt(started)


def _json(bundle: Bundle, ref: ev.RawPayloadRef) -> Any:
    """A payload's body as JSON, None where it is not JSON (0.169 says so when it reads it)."""
    try:
        return loads_value(bundle.read_payload_bytes(ref))
    except orjson.JSONDecodeError:
        return None


def _acceptance_v2(bundle: Bundle, accepted: ev.HistoryItemAccepted) -> ev.HistoryItemAccepted:
    """An acceptance as 0.169 can read it. 0.171 takes a tool output in its
    ``agent_message_payload`` (and makes the item of it); 0.169 refuses anything but the
    item's agent message there, so a tool output is dropped as a ``tool_output_payload`` is
    (the next request carrying the item makes it). Any other receipt that is not the item's
    agent message, which 0.171 left unread (its thread held the item), is refused: 0.169 may
    read it. One cut or left out is refused by the writer."""
    ref = accepted.agent_message_payload
    if ref is None or not all(part.available for part in ref.walk()):
        return accepted
    body = _json(bundle, ref)
    if isinstance(body, dict) and body.get("type") in ACCEPTED_TOOL_OUTPUTS:
        return attrs.evolve(accepted, agent_message_payload=None)
    _check_receipt(body, ref, accepted.item_id, layout.SCHEMA_2)
    _check_agent_message(bundle, body, ref, layout.SCHEMA_2)
    return accepted


def _check_agent_message(bundle: Bundle, body: Any, ref: ev.RawPayloadRef, schema: int) -> None:
    """Refuse, writing ``schema``, a receipt's agent message its Codex would refuse. 0.169
    reads the whole item (an integer past 64 bits anywhere in it, its passthrough metadata),
    0.171 its routing and content only; and each reads a receipt the other may leave unread
    (its thread held the item). So a source one accepts could give a copy the other refuses."""
    from .normalize import normalize_one

    text: list[Any] = []

    def locate(path: Sequence[str | int]) -> Any:
        if not text:
            text.append(parse_keeping_numbers(bundle.read_payload_bytes(ref)))
        value = text[0]
        for step in path:
            value = value[step]
        return value

    v3 = schema == layout.SCHEMA_3
    try:
        normalize_one(body, ref.raw_payload_id, locate, v3=v3)
    except ReduceError as exc:
        reader = "0.171" if v3 else "0.169"
        raise ReduceError(
            f"{exc.message}, which Codex {reader} refuses; schema {schema} cannot say so",
            cause=exc.cause,
        ) from None


def _check_receipt(body: Any, ref: ev.RawPayloadRef, item_id: str, schema: int) -> None:
    """Refuse, writing ``schema``, a receipt that is not the agent message of the item
    accepted: its source's Codex left it unread (the thread held the item), the target's
    Codex may read it (its threads hold other items) and would refuse it."""
    if not isinstance(body, dict) or body.get("type") != "agent_message":
        what = "not an agent message"
    elif "id" not in body:
        what = "an agent message without an id"
    elif body["id"] != item_id:
        what = f"the agent message {body['id']!r}"
    else:
        return
    reader = "0.171" if schema == layout.SCHEMA_3 else "0.169"
    raise ReduceError(
        f"the receipt {ref.raw_payload_id} accepted as {item_id} is {what}, which Codex "
        f"{reader} may read and refuse; schema {schema} cannot say so"
    )


def _check_invocation_v2(bundle: Bundle, started: ev.EventPayload) -> None:
    """Refuse a tool call's invocation 0.169 would refuse. 0.169 parses every invocation in
    its handler (a ``wait``'s names its cell), 0.171 only a ``write_stdin``'s (it links waits
    from confirmed-wait events): a source 0.171 accepts may hold one that is not JSON to
    serde (a lone surrogate escape: found by the string differential) or a wait naming no
    cell."""
    assert isinstance(started, ev.ToolCallStarted)
    ref = started.invocation_payload
    if ref is None:
        return
    try:
        wait_cell_id(bundle.load_payload(ref), ref.raw_payload_id)
    except ReduceError as exc:
        raise ReduceError(
            f"{exc.message}, which Codex 0.169 refuses; schema 2 cannot say so", cause=exc.cause
        ) from None


def _v2_path(payload_id: str, taken: set[str]) -> str:
    """The file of a payload in schema 2: ``payloads/N.json`` for ``raw_payload:N`` as Codex
    spells ids, else (``raw_payload:01`` beside ``raw_payload:1``, any other spelling) a
    name from the id's digest, so that no two ids share a file."""
    number = layout.payload_number(payload_id)
    path = None if number is None else layout.payload_path(number)
    if path is None or path in taken:
        digest = hashlib.sha256(payload_id.encode("utf-8", "surrogatepass")).hexdigest()[:24]
        path = f"{layout.PAYLOADS_DIR}/id-{digest}.json"
    return path
