"""What a bundle's rollout was asked, for ``ls``: the first line of its first user message.

``ls`` tells a day's bundles apart by their task, and must stay cheap on a root of hundreds
of them, so nothing is reduced and the work per bundle is bounded:

* the log is searched no further than its first 256 KB (``ls`` reads them anyway to count
  threads), up to the root thread's first ``inference_started``: its request holds the
  messages the model was first sent. The root thread's ``history_item_accepted`` events
  before it name the items this rollout added: a resumed Codex thread sends its old history
  again, and the message it was resumed with is the accepted one, not the first one sent;
* that request is read, and nothing else of the payloads: schema 2's ``payloads/N.json``,
  schema 3's record, decompressed from the start of its shard only up to the record, with
  the ``model_item`` records it is spliced from when it is a template (our recorder stores
  every request so; Codex only requests with images), which lie before it in the same
  shard. A request a size limit cut (Codex 0.171's ``max_payload_bytes``) is replaced by
  its prepared prompt, which holds the same items. Only when the chosen message's text is
  itself a ``content_value`` (our recorder cuts strings of 64K characters out so) are the
  first KB of that value read too;
* every read is confined as the reducer's are (``reduce.confined.BundleFiles``: regular
  files inside the bundle, no symlink, no FIFO) and stops after :data:`READ_LIMIT` bytes,
  decompressed or not: a larger request has no task.

Codex sends context as user messages too (``AGENTS.md``, ``<environment_context>``, ...): a
message made only of such fragments is skipped, as Codex's own history reader skips it. An
image or a file is named in brackets, a message without text says so. The text was
redacted when the bundle was written, if at all; control characters are spelled out where
it is printed (``view.visible``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Final, cast

import orjson
import zstandard

from .model import layout
from .reduce.confined import BundleFiles
from .reduce.errors import ReduceError

#: Bytes read of the payloads for one bundle's task: a payload file's, or decompressed shard
#: bytes (those before the request included). Codex's first request is some 30 KB (tools
#: and instructions); one with a pasted image or document may be megabytes.
READ_LIMIT: Final = 16 << 20
#: Characters of a task kept (``ls --json``); ``ls`` cuts it to the terminal's width.
TASK_CHARS: Final = 200
#: Bytes read of a long text stored on its own (a ``content_value``): its first line is in it.
_VALUE_HEAD: Final = 16 << 10
#: The largest zstd window read (Codex writes 8 MiB ones): a frame asking for more is refused.
_MAX_WINDOW: Final = 1 << 23
#: Bytes asked of zstd (and read of the file) at a time: the records before a first request
#: are a few KB (session metadata, protocol events), so a small step stops soon after it.
_STEP: Final = 16 << 10
#: Shards opened for a request's records at most: a first request's items are written just
#: before it, in its shard (or, past a rotation, the one before); an empty shard file costs
#: no bytes of the budget, so the opens have a limit of their own.
_SHARDS: Final = 4
#: Nesting of template parts followed (request -> item -> value).
_DEPTH: Final = 3
#: How Codex's injected user messages begin (its ``CONTEXTUAL_USER_FRAGMENTS`` and older
#: session prefixes), compared without case: a message of these alone is no task.
_CONTEXT_MARKERS: Final = (
    "# agents.md instructions for ",
    "<environment_context>",
    "<user_instructions>",
    "<skill>",
    "<user_shell_command>",
    "<turn_aborted>",
    "<subagent_notification>",
    "<subagents>",
    "<context_update>",
    "<plugins>",
)
#: The text parts Codex wraps an attached image in (``<image name=[Image #1] path=...>``
#: before it, ``</image>`` after): they belong to the image.
_IMAGE_WRAP: Final = ("<image ", "</image>")
_TEXT_PARTS: Final = frozenset({"input_text", "text", "output_text"})
_IMAGE_PARTS: Final = frozenset({"input_image", "image_url", "image"})
_FILE_PARTS: Final = frozenset({"input_file", "file"})
_AUDIO_PARTS: Final = frozenset({"input_audio", "audio"})
#: What a message may carry besides text, each named in brackets before its text.
_MEDIA: Final = (("image", _IMAGE_PARTS), ("file", _FILE_PARTS), ("audio", _AUDIO_PARTS))
_UNKEPT: Final = "(text not kept)"


_LOCAL: Final = threading.local()


class _Spent(Exception):
    """The bytes :data:`READ_LIMIT` allows were read."""


class _Budget:
    """The bytes one bundle's task may still read and decompress, together (a zstd frame may
    decompress to a thousand times its size; skippable frames to nothing)."""

    def __init__(self) -> None:
        self.left = READ_LIMIT

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise _Spent


def first_task(bundle: Path, head: bytes) -> str | None:
    """The first line of what the rollout's root thread was first asked, at most
    :data:`TASK_CHARS` characters, whitespace runs as one space; ``None`` when the log's
    head holds no inference of the root thread, or its request cannot be read.

    Args:
        bundle: the bundle directory.
        head: the first bytes of its event log (``ls`` passes 256 KB).

    Returns:
        The task, ``(image)`` or ``(empty message)`` for a message without text, or ``None``.
    """
    found = _first_request(head)
    if found is None:
        return None
    refs, accepted = found
    budget = _Budget()
    try:
        with BundleFiles(bundle) as files:
            for ref in refs:
                request = _request(files, ref, budget)
                if request is not None:
                    break
            else:
                return None
            message = _chosen_message(request, accepted)
            if message is None:
                return None
            return _message_task(message, files, ref, budget)
    except (ReduceError, OSError, ValueError, zstandard.ZstdError, _Spent, RecursionError):
        return None


# --- the log's head ---------------------------------------------------------------------------


def _first_request(head: bytes) -> tuple[list[dict[str, Any]], frozenset[str]] | None:
    """The root thread's first request's reference (then its prepared prompt's, which Codex
    0.171 keeps whole when a size limit cut the request: the same input items, less the
    instructions), and the item ids the thread accepted before."""
    root: object = None
    accepted: set[str] = set()
    for line in head.split(b"\n"):
        if not (
            b'"inference_started"' in line
            or b'"history_item_accepted"' in line
            or b'"rollout_started"' in line
        ):
            continue  # most lines: not parsed
        try:
            event = orjson.loads(line)
            payload = event["payload"]
            kind = payload["type"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue  # the head's cut last line, or no event
        if kind == "rollout_started":
            root = payload.get("root_thread_id")
        elif kind == "history_item_accepted":
            item = payload.get("item_id")
            if isinstance(item, str) and (root is None or event.get("thread_id") == root):
                accepted.add(item)
        elif kind == "inference_started" and (root is None or payload.get("thread_id") == root):
            refs = [payload.get("request_payload"), payload.get("prepared_prompt_payload")]
            return [ref for ref in refs if isinstance(ref, dict)], frozenset(accepted)
    return None


# --- the request ------------------------------------------------------------------------------


def _request(files: BundleFiles, ref: Mapping[str, Any], budget: _Budget) -> Any:
    """The request's JSON value, or ``None`` (not stored, cut, too large, no JSON)."""
    path = ref.get("path")
    if isinstance(path, str) and path:  # schema 2: a file of its own
        with files.open(path, what="inference request") as handle:
            body = handle.read(READ_LIMIT + 1)
        budget.spend(len(body))
        return orjson.loads(body)
    if _shard(ref) is None:
        return None
    records = _records_of(files, ref, budget)
    text = _spliced(ref, records, _DEPTH)
    return None if text is None else orjson.loads(text)


