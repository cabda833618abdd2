"""Kinds of real Codex bundle the random live scenarios (:mod:`tests.live.random_scenarios`)
made last, at the edges of a turn, each drawn from a generator of its own (``edges-SEED``) so
that a seed's other choices stay as they were (the fixed ``http_429_then_retried``,
``context_window_exceeded``, ``app_server_auto_review``, ``app_server_dynamic_namespace_and_
deferred_tool``, ``app_server_named_thread_model_switch_and_direct_mcp_call`` and
``app_server_image_inputs_and_output_schema`` were all the live runs had of these):

* :func:`vary_exec_edges` (``codex exec``): an HTTP 429 or 503 before a step (``Retry-After``
  or not; retried as a request, as a stream, or not at all; a quota refusal, which Codex does
  not retry), a stream cut inside an item (a message cut after its first delta) and retried or
  not, the context window exceeded (an HTTP 400, an ``error`` event or ``response.failed``
  with ``context_length_exceeded``), and a structured final answer (``--output-schema``);
* :func:`vary_app_edges` (``codex app-server``): dynamic tools in a namespace and a deferred
  one found by a tool search, the approvals reviewer (``approvalsReviewer: auto_review``: a
  guardian rollout of its own, answering allow, deny or not JSON), an MCP tool called or a
  resource read by the client directly (``mcpServer/tool/call``, ``mcpServer/resource/read``),
  a turn with an ``outputSchema``, and a turn's answer throttled or cut and retried;
* :func:`vary_error_codes` (both, ``codes-SEED``): a first answer failing in the stream with a
  code Codex tells apart, or incomplete for a content filter; the reviewer's requests failing.

What both builds write (session 26's runs): an HTTP 429 is one failed inference ("exceeded
retry limit, last status: 429 ...", or Codex's quota text) ending the turn, retried by a stream
retry only when it named a ``Retry-After``; a 500 / 503 is retried below the trace (one
inference) by a request retry, else it is a failed inference (its text names the URL) that a
stream retry follows with a new one; a stream cut, inside an item or not, is a failed
inference keeping the items completed before the cut, then a new one if a stream retry is
left; the context window exceeded (an HTTP 400 or ``response.failed``) is a failed inference
and a failed turn, never a compaction or a retry (in an ``error`` event Codex tells only a stream
closed before ``response.completed``, retried as a cut); an output schema is only the request's ``text.format`` (the answer is
not checked); the reviewer is a bundle of its own, its verdict the escalated call's output in
the session's; a direct ``mcpServer/...`` call writes nothing.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from tests.live.script import CRM_TOOLS, MCP, TICKET_TOOLS, after, call, message

_OVERFLOW = {
    "message": "Your input exceeds the context window of this model.",
    "type": "invalid_request_error",
    "code": "context_length_exceeded",
}
#: the answer to a local compaction's request (Codex may compact after an overflow)
_SUMMARIZE = {
    "name": "edge_summarize",
    "match": {"last_user": "CONTEXT CHECKPOINT COMPACTION"},
    "items": [message("SUMMARY: edges so far.")],
}
#: the structured answer's schema (``--output-schema``, an app turn's ``outputSchema``)
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "count": {"type": "integer"}},
    "required": ["answer", "count"],
    "additionalProperties": False,
}
_STRUCTURED = (
    '{"answer": "structured", "count": 2}',
    '{"answer": "no count"}',  # not what the schema asks: Codex passes it on as it is
    "not json at all",
)


def _throttle(edge: random.Random, name: str, match: dict[str, Any]) -> dict[str, Any]:
    """An HTTP refusal Codex may retry: 429 (with or without ``Retry-After``), 503 with
    ``Retry-After``, or a 429 for an exhausted quota (never retried)."""
    kind = edge.choice(["429", "429_after", "503_after", "quota"])
    rule: dict[str, Any] = {"name": name, "match": match, "times": 1}
    if kind == "quota":
        error = {"message": "You exceeded your quota.", "type": "insufficient_quota"}
        rule.update(http_status=429, body={"error": {**error, "code": "insufficient_quota"}})
        return rule
    status = 503 if kind == "503_after" else 429
    error = {"message": "Rate limit reached", "type": "rate_limit_error"}
    if status == 503:
        error = {"message": "The server is overloaded.", "type": "server_error"}
    rule.update(http_status=status, body={"error": error})
    if kind.endswith("_after"):
        rule["headers"] = {"Retry-After": edge.choice(["0", "1"])}
    return rule


def _cut_inside(edge: random.Random, name: str, rule: dict[str, Any]) -> dict[str, Any]:
    """``rule``'s answer cut inside an item (a message after its first delta)."""
    items = copy.deepcopy(rule["items"][: edge.randint(1, max(len(rule["items"]), 1))])
    cut: dict[str, Any] = {"name": name, "match": rule["match"], "times": 1, "items": items}
    cut.update(end="cut_mid", deltas=["Half a ", "message"])
    return cut


