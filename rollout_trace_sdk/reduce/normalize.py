"""From Responses-API items (requests, responses, checkpoints, receipts) to conversation data.

A normalised item carries everything reconciliation compares, plus a precomputed match key:
replay compares every resent history item with its baseline, so the comparison must be one
tuple equality, not a walk over parts. Identity (``conversation_item:N``) is decided later, by
the conversation module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, TypeAlias

import attrs
import orjson

from ..model import state as st
from ..model.items import REASONING_ENTRIES, WHOLE_JSON_CALLS, WHOLE_JSON_OUTPUTS
from ..model.layout import right_sized, unavailable_part
from .agent_messages import agent_message, agent_message_v3
from .canonical import (
    compact_json,
    content_sha256,
    has_float,
    holds_inexact_numbers,
    parse_text_keeping_numbers,
    visited_numbers,
)
from .errors import ReduceError

#: Re-reads one element of the payload with number text kept (see ``canonical``).
RawLocator: TypeAlias = Callable[[Sequence[str | int]], Any]

_JSON_SUMMARY_LIMIT: Final = 240
_TEXT_TYPES: Final = frozenset({"input_text", "output_text", "text"})
_ROLES: Final = frozenset({"system", "developer", "user", "assistant", "tool"})
_PHASE_CHANNEL: Final[dict[str, st.ConversationChannel]] = {
    "commentary": "commentary",
    "final_answer": "final",
    "summary": "summary",
}
_COMPACTIONS: Final = frozenset({"compaction", "compaction_summary", "context_compaction"})


def part_key(part: st.ConversationPart) -> tuple[Any, ...]:
    """What makes two parts "the same" for reuse: JSON parts by summary only, payload refs by
    hash when both have one (so one image resent in a new payload stays one item)."""
    if isinstance(part, st.TextPart):
        return ("t", part.text)
    if isinstance(part, st.SummaryPart):
        return ("s", part.text)
    if isinstance(part, st.EncodedPart):
        return ("e", part.label, part.value)
    if isinstance(part, st.JsonPart):
        return ("j", part.summary)
    if isinstance(part, st.CodePart):
        return ("c", part.language, part.source)
    if part.content_sha256 is not None:
        return ("h", part.label, part.content_sha256)
    return ("r", part.label, part.raw_payload_id)


def reasoning_identity(body: Sequence[st.ConversationPart]) -> tuple[str, str] | None:
    """The first encoded part: a reasoning item's encrypted blob is its identity."""
    for part in body:
        if isinstance(part, st.EncodedPart):
            return (part.label, part.value)
    return None


@attrs.define(slots=True)
class NormItem:
    role: st.ConversationRole
    channel: st.ConversationChannel | None
    kind: st.ConversationItemKind
    body: list[st.ConversationPart]
    call_id: str | None = None
    agent_message: st.AgentMessageMeta | None = None
    responses_item_id: str | None = None
    key: tuple[Any, ...] = ()
    identity: tuple[str, str] | None = None

    #: whether the body names its payload (JSON parts) / is tied to it (payload refs)
    has_json: bool = False
    reusable: bool = True

    def __attrs_post_init__(self) -> None:
        if not self.key:
            self.rekey()
        self.has_json = any(isinstance(part, st.JsonPart) for part in self.body)
        # Payload refs name their payload in the match key, so another payload's identical
        # item must be normalised afresh.
        self.reusable = not any(isinstance(part, st.PayloadRefPart) for part in self.body)

    def rekey(self) -> None:
        self.key = content_key(
            self.role, self.channel, self.kind, self.call_id, self.agent_message, self.body
        )
        self.identity = reasoning_identity(self.body) if self.kind == "reasoning" else None

    def body_for(self, payload_id: str) -> list[st.ConversationPart]:
        """The body as if normalised from payload ``payload_id`` (JSON parts name it)."""
        if not self.has_json:
            return list(self.body)
        return [
            st.JsonPart(part.summary, payload_id) if isinstance(part, st.JsonPart) else part
            for part in self.body
        ]


#: Items normalised before, by their exact bytes: each entry ``(those bytes, the result,
#: whether those bytes hold null)``, the key kept so that carrying an entry over to the next
#: batch's memo copies nothing. The null flag is found once, when the item is remembered: a
#: later item with the same bytes may hold an infinite float there (orjson writes it as null).
ItemMemo: TypeAlias = dict[bytes, tuple[bytes, NormItem, bool]]


