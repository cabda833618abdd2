"""Capture limits for the random live scenarios (schema 3: Codex 0.171 only), drawn from a
generator of their own so that each seed's other choices stay as they were.

:mod:`tests.live.random_scenarios` limited a quarter of its ``codex exec`` sessions to 300,
800 or 2,000 bytes a payload, and :mod:`tests.live.random_kinds` now and then set a total
budget; at those sizes Codex kept most of a session whole. These limits are much tighter: a
few bytes a payload (``rollout_trace.max_payload_bytes``), with or without a total budget
(``rollout_trace.max_bytes``), or a budget alone, so that every kind of payload a session
writes is cut, that of the readers Codex 0.171 reads whole (thread metadata, ``exec_command``
runtime starts and ends, ``write_stdin``, agent tools) too. Sessions that write those kinds
(commands, polls, spawns, MCP, code cells, compaction) are limited more often than others."""

from __future__ import annotations

import json
import random
from typing import Any

#: bytes a payload: none kept (0), below any JSON body Codex writes (1, 8), up to a short
#: message (150)
TIGHT = (0, 1, 8, 24, 64, 150)
#: a whole recording's bytes: the log stops where the next event no longer fits, early or late
BUDGETS = (1500, 4000, 12000, 40000)
#: what in a session's script (or options) makes Codex write the payloads it reads whole (thread
#: metadata is in every session, an ``exec_command``'s runtime start and end in most) or the
#: kinds the limits should reach besides: a session with one of these is limited more often,
#: one polling a running command (rarer) most often
_POLLS = ("write_stdin",)
_KINDS = (
    "spawn_agent",
    "mcp__demo",
    "mcp_servers.demo",
    "code_mode",
    "compact",
    "compaction",
)


def _limited_already(extra: tuple[str, ...], setting: str) -> bool:
    return any(part.startswith(f"rollout_trace.{setting}=") for part in extra)


def draw_limits(
    limits: random.Random, rules: list[dict[str, Any]], extra: tuple[str, ...]
) -> tuple[str, ...]:
    """The ``-c`` options of a session's capture limits (none now and then), drawn from
    ``limits``: how likely a session is limited depends on what its ``rules`` and ``extra``
    options make Codex write (:data:`_KINDS`). A setting already in ``extra`` is kept and not
    set twice.

    Returns:
        The options to add (empty: the session is not limited anew).
    """
    told = json.dumps(rules) + " ".join(extra)
    # a limited session records schema 3 only: at most about half of them, so that the
    # random sessions keep recording schema 2 too
    chance = 0.2
    if any(kind in told for kind in _KINDS):
        chance = 0.4
    if any(kind in told for kind in _POLLS):
        chance = 0.55
    if limits.random() >= chance:
        return ()
    kind = limits.choice(["payload", "payload", "both", "budget"])
    out: tuple[str, ...] = ()
    if kind in ("payload", "both") and not _limited_already(extra, "max_payload_bytes"):
        out += ("-c", f"rollout_trace.max_payload_bytes={limits.choice(TIGHT)}")
    if kind in ("budget", "both") and not _limited_already(extra, "max_bytes"):
        out += ("-c", f"rollout_trace.max_bytes={limits.choice(BUDGETS)}")
    return out
