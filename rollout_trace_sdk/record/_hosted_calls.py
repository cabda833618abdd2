"""Tool calls the reducers have no item type for, kept as custom tool calls.

The Responses API runs some tools itself and answers with items of their own types:
``file_search_call``, ``code_interpreter_call``, ``mcp_call``, and the calls a client runs
for the model on newer tools: ``computer_call`` /
``computer_call_output``, ``shell_call`` / ``shell_call_output``, ``apply_patch_call`` /
``apply_patch_call_output``; and hosted MCP's tool listing (``mcp_list_tools``) and
approvals (``mcp_approval_request``, answered by the client's ``mcp_approval_response``).
Neither reducer knows these types, and both refuse a whole
bundle for one item they do not know, so they used to be dropped (reported). A rollout
that used a hosted tool then showed the model answering out of nowhere.

Each is recorded instead as the closest item the reducers do read: a call as a
``custom_tool_call`` named by its type, whose ``input`` is the item's JSON (its type first,
then the fields that say what was asked and what came back: its arguments, queries, code,
results, output, error); an output as a ``custom_tool_call_output`` whose ``output`` is its
JSON. The type is in the text because the reduced state keeps a custom call's text, not
its name. The item's
``id`` stays its id, so the same item sent again in the next request is the same
conversation item; the mapping is a pure function of the item, and the JSON is written with
sorted keys, so an item dumped by an SDK and the same item as a dict give the same bytes.
``status`` is left out of a call (an SDK may send it back without it, or with another
one), and out of an output only when it says ``completed``: a failed output says so.

The JSON of such an item, as of every item both reducers keep whole as JSON (web and tool
searches, image generations, legacy local shell calls: ``model.items.WHOLE_JSON_CALLS``), is
its content: the same call sent back with a field more or less is another conversation item,
and a custom call's id reused with other content makes both reducers refuse the bundle. What
an SDK adds or removes between answering an item and sending it back is therefore left out
(:func:`settled`): fields that are null (the openai SDK dumps a response's items without
them, the Agents SDK sends them back with them, as the server wrote them), and the
server's ``created_by`` (which the Agents SDK strips before sending an item back, the API
refusing it as input).

Pure functions: no I/O.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from .._signals import raise_interrupt
from ._held import TO_HOOK, known_hook
from ._values import MAX_DEPTH

__all__ = ["hosted_call", "settled"]

#: Fields every such item has that say nothing of the call (or name it: kept apart); the
#: server's ``created_by`` is already gone (:func:`settled`).
_LEFT_OUT: Final = frozenset({"type", "id", "call_id", "status"})
#: orjson's options for the JSON text: sorted at every depth, so an SDK's dump of an item
#: and the same item as a dict give the same bytes.
_SORTED: Final = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | TO_HOOK
#: Output-only metadata the server adds to an item (and to a shell output's chunks).
_SERVER_ONLY: Final = "created_by"
#: Hosted MCP items named otherwise that are a call all the same, by their item id: the
#: server's listing of an MCP server's tools (what it found is in the item, as a file
#: search's results are) and its request to call a tool the user must approve.
_CALLS: Final = frozenset({"mcp_list_tools", "mcp_approval_request"})
#: ... and the client's answer to such a call: the field naming the call it answers.
_ANSWERS: Final = {"mcp_approval_response": "approval_request_id"}


def settled(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` as it is answered and as it is sent back alike: without fields that are null
    (in it and in every object it holds) and without the server's ``created_by`` (on it and
    on the chunks of its ``output`` list). The same object when nothing is left out."""
    out: dict[str, Any] = _without_nulls(item)
    if _SERVER_ONLY in out:
        out = {key: value for key, value in out.items() if key != _SERVER_ONLY}
    chunks = out.get("output")
    if isinstance(chunks, list | tuple) and any(
        isinstance(chunk, dict) and _SERVER_ONLY in chunk for chunk in chunks
    ):
        out = dict(out)
        out["output"] = [
            {key: value for key, value in chunk.items() if key != _SERVER_ONLY}
            if isinstance(chunk, dict)
            else chunk
            for chunk in chunks
        ]
    return out


