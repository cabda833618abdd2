"""Bundle layout facts, in one place: file names, payload addressing, shard framing, JSON style.

A bundle is ``manifest.json`` + ``trace.jsonl`` + ``payloads/``. Codex 0.169 (schema 2) keeps
one pretty-printed ``payloads/<n>.json`` per payload and references it by ``path``; Codex 0.171
(schema 3) packs compact payload bodies into zstd shards ``payloads/<nnnnnn>.zst`` and
references them by ``shard`` number. Codex ignores the manifest's ``raw_event_log`` and
``payloads_dir`` and always opens these fixed names, so the names below are the format, not
defaults. No I/O here: the reducer, the recorder and the converter all read these facts.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Mapping
from typing import Any, Final

import orjson

#: The two schemas this library reads; the manifest's ``schema_version`` picks one.
SCHEMA_2: Final = 2
SCHEMA_3: Final = 3
SUPPORTED_SCHEMAS: Final = (SCHEMA_2, SCHEMA_3)

MANIFEST: Final = "manifest.json"
EVENT_LOG: Final = "trace.jsonl"
PAYLOADS_DIR: Final = "payloads"
#: Our recorder's own file in a bundle it is writing: disk space held back for the closing
#: records (the loss report, ``recording_completed``), freed for them when the disk fills and
#: removed at close. Not part of the format: readers ignore it (Codex knows no such file), and
#: a bundle whose recorder was killed may keep it.
SPACE_RESERVE: Final = ".space-reserve"
#: The file that makes a folder an export of many bundles' tables (``rollout-trace export
#: --to``); here because every command that writes a file must know it (``outputs``).
EXPORT_MANIFEST: Final = "_export.json"
#: The file an export's driver holds ``flock``-ed in its directory (``export.lock``).
EXPORT_LOCK: Final = ".export.lock"
#: The modes of every folder and file we make (bundles, their copies and conversions, states,
#: pages, exports): what they hold is prompts and tool output, for their owner alone.
PRIVATE_DIR_MODE: Final = 0o700
PRIVATE_FILE_MODE: Final = 0o600
#: Where ``rollout-trace reduce`` writes the reduced state unless told otherwise.
STATE_FILE: Final = "state.json"
#: What ``redact`` adds to a bundle's name for its copy by default (``BUNDLE-redacted``);
#: ``redact --latest`` passes over bundles so named.
REDACTED_SUFFIX: Final = "-redacted"

RAW_PAYLOAD_PREFIX: Final = "raw_payload:"


def raw_payload_id(number: int) -> str:
    """The id of the ``number``-th payload of a bundle (one counter per bundle, from 1)."""
    return f"{RAW_PAYLOAD_PREFIX}{number}"


def payload_number(payload_id: str) -> int | None:
    """The ``N`` of an id spelled as :func:`raw_payload_id` spells it (``raw_payload:N``, ASCII
    digits, no leading zero), else None: ``raw_payload:01`` and ``raw_payload:²`` are ids of
    their own, whose numbers would collide with another's or mean nothing to ``int``."""
    tail = payload_id.removeprefix(RAW_PAYLOAD_PREFIX)
    if tail == payload_id or not tail.isascii() or not tail.isdigit() or len(tail) > 19:
        return None
    number = int(tail)
    return number if str(number) == tail else None


# --- schema 2: one file per payload ---------------------------------------------------------------


def payload_file_name(number: int) -> str:
    """Schema 2: the name of payload ``number``'s file in ``payloads/`` (``12.json``)."""
    return f"{number}.json"


def payload_path(number: int) -> str:
    """Schema 2: the bundle-relative ``path`` a reference to payload ``number`` carries."""
    return f"{PAYLOADS_DIR}/{number}.json"


def payload_file_number(name: str) -> int | None:
    """Schema 2: the number a file of ``payloads/`` is named by (``12.json`` → 12; digits as
    they are, ``012.json`` and a bare ``12`` too), else None: which numbers a new payload file
    must not take (``redact``), which stray files trail the last cited one (``validate``). A
    file need not be named by its payload's id."""
    stem = name.removesuffix(".json")
    return int(stem) if stem.isascii() and stem.isdigit() else None


# --- schema 3: zstd shards --------------------------------------------------------------------------


def shard_name(shard: int) -> str:
    """Schema 3: a shard's file name, six digits zero-padded and never truncated (Rust's
    ``{:06}``): shard 1 → ``000001.zst``, shard 1234567 → ``1234567.zst``."""
    return f"{shard:06}{SHARD_SUFFIX}"


