"""What clients send, in the one shape both reducers read: Responses-API requests and items.

Agent loops hand the recorder whatever their client library takes: a Responses request with
a plain string ``input``, "easy" messages (``role`` + ``content``, no ``type``), a Chat
Completions request (``messages`` with ``tool_calls`` and ``tool`` messages), OpenAI SDK
pydantic objects, dataclasses. The reducers (ours and Codex's) read only typed Responses
items, and refuse a whole bundle for one item they do not know. So every request and every
output is rewritten here, before it is recorded, into typed items, and whatever cannot be
rewritten is dropped and *reported*: the caller warns and records the problem, and the
bundle still reduces. The rules follow ``reduce/normalize.py`` (what the reducer accepts);
the mapping is documented in ``docs/recording.md``.

Pure functions: no I/O, no event loop. The caller's objects are never modified; a value is
copied only when something in it changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from ..model.items import WHOLE_JSON_CALLS, WHOLE_JSON_OUTPUTS
from ._hosted_calls import hosted_call, settled
from ._item_refs import KnownItems, is_reference
from ._plain import to_plain
from ._problems import AGENT_MESSAGE_REFUSED, Problem, agent_message_problem, reasoning_problem
from ._text import shown

__all__ = ["normalize_output_items", "normalize_request"]

#: Message roles the reducers accept.
_ROLES: Final = frozenset({"system", "developer", "user", "assistant", "tool"})
#: Item types the reducers accept with no further check.
_FREE_TYPES: Final = frozenset(
    {"function_call", "function_call_output", "custom_tool_call", "custom_tool_call_output"}
)
#: Item types the reducers accept and compare whole: recorded as :func:`settled`.
_WHOLE_JSON: Final = WHOLE_JSON_CALLS | WHOLE_JSON_OUTPUTS
_COMPACTIONS: Final = frozenset({"compaction", "compaction_summary", "context_compaction"})
#: Content part types recorded as they are (anything else goes through ``_part``).
_TYPED_PARTS: Final = frozenset(
    {"input_text", "output_text", "input_image", "input_file", "input_audio", "refusal"}
)


# --- requests ----------------------------------------------------------------------------------


def normalize_request(
    request: Any,
    *,
    custom_calls: set[str] | None = None,
    offset: int = 0,
    known: KnownItems | None = None,
) -> tuple[dict[str, Any], list[Problem]]:
    """A request as the reducers read it: a Responses-API dict whose ``input`` is a list of
    typed items.

    Accepted: a Responses request (``input`` a string or a list of items, typed or easy
    messages), a Chat Completions request (``messages``; its ``tools`` are flattened to the
    Responses form), just the list of items, or just the prompt string; as dicts, pydantic
    models or dataclasses.

    Args:
        request: what the loop sends to the model.
        custom_calls: ids of custom tool calls made earlier (updated in place).
        offset: the index of the first item (see ``_request_memo``).
        known: the items an item reference may name (see ``_item_refs``); without it every
            reference is dropped.

    Returns:
        The normalised request (a new dict; the caller's is untouched) and the problems found:
        one sentence per thing dropped or not understood, of its kind (``_problems``). An
        empty list means nothing was lost.
    """
    problems: list[Problem] = []
    value = to_plain(request)
    if isinstance(value, str | list | tuple):
        value = {"input": value}
    elif not isinstance(value, dict):
        problems.append(
            Problem(
                "request not a mapping",
                f"request is a {type(request).__name__}, not a mapping or a list of items; "
                "recorded with empty input",
            )
        )
        return {"input": []}, problems
    body = dict(value)
    if "input" in body:
        raw = body["input"]
        if isinstance(raw, str):
            body["input"] = [_text_message("user", raw)]
        elif isinstance(raw, list | tuple):
            body["input"] = _items(raw, "input", problems, custom_calls, offset, known)
        else:
            problems.append(
                Problem(
                    "request input not a list",
                    f"request input is a {type(raw).__name__}, not a string or a list; "
                    "recorded as empty",
                )
            )
            body["input"] = []
    elif "messages" in body:
        messages = body.pop("messages")
        if isinstance(messages, list | tuple):
            body["input"] = _items(messages, "messages", problems, custom_calls, offset, known)
        else:
            problems.append(
                Problem(
                    "request messages not a list",
                    f"request messages is a {type(messages).__name__}, not a list;"
                    " recorded as empty",
                )
            )
            body["input"] = []
        tools = body.get("tools")
        if isinstance(tools, list | tuple):
            body["tools"] = [_flat_tool(tool) for tool in tools]
    else:
        problems.append(
            Problem(
                "request without input",
                "request has neither input nor messages; recorded with empty input",
            )
        )
        body["input"] = []
    return body, problems


def _flat_tool(tool: Any) -> Any:
    """A Chat Completions tool (``{"type": "function", "function": {...}}``) in the
    Responses form (``{"type": "function", "name": ..., ...}``)."""
    if isinstance(tool, dict) and tool.get("type") == "function":
        inner = tool.get("function")
        if isinstance(inner, dict):
            flat = {"type": "function"}
            flat.update(inner)
            return flat
    return tool


# --- outputs -----------------------------------------------------------------------------------


def normalize_output_items(output: Any) -> tuple[list[Any], list[Problem]]:
    """A response's output as typed items.

    Accepted: a list of Responses output items (typed, pydantic, or easy messages), a whole
    Responses ``Response`` (its ``output``), a Chat Completions ``ChatCompletion`` (the
    first choice's message), one choice, or one assistant message (``tool_calls`` become
    ``function_call`` items).

    Args:
        output: what the model answered, in any of the shapes above.

    Returns:
        The typed items and the problems found (dropped items, ignored extra choices).
    """
    problems: list[Problem] = []
    value = to_plain(output)
    if value is None:
        return [], problems
    if isinstance(value, dict):
        if isinstance(value.get("output"), list | tuple):
            value = value["output"]
        elif isinstance(value.get("choices"), list | tuple):
            choices = value["choices"]
            if len(choices) > 1:
                problems.append(
                    Problem(
                        "extra choices",
                        f"response has {len(choices)} choices; only the first is recorded",
                    )
                )
            value = [choices[0]] if choices else []
        else:
            value = [value]
    elif not isinstance(value, list | tuple):
        problems.append(
            Problem(
                "output not a list",
                f"output is a {type(output).__name__}, not a list of items; recorded as empty",
            )
        )
        return [], problems
    unwrapped = [
        item["message"]
        if isinstance(item, dict) and "type" not in item and isinstance(item.get("message"), dict)
        else item
        for item in value
    ]
    return _items(unwrapped, "output", problems, None, 0, None), problems


# --- items -------------------------------------------------------------------------------------


def _items(
    raw: Sequence[Any],
    where: str,
    problems: list[Problem],
    custom_calls: set[str] | None,
    offset: int,
    known: KnownItems | None,
) -> list[Any]:
    """Each element as zero or more typed items (a chat assistant message with tool calls
    becomes several). ``raw`` is plain already (see :func:`to_plain`)."""
    out: list[Any] = []
    if custom_calls is None:
        custom_calls = set()
    changed = False
    for index, element in enumerate(raw, offset):
        if element.__class__ is dict and _canonical(element):  # the common case, inline
            out.append(element)
            continue
        converted = _item(element, f"{where}[{index}]", problems, custom_calls, known)
        if len(converted) != 1 or converted[0] is not element:
            changed = True
        out.extend(converted)
    return out if changed or not isinstance(raw, list) else raw


def _canonical(item: dict[str, Any]) -> bool:
    """Whether ``item`` is recorded exactly as it is: a tool call or output (not a custom
    call, whose id the chat mapping must remember, nor one kept whole as JSON, which is
    recorded :func:`settled`), or a message with a role the reducers
    accept and only typed content parts."""
    kind = item.get("type")
    try:
        if kind == "message":
            if item.get("role") not in _ROLES:
                return False
            content = item.get("content")
            if content.__class__ is not list:
                return False
            for part in content:
                if part.__class__ is not dict or part.get("type") not in _TYPED_PARTS:
                    return False
            return True
        return kind in _FREE_TYPES and kind != "custom_tool_call"
    except TypeError:  # an unhashable type or role (an object, a list): :func:`_item` says
        return False


def _item(
    item: Any,
    where: str,
    problems: list[Problem],
    custom_calls: set[str],
    known: KnownItems | None,
) -> list[Any]:
    if isinstance(item, str):
        return [_text_message("user", item)]
    if not isinstance(item, dict):
        problems.append(
            Problem("not an item", f"{where} is a {type(item).__name__}, not an item; dropped")
        )
        return []
    kind = item.get("type")
    if kind is None and "role" in item:
        return _easy_message(item, where, problems, custom_calls)
    if is_reference(item):
        return _referenced(item, where, problems, custom_calls, known)
    if not isinstance(kind, str):
        problems.append(
            Problem("item without type", f"{where} has no string type and no role; dropped")
        )
        return []
    if kind == "message":
        return _typed_message(item, where, problems)
    if kind in _WHOLE_JSON:
        return [settled(item)]
    if kind in _FREE_TYPES:
        if kind == "custom_tool_call" and isinstance(item.get("call_id"), str):
            custom_calls.add(item["call_id"])
        return [item]
    if kind == "reasoning":
        refused, problem = "reasoning refused", reasoning_problem(item)
    elif kind == "agent_message":
        refused, problem = AGENT_MESSAGE_REFUSED, agent_message_problem(item)
    elif kind in _COMPACTIONS:
        refused = "compaction refused"
        problem = (
            None
            if isinstance(item.get("encrypted_content"), str)
            else "has no string encrypted_content"
        )
    else:
        hosted = hosted_call(item, kind)
        if hosted is not None:
            if hosted["type"] == "custom_tool_call":
                custom_calls.add(hosted["call_id"])
            return [hosted]
        refused, problem = "unknown item type", "is not an item type the reducers know"
    if problem is not None:
        problems.append(Problem(refused, f"{where} ({kind}) {problem}; dropped"))
        return []
    return [item]


def _referenced(
    item: dict[str, Any],
    where: str,
    problems: list[Problem],
    custom_calls: set[str],
    known: KnownItems | None,
) -> list[Any]:
    """An item reference as the item it names, which the model saw (see ``_item_refs``);
    dropped and reported when the rollout never recorded that item."""
    found, why = (None, "names no item recorded") if known is None else known.resolve(item)
    if found is None:
        problems.append(
            Problem("unknown item reference", f"{where} (item_reference) {why}; dropped")
        )
        return []
    if found.get("type") == "custom_tool_call" and isinstance(found.get("call_id"), str):
        custom_calls.add(found["call_id"])  # a Chat tool message answering it is its output
    return [found]


def _text_message(role: str, text: str) -> dict[str, Any]:
    part = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": part, "text": text}]}


def _parts(content: Any, role: str) -> Any:
    """Message content as a list of typed parts (the reducers show text only from those).
    Returns ``content`` itself when it needs no change."""
    text_type = "output_text" if role == "assistant" else "input_text"
    if isinstance(content, str):
        return [{"type": text_type, "text": content}]
    if not isinstance(content, list | tuple):
        return content
    try:
        for part in content:
            if part.__class__ is not dict or part.get("type") not in _TYPED_PARTS:
                break
        else:  # every part is typed already: the common case, nothing to copy
            return content
    except TypeError:  # a part's type is unhashable (an object, a list): :func:`_part` keeps it
        pass
    return [_part(part, text_type) for part in content]


def _part(part: Any, text_type: str) -> Any:
    if isinstance(part, str):
        return {"type": text_type, "text": part}
    if not isinstance(part, dict):
        return part
    kind = part.get("type")
    if kind == "text" or (kind is None and isinstance(part.get("text"), str)):
        fixed = dict(part)
        fixed["type"] = text_type
        return fixed
    if kind == "image_url":  # Chat Completions image part
        image = part.get("image_url")
        fixed = {"type": "input_image"}
        if isinstance(image, dict):
            fixed.update({"image_url": image.get("url"), "detail": image.get("detail", "auto")})
        else:
            fixed["image_url"] = image
        return fixed
    if kind == "file" and isinstance(part.get("file"), dict):  # Chat Completions file part
        fixed = {"type": "input_file"}
        fixed.update(part["file"])
        return fixed
    return part


def _typed_message(item: dict[str, Any], where: str, problems: list[Problem]) -> list[Any]:
    role = item.get("role")
    if not isinstance(role, str) or role not in _ROLES:
        problems.append(
            Problem(
                "role refused",
                f"{where} (message) has role {shown(role)}, which the reducers refuse; dropped",
            )
        )
        return []
    content = item.get("content")
    parts = _parts(content, role)
    if parts is content:
        return [item]
    fixed = dict(item)
    fixed["content"] = parts
    return [fixed]


def _easy_message(
    item: dict[str, Any], where: str, problems: list[Problem], custom_calls: set[str]
) -> list[Any]:
    """An untyped message: a Responses "easy input message" or a Chat Completions message
    (assistant ``tool_calls`` / legacy ``function_call``, ``tool`` / legacy ``function``
    results)."""
    role = item.get("role")
    content = item.get("content")
    if role == "tool" or role == "function":
        output: dict[str, Any] = {"type": "function_call_output"}
        call_id = item.get("tool_call_id")
        if isinstance(call_id, str):
            output["call_id"] = call_id
            if call_id in custom_calls:
                output["type"] = "custom_tool_call_output"
        output["output"] = _parts(content, "tool") if isinstance(content, list | tuple) else content
        if output["output"] is None:
            output["output"] = ""
        return [output]
    if not isinstance(role, str) or role not in _ROLES:
        problems.append(
            Problem(
                "role refused",
                f"{where} has role {shown(role)}, which the reducers refuse; dropped",
            )
        )
        return []
    out: list[Any] = []
    if role == "assistant":
        reasoning = _chat_reasoning(item, where, problems)
        if reasoning is not None:
            out.append(reasoning)
    refusal = item.get("refusal")
    has_content = content is not None and content != "" and content != [] and content != ()
    if has_content or isinstance(refusal, str) or (role != "assistant" and content is not None):
        message: dict[str, Any] = {"type": "message", "role": role}
        if isinstance(item.get("id"), str):
            message["id"] = item["id"]
        parts = _parts(content, role) if content is not None else []
        if isinstance(parts, list | tuple) and isinstance(refusal, str):
            parts = [*parts, {"type": "refusal", "refusal": refusal}]
        message["content"] = parts
        if isinstance(item.get("phase"), str):
            message["phase"] = item["phase"]
        out.append(message)
    if role == "assistant":
        out.extend(_tool_calls(item, where, problems, custom_calls))
        audio = item.get("audio")
        if isinstance(audio, dict):  # an audio answer, or its id sent back: no item holds it
            problems.append(
                Problem(
                    "audio dropped",
                    f"{where} has audio (id {audio.get('id')}), which the reducers cannot hold;"
                    " dropped",
                )
            )
    return out


#: OpenRouter's ``reasoning_details`` entry types, as the reasoning item's fields they fill.
_DETAIL_FIELDS: Final = {
    "reasoning.text": ("content", "reasoning_text", "text"),
    "reasoning.summary": ("summary", "summary_text", "summary"),
}


def _chat_reasoning(
    item: dict[str, Any], where: str, problems: list[Problem]
) -> dict[str, Any] | None:
    """A Chat assistant message's reasoning as a ``reasoning`` item (recorded before the
    message, where a Responses answer has it), or ``None`` when it has none.

    The Chat Completions API has no reasoning field, but the servers people run reasoning
    models on add one: ``reasoning_content`` (vLLM, SGLang, DeepSeek, llama.cpp),
    ``reasoning`` (newer vLLM, Ollama, Groq, OpenRouter) and OpenRouter's structured
    ``reasoning_details`` (text, summary and encrypted entries), which is preferred when
    present because it keeps what the plain text loses (and the text taken when none of
    its entries can be kept)."""
    details = item.get("reasoning_details")
    if isinstance(details, list | tuple) and details:
        found: dict[str, Any] = {"type": "reasoning", "summary": []}
        for index, entry in enumerate(details):
            kind = entry.get("type") if isinstance(entry, dict) else None
            field = _DETAIL_FIELDS.get(kind) if isinstance(kind, str) else None
            if field is not None and isinstance(entry.get(field[2]), str):
                key, part_type, source = field
                found.setdefault(key, []).append({"type": part_type, "text": entry[source]})
            elif (
                kind == "reasoning.encrypted"
                and isinstance(entry.get("data"), str)
                and "encrypted_content" not in found
            ):
                found["encrypted_content"] = entry["data"]
            else:
                problems.append(
                    Problem(
                        "reasoning detail dropped",
                        f"{where}.reasoning_details[{index}] is not a text, summary or (first)"
                        " encrypted entry the reducers can hold; dropped",
                    )
                )
        if len(found) > 2 or found["summary"]:
            return found
        # none of its entries is one a reasoning item holds: the plain text, if any, still is
    for key in ("reasoning_content", "reasoning"):
        text = item.get(key)
        if isinstance(text, str):
            if text:
                return {
                    "type": "reasoning",
                    "summary": [],
                    "content": [{"type": "reasoning_text", "text": text}],
                }
        elif text is not None:
            problems.append(
                Problem(
                    "reasoning not text",
                    f"{where}.{key} is a {type(text).__name__}, not text; dropped",
                )
            )
    return None


def _tool_calls(
    item: dict[str, Any], where: str, problems: list[Problem], custom_calls: set[str]
) -> Iterable[dict[str, Any]]:
    legacy = item.get("function_call")
    if isinstance(legacy, dict):
        yield {
            "type": "function_call",
            "name": legacy.get("name"),
            "arguments": legacy.get("arguments", ""),
        }
    calls = item.get("tool_calls")
    if calls is None:
        return
    if not isinstance(calls, list | tuple):
        problems.append(
            Problem(
                "tool_calls not a list", f"{where} has tool_calls that is not a list; dropped them"
            )
        )
        return
    for index, call in enumerate(calls):
        if not isinstance(call, dict):
            problems.append(
                Problem(
                    "tool call not an object",
                    f"{where}.tool_calls[{index}] is not an object; dropped",
                )
            )
            continue
        call_id = call.get("id")
        custom = call.get("custom")
        if call.get("type") == "custom" and isinstance(custom, dict):
            if isinstance(call_id, str):
                custom_calls.add(call_id)
            yield {
                "type": "custom_tool_call",
                "call_id": call_id,
                "name": custom.get("name"),
                "input": custom.get("input", ""),
            }
            continue
        function = call.get("function")
        if not isinstance(function, dict):
            problems.append(
                Problem(
                    "tool call without function",
                    f"{where}.tool_calls[{index}] has no function; dropped",
                )
            )
            continue
        yield {
            "type": "function_call",
            "call_id": call_id,
            "name": function.get("name"),
            "arguments": function.get("arguments", ""),
        }