def _without_nulls(value: Any, depth: int = 0) -> Any:
    """``value`` without the null fields of the objects in it (list entries stay; a tuple
    is a list, as orjson writes it); the same object when it has none. Past
    :data:`MAX_DEPTH` left as it is (the encoder cuts it)."""
    if depth > MAX_DEPTH:
        return value
    if isinstance(value, dict):
        out: dict[Any, Any] | None = None
        for key, entry in value.items():
            kept = _without_nulls(entry, depth + 1) if entry is not None else None
            if entry is None or kept is not entry:
                if out is None:
                    out = dict(value)
                if entry is None:
                    del out[key]
                else:
                    out[key] = kept
        return value if out is None else out
    if isinstance(value, list | tuple):
        entries = [_without_nulls(entry, depth + 1) for entry in value]
        if any(new is not old for new, old in zip(entries, value, strict=True)):
            return entries
    return value


def hosted_call(item: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """``item`` (of type ``kind``, which the reducers do not know) as a custom tool call or
    its output, or ``None`` when it is neither a call nor a call's output.

    Args:
        item: a plain item dict.
        kind: its ``type``.

    Returns:
        The ``custom_tool_call`` / ``custom_tool_call_output`` item to record, or ``None``.
    """
    answers = _ANSWERS.get(kind)
    output = answers is not None or kind.endswith("_call_output")
    if not (output or kind.endswith("_call") or kind in _CALLS):
        return None
    item_id = item.get("id")
    call_id = item.get(answers or "call_id")
    if not isinstance(call_id, str) and not output:
        call_id = item_id  # the hosted tools' calls have only their item id
    if not isinstance(call_id, str):
        return None  # an output must say which call it answers
    rest = {
        key: value
        for key, value in settled(item).items()
        if key not in _LEFT_OUT and key != answers
    }
    status = item.get("status")
    if output and status not in (None, "completed"):
        # an output is the client's own item, sent alike each time: a failure it reports
        # (an apply_patch_call_output "failed") is what it says
        rest["status"] = status
    image = _screenshot(rest) if output else None
    try:
        text = _json(kind, rest)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise_interrupt(exc)
        return None
    recorded: dict[str, Any] = {"type": "custom_tool_call_output" if output else "custom_tool_call"}
    if isinstance(item_id, str):
        recorded["id"] = item_id
    recorded["call_id"] = call_id
    if image is not None:
        # an image part, as a tool's image answer is recorded: shown as an image, and in
        # schema 3 stored once however many requests send it again
        parts: list[dict[str, Any]] = [{"type": "input_image", "image_url": image}]
        if rest:  # what else it says (safety checks acknowledged)
            parts.append({"type": "input_text", "text": text})
        recorded["output"] = parts
    elif output:
        recorded["output"] = text
    else:
        recorded["name"] = kind
        recorded["input"] = text
    return recorded


def _json(kind: str, rest: dict[str, Any]) -> str:
    """``rest`` as sorted JSON with ``"type": kind`` first: the reduced state keeps a custom
    call's text but not its name, so the text says what kind of call it was (``show``
    labels the item by it)."""
    head = orjson.dumps({"type": kind}).decode()
    body = orjson.dumps(rest, known_hook, _SORTED).decode()
    return head if body == "{}" else f"{head[:-1]},{body[1:]}"


def _screenshot(rest: dict[str, Any]) -> str | None:
    """The image URL of an output that is a screenshot (``computer_call_output``'s
    ``{"type": "computer_screenshot", "image_url"}``), taken out of ``rest`` (which keeps
    what else the output says); ``None`` for any other output."""
    shot = rest.get("output")
    if not isinstance(shot, dict) or not isinstance(shot.get("image_url"), str):
        return None
    if shot.get("type") not in (None, "computer_screenshot", "input_image"):
        return None
    others = {key: value for key, value in shot.items() if key not in ("type", "image_url")}
    if others:
        rest["output"] = others
    else:
        del rest["output"]
    if not rest.get("acknowledged_safety_checks", True):
        del rest["acknowledged_safety_checks"]  # none: says nothing
    return str(shot["image_url"])
