"""Reading payload bodies for the viewer, exactly as the reducer reads them.

The page asks for payloads by id; the id is looked up in the reduced state's ``raw_payloads``
map, so only references the state names are ever read, and each is read through the
reducer's own ``Bundle``: schema 2's payload files through the confined reader (no absolute
paths, no ``..``, no symlink below the bundle root, regular files only, non-blocking opens),
schema 3's records from their zstd shards, templates spliced. The viewer adds a size cap on
what it sends or embeds.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import orjson

from ..model import codec
from ..model.events import RawPayloadRef
from ..model.structure import loads_value
from ..reduce.bundle import Bundle
from ..reduce.errors import ReduceError
from .item_text import MOST_TEXTS, cut

#: Largest payload the viewer sends or embeds (the page shows the reason past it).
MAX_PAYLOAD_BYTES: Final = 64 * 1024 * 1024


class PayloadRefused(Exception):
    """A payload the viewer will not read, with the reason (shown to the user)."""


class PayloadReader:
    """Read-only access to one bundle's payloads (shared by the server's threads: reads are
    serialised, since schema 3's shard cache is not thread-safe).

    Raises:
        ReduceError: the bundle's manifest cannot be read.
    """

    def __init__(self, root: str | Path) -> None:
        self._root = root
        self._bundle = Bundle.open(root, lenient=True)
        self._converter = codec.converter_for(self._bundle.schema)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release the bundle's directory descriptors."""
        with self._lock:
            self._bundle.close()

    def reopen(self) -> None:
        """Read the bundle afresh from now on (shards grow with the log; the bundle may have
        been replaced at its path). The reads under way finish first; the old bundle's
        descriptors and shard cache are released now, not whenever the garbage collector
        finds them (a live viewer re-reads on every change of the log).

        Raises:
            ReduceError: the bundle's manifest cannot be read (the old bundle stays).
        """
        bundle = Bundle.open(self._root, lenient=True)
        with self._lock:
            old, self._bundle = self._bundle, bundle
            self._converter = codec.converter_for(bundle.schema)
            old.close()

    def ref_of(self, state: Mapping[str, Any], payload_id: str) -> Mapping[str, Any]:
        """The reference the state gives for ``payload_id`` (as JSON).

        Raises:
            PayloadRefused: the state names no such payload.
        """
        payloads = state.get("raw_payloads")
        ref = payloads.get(payload_id) if isinstance(payloads, Mapping) else None
        if not isinstance(ref, Mapping):
            raise PayloadRefused(f"the reduced state names no payload {payload_id!r}")
        return ref

    def read_checked(self, ref: Mapping[str, Any], *, kept: bool = False) -> bytes:
        """The payload's bytes.

        Args:
            ref: the reference, as the state has it.
            kept: for a payload a capture limit truncated, the first bytes the bundle kept
                (what the page shows under its note) instead of the reducer's placeholder
                ``{"$trace_unavailable": id}``; the exports keep the placeholder (never a
                cut body passed on as content).

        Raises:
            PayloadRefused: the reference is malformed, the reducer refuses it (outside the
                bundle, a symlink, not a regular file, a broken shard...), or it is too large.
        """
        try:
            parsed = self._converter.structure(dict(ref), RawPayloadRef)
        except Exception as exc:  # cattrs wraps the reason in its own exception types
            raise PayloadRefused(f"malformed payload reference {dict(ref)!r}: {exc}") from None
        try:
            with self._lock:
                raw = self._kept(parsed) if kept else None
                if raw is None:
                    raw = self._bundle.read_payload_bytes(parsed)
        except ReduceError as exc:
            cause = f": {exc.cause}" if exc.cause else ""
            raise PayloadRefused(f"{exc.message}{cause}") from None
        if len(raw) > MAX_PAYLOAD_BYTES:
            raise PayloadRefused(
                f"{parsed.raw_payload_id} is {len(raw):,} bytes, over the viewer's "
                f"{MAX_PAYLOAD_BYTES:,}-byte limit"
            )
        return raw

    def _kept(self, ref: RawPayloadRef) -> bytes | None:
        """A truncated schema-3 payload's stored record (its first ``retained_bytes``), or
        None for any other payload (whole, omitted, a template: read as the reducer reads
        them). Called under the lock."""
        shards = self._bundle.shards
        capture = ref.capture
        if shards is None or ref.shard is None or ref.parts or capture is None:
            return None
        if capture.status != "truncated":
            return None
        return shards.record(ref.raw_payload_id, ref.shard)

    def result_text(self, body: Any, payload_id: str) -> str | None:
        """A tool call's raw result (``body``, parsed) as the text the page and ``show`` print:
        an ``error``'s text; a ``direct_response``'s item as the reducer would make it a
        conversation item (its output's text, images named); a ``code_mode_response``'s value
        (a string, an exec-like value's ``output``, else JSON). None for anything else (a
        payload a capture limit cut is its placeholder)."""
        if not isinstance(body, dict):
            return None
        kind = body.get("type")
        if kind == "error":
            error = body.get("error")
            return error if isinstance(error, str) else None
        if kind == "direct_response":
            from ..reduce.normalize import normalize_one
            from .item_text import parts_text

            try:
                norm = normalize_one(
                    body.get("response_item"), payload_id, v3=self._bundle.schema == 3
                )
            except (ReduceError, AttributeError, TypeError):
                return None
            return parts_text([part.to_json() for part in norm.body]) or None
        if kind == "code_mode_response":
            value = body.get("value")
            if isinstance(value, dict) and isinstance(value.get("output"), str):
                value = value["output"]
            if value is None:
                return None
            if isinstance(value, str):
                return value
            try:
                return orjson.dumps(value).decode("utf-8")
            except TypeError:  # an integer past 64 bits (a payload holding 1e400 too)
                from ..reduce.canonical import compact_json

                return compact_json(value)
        return None

    def read(self, ref: Mapping[str, Any], *, kept: bool = False) -> bytes | None:
        """The payload's bytes (``kept``: as :meth:`read_checked`), or None when it is
        refused or unreadable."""
        try:
            return self.read_checked(ref, kept=kept)
        except PayloadRefused:
            return None

    def read_or_reason(self, ref: Mapping[str, Any]) -> bytes | str:
        """The payload's bytes, or why they cannot be given (for a table that says so)."""
        try:
            return self.read_checked(ref)
        except PayloadRefused as exc:
            return str(exc)


