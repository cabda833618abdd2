"""What a capture-limited recording kept, said wherever the viewer shows its text.

Schema 3's capture limits (``max_payload_bytes``, ``max_bundle_bytes``) store a long payload
``truncated`` (its first bytes) or ``omitted`` (nothing), and the reduced state says so only
in ``raw_payloads[id].capture`` and the rollout's ``recording_status``. The conversation
items name such a payload (a ``payload_ref`` part, or a JSON summary
``{"$trace_unavailable": id}``) without saying what it lost, and an omitted item leaves the
conversation altogether. The transcript, the summary and the page read the notes made here,
so a cut text is never shown as if it were whole; the exports (tables, OTLP) read the same
facts, so neither passes a placeholder on as content.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from ..model.layout import UNAVAILABLE_MARKER_KEY

#: A cut value inside a JSON summary, as the reducers write it: ``{"$trace_unavailable": id}``.
_UNAVAILABLE: Final = re.compile(
    re.escape(f'"{UNAVAILABLE_MARKER_KEY}"') + r':\s*"(raw_payload:\d+)"'
)


#: The key :func:`~.load.load_state` sets (a key Codex's state does not have: only the readers
#: use it) when the bundle's recorder still holds its log: the recording is going on.
WRITER_LIVE_KEY: Final = "recording_writer_live"


def recording_status(state: Mapping[str, Any]) -> str:
    """How the recording ended: schema 3's ``recording_status`` (``complete``, ``unclosed``,
    ``closed_with_partial_payloads``), or schema 2's ``recording_complete`` as the first two;
    ``recording`` for an unclosed one whose recorder is still writing it.

    Args:
        state: a reduced state, as plain JSON values.

    Returns:
        The status word.
    """
    status = state.get("recording_status")
    if not isinstance(status, str):
        status = "complete" if state.get("recording_complete") else "unclosed"
    if status == "unclosed" and state.get(WRITER_LIVE_KEY) is True:
        return "recording"
    return status


def recording_words(status: str) -> str:
    """A recording status as the summary and ``show`` say it: ``recording unclosed``, ``still
    recording``."""
    return "still recording" if status == "recording" else f"recording {status.replace('_', ' ')}"


def cut_status(ref: Any) -> str | None:
    """The capture status of a payload not recorded whole (``truncated``, ``omitted``), or
    None for one recorded whole (no ``capture``, or ``complete``).

    Args:
        ref: one entry of the state's ``raw_payloads`` (or a template part of one).
    """
    capture = ref.get("capture") if isinstance(ref, Mapping) else None
    status = capture.get("status") if isinstance(capture, Mapping) else None
    return None if status in (None, "complete") else str(status)


def not_whole(ref: Mapping[str, Any]) -> str | None:
    """Why a payload's body is not the whole text it stood for: it, or a template part of it at
    any depth, was recorded cut short or left out (a reader splices the placeholder
    ``{"$trace_unavailable": id}`` where such a part was, and gives that as the body).

    Args:
        ref: one entry of the state's ``raw_payloads``.

    Returns:
        ``recorded truncated`` / ``recorded omitted`` for the payload itself, ``part ID
        recorded ...`` for the first such part; None for a whole body.
    """
    pending: list[tuple[Any, str]] = [(ref, "")]
    while pending:
        node, label = pending.pop()
        status = cut_status(node)
        if status is not None:
            return f"{label}recorded {status}"
        parts = node.get("parts") if isinstance(node, Mapping) else None
        for part in reversed(parts if isinstance(parts, list) else []):
            if isinstance(part, Mapping):
                pending.append((part, f"part {part.get('raw_payload_id')} "))
    return None


def unavailable_ids(summary: str) -> list[str]:
    """The payload ids a JSON summary names by placeholder (``{"$trace_unavailable": id}``),
    in order, each once.

    Args:
        summary: a JSON part's summary, as the reducer wrote it.
    """
    if UNAVAILABLE_MARKER_KEY not in summary:
        return []
    return list(dict.fromkeys(_UNAVAILABLE.findall(summary)))


def capture_note(ref: Any) -> str | None:
    """What a payload reference's capture metadata says was lost, in words.

    Args:
        ref: one entry of the state's ``raw_payloads``.

    Returns:
        ``"truncated: 2,000 of 12,512 bytes kept"``, ``"omitted: 12,416 bytes not kept"``,
        or None for a payload recorded whole.
    """
    capture = ref.get("capture") if isinstance(ref, Mapping) else None
    if not isinstance(capture, Mapping):
        return None
    status, original = capture.get("status"), capture.get("original_bytes")
    size = f"{original:,}" if isinstance(original, int) else "?"
    if status == "truncated":
        kept = capture.get("retained_bytes")
        return f"truncated: {kept:,} of {size} bytes kept" if isinstance(kept, int) else "truncated"
    if status == "omitted":
        return f"omitted: {size} bytes not kept"
    return str(status) if status is not None else None


def capture_notes(state: Mapping[str, Any]) -> dict[str, str]:
    """:func:`capture_note` of every payload the state names that was not recorded whole.

    Args:
        state: a reduced state, as plain JSON values.

    Returns:
        Payload id to note; empty for a bundle recorded without limits (schema 2's are).
    """
    payloads = state.get("raw_payloads")
    if not isinstance(payloads, Mapping):
        return {}
    notes = {}
    for key, ref in payloads.items():
        note = capture_note(ref)
        if note is not None:
            notes[str(key)] = note
    return notes


def ref_text(part: Mapping[str, Any], notes: Mapping[str, str]) -> str:
    """A ``payload_ref`` part as display text: ``[input_image raw_payload:7]`` (the payload
    that holds it, so a reader of ``show`` can find it, and the page links it), or for a
    payload a capture limit cut or left out ``[text: raw_payload:23, truncated: 2,048 of
    6,092 bytes kept]``; ``[input_image]`` when the part names no payload.

    Args:
        part: the part, as the reducer wrote it.
        notes: :func:`capture_notes` of the state.
    """
    ident = part.get("raw_payload_id")
    note = notes.get(ident) if isinstance(ident, str) else None
    label = part.get("label", "payload")
    if note:
        return f"[{label}: {ident}, {note}]"
    return f"[{label} {ident}]" if isinstance(ident, str) else f"[{label}]"


def unavailable_notes(summary: str, notes: Mapping[str, str]) -> str:
    """The notes of the cut values a JSON summary names (``{"$trace_unavailable": id}``),
    to print after it: ``" [raw_payload:10, truncated: 2,000 of 12,512 bytes kept]"``.

    Args:
        summary: a JSON part's summary, as the reducer wrote it.
        notes: :func:`capture_notes` of the state.

    Returns:
        The notes, each in brackets after a space; empty when it names none.
    """
    if not notes:
        return ""
    return "".join(f" [{i}, {notes[i]}]" for i in unavailable_ids(summary) if i in notes)
