"""The vocabulary of the live scenarios: :class:`Scenario` (what Codex is asked, and the
scripted model's rules for :mod:`tests.live.fake_responses`), builders of the model's items
and rules, and the ``codex`` arguments the scenarios share."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import attrs

#: A 1x1 PNG, for view_image and image generation.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@attrs.frozen
class Scenario:
    name: str
    prompt: str
    rules: list[dict[str, Any]]
    files: dict[str, bytes] = attrs.field(factory=dict)
    #: files written into CODEX_HOME (``hooks.json``, say)
    home_files: dict[str, bytes] = attrs.field(factory=dict)
    extra: tuple[str, ...] = ()
    #: ``codex exec``'s ``-s``: what its sandbox lets commands do
    sandbox: str = "danger-full-access"
    schemas: tuple[int, ...] = (2, 3)
    #: later prompts, each in ``codex exec resume --last`` (the same session, a new process)
    then: tuple[str, ...] = ()
    #: for each of ``then``'s prompts (in order; missing ones resume): ``"first"`` / ``"last"``
    #: runs it in ``codex exec fork`` of the first / the latest session (a new session with
    #: that one's history, as a user forks an earlier run), ``""`` resumes as above
    fork_from: tuple[str, ...] = ()
    #: driven through ``codex app-server`` instead of ``codex exec`` (``prompt`` unused): the
    #: actions of ``tests.live.app_server.run_actions``
    app_server: tuple[dict[str, Any], ...] = ()
    #: workspace files attached to the prompt (``codex exec -i``)
    images: tuple[str, ...] = ()
    #: workspace files attached to each of ``then``'s resumed prompts (``resume -i``)
    then_images: tuple[str, ...] = ()
    #: ``then``'s resumes run by the Codex of the other schema, then of this one again, in
    #: turn (a user who upgraded, or went back, between two runs of one session)
    alternate_codex: bool = False
    #: ``codex exec -m``: a slug of Codex's bundled catalog (its tools as the corpora's), or
    #: another, which Codex gives its fallback tools
    model: str = "gpt-5.5"
    #: the workspace made a git repository (its files committed, then one of them changed:
    #: what ``codex exec review --uncommitted`` reviews, and the repo Codex notes)
    git: bool = False
    #: ``codex exec review``'s arguments: the first run is a review, not ``prompt``
    review: tuple[str, ...] = ()
    #: piped into the first run (Codex appends it to the prompt as a ``<stdin>`` block)
    stdin: bytes | None = None


def message(text: str, phase: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    if phase is not None:
        item["phase"] = phase
    return item


def call(name: str, arguments: Any, call_id: str) -> dict[str, Any]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"type": "function_call", "name": name, "arguments": text, "call_id": call_id}


def custom(name: str, text: str, call_id: str) -> dict[str, Any]:
    return {"type": "custom_tool_call", "name": name, "input": text, "call_id": call_id}


def first(*items: dict[str, Any]) -> dict[str, Any]:
    return {"name": "first", "match": {"step": 0}, "items": list(items)}


def after(call_id: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"name": f"after_{call_id}", "match": {"last_call_id": call_id}, "items": list(items)}


def following(call_id: str, item: dict[str, Any]) -> dict[str, Any]:
    """A rule answering with the call ``item`` once ``call_id``'s output was sent, even when
    it is not the request's last item (:func:`after`): a multi-agent v1 wait's output is
    followed by Codex's ``<subagent_notification>`` message."""
    match = {"has_call_id": call_id, "lacks_call_id": str(item["call_id"])}
    return {"name": f"following_{call_id}", "match": match, "items": [item]}


LIMIT = ("-c", "rollout_trace.max_payload_bytes=600")
CODE_MODE = ("--enable", "code_mode")
MULTI_AGENT = ("--enable", "multi_agent_v2")
SMALL_CONTEXT = ("-c", "model_auto_compact_token_limit=5000")
ONE_RETRY = (
    "-c",
    "model_providers.fake.request_max_retries=1",
    "-c",
    "model_providers.fake.stream_max_retries=1",
)
#: ``request_user_input``'s arguments: one question, two options (plan-mode scenarios and the
#: random kinds both ask it)
ASK_SCOPE = {
    "questions": [
        {
            "id": "q1",
            "header": "Scope",
            "question": "Which part first?",
            "options": [
                {"label": "API (Recommended)", "description": "the API"},
                {"label": "UI", "description": "the UI"},
            ],
        }
    ]
}
#: usage past the small context limit: Codex compacts before its next request
HIGH_USAGE = {"input_tokens": 9000, "total_tokens": 9100}
MCP = (
    "-c",
    f'mcp_servers.demo={{command="{sys.executable}", args=["{Path(__file__).parent / "mcp_server.py"}"]}}',
)


def mcp(name: str, arguments: Any, call_id: str) -> dict[str, Any]:
    """A call of a tool of the demo MCP server (``tests/live/mcp_server.py``)."""
    return {**call(name, arguments, call_id), "namespace": "mcp__demo"}


#: A tool search that loads the deferred multi_agent_v1 tools.
SEARCH_AGENTS = {
    "type": "tool_search_call",
    "call_id": "ts",
    "execution": "client",
    "status": "completed",
    "arguments": {"query": "spawn agent wait close", "limit": 8},
}


def v1(name: str, arguments: Any, call_id: str) -> dict[str, Any]:
    """A multi-agent v1 tool call (deferred: loaded by a tool search first)."""
    return {**call(name, arguments, call_id), "namespace": "multi_agent_v1"}


def worker(task: str, command: dict[str, Any], call_id: str, answer: str) -> list[dict[str, Any]]:
    """A sub-agent's two rules: its first request (told by its task name) runs ``command``,
    the next one answers."""
    return [
        {
            "name": f"{task}_0",
            "match": {"any_contains": f"Task name: /root/{task}", "lacks_call_id": call_id},
            "items": [call("exec_command", command, call_id)],
        },
        {"name": f"{task}_1", "match": {"last_call_id": call_id}, "items": [message(answer)]},
    ]


def collab(name: str, arguments: Any, call_id: str) -> dict[str, Any]:
    """A multi-agent tool call (multi_agent_v2 puts them in the collaboration namespace)."""
    return {**call(name, arguments, call_id), "namespace": "collaboration"}


def object_schema(**properties: str) -> dict[str, Any]:
    """A JSON schema of an object with these properties (name=type)."""
    return {"type": "object", "properties": {k: {"type": t} for k, t in properties.items()}}


#: app-server dynamic tools in a namespace (``dynamicTools``), and a deferred one the model
#: finds through tool_search: what the fixed and the random app scenarios give a thread
CRM_TOOLS = {
    "type": "namespace",
    "name": "crm",
    "description": "CRM tools.",
    "tools": [
        {
            "type": "function",
            "name": "find_customer",
            "description": "Find a customer.",
            "inputSchema": object_schema(q="string"),
        }
    ],
}
TICKET_TOOLS = {
    "type": "namespace",
    "name": "tickets",
    "description": "Ticket tools.",
    "tools": [
        {
            "type": "function",
            "name": "archive_ticket",
            "description": "Archive a ticket.",
            "deferLoading": True,
            "inputSchema": object_schema(id="string"),
        }
    ],
}