def content_key(
    role: str,
    channel: str | None,
    kind: str,
    call_id: str | None,
    agent_message: st.AgentMessageMeta | None,
    body: Sequence[st.ConversationPart],
) -> tuple[Any, ...]:
    meta = None if agent_message is None else (agent_message.author, agent_message.recipient)
    return (role, channel, kind, call_id, meta, tuple(part_key(p) for p in body))


# --- helpers ---------------------------------------------------------------------------------------


def json_summary(value: Any) -> str:
    """Compact JSON (payload key order kept), cut to 240 bytes at a character boundary.

    ``value`` holds no floats, or holds :class:`~.canonical.RawNumber`s with the file's text."""
    if has_float(value):  # pragma: no cover - callers pass raw-number values then
        raise TypeError("json_summary needs number text for floats")
    try:
        encoded = (
            orjson.dumps(value) if not _has_raw(value) else compact_json(value).encode("utf-8")
        )
    except orjson.JSONEncodeError:  # an integer past 64 bits (a payload orjson refused)
        encoded = compact_json(value).encode("utf-8")
    if len(encoded) <= _JSON_SUMMARY_LIMIT:
        return encoded.decode("utf-8")
    cut = _JSON_SUMMARY_LIMIT
    while cut > 0 and (encoded[cut] & 0xC0) == 0x80:
        cut -= 1
    return encoded[:cut].decode("utf-8") + "..."