def _overflow(edge: random.Random, name: str, match: dict[str, Any]) -> dict[str, Any]:
    """The context window exceeded: as an HTTP 400, an ``error`` event or ``response.failed``."""
    rule: dict[str, Any] = {"name": name, "match": match, "times": 1}
    kind = edge.choice(["http_400", "error", "failed"])
    if kind == "http_400":
        rule.update(http_status=400, body={"error": _OVERFLOW})
    elif kind == "error":
        rule.update(items=[], end="error", error={"code": _OVERFLOW["code"], "message": "long"})
    else:
        rule.update(items=[], end="failed", error={"code": _OVERFLOW["code"], "message": "long"})
    return rule


#: errors in the stream that Codex tells apart by their code (``response.failed`` or an
#: ``error`` event): a rate limit naming when to try again (retried after that), a quota, a
#: plan's usage, an overloaded server, an unknown code; and an answer cut by a content filter
_CODES = (
    ("rate_limit_exceeded", "Rate limit reached for gpt-5.5. Please try again in 0.2s."),
    ("rate_limit_exceeded", "Rate limit reached. Please try again in 1.5 seconds."),
    ("insufficient_quota", "You exceeded your current quota."),
    ("usage_not_included", "Your plan does not include this model."),
    ("server_is_overloaded", "The server is overloaded."),
    ("slow_down", "Slow down."),
    ("no_such_code", "Something else."),
    ("context_length_exceeded", "Your input exceeds the context window of this model."),
)


def _coded(codes: random.Random, name: str, rule: dict[str, Any]) -> dict[str, Any]:
    """``rule``'s answer failing in the stream with one of :data:`_CODES` (after some of its
    items, or none), or ending incomplete for a content filter."""
    items = copy.deepcopy(rule["items"][: codes.randint(0, len(rule["items"]))])
    failing: dict[str, Any] = {"name": name, "match": rule["match"], "times": 1, "items": items}
    if codes.random() < 0.15:
        failing.update(end="incomplete", reason="content_filter")
        return failing
    code, text = codes.choice(_CODES)
    if codes.random() < 0.5:
        failing.update(end="failed", error={"code": code, "message": text})
    else:
        failing.update(items=[], end="error", error={"code": code, "message": text})
    return failing


def vary_error_codes(
    codes: random.Random, rules: list[dict[str, Any]], *, app: bool = False
) -> tuple[str, ...]:
    """Drawn from ``codes`` after :func:`vary_exec_edges` (or :func:`vary_app_edges`): some
    steps' (app-server turns') first answer fails in the stream with a code Codex tells apart
    (:func:`_coded`), retried as a stream or not. The extra options."""
    steps = _app_turns(rules) if app else [rule for rule in rules if _a_step(rule)]
    failing = [(rule, _coded(codes, f"edge_code_{rule['name']}", rule)) for rule in steps]
    failing = [pair for pair in failing if codes.random() < 0.1]
    for before, rule in failing:
        rules.insert(rules.index(before), rule)
    guardian = [rule for rule in rules if rule["name"] == "edge_guardian"]
    if guardian and codes.random() < 0.3:  # the reviewer's own requests fail, then answer
        rules.insert(rules.index(guardian[0]), _fail_guardian(codes, guardian[0]))
    if failing and codes.random() < 0.7:
        return ("-c", "model_providers.fake.stream_max_retries=1")
    return ()