def _shard(ref: Any) -> int | None:
    """The shard of a stored, whole schema-3 payload (``None``: omitted, truncated, odd)."""
    if not isinstance(ref, Mapping) or ref.get("capture") is not None:
        return None
    shard, ident = ref.get("shard"), ref.get("raw_payload_id")
    if type(shard) is not int or shard < 0 or not isinstance(ident, str):
        return None
    return shard


def _parts(ref: Mapping[str, Any]) -> list[Any]:
    parts = ref.get("parts")
    return parts if isinstance(parts, list) else []


def _kind(ref: Mapping[str, Any]) -> object:
    kind = ref.get("kind")
    return kind.get("type") if isinstance(kind, Mapping) else None


def _records_of(files: BundleFiles, ref: Mapping[str, Any], budget: _Budget) -> dict[str, bytes]:
    """The request's record and its ``model_item`` parts' (items hold the messages; a
    ``content_value`` part, an image or the tools, is not read)."""
    wanted: dict[int, set[str]] = {}
    todo: list[tuple[Mapping[str, Any], int]] = [(ref, _DEPTH)]
    while todo:
        here, depth = todo.pop()
        shard = _shard(here)
        if shard is None or depth == 0:
            continue
        wanted.setdefault(shard, set()).add(here["raw_payload_id"])
        todo += [
            (part, depth - 1)
            for part in _parts(here)
            if isinstance(part, Mapping) and _kind(part) == "model_item"
        ]
    records: dict[str, bytes] = {}
    for shard, ids in sorted(wanted.items())[:_SHARDS]:
        records.update(_read_records(files, shard, ids, READ_LIMIT, budget))
    return records


