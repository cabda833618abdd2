"""A kind of real Codex bundle for :mod:`tests.live.test_codex_gaps` (``GAPS_WEB_EXAMPLES``) that
no live generator made before: a session whose MCP server is a remote one over streamable
HTTP (``mcp_servers.web.url``, :mod:`tests.live.http_mcp_server`), as a user adds a hosted
server rather than a command: its answers as JSON bodies or event streams, a session id it
hands out, a bearer token from the environment and a header of the user's config it demands,
a server that is down (503) or refuses the credentials (401), a call whose connection drops,
one answered with an HTTP 500, one preceded by the server asking the user
(``elicitation/create``), by progress and log notifications, or past ``tool_timeout_sec``;
now and then beside the stdio demo server (two servers of one session), found by a tool
search first, several calls in one answer, resumed by a new process (which connects again);
and through ``codex app-server``, turns calling it and the client's own
``mcpServer/tool/call`` of it between them. A seed draws the server's behaviour and the
calls."""

from __future__ import annotations

import itertools
import random
from typing import Any

import attrs

from tests.live import http_mcp_server
from tests.live.random_gaps import FILES
from tests.live.script import MCP, Scenario, after, call, mcp, message

#: the calls the model makes of the web server's tools (its names as Codex gives them)
_WEB_CALLS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("echo", {"text": "over HTTP ✓"}),
    ("add", {"a": 2, "b": 40}),
    ("add", {"a": "two"}),
    ("pixel", {}),
    ("boom", {}),
    ("slow", {"seconds": 2}),
    ("die", {}),
    ("http500", {}),
    ("ask", {}),
    ("chatty", {}),
    ("big", {}),
    ("no_such_tool", {}),
)


def _web(name: str, arguments: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {**call(name, arguments, call_id), "namespace": "mcp__web"}


def _server(rng: random.Random) -> list[str]:
    """The ``-c`` settings adding the web server: its path (how it behaves), the credentials
    ``auth`` wants (left out now and then: refused), a short tool or startup timeout."""
    mode = rng.choice(["json", "json", "sse", "sse", "session", "auth", "auth", "down"])
    settings = [f'mcp_servers.web.url="{http_mcp_server.start()}/{mode}"']
    if mode == "auth" and rng.random() < 0.8:
        settings += [
            'mcp_servers.web.bearer_token_env_var="FAKE_API_KEY"',
            'mcp_servers.web.http_headers={"X-Live"="1"}',
        ]
    if rng.random() < 0.4:
        settings.append("mcp_servers.web.tool_timeout_sec=1")
    if rng.random() < 0.2:
        settings.append("mcp_servers.web.startup_timeout_sec=2")
    return [part for setting in settings for part in ("-c", setting)]


def _mcp_http(rng: random.Random) -> Scenario:
    """One to three answers of one to three calls of the web server's tools (a demo server's
    call among them when both run; a tool search first now and then), then an answer; now
    and then resumed with one more call, by a new process that connects again."""
    extra = _server(rng)
    both = rng.random() < 0.3
    if both:
        extra += MCP
    steps: list[list[dict[str, Any]]] = []
    for step in range(rng.randint(1, 3)):
        picked = [rng.choice(_WEB_CALLS) for _ in range(rng.randint(1, 3))]
        items = [_web(name, args, f"w{step}_{k}") for k, (name, args) in enumerate(picked)]
        if both and rng.random() < 0.5:
            items.append(mcp("echo", {"text": "stdio beside"}, f"w{step}_demo"))
        steps.append(items)
    if rng.random() < 0.3:
        search = {
            "type": "tool_search_call",
            "call_id": "wts",
            "execution": "client",
            "status": "completed",
            "arguments": {"query": "web echo add", "limit": 20},
        }
        steps.insert(0, [search])
    first: dict[str, Any] = {"name": "step0", "match": {"step": 0}, "items": steps[0]}
    rules: list[dict[str, Any]] = [first]
    for n, (before, items) in enumerate(itertools.pairwise([first["items"], *steps[1:]])):
        last = str(before[-1]["call_id"])
        rules.append({"name": f"step{n + 1}", "match": {"last_call_id": last}, "items": items})
    rules.append(after(str(steps[-1][-1]["call_id"]), message("Web tools called.")))
    then: tuple[str, ...] = ()
    if rng.random() < 0.4:
        then = ("Once more over the web.",)
        name, args = rng.choice(_WEB_CALLS)
        match = {"last_user": "Once more", "lacks_call_id": "wr"}
        rules[:0] = [
            {"name": "again", "match": match, "items": [_web(name, args, "wr")]},
            after("wr", message("Again done.")),
        ]
    return Scenario("mcp_http", "Use the web server.", rules, extra=tuple(extra), then=then)


def _mcp_http_app(rng: random.Random) -> Scenario:
    """``codex app-server`` with the web server: two to four turns, each a call of one of its
    tools and an answer, or an answer alone; between them now and then the client's own
    ``mcpServer/tool/call`` of it (refused when the server did not come up)."""
    actions: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = []
    for k in range(rng.randint(2, 4)):
        text = f"W{k} web"
        actions.append({"op": "turn", "text": text})
        match = {"last_user": text, "lacks_call_id": f"wa{k}"}
        if rng.random() < 0.7:
            name, args = rng.choice(_WEB_CALLS)
            rules[:0] = [{"name": f"wa{k}", "match": match, "items": [_web(name, args, f"wa{k}")]}]
            rules.insert(1, after(f"wa{k}", message(f"W{k} done.")))
        else:
            rules.insert(0, {"name": f"wa{k}", "match": match, "items": [message(f"W{k}.")]})
        if rng.random() < 0.5:
            name, args = rng.choice(_WEB_CALLS)
            params = {"threadId": "$THREAD", "server": "web", "tool": name, "arguments": args}
            direct = {"op": "rpc", "method": "mcpServer/tool/call", "params": params}
            actions.append({**direct, "may_fail": True})
    extra = tuple(_server(rng))
    return Scenario("mcp_http_app", "", rules, extra=extra, app_server=tuple(actions))


def web_gap_app_scenario(seed: int) -> Scenario:
    """The ``codex app-server`` scenario of ``seed``, drawn from it."""
    made = _mcp_http_app(random.Random(seed))
    return attrs.evolve(made, name=f"web_mcp_http_app_{seed}", files={**FILES, **made.files})


def web_gap_scenario(seed: int) -> Scenario:
    """The ``codex exec`` scenario of ``seed``, drawn from it."""
    made = _mcp_http(random.Random(seed))
    return attrs.evolve(made, name=f"web_mcp_http_{seed}", files={**FILES, **made.files})