def failed_tool_errors(
    bundle: Path, state: Mapping[str, Any], *, most: int = MOST_TEXTS
) -> dict[str, str]:
    """Failed tool calls' error texts, by tool call id: ``tool.failed(error)`` records the
    text only in the raw result payload (``{"type": "error", "error": ...}``), which the
    reduced state names but does not hold (a call that failed with an output item has it
    there as a ``direct_response``). The one place ``summary``, ``show`` and the page read it
    from.

    Args:
        bundle: the bundle directory.
        state: its reduced state (only payloads it names are read, confined to the bundle).
        most: read at most this many payloads (the first failed tools in the state's order).

    Returns:
        The texts found, each cut as the view model cuts it (``item_text.cut``): at most
        ``most`` of at most ``item_text.MAX_ITEM_TEXT`` characters each, however many tools
        failed with however long an error; a payload that cannot be read or holds no error
        gives none.
    """
    return tool_result_texts(bundle, state, most=most, failed_only=True)


def tool_result_texts(
    bundle: Path,
    state: Mapping[str, Any],
    *,
    most: int = MOST_TEXTS,
    failed_only: bool = False,
    known: dict[tuple[str, bytes], str] | None = None,
) -> dict[str, str]:
    """What tool calls answered, by tool call id, read from their raw result payloads: for a
    failed call its error (see :func:`failed_tool_errors`), for any other ended call whose
    output no request carried (no model-visible output item: the last call before a run
    stopped) its result, as the page and ``show`` print an output item.

    Args:
        bundle: the bundle directory.
        state: its reduced state (only payloads it names are read, confined to the bundle).
        most: read at most this many payloads (the first such tools in the state's order).
        failed_only: the failed calls only.
        known: texts read by an earlier call on the same bundle, by payload id and reference
            (a stored payload never changes): given again, not read again; left holding the
            texts of this call (``show --follow`` keeps them between its readings, which read
            the same results each time: review follow49).

    Returns:
        The texts found, each cut as the view model cuts it (at most ``most`` texts of at
        most ``item_text.MAX_ITEM_TEXT`` characters: memory stays bounded); a payload that
        cannot be read, was cut or left out by a capture limit, or holds no text gives none.
    """
    from .item_text import own_item_ids
    from .summary import FAILED

    tools = state.get("tool_calls")
    items = state.get("conversation_items")
    wanted = []
    for tool in tools.values() if isinstance(tools, Mapping) else ():
        if not (
            isinstance(tool, Mapping)
            and isinstance(tool.get("execution"), Mapping)
            and isinstance(tool.get("raw_result_payload_id"), str)
            and isinstance(tool.get("tool_call_id"), str)
        ):
            continue
        failed = tool["execution"].get("status") in FAILED
        if failed or not (failed_only or _has_output(tool, own_item_ids, items)):
            wanted.append(tool)
    texts: dict[str, str] = {}
    kept: dict[tuple[str, bytes], str] = {}
    refs = state.get("raw_payloads") if known is not None else None
    reader: PayloadReader | None = None
    try:
        for tool in wanted[:most]:
            payload_id = tool["raw_result_payload_id"]
            ref = refs.get(payload_id) if isinstance(refs, Mapping) else None
            key = (payload_id, orjson.dumps(ref)) if isinstance(ref, Mapping) else None
            text = known.get(key) if known is not None and key is not None else None
            if text is None:
                if reader is None:  # opened once something is to be read
                    try:
                        reader = PayloadReader(bundle)
                    except ReduceError:  # no text at all, as when nothing was known
                        return {}
                try:
                    body = loads_value(reader.read_checked(reader.ref_of(state, payload_id)))
                except (PayloadRefused, orjson.JSONDecodeError):
                    continue
                text = reader.result_text(body, payload_id)
                text = cut(text) if text else None
            if text:
                texts[tool["tool_call_id"]] = text
                if key is not None:
                    kept[key] = text
    finally:
        if reader is not None:
            reader.close()
        if known is not None:
            known.clear()
            known.update(kept)
    return texts


