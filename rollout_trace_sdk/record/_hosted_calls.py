"""Tool calls the reducers have no item type for, kept as custom tool calls.

The Responses API runs some tools itself and answers with items of their own types:
``file_search_call``, ``code_interpreter_call``, ``mcp_call``, and the calls a client runs
for the model on newer tools: ``computer_call`` /
``computer_call_output``, ``shell_call`` / ``shell_call_output``, ``apply_patch_call`` /
``apply_patch_call_output``. Neither reducer knows these types, and both refuse a whole
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
``status`` is left out: an SDK may send the item back without it, or with another one.

Pure functions: no I/O.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

__all__ = ["hosted_call"]

#: Fields every such item has that say nothing of the call (or name it: kept apart).
_LEFT_OUT: Final = frozenset({"type", "id", "call_id", "status"})
#: orjson's options for the JSON text: sorted at every depth, so an SDK's dump of an item
#: and the same item as a dict give the same bytes.
_SORTED: Final = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def hosted_call(item: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """``item`` (of type ``kind``, which the reducers do not know) as a custom tool call or
    its output, or ``None`` when it is neither a call nor a call's output.

    Args:
        item: a plain item dict.
        kind: its ``type``.

    Returns:
        The ``custom_tool_call`` / ``custom_tool_call_output`` item to record, or ``None``.
    """
    output = kind.endswith("_call_output")
    if not (output or kind.endswith("_call")):
        return None
    item_id = item.get("id")
    call_id = item.get("call_id")
    if not isinstance(call_id, str) and not output:
        call_id = item_id  # the hosted tools' calls have only their item id
    if not isinstance(call_id, str):
        return None  # an output must say which call it answers
    rest = {key: value for key, value in item.items() if key not in _LEFT_OUT}
    image = _screenshot(rest) if output else None
    try:
        text = _json(kind, rest)
    except (TypeError, orjson.JSONEncodeError):
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
    body = orjson.dumps(rest, option=_SORTED).decode()
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
