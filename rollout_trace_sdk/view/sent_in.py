"""Where a tool call's output went: the inference call whose request carried it back.

A tool call's details name the call that asked for it (``started by``) and each request item
names the tool that produced it, but going forward (asked by → ran → answered in) had no
link. This adds it to the view model's tool records, once, for the page and ``show --call``:

* ``so``: the index of the first inference call of the tool's own agent whose request holds
  one of its model-visible output items. Only when none of its own agent's requests does,
  the first request of another agent that does (a handoff handed the answer over, the same
  item, and that agent is the one that read it). A fork's copies of its parent's history
  are the child's own items (``item_text.own_item_ids``), so a forked child is never named:
  naming it would put every child on every earlier tool call, while the call that read the
  answer is the agent's own next one.
* ``sn``: otherwise, why no request carried it, in plain words (``sc``: the compaction that
  replaced it first, when that is why).

Calls are in recording order (``model._indexed``), so "first" is the earliest request.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .show_format import short_id

__all__ = ["mark_sent_in", "sent_in_words"]


def mark_sent_in(model: dict[str, Any]) -> None:
    """Give each tool record of ``model`` its ``so`` or ``sn`` (see the module docstring)."""
    tools: list[dict[str, Any]] = model["tools"]
    calls: Sequence[Mapping[str, Any]] = model["calls"]
    wanted = {ix for tool in tools for ix in tool["oi"]}
    own: dict[tuple[int, int], int] = {}  # (item, thread) -> the first call carrying it
    anyone: dict[int, int] = {}  # item -> the first call of any thread carrying it
    for n, call in enumerate(calls):
        for ix in call["req"]:
            if ix in wanted:
                own.setdefault((ix, call["t"]), n)
                anyone.setdefault(ix, n)
    caller = {tool: n for n, call in enumerate(calls) for tool in call["tools"]}
    replaced = {ix: c for c, cmp in enumerate(model["compactions"]) for ix in cmp["in"]}
    agents = _Agents(model)
    for n, tool in enumerate(tools):
        mine = [own[(ix, tool["t"])] for ix in tool["oi"] if (ix, tool["t"]) in own]
        theirs = [anyone[ix] for ix in tool["oi"] if ix in anyone]
        if mine or theirs:
            tool["so"] = min(mine or theirs)
            continue
        cmp = next((replaced[ix] for ix in tool["oi"] if ix in replaced), None)
        tool["sn"], cmp = agents.why_not(tool, caller.get(n), cmp)
        if cmp is not None:
            tool["sc"] = cmp


class _Agents:
    """Each agent's inference calls and installed compactions in order, so that why one tool
    call's output was not sent costs a search, not a pass over every call."""

    def __init__(self, model: Mapping[str, Any]) -> None:
        self.model = model
        self.calls: dict[int, list[int]] = {}
        for n, call in enumerate(model["calls"]):
            self.calls.setdefault(call["t"], []).append(n)
        #: an agent's installed compactions, in the order installed (compaction_records)
        self.compactions: dict[int, list[int]] = {}
        for n, cmp in enumerate(model["compactions"]):
            if not cmp.get("req"):
                self.compactions.setdefault(cmp["t"], []).append(n)

    def next_call(self, tool: Mapping[str, Any], caller: int | None) -> Mapping[str, Any] | None:
        """The first inference call of the tool's agent after the one that asked for it (any
        when none did) that did not start before the tool."""
        own = self.calls.get(tool["t"], [])
        for n in own[bisect_right(own, caller) if caller is not None else 0 :]:
            call: Mapping[str, Any] = self.model["calls"][n]
            if _after(call.get("s"), tool.get("s")):
                return call
        return None

    def compaction_before(self, tool: Mapping[str, Any], until: Any) -> int | None:
        """A compaction of the tool's agent installed after the tool started and before
        ``until`` (the agent's next request's start; ``None``: no next request)."""
        for n in self.compactions.get(tool["t"], []):
            at = self.model["compactions"][n].get("at")
            if _after(at, tool.get("s")) and (until is None or _after(until, at)):
                return n
        return None

    def why_not(
        self, tool: Mapping[str, Any], caller: int | None, cmp: int | None
    ) -> tuple[str, int | None]:
        """Why no request carried a tool call's output, as the page and ``show`` say it, and
        the compaction that replaced it first when that is why: one whose replaced items hold
        its output, or, with no output item (Codex makes one only when a request carries it),
        one installed in its agent after it started and before that agent's next request."""
        if tool.get("cell") is not None:
            return "none (its output went to the code cell that called it)", None
        later = self.next_call(tool, caller)
        if cmp is None and not tool["oi"]:
            cmp = self.compaction_before(tool, later.get("s") if later else None)
        if cmp is not None:
            return "none (a compaction replaced it before any request carried it)", cmp
        if tool.get("st") == "running" and not tool.get("ne"):
            return "not yet (the call is running)", None
        payloads: Mapping[str, Sequence[Any]] = self.model["payloads"]
        result = payloads.get(str(tool.get("res")))
        if result is not None and len(result) > 2:
            return f"not known (a capture limit cut its result: {tool['res']}, {result[2]})", None
        if later is not None:
            request = payloads.get(str(later.get("rq")))
            if not later["req"] and request is not None and len(request) > 2:
                cut = later["rq"]
                return f"not known (a capture limit left out its agent's next request: {cut})", None
            return "never (no later request of its agent carried it)", None
        meta = self.model["meta"]
        if meta.get("recording") == "recording" or meta.get("end") is None:
            return "not yet (its agent has made no inference call since)", None
        return "never (its agent made no inference call after it; the rollout ended)", None


def _after(call_start: Any, tool_start: Any) -> bool:
    """A call started after the tool did (either time unknown: taken as after)."""
    if not isinstance(call_start, (int, float)) or not isinstance(tool_start, (int, float)):
        return True
    return call_start >= tool_start


def sent_in_words(model: Mapping[str, Any], n: int, lane: Callable[[int], str]) -> str:
    """``show --call``'s line for tool call ``n``: ``output sent in inference 60ea42f6…bf58``
    (``in /root/b`` after it when another agent's), or why none was, naming the compaction or
    code cell it went to; ``lane`` names an agent as the transcript does."""
    tool = model["tools"][n]
    if isinstance(tool.get("so"), int):
        call = model["calls"][tool["so"]]
        where = "" if call["t"] == tool["t"] else f" in {lane(call['t'])}"
        return f"output sent in inference {short_id(call['id'])}{where}"
    said = f"output sent in: {tool.get('sn')}"
    if isinstance(tool.get("sc"), int):
        return said + f": compaction {short_id(model['compactions'][tool['sc']]['id'])}"
    cell = tool.get("cell")
    if isinstance(cell, int) and 0 <= cell < len(model["cells"]):
        return said + f": code cell {model['cells'][cell]['id']}"
    return said
