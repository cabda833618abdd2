"""Agent messages (``agent_message`` model items): their routing and typed content.

Codex parses these with typed structs rather than generic JSON, so a malformed one fails with
serde's words; this module repeats them (schema 2 and 0.171's schema 3 differ in where the
error is reported). Only ``normalize`` calls it.
"""

from __future__ import annotations

import math
from typing import Any, Final

from ..model import state as st
from ..model.items import AGENT_CONTENT_FIELDS
from ..model.layout import unavailable_part
from ..model.serde_errors import (
    buffered_number_error,
    describe,
    describe_content,
    missing_field_text,
    unknown_variant_text,
    wide_integer,
)
from .errors import ReduceError


def _agent_parse_error(payload_id: str, cause: str) -> ReduceError:
    return ReduceError(f"failed to parse agent_message item in payload {payload_id}", cause=cause)


_AGENT_VARIANTS: Final = tuple(AGENT_CONTENT_FIELDS)
_AGENT_VARIANT_NAMES: Final = {"input_text": "InputText", "encrypted_content": "EncryptedContent"}
_AGENT_ENUM: Final = "AgentMessageInputContent"


def agent_message(
    item: dict[str, Any], payload_id: str
) -> tuple[st.AgentMessageMeta, list[st.ConversationPart]]:
    """Codex parses agent messages with a typed struct, so errors are serde's (values buffered
    for the tagged content enum are described with their value, e.g. ``integer `5```). 0.169
    buffers the whole item first (a response item variant): an integer ``Content`` cannot
    hold, anywhere in it, is refused before any field is read."""
    problem = buffered_number_error(item)
    if problem is not None:
        raise _agent_parse_error(payload_id, problem)
    parts: list[st.ConversationPart] = []
    for key, value in item.items():
        if key in ("author", "recipient") or (key == "id" and value is not None):
            if not isinstance(value, str):
                raise _agent_parse_error(
                    payload_id, f"invalid type: {describe_content(value)}, expected a string"
                )
        elif key == "content":
            if not isinstance(value, list):
                raise _agent_parse_error(
                    payload_id, f"invalid type: {describe_content(value)}, expected a sequence"
                )
            parts = [_agent_content_entry(entry, payload_id) for entry in value]
        elif key == "internal_chat_message_metadata_passthrough" and value is not None:
            problem = _passthrough_error(value)
            if problem is not None:
                raise _agent_parse_error(payload_id, problem)
    for name in ("author", "recipient", "content"):
        if name not in item:
            raise _agent_parse_error(payload_id, missing_field_text(name))
    if not parts:
        raise ReduceError(f"agent_message item in payload {payload_id} contained no content")
    return st.AgentMessageMeta(item["author"], item["recipient"]), parts


def agent_message_v3(
    item: dict[str, Any], payload_id: str, unkept: frozenset[str] = frozenset()
) -> tuple[st.AgentMessageMeta, list[st.ConversationPart]]:
    """Codex 0.171 reads an agent message's routing as a struct (``routing`` errors), then its
    content by hand: a content array of typed entries, whose errors are serde's, bare. An
    entry whose text is the placeholder of a template part not kept (``unkept``, a capture
    limit) refers to that part, as a message's text does, before its type is read (any type,
    or none); an ``encrypted_content`` placeholder is refused like any other non-string."""
    for key, value in item.items():
        if key in ("author", "recipient") and not isinstance(value, str):
            raise ReduceError(
                f"failed to parse agent_message routing in payload {payload_id}",
                cause=f"invalid type: {describe(value)}, expected a string",
            )
    for name in ("author", "recipient"):
        if name not in item:
            raise ReduceError(
                f"failed to parse agent_message routing in payload {payload_id}",
                cause=missing_field_text(name),
            )
    content = item.get("content")
    if not isinstance(content, list):
        raise ReduceError("expected agent_message content array")
    parts: list[st.ConversationPart] = []
    for entry in content:
        if isinstance(entry, dict):
            # a text not kept refers to its part whatever the entry's type says (another
            # variant, none, a placeholder too): Codex looks at the text first
            part = unavailable_part(entry.get("text"), unkept)
            if part is not None:
                parts.append(st.PayloadRefPart("text", part))
                continue
        try:
            parts.append(_agent_content_entry(entry, payload_id, v3=True))
        except ReduceError as exc:
            raise ReduceError(exc.cause or exc.message) from None
    if not parts:
        raise ReduceError(f"agent_message item in payload {payload_id} contained no content")
    return st.AgentMessageMeta(item["author"], item["recipient"]), parts