def _fail_guardian(codes: random.Random, rule: dict[str, Any]) -> dict[str, Any]:
    """A rule failing the guardian's first requests (one, or three: every retry of a review
    Codex makes, and more): HTTP 500 or 429, or a stream cut inside its answer."""
    failing: dict[str, Any] = {"name": "edge_guardian_fails", "match": rule["match"]}
    failing["times"] = codes.choice([1, 3])
    kind = codes.choice(["http_500", "http_429", "cut"])
    if kind == "cut":
        failing.update(items=copy.deepcopy(rule["items"]), end="cut_mid", deltas=["{"])
    else:
        status = 500 if kind == "http_500" else 429
        error = {"message": "reviewer down", "type": kind}
        failing.update(http_status=status, body={"error": error})
    return failing


def _a_step(rule: dict[str, Any]) -> bool:
    return rule["name"].startswith("step") and "items" in rule


def _app_turns(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules answering an app-server turn's first request (``r3``, ``d0``, ``j90``)."""
    return [rule for rule in rules if rule["name"][:1] in "rdj" and rule["name"][1:].isdigit()]


def _retries(edge: random.Random) -> tuple[str, ...]:
    """How Codex retries a failed request: as a request, as a stream, both, or not at all."""
    kind = edge.choice(["request", "stream", "both", "none"])
    out: tuple[str, ...] = ()
    if kind in ("request", "both"):
        out += ("-c", "model_providers.fake.request_max_retries=1")
    if kind in ("stream", "both"):
        out += ("-c", "model_providers.fake.stream_max_retries=1")
    return out


def vary_exec_edges(
    edge: random.Random, rules: list[dict[str, Any]]
) -> tuple[tuple[str, ...], dict[str, bytes]]:
    """Draw :mod:`tests.live.random_edges`' ``codex exec`` kinds into ``rules`` (a failing rule
    goes just before the step it answers first, with the same match); the extra ``codex exec``
    options and workspace files they need."""
    steps = [rule for rule in rules if _a_step(rule)]
    extra: tuple[str, ...] = ()
    files: dict[str, bytes] = {}
    failing: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (before this rule, this one)
    for rule in steps:
        roll = edge.random()
        if roll < 0.1:
            failing.append((rule, _throttle(edge, f"edge_throttle_{rule['name']}", rule["match"])))
        elif roll < 0.18 and rule["items"]:
            failing.append((rule, _cut_inside(edge, f"edge_cut_{rule['name']}", rule)))
        elif roll < 0.24:
            failing.append((rule, _overflow(edge, f"edge_overflow_{rule['name']}", rule["match"])))
    for before, rule in failing:
        rules.insert(rules.index(before), rule)
    if failing:
        extra += _retries(edge)
    overflow = any(rule["name"].startswith("edge_overflow") for _, rule in failing)
    compacting = any(rule["match"] == _SUMMARIZE["match"] for rule in rules)
    if overflow and not compacting:  # first: a first step's rule would answer it too
        rules.insert(0, copy.deepcopy(_SUMMARIZE))
    if steps and edge.random() < 0.15:
        files["schema.json"] = json.dumps(SCHEMA).encode()
        extra += ("--output-schema", "$WORKSPACE/schema.json")
        final = [item for item in steps[-1]["items"] if item.get("type") == "message"]
        text = edge.choice(_STRUCTURED)
        if final:
            final[-1]["content"] = [{"type": "output_text", "text": text, "annotations": []}]
        else:
            steps[-1]["items"].append(message(text, phase="final_answer"))
    return extra, files


def _namespaced(namespace: str, name: str, arguments: Any, call_id: str) -> dict[str, Any]:
    return {**call(name, arguments, call_id), "namespace": namespace}


#: dynamic tools in a namespace, and a deferred one the model finds through tool_search
#: the guardian's assessments (a JSON object by its schema; or not JSON)
_VERDICTS = (
    '{"outcome": "allow", "risk_level": "low", "rationale": "a small write"}',
    '{"outcome": "deny", "risk_level": "high", "rationale": "not asked for"}',
    "cannot say",
)
#: the demo MCP server's tools and resources, called by the client itself
_DIRECT = (
    ("mcpServer/tool/call", {"tool": "add", "arguments": {"a": 1, "b": 2}}),
    ("mcpServer/tool/call", {"tool": "echo", "arguments": {"text": "direct ✓"}}),
    ("mcpServer/tool/call", {"tool": "boom", "arguments": {}}),
    ("mcpServer/resource/read", {"uri": "demo://notes"}),
)


def _dynamic_turn(edge: random.Random, k: int, rules: list[dict[str, Any]]) -> dict[str, Any]:
    """A turn calling the namespaced dynamic tool, or finding the deferred one first."""
    text = f"D{k} crm"
    first = (
        _namespaced("crm", "find_customer", {"q": f"acme {k}"}, f"d{k}n")
        if edge.random() < 0.5
        else {
            "type": "tool_search_call",
            "call_id": f"d{k}s",
            "status": "completed",
            "execution": "client",
            "arguments": {"query": "archive ticket"},
        }
    )
    call_id = str(first["call_id"])
    rules.append({"name": f"d{k}", "match": {"last_user": text, "lacks_call_id": call_id}})
    rules[-1]["items"] = [first]
    if first["type"] == "tool_search_call":
        archive = _namespaced("tickets", "archive_ticket", {"id": f"T-{k}"}, f"d{k}a")
        rules.append(after(call_id, archive))
        call_id = f"d{k}a"
    rules.append(after(call_id, message(f"crm done {k}")))
    return {"op": "turn", "text": text}


def _schema_turn(edge: random.Random, k: int, rules: list[dict[str, Any]]) -> dict[str, Any]:
    text = f"J{k} structured"
    answer = edge.choice(_STRUCTURED)
    rules.append({"name": f"j{k}", "match": {"last_user": text}, "items": [message(answer)]})
    return {"op": "turn", "text": text, "params": {"outputSchema": SCHEMA}}


def vary_app_edges(
    edge: random.Random, setup: str, actions: list[dict[str, Any]], rules: list[dict[str, Any]]
) -> tuple[str, ...]:
    """Draw :mod:`tests.live.random_edges`' app-server kinds into ``actions`` (its first is the
    ``start``) and ``rules``: the namespaced and deferred dynamic tools (a ``dynamic`` setup),
    the approvals reviewer (an ``approvals`` setup), direct MCP calls, a turn with an output
    schema, a turn's first answer throttled or cut (retried). The extra options they need."""
    start = actions[0]
    extra: tuple[str, ...] = ()
    added: list[dict[str, Any]] = []
    if setup == "dynamic" and edge.random() < 0.5:
        tools = start["params"].setdefault("dynamicTools", [])
        tools += [CRM_TOOLS, TICKET_TOOLS]
        added += [_dynamic_turn(edge, k, rules) for k in range(edge.randint(1, 2))]
    if setup == "approvals" and edge.random() < 0.4:
        start["params"]["approvalsReviewer"] = "auto_review"
        # first: the guardian's request quotes the turn (its user text too)
        verdict = edge.choice(_VERDICTS)
        asked = {"any_contains": "APPROVAL REQUEST START"}
        rules.insert(0, {"name": "edge_guardian", "match": asked, "items": [message(verdict)]})
    if edge.random() < 0.2:
        extra += MCP
        for _ in range(edge.randint(1, 2)):
            method, params = edge.choice(_DIRECT)
            rpc = {"threadId": "$THREAD", "server": "demo", **params}
            added.append({"op": "rpc", "method": method, "params": rpc, "may_fail": True})
    if edge.random() < 0.15:
        added.append(_schema_turn(edge, 90, rules))
    for action in added:  # each somewhere after the start and the answers
        actions.insert(edge.choice(_places(actions)), action)
    turns = _app_turns(rules)
    if turns and edge.random() < 0.15:
        rule = edge.choice(turns)
        name = f"edge_fail_{rule['name']}"
        failing = (
            _throttle(edge, name, rule["match"])
            if edge.random() < 0.5
            else _cut_inside(edge, name, rule)
        )
        rules.insert(rules.index(rule), failing)
        extra += _retries(edge)
    return extra


def _places(actions: list[dict[str, Any]]) -> list[int]:
    """Where an action may go: after the ``start`` and the ``answer`` actions that precede any
    other, and not between a thread's ``thread/unsubscribe`` and its ``thread/resume`` (the
    server no longer tells an unsubscribed client of the thread's turns: a turn there was
    waited for in vain)."""
    at = 1
    while at < len(actions) and actions[at]["op"] == "answer":
        at += 1
    return [n for n in range(at, len(actions) + 1) if not _unsubscribes(actions[n - 1])]


def _unsubscribes(action: dict[str, Any]) -> bool:
    return action.get("method") == "thread/unsubscribe"