def _spliced(ref: Mapping[str, Any], records: Mapping[str, bytes], depth: int) -> str | None:
    """The payload's text, its template parts spliced in; a part not read (an image, the
    tools) or not kept is Codex's placeholder ``{"$trace_unavailable": id}``.

    The reducer splices in ``reduce.shards.ShardReader.text``, which is not used here: it
    decompresses and indexes each shard whole and refuses what Codex refuses (an omitted
    part, an expansion bomb), where ``ls`` reads a shard only up to the records it wants,
    within its byte budget, and says what it can (polish28)."""
    ident = ref.get("raw_payload_id")
    body = records.get(ident) if isinstance(ident, str) else None
    if body is None or depth == 0:
        return None
    parts = _parts(ref)
    if not parts:
        return body.decode()
    fragments = orjson.loads(body)
    if (
        not isinstance(fragments, list)
        or len(fragments) != len(parts) + 1
        or not all(isinstance(f, str) for f in fragments)
    ):
        return None
    pieces = [fragments[0]]
    for part, fragment in zip(parts, fragments[1:], strict=True):
        text = _spliced(part, records, depth - 1) if isinstance(part, Mapping) else None
        if text is None:
            part_id = part.get("raw_payload_id") if isinstance(part, Mapping) else None
            text = orjson.dumps({layout.UNAVAILABLE_MARKER_KEY: str(part_id)}).decode()
        pieces += (text, fragment)
    return "".join(pieces)


class _Counted:
    """A shard file whose bytes are spent from the budget as zstd reads them."""

    def __init__(self, handle: Any, budget: _Budget) -> None:
        self._handle, self._budget = handle, budget

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._handle.read(size if size > 0 else 1 << 17)
        self._budget.spend(len(data))
        return data


def _decompressor() -> zstandard.ZstdDecompressor:
    """This thread's decompressor, made once: making one for each bundle was half of what
    reading a small bundle's task cost (one is not to be shared between threads)."""
    made: zstandard.ZstdDecompressor | None = getattr(_LOCAL, "decompressor", None)
    if made is None:
        made = _LOCAL.decompressor = zstandard.ZstdDecompressor(max_window_size=_MAX_WINDOW)
    return made


def _read_records(
    files: BundleFiles, shard: int, wanted: set[str], keep: int, budget: _Budget
) -> dict[str, bytes]:
    """The first ``keep`` bytes of the ``wanted`` records of a shard (the whole record when
    ``keep`` is :data:`READ_LIMIT`: one longer spends the budget first), decompressing from
    its start and stopping as the last is found, or where the data ends (an unsealed shard's
    cut frame, damage: what was found is kept)."""
    header = layout.SHARD_RECORD_HEADER
    found: dict[str, bytes] = {}
    with files.open(layout.shard_path(shard), what=f"payload shard {shard}") as handle:
        counted = cast(IO[bytes], _Counted(handle, budget))  # zstd asks only for ``read``
        reader = _decompressor().stream_reader(counted, read_size=_STEP, read_across_frames=True)
        while len(found) < len(wanted):
            head = _exactly(reader, header.size, budget)
            if head is None:
                break
            id_size, body_size = header.unpack(head)
            ident = _exactly(reader, id_size, budget)
            if ident is None:
                break
            name = ident.decode(errors="replace")
            take = min(body_size, keep) if name in wanted else 0
            if name in wanted:
                body = _exactly(reader, take, budget)
                if body is None:
                    break
                found[name] = body
                if len(found) == len(wanted):
                    break  # the rest of the record is not decompressed
            if _exactly(reader, body_size - take, budget, kept=False) is None:
                break
    return found


def _exactly(reader: Any, size: int, budget: _Budget, *, kept: bool = True) -> bytes | None:
    """The next ``size`` decompressed bytes (``b""`` when not ``kept``), or ``None`` where the
    data ends first. zstd is never asked for more than is needed: damage after a record, or
    a frame cut there, is never met."""
    pieces: list[bytes] = []
    while size:
        try:
            chunk = reader.read(min(size, 1 << 20))
        except zstandard.ZstdError:
            return None
        budget.spend(len(chunk))
        if not chunk:
            return None
        if kept:
            pieces.append(chunk)
        size -= len(chunk)
    return b"".join(pieces)


# --- the message ------------------------------------------------------------------------------