def _has_output(tool: Mapping[str, Any], own_item_ids: Any, items: Any) -> bool:
    """Whether the state shows what the call answered: an output item of its own, or its
    summary's output preview."""
    summary = tool.get("summary")
    if isinstance(summary, Mapping) and summary.get("output_preview"):
        return True
    return bool(own_item_ids(tool, "model_visible_output_item_ids", items))


def annotate_tool_errors(
    state: dict[str, Any],
    bundle: Path | None,
    known: dict[tuple[str, bytes], str] | None = None,
) -> None:
    """Give each failed tool call of ``state`` its ``error_text``, and each other ended call
    whose output no request carried its ``result_text``, from its raw result payload
    (:func:`tool_result_texts`), as ``turn_errors.annotate_logged_errors`` does for inference
    calls from the log: keys Codex's state does not have, read by the view model (``known``:
    as :func:`tool_result_texts` keeps it)."""
    if bundle is None:
        return
    from .summary import FAILED

    tools = state.get("tool_calls")
    if not isinstance(tools, dict):
        return
    for tool_id, text in tool_result_texts(bundle, state, known=known).items():
        tool = tools.get(tool_id)
        if isinstance(tool, dict):
            failed = isinstance(tool.get("execution"), dict) and (
                tool["execution"].get("status") in FAILED
            )
            tool["error_text" if failed else "result_text"] = text
