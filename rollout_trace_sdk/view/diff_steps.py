"""``rollout-trace diff``'s steps: what each agent of a rollout did, in order, as
:mod:`rollout_trace_sdk.view.diff` compares them (a tool call with its arguments, result and
the agent it reached; an answer; an action of the model's no tool call records), read from
the view model as ``show`` reads the same records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from .show_format import action_label

_Obj = Mapping[str, Any]
#: Response items that are not actions: thinking, and the messages every role but the
#: assistant's (``show`` prints them otherwise).
_NOT_STEPS: Final = frozenset({"reasoning", "message"})


def _targets(model: _Obj) -> dict[int, str]:
    """The agent each tool call spawned or sent to, by the tool's index: the edges' (a spawn
    edge names its tool call), else the call's own ``target_agent_path``."""
    threads = model["threads"]
    targets: dict[int, str] = {}
    for edge in model.get("edges", ()):
        tool, to = edge.get("tool"), edge.get("to")
        if isinstance(tool, int) and isinstance(to, int) and 0 <= to < len(threads):
            targets.setdefault(tool, str(threads[to]["path"]))
    for n, tool in enumerate(model["tools"]):
        if tool.get("target_agent_path"):
            targets.setdefault(n, str(tool["target_agent_path"]))
    return targets


def _tool_step(model: _Obj, n: int, targets: Mapping[int, str]) -> dict[str, Any]:
    """A tool call's step, its arguments and output read as ``show`` reads them: the model's
    items, else the call's previews, its terminal command (a call a code cell made has no
    item of its own: all of them read alike) and the answer its raw result holds (one no
    later request carried: a compaction replaced it first, the run stopped after it)."""
    tool = model["tools"][n]
    items = model["items"]
    args = "\n".join(_item_text(items[ix]) for ix in tool.get("ci", ())) or str(
        tool.get("input_preview") or tool.get("message_preview") or _command(model, tool)
    )
    output = "\n".join(_item_text(items[ix]) for ix in tool.get("oi", ())) or str(
        tool.get("output_preview") or tool.get("result") or ""
    )
    step: dict[str, Any] = {
        "kind": "tool",
        "name": str(tool.get("name")),
        # the agent a spawn or a message went to: an Agents SDK handoff's arguments are the
        # model's ``{}`` whichever agent it hands to
        "target": targets.get(n),
        "text": args,
        "status": tool.get("st"),
        "output": output,
        "id": tool.get("call_id") or tool.get("id"),
    }
    if not output:  # a capture limit cut or left out the result: not known, not empty
        info = model["payloads"].get(tool.get("res")) if isinstance(tool.get("res"), str) else None
        if info and len(info) > 2:
            step["output_unknown"] = f"[result {tool['res']}, {info[2]}]"
    return step


def _item_text(item: _Obj) -> str:
    """An item as compared: its text, and for one read as words (a tool search, a hosted
    call) its JSON under them without the item's own ``id``, which Codex draws anew each run
    (``tsc_01a2531a-…``: two runs' same tool search read as other steps); a JSON the state
    cut is left out (its end is not known, the words say what it did)."""
    text = str(item.get("text") or "")
    if not item.get("json"):
        return text
    try:
        value = orjson.loads(str(item["json"]))
    except orjson.JSONDecodeError:
        return text
    if isinstance(value, dict):
        value.pop("id", None)
    return text + "\n" + orjson.dumps(value).decode()


def _command(model: _Obj, tool: _Obj) -> str:
    """The command line of the terminal operation ``tool`` ran (``$ …``, as ``show`` prints
    it), or ``""``."""
    op = tool.get("op")
    ops = model.get("ops", ())
    if not isinstance(op, int) or not 0 <= op < len(ops) or not ops[op].get("command"):
        return ""
    return f"$ {ops[op]['command']}"


def _item_step(item: _Obj, call: _Obj) -> dict[str, Any]:
    """A response item no tool call records (a web search the model ran on the server, a
    local shell call, a generated image): an action all the same, named and worded as
    ``show`` prints it (``⌕ web search: "…"``; its JSON, ids and all, left out)."""
    label = action_label(item.get("kind"), str(item.get("json") or item.get("text") or ""))
    text = str(item.get("text") or "")
    return {
        "kind": "item",
        "name": label,
        "text": text if item.get("json") else f"{label}: {text}",
        "status": call.get("st"),
        "output": "",
        "id": item.get("call_id") or item.get("id"),
    }


def _message_step(item: _Obj, call: _Obj) -> dict[str, Any]:
    return {
        "kind": "message",
        "name": str(item.get("role") or "assistant"),
        "text": str(item.get("text") or ""),
        "status": call.get("st"),
        "output": "",
        "id": item.get("id"),
    }


def agent_steps(model: _Obj) -> dict[int, list[dict[str, Any]]]:
    """Each agent's steps (by its index in the view model's threads), in the order it took
    them; one pass over the calls and the tool calls for every agent.

    A tool call's place is its start; a message's, the inference call that answered it (a
    tool call starts after the response that asked for it, so a message the same response
    carried comes first, as the model wrote it).
    """
    targets = _targets(model)
    tools = model["tools"]
    tool_of_item = {ix: n for n, tool in enumerate(tools) for ix in tool.get("ci", ())}
    keyed: dict[int, list[tuple[int, int, dict[str, Any]]]] = {}
    placed: set[int] = set()
    for call in model["calls"]:
        t = call.get("t")
        for position, ix in enumerate(call.get("resp", ())):
            n = tool_of_item.get(ix)
            if n is not None and tools[n].get("t") == t and n not in placed:
                placed.add(n)
                step = (int(tools[n].get("q") or 0), position, _tool_step(model, n, targets))
                keyed.setdefault(t, []).append(step)
                continue
            item = model["items"][ix]
            if item.get("kind") == "message" and item.get("role") == "assistant":
                step = (int(call.get("q") or 0), position, _message_step(item, call))
                keyed.setdefault(t, []).append(step)
            elif item.get("kind") not in _NOT_STEPS and n is None:
                step = (int(call.get("q") or 0), position, _item_step(item, call))
                keyed.setdefault(t, []).append(step)
    for n, tool in enumerate(tools):
        if n not in placed:  # a call no recorded response asked for
            step = (int(tool.get("q") or 0), 0, _tool_step(model, n, targets))
            keyed.setdefault(tool.get("t"), []).append(step)
    steps: dict[int, list[dict[str, Any]]] = {}
    for t, entries in keyed.items():
        entries.sort(key=lambda entry: (entry[0], entry[1]))
        steps[t] = [step for _, _, step in entries]
    return steps