def shard_number(name: str) -> int | None:
    """The number a shard file name carries (``000012.zst`` → 12), else ``None``. Only the
    name Codex opens counts: ``1.zst`` beside ``000001.zst`` is a stray file, not a second
    shard 1."""
    stem = name.removesuffix(SHARD_SUFFIX)
    if stem == name or not (stem.isascii() and stem.isdigit()):
        return None
    number = int(stem)
    return number if shard_name(number) == name else None


def shard_path(shard: int) -> str:
    """Schema 3: the bundle-relative path of shard ``shard``."""
    return f"{PAYLOADS_DIR}/{shard_name(shard)}"


#: What a shard file's name ends with (:func:`shard_name`).
SHARD_SUFFIX: Final = ".zst"

#: A decompressed shard is a run of records: id length (u16 LE), body length (u64 LE), id, body.
SHARD_RECORD_HEADER: Final = struct.Struct("<HQ")
#: The longest payload id a shard record can hold (its length is a u16), in UTF-8 bytes.
MAX_SHARD_ID_BYTES: Final = 0xFFFF
#: Every content_value sits in a shard of its own; other payloads rotate near this many bytes.
SHARD_ROTATE_BYTES: Final = 8 * 1024 * 1024
#: A placeholder Codex splices for an unavailable template part (``{"$trace_unavailable": id}``).
UNAVAILABLE_MARKER_KEY: Final = "$trace_unavailable"


def unavailable_part(value: Any, unkept: frozenset[str]) -> str | None:
    """The part id when ``value`` is the placeholder of a template part not kept (``id`` one of
    ``unkept``: see ``RawPayloadRef.unkept_parts``), else None: Codex 0.171 reads the same
    object naming anything else as plain JSON, as it does in a body that is no template."""
    if unkept and isinstance(value, dict) and len(value) == 1:
        part = value.get(UNAVAILABLE_MARKER_KEY)
        if isinstance(part, str) and part in unkept:
            return part
    return None


def shard_record(payload_id: str, body: bytes) -> bytes:
    """One shard record (uncompressed) for ``payload_id``."""
    ident = payload_id.encode()
    return SHARD_RECORD_HEADER.pack(len(ident), len(body)) + ident + body


# --- bundles being written by our commands -------------------------------------------------------
# ``convert`` and ``redact`` write a bundle beside its target, under a hidden name, and rename it
# into place whole; ``redact --in-place`` parks the old bundle so for a moment. A command killed
# meanwhile (SIGKILL) leaves that directory behind: listings and ``--latest`` skip it.

_WORK_VERBS: Final = ("convert", "redact", "old")
_WORK_NAME: Final = re.compile(r"\..+\.(?:" + "|".join(_WORK_VERBS) + r")-[A-Za-z0-9_]+")
#: How much of the target's name the hidden name keeps: a name is at most 255 bytes (NAME_MAX),
#: and the dots, the verb and the random suffix need room beside it.
_WORK_NAME_BYTES: Final = 200


def work_prefix(target_name: str, verb: str) -> str:
    """The start of the hidden name a command writes ``target_name`` under (a random suffix
    follows). ``verb`` is one of ``convert``, ``redact``, ``old``. A long target name is cut:
    a target the file system takes must not fail for the name it is written under."""
    assert verb in _WORK_VERBS
    kept = os.fsdecode(os.fsencode(target_name)[:_WORK_NAME_BYTES])
    return f".{kept}.{verb}-"


def is_work_in_progress(name: str) -> bool:
    """Whether a directory name is one :func:`work_prefix` made (not a bundle to list)."""
    return _WORK_NAME.fullmatch(name) is not None


# --- JSON style ----------------------------------------------------------------------------------
# Codex writes with serde_json: events compact with a newline, the manifest, schema-2 payload
# files and state.json pretty-printed (two spaces, no trailing newline), schema-3 payload bodies
# compact. All raw UTF-8.