def _chosen_message(request: Any, accepted: frozenset[str]) -> Any:
    """The user message that is the task: the first one the rollout accepted before the
    request, else the first one sent (context Codex injects left out). A plain-string
    ``input`` is a user message of its own."""
    if not isinstance(request, Mapping):
        return None
    items = request.get("input", request.get("messages"))
    if isinstance(items, str):
        return {"role": "user", "content": items}
    if not isinstance(items, list):
        return None
    messages = [
        item
        for item in items
        if isinstance(item, Mapping)
        and item.get("role") == "user"
        and item.get("type", "message") == "message"
        and not _is_context(item.get("content"))
    ]
    for message in messages:
        if isinstance(message.get("id"), str) and message["id"] in accepted:
            return message
    return messages[0] if messages else None


def _is_context(content: Any) -> bool:
    """A message whose every part is text Codex injected (not empty, not an image)."""
    if isinstance(content, str):
        return _context_text(content)
    if not isinstance(content, list) or not content:
        return False
    return all(
        isinstance(part, Mapping)
        and _part_type(part) in _TEXT_PARTS
        and isinstance(part.get("text"), str)
        and _context_text(part["text"])
        for part in content
    )


def _part_type(part: Mapping[str, Any]) -> str | None:
    """A content part's type when it is a string: a template part cut by a capture limit
    leaves Codex's placeholder object there (``{"$trace_unavailable": id}``), which no set of
    types holds (looked up as it was, it raised: fuzz28)."""
    kind = part.get("type")
    return kind if isinstance(kind, str) else None


def _context_text(text: str) -> bool:
    return text.lstrip()[:32].lower().startswith(_CONTEXT_MARKERS)


def _message_task(
    message: Mapping[str, Any], files: BundleFiles, ref: Mapping[str, Any], budget: _Budget
) -> str:
    """The message's first line of text, after what else it carries (``(image)``)."""
    content = message.get("content")
    parts = [{"type": "input_text", "text": content}] if isinstance(content, str) else content
    texts: list[str] = []
    media = {"image": 0, "file": 0, "audio": 0}
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, Mapping):
            continue
        kind, text = _part_type(part), part.get("text")
        if kind in _TEXT_PARTS:
            if isinstance(text, str):
                stripped = text.strip()
                wraps_image = stripped.startswith(_IMAGE_WRAP) and stripped.endswith(">")
                if not wraps_image and not _context_text(text):
                    texts.append(text)
            else:  # a long text stored apart (a content value), or cut by a size limit
                texts.append(_stored_text(text, files, ref, budget))
        for name, kinds in _MEDIA:
            if kind in kinds:
                media[name] += 1
    line = _first_line("\n".join(texts))
    shown = [f"({_counted(count, name)})" for name, count in media.items() if count]
    if line:
        shown.append(line)
    return " ".join(shown)[:TASK_CHARS] if shown else "(empty message)"


def _counted(count: int, name: str) -> str:
    return name if count == 1 else f"{count} {name}s"


def _first_line(text: str) -> str:
    """The first line that is not blank, its whitespace runs as one space, cut to
    :data:`TASK_CHARS` (with ``…``)."""
    for line in text.splitlines():
        words = " ".join(line.split())
        if words:
            return words if len(words) <= TASK_CHARS else words[: TASK_CHARS - 1] + "…"
    return ""


def _stored_text(marker: Any, files: BundleFiles, ref: Mapping[str, Any], budget: _Budget) -> str:
    """The head of a text stored as a ``content_value`` part of the request (the placeholder
    :func:`_spliced` left names it); a part cut or left out by a size limit was not kept."""
    part_id = marker.get(layout.UNAVAILABLE_MARKER_KEY) if isinstance(marker, Mapping) else None
    if not isinstance(part_id, str):
        return _UNKEPT
    part = _find_part(ref, part_id, _DEPTH)
    shard = _shard(part) if part is not None else None
    if part is None or shard is None or _kind(part) != "content_value" or _parts(part):
        return _UNKEPT
    head = _read_records(files, shard, {part_id}, _VALUE_HEAD, budget).get(part_id)
    value = _string_head(head) if head is not None else None
    return value if value is not None else _UNKEPT


def _find_part(ref: Mapping[str, Any], part_id: str, depth: int) -> Mapping[str, Any] | None:
    for part in _parts(ref):
        if not isinstance(part, Mapping) or depth == 0:
            continue
        if part.get("raw_payload_id") == part_id:
            return part
        found = _find_part(part, part_id, depth - 1)
        if found is not None:
            return found
    return None


def _string_head(body: bytes) -> str | None:
    """The JSON string ``body`` begins, read from its first bytes alone (cut anywhere: in an
    escape, in a UTF-8 sequence)."""
    for cut in range(len(body), max(len(body) - 12, 0), -1):
        for tail in (b"", b'"'):
            try:
                value = orjson.loads(body[:cut] + tail)
            except orjson.JSONDecodeError:
                continue
            return value if isinstance(value, str) else None
    return None