def _passthrough_error(value: Any) -> str | None:
    """Codex reads the metadata an agent message carries through as a typed struct too (its
    numbers keep their value: ``integer `0```, ``floating point `1.5```)."""
    if isinstance(value, list):
        # serde reads a sequence into the struct field by field; the first is the turn id
        # (every field has a default: an empty sequence is an empty struct)
        if not value:
            return None
        first = value[0]
        return (
            None
            if isinstance(first, str)
            else f"invalid type: {describe_content(first)}, expected a string"
        )
    if not isinstance(value, dict):
        return f"invalid type: {describe_content(value)}, expected struct InternalChatMessageMetadataPassthrough"
    turn_id = value.get("turn_id")
    if turn_id is not None and not isinstance(turn_id, str):
        return f"invalid type: {describe_content(turn_id)}, expected a string"
    created = value.get("create_time")
    if isinstance(created, dict) and created:
        # serde_json's number visitor takes a map only as its private number token
        return "expected field with custom name"
    if created is not None and (isinstance(created, bool) or not isinstance(created, int | float)):
        return f"invalid type: {describe_content(created)}, expected a JSON number"
    return None


def _agent_variant(tag: Any, payload_id: str, *, v3: bool = False) -> str:
    """The variant a tag names. 0.169 reads it buffered, where an unsigned integer is a
    variant index; 0.171 reads it from the ``Value``, where any number is just "number"."""
    if isinstance(tag, str):
        if tag not in _AGENT_VARIANTS:
            raise _agent_parse_error(
                payload_id, unknown_variant_text(tag, ("input_text", "encrypted_content"))
            )
        return tag
    if v3:
        raise _agent_parse_error(
            payload_id, f"invalid type: {describe(tag)}, expected variant identifier"
        )
    if isinstance(tag, int) and not isinstance(tag, bool) and 0 <= tag < 2**64:
        # an unsigned integer is a variant index (a negative one is no identifier at all)
        if tag < len(_AGENT_VARIANTS):
            return _AGENT_VARIANTS[tag]
        raise _agent_parse_error(
            payload_id, f"invalid value: integer `{tag}`, expected variant index 0 <= i < 2"
        )
    raise _agent_parse_error(
        payload_id, f"invalid type: {describe_content(tag)}, expected variant identifier"
    )


def _agent_text(value: Any, payload_id: str) -> str:
    if not isinstance(value, str):
        raise _agent_parse_error(
            payload_id, f"invalid type: {describe_content(value)}, expected a string"
        )
    return value


def _agent_content_entry(entry: Any, payload_id: str, *, v3: bool = False) -> st.ConversationPart:
    """One content entry, an internally tagged enum: its tag read (see
    :func:`_agent_variant`), the rest buffered, numbers worded with their value (a buffered
    integer past u64 / i64 is refused while buffering, in 0.171, as serde refuses it)."""
    if isinstance(entry, dict):
        if v3:
            for key, value in entry.items():
                if key == "type":
                    _agent_variant(value, payload_id, v3=True)
                else:
                    problem = buffered_number_error(value)
                    if problem is not None:
                        raise _agent_parse_error(payload_id, problem)
        if "type" not in entry:
            raise _agent_parse_error(payload_id, missing_field_text("type"))
        variant = _agent_variant(entry["type"], payload_id, v3=v3)
        field = AGENT_CONTENT_FIELDS[variant]
        if field not in entry:
            raise _agent_parse_error(payload_id, missing_field_text(field))
        text = _agent_text(entry[field], payload_id)
    elif isinstance(entry, list):
        # serde also reads a tagged enum from a sequence: the tag, then the fields.
        if not entry:
            raise _agent_parse_error(payload_id, missing_field_text("type"))
        variant = _agent_variant(entry[0], payload_id, v3=v3)
        problem = buffered_number_error(entry[1:]) if v3 else None
        if problem is not None:
            raise _agent_parse_error(payload_id, problem)
        if len(entry) < 2:
            raise _agent_parse_error(
                payload_id,
                f"invalid length 0, expected struct variant "
                f"{_AGENT_ENUM}::{_AGENT_VARIANT_NAMES[variant]} with 1 element",
            )
        text = _agent_text(entry[1], payload_id)
    else:
        if isinstance(entry, float) and not math.isfinite(entry):
            # a number past f64 reaches serde as its private one-entry map: no tag there
            raise _agent_parse_error(payload_id, missing_field_text("type"))
        shown = (wide_integer(entry) if v3 else None) or describe_content(entry)
        raise _agent_parse_error(
            payload_id, f"invalid type: {shown}, expected internally tagged enum {_AGENT_ENUM}"
        )
    if variant == "input_text":
        return st.TextPart(text)
    return st.EncodedPart("encrypted_content", text)