def pretty_json(value: Any) -> bytes:
    """2-space pretty JSON, no trailing newline: the manifest, schema-2 payloads, state.json."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2)


def compact_json(value: Any) -> bytes:
    """Compact JSON: schema-3 payload bodies (a trace line adds a newline)."""
    return orjson.dumps(value)


# --- JSON text kept in memory --------------------------------------------------------------------

#: Texts shorter than this are copied before they are kept (see :func:`right_sized`).
RIGHT_SIZE_BELOW: Final = 32 << 10


def right_sized(data: bytes) -> bytes:
    """``data`` in an allocation of its own size, when it is short enough to need one.

    orjson (3.12 and later) returns its text in the buffer it wrote it in: at least 4 KB, and 8
    to 16 times the text beyond that. Kept by the thousand (records queued for the writer, the
    reducer's memo of resent items), short texts cost far more memory than their length: 32 MB
    of 137-byte texts held 962 MB of RSS as orjson returned them, 44 MB copied. Past ~32 KB the
    buffer's unused tail is never touched and costs nothing (1.2x at 30 KB, none at 132 KB), so
    longer texts are kept as they are (copying 132 KB costs ~5 µs)."""
    return b"%b" % data if len(data) < RIGHT_SIZE_BELOW else data


# --- what our recorder adds to a bundle ---------------------------------------------------------

#: How every report our recorder (or ``redact``) adds begins: ``warning`` protocol events
#: before ``recording_completed``, which ``summary`` and ``show`` print.
REPORT_PREFIX: Final = "rollout_trace_sdk: "
#: The loss report: ``rollout_trace_sdk: dropped N events and M payloads (B bytes) while
#: recording ...`` (:func:`loss_report`). ``validate`` reads it: a payload whose citing
#: event was dropped is explained by it. Readers match this prefix, not the counts' nouns.
LOSS_REPORT_PREFIX: Final = REPORT_PREFIX + "dropped "
#: The protocol event a user's rollout metadata is recorded as (``Rollout.add_metadata``):
#: ``{"type": "rollout_metadata", "values": {...}}`` on the root thread; the readers merge
#: every one's ``values`` in log order, a later value of a key replacing an earlier one.
ROLLOUT_METADATA_EVENT: Final = "rollout_metadata"
#: The protocol events the Agents SDK processor records beside its spans' own
#: (``agents_sdk_<span type>``), for the readers (``view/agent_tools.py``,
#: ``view/approvals.py``): which tool call ran an agent run as a tool (``tool_call_id``,
#: ``thread_id``), and a call's approval (``tool_call_id``, ``call_id``, ``thread_id``,
#: ``status``: ``pending``, ``approved``, ``rejected``).
AGENT_TOOL_EVENT: Final = "agents_sdk_agent_tool"
#: What cancelled a turn or a tool call, as the event loop said it (``record/_cancel_cause``):
#: ``{"thread_id", "turn_id", "cause"}`` for a turn, with ``tool_call_id`` for a tool call,
#: written just before the turn's or call's end; a model request's is in its cancel reason.
#: Both Codex reducers skip it; ``view/turn_errors.py`` reads it into the turn's or call's text.
CANCEL_CAUSE_EVENT: Final = "cancel_cause"
APPROVAL_EVENT: Final = "agents_sdk_approval"
#: The redaction report: ``rollout_trace_sdk: redacted N secrets in this trace (kind n, ...)``.
REDACTION_REPORT_PREFIX: Final = REPORT_PREFIX + "redacted "


def redaction_report(counts: Mapping[str, int]) -> str:
    """The redaction report's text for ``counts`` (secrets redacted, by kind), as the
    recorder and ``rollout-trace redact`` both write it.

    Args:
        counts: how many secrets of each kind were redacted.

    Returns:
        ``rollout_trace_sdk: redacted N secrets in this trace (kind n, ...)`` ("1 secret").
    """
    total = sum(counts.values())
    text = f"{REDACTION_REPORT_PREFIX}{total} secret{'' if total == 1 else 's'} in this trace"
    detail = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
    return f"{text} ({detail})" if detail else text


def loss_report(events: int, payloads: int, size: int) -> str:
    """The loss report's opening words, as the recorder writes them: ``rollout_trace_sdk:
    dropped 1 event and 2 payloads (3 bytes)`` (older bundles say "1 events").

    Args:
        events: events dropped.
        payloads: payloads dropped.
        size: the bytes those payloads held.

    Returns:
        The text; the recorder adds why (``while recording this trace: ...``).
    """
    return (
        f"{LOSS_REPORT_PREFIX}{_counted(events, 'event')} and {_counted(payloads, 'payload')} "
        f"({_counted(size, 'byte')})"
    )


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


#: What reads the loss report's counts (``validate``): the singular wording and the plural
#: one of bundles written before it ("dropped 1 events and 1 payloads") both match.
LOSS_REPORT: Final = re.compile(re.escape(LOSS_REPORT_PREFIX) + r"(\d+) events? and \d+ payloads?")