def _has_raw(value: Any) -> bool:
    if isinstance(value, str):
        return type(value) is not str
    if isinstance(value, dict):
        return any(_has_raw(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_raw(v) for v in value)
    return False


def _json_body(value: Any, ctx: _Context, path: tuple[str | int, ...]) -> list[st.ConversationPart]:
    if has_float(value):
        value = ctx.exact(value, path)
    return [st.JsonPart(json_summary(value), ctx.payload_id)]


#: The metadata Codex passes along with an item it keeps (a turn id, creation time, content
#: kinds): compaction checkpoints carry it, the responses that produced the items do not.
_PASSTHROUGH: Final = "internal_chat_message_metadata_passthrough"


def _whole_item_body(
    item: dict[str, Any], ctx: _Context, path: tuple[str | int, ...]
) -> list[st.ConversationPart]:
    """The JSON of a whole item (server-side calls and outputs, a custom call whose input is
    no string), without its top-level passthrough metadata, whatever its value: Codex (0.169
    and 0.171) leaves that key out, so a web search or legacy shell call a remote compaction
    resends is the item its response produced. Nowhere else: a nested key of that name, or
    one inside a call's arguments, is content."""
    if _PASSTHROUGH not in item:
        return _json_body(item, ctx, path)
    if has_float(item):
        item = ctx.exact(item, path)
    return [st.JsonPart(json_summary(_without_passthrough(item)), ctx.payload_id)]


def _without_passthrough(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key != _PASSTHROUGH}


def _call_id(item: dict[str, Any]) -> str | None:
    value = item.get("call_id")
    return value if isinstance(value, str) else None


class _Context:
    """Where the items come from: the payload id for parts, and a way back to raw numbers.
    ``v3``: schema 3 (0.171's agent-message rules); ``unkept``: the ids of the payload's
    template parts that were not kept (their placeholders stand for them)."""

    __slots__ = ("listed", "locate", "payload_id", "unkept", "v3")

    def __init__(
        self,
        payload_id: str,
        locate: RawLocator | None,
        v3: bool = False,
        unkept: frozenset[str] = frozenset(),
        *,
        listed: bool = False,
    ) -> None:
        self.payload_id = payload_id
        self.locate = locate
        self.v3 = v3
        self.unkept = unkept
        #: an item of a list (a request's, a response's, a checkpoint's), not a receipt
        self.listed = listed

    def exact(self, value: Any, path: tuple[str | int, ...]) -> Any:
        """``value`` (found at ``path``) re-read with the payload's number text."""
        if self.locate is None:
            return parse_text_keeping_numbers(orjson.dumps(value).decode("utf-8"))
        return self.locate(path)

    def element_hash(self, element: Any, path: tuple[str | int, ...]) -> str:
        locate = self.locate
        if locate is None:
            return content_sha256(element)
        return content_sha256(element, lambda: locate(path))


def _content_parts(
    content: Any, ctx: _Context, path: tuple[str | int, ...]
) -> list[st.ConversationPart]:
    if not isinstance(content, list):
        return [st.PayloadRefPart("content", ctx.payload_id)]
    parts: list[st.ConversationPart] = []
    for index, element in enumerate(content):
        kind = element.get("type") if isinstance(element, dict) else None
        if isinstance(kind, str) and kind in _TEXT_TYPES:
            text = element.get("text")
            if isinstance(text, str):
                parts.append(st.TextPart(text))
            elif (part := unavailable_part(text, ctx.unkept)) is not None:
                parts.append(st.PayloadRefPart("text", part))
            continue
        label = kind if isinstance(kind, str) else "content"
        parts.append(
            st.PayloadRefPart(
                label, _element_payload(element, ctx), ctx.element_hash(element, (*path, index))
            )
        )
    return parts


def _element_payload(element: Any, ctx: _Context) -> str:
    """The payload a content element's reference names: the template part Codex did not keep
    when the element's ``image_url`` is its placeholder (an image cut by a capture limit;
    Codex 0.171 does this for ``image_url`` only: a cut ``input_file``'s ``file_data`` names
    the payload holding the element), else the payload holding the element."""
    if isinstance(element, dict):
        part = unavailable_part(element.get("image_url"), ctx.unkept)
        if part is not None:
            return part
    return ctx.payload_id


def _tool_output_body(
    item: dict[str, Any], ctx: _Context, path: tuple[str | int, ...]
) -> list[st.ConversationPart]:
    if "output" not in item:
        return [st.PayloadRefPart("tool_output", ctx.payload_id)]
    output = item["output"]
    if isinstance(output, str):
        return [st.TextPart(output)]
    if isinstance(output, list):
        return _content_parts(output, ctx, (*path, "output"))
    return _json_body(output, ctx, (*path, "output"))


# Shaped like ``_tool_output_body``, but arguments are JSON text to parse; an output is not.
def _arguments_body(
    item: dict[str, Any], ctx: _Context, path: tuple[str | int, ...]
) -> list[st.ConversationPart]:
    if "arguments" not in item:
        return [st.PayloadRefPart("payload", ctx.payload_id)]
    arguments = item["arguments"]
    if not isinstance(arguments, str):
        return _json_body(arguments, ctx, (*path, "arguments"))
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError as exc:
        # orjson refuses numbers beyond f64 range; serde (arbitrary precision) keeps them.
        if "infinity" not in str(exc):
            return [st.TextPart(arguments)]
        parsed = _exact_text(arguments)
        if parsed is None:
            return [st.TextPart(arguments)]
    else:
        if has_float(parsed):
            parsed = _exact_text(arguments)
    return [st.JsonPart(json_summary(parsed), ctx.payload_id)]


def _exact_text(text: str) -> Any:
    try:
        return parse_text_keeping_numbers(text)
    except ValueError:
        return None


def _custom_call_body(
    item: dict[str, Any], ctx: _Context, path: tuple[str | int, ...]
) -> list[st.ConversationPart]:
    source = item.get("input")
    if not isinstance(source, str):
        return _whole_item_body(item, ctx, path)
    if item.get("name") == "exec":
        return [st.CodePart("javascript", source)]
    return [st.TextPart(source)]


def _reasoning_body(item: dict[str, Any], ctx: _Context) -> list[st.ConversationPart]:
    payload_id = ctx.payload_id
    parts: list[st.ConversationPart] = []
    for key, allowed in REASONING_ENTRIES:
        if key not in item:
            continue
        entries = item[key]
        if entries is None and key == "content":
            continue
        if not isinstance(entries, list):
            raise ReduceError(f"reasoning item in payload {payload_id} had non-array {key}")
        for entry in entries:
            kind = entry.get("type") if isinstance(entry, dict) else None
            if not isinstance(kind, str):
                raise ReduceError(
                    f"reasoning item in payload {payload_id} had {key} entry without string type"
                )
            if kind not in allowed:
                raise ReduceError(
                    f"reasoning item in payload {payload_id} had unsupported {key} type {kind}"
                )
            text = entry.get("text")
            if (part := unavailable_part(text, ctx.unkept)) is not None:
                # a text the recorder did not keep (capture limits): a reference to it, named
                # by the list it was in (0.171)
                parts.append(st.PayloadRefPart(key, part))
                continue
            if not isinstance(text, str):
                raise ReduceError(
                    f"reasoning item in payload {payload_id} had {key} entry without string text"
                )
            parts.append(st.TextPart(text) if key == "content" else st.SummaryPart(text))
    if "encrypted_content" in item:
        encrypted = item["encrypted_content"]
        if isinstance(encrypted, str):
            parts.append(st.EncodedPart("encrypted_content", encrypted))
        elif encrypted is not None:
            raise ReduceError(
                f"reasoning item in payload {payload_id} had non-string encrypted_content"
            )
    if not parts:
        raise ReduceError(
            f"reasoning item in payload {payload_id} contained no content, summary, or encrypted_content"
        )
    return parts


_BodyOf: TypeAlias = Callable[
    [dict[str, Any], "_Context", tuple[str | int, ...]], list[st.ConversationPart]
]
#: Tool calls and their outputs (ours and the server's): item type → (role, kind, body).
_TOOL_ITEMS: Final[dict[str, tuple[st.ConversationRole, st.ConversationItemKind, _BodyOf]]] = {
    "function_call": ("assistant", "function_call", _arguments_body),
    "function_call_output": ("tool", "function_call_output", _tool_output_body),
    "custom_tool_call_output": ("tool", "custom_tool_call_output", _tool_output_body),
    "custom_tool_call": ("assistant", "custom_tool_call", _custom_call_body),
    **{kind: ("assistant", "function_call", _whole_item_body) for kind in WHOLE_JSON_CALLS},
    **{kind: ("tool", "function_call_output", _whole_item_body) for kind in WHOLE_JSON_OUTPUTS},
}


# --- entry points ----------------------------------------------------------------------------------


def normalize_item(item: Any, ctx: _Context, path: tuple[str | int, ...]) -> NormItem:
    payload_id = ctx.payload_id
    kind = item.get("type") if isinstance(item, dict) else None
    if not isinstance(kind, str):
        raise ReduceError(f"model item in payload {payload_id} did not contain a string type")
    responses_id = item.get("id")
    rid = responses_id if isinstance(responses_id, str) else None
    if kind == "message":
        role = item.get("role")
        if not isinstance(role, str):
            raise ReduceError(f"message item in payload {payload_id} did not contain a string role")
        if role not in _ROLES:
            raise ReduceError(f"unsupported message role {role} in payload {payload_id}")
        phase = item.get("phase")
        channel = _PHASE_CHANNEL.get(phase) if isinstance(phase, str) else None
        body = _content_parts(item.get("content"), ctx, (*path, "content"))
        return NormItem(role, channel, "message", body, None, None, rid)  # type: ignore[arg-type]
    if kind == "agent_message":
        if ctx.listed and _PASSTHROUGH in item:
            # in a list (not a receipt), Codex 0.169 drops the passthrough metadata before
            # it reads the item: whatever it holds, even a number it refuses elsewhere
            item = _without_passthrough(item)
        if holds_inexact_numbers(item):
            # Codex reads the item from serde_json's Value, where an integer past 64 bits
            # keeps its value (orjson made it a float) and a float its text, and is refused
            # or named by them
            item = visited_numbers(ctx.exact(item, path))
            if ctx.listed:
                item = _without_passthrough(item)
        if ctx.v3:
            meta, body = agent_message_v3(item, payload_id, ctx.unkept)
        else:
            meta, body = agent_message(item, payload_id)
        return NormItem("assistant", "analysis", "message", body, None, meta, rid)
    if kind == "reasoning":
        return NormItem(
            "assistant", "analysis", "reasoning", _reasoning_body(item, ctx), None, None, rid
        )
    tool_item = _TOOL_ITEMS.get(kind)
    if tool_item is not None:
        role, out_kind, body_of = tool_item
        body = body_of(item, ctx, path)
        return NormItem(role, "commentary", out_kind, body, _call_id(item), None, rid)
    if kind in _COMPACTIONS:
        encrypted = item.get("encrypted_content")
        if not isinstance(encrypted, str):
            raise ReduceError(
                f"compaction item in payload {payload_id} did not contain string encrypted_content"
            )
        return NormItem(
            "assistant",
            "summary",
            "message",
            [st.EncodedPart("encrypted_content", encrypted)],
            None,
            None,
            rid,
        )
    raise ReduceError(f"unsupported model item type {kind} in payload {payload_id}")


#: Input items that are no part of the conversation: Codex (0.169 and 0.171) leaves them out
#: of a request's items (``additional_tools``: the tool list a forked thread's first request
#: carries as an input item).
_NOT_ITEMS: Final = frozenset({"additional_tools"})


def _not_an_item(item: Any) -> bool:
    if item.__class__ is not dict:
        return False
    kind = item.get("type")
    return kind.__class__ is str and kind in _NOT_ITEMS


def normalize_items(
    items: list[Any],
    payload_id: str,
    path: tuple[str | int, ...],
    locate: RawLocator | None = None,
    *,
    seen: ItemMemo | None = None,
    remember: ItemMemo | None = None,
    v3: bool = False,
    unkept: frozenset[str] = frozenset(),
    first: int = 0,
    learned: list[bytes | None] | None = None,
) -> list[NormItem]:
    """Normalise an array of model items found at ``path`` inside payload ``payload_id``.

    ``seen`` maps the exact bytes of items normalised before (the thread's previous request
    and response) to their result: a resent history item is then one ``orjson.dumps`` and a
    dict lookup instead of a walk in Python. ``remember`` collects this batch for next time.
    ``v3``: schema 3; ``unkept``: the payload's template parts not kept (a placeholder for
    an item Codex did not keep is no item). ``first``: the array's index of ``items[0]`` (a
    request's items after those ``resent_text`` found unchanged); ``learned`` gets each
    item's key in ``remember``, None for one not remembered (or no item).
    """
    ctx = _Context(payload_id, locate, v3, unkept, listed=True)
    if seen is None and remember is None and not unkept:
        return [
            normalize_item(item, ctx, (*path, index))
            for index, item in enumerate(items, first)
            if not _not_an_item(item)
        ]
    out: list[NormItem] = []
    dumps = orjson.dumps
    not_items = _NOT_ITEMS
    for index, item in enumerate(items, first):
        if learned is not None:
            learned.append(None)  # until remembered below
        if unkept and unavailable_part(item, unkept) is not None:
            continue
        if item.__class__ is dict:  # _not_an_item, inline: this loop runs per resent item
            kind = item.get("type")
            if kind.__class__ is str and kind in not_items:
                continue
        try:
            blob = dumps(item)
        except orjson.JSONEncodeError:
            # an integer past 64 bits, kept exact by the parse of a payload orjson refused
            # (a number beyond f64 in it): normalised every time, never memoised
            out.append(normalize_item(item, ctx, (*path, index)))
            continue
        known = None if seen is None else seen.get(blob)
        if known is not None and known[2] and has_float(item):
            # orjson writes a float beyond f64 (1e400, from the parse of a payload orjson
            # refused) as null: this item is not the remembered one with a null there (the
            # remembered items hold no float). Found when remembered: no search per hit.
            known = None
        if known is None:
            norm = normalize_item(item, ctx, (*path, index))
            # Equal floats may have been written differently; only exact text may be borrowed.
            if remember is not None and norm.reusable and not has_float(item):
                blob = right_sized(blob)
                remember[blob] = (blob, norm, b"null" in blob)
                if learned is not None:
                    learned[-1] = blob
        else:
            norm = known[1]
            if remember is not None:
                # the memo's own key again: no copy to size, its hash already computed
                remember[known[0]] = known
                if learned is not None:
                    learned[-1] = known[0]
        out.append(norm)
    return out


def normalize_one(
    item: Any,
    payload_id: str,
    locate: RawLocator | None = None,
    *,
    v3: bool = False,
    unkept: frozenset[str] = frozenset(),
) -> NormItem:
    """Normalise a payload that is itself one model item (agent-message receipts)."""
    return normalize_item(item, _Context(payload_id, locate, v3, unkept), ())
