"""The ``guardrails`` table: one row per Agents SDK guardrail a turn ran, passed or tripped.

The Agents SDK processor records a guardrail span as the protocol event
``agents_sdk_guardrail``, which both reducers register and skip: Codex's state has no trace of
a guardrail that passed, and one that tripped only as its turn's failure text. The rows come
from what ``view.guardrails`` put on each turn (``guardrails``: read from the bundle's log as
``show``, the page and the Perfetto marks read them), so the four readers of these events share
one reader. A table of its own rather than a general one of protocol events: each of those has
a body of the agent's JSON, which would be a JSON column to query, where these have typed
columns a ``WHERE triggered`` reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .schema import Row


def guardrail_rows(keys: Row, turns: Mapping[str, Mapping[str, Any]]) -> list[Row]:
    """The rows of the guardrails each of ``turns`` (the state's ``codex_turns``) ran, in the
    turns' order and, within a turn, the order they ended; a malformed entry (a state file's
    own value) is passed over."""
    rows: list[Row] = []
    for turn_id, turn in turns.items():
        guardrails = turn.get("guardrails")
        if not isinstance(guardrails, list):
            continue
        thread_id = turn.get("thread_id")
        for g in guardrails:
            if not isinstance(g, Mapping):
                continue
            rows.append(
                {
                    **keys,
                    "seq": _int(g.get("seq")),
                    "span_id": _str(g.get("span_id")),
                    "thread_id": _str(thread_id),
                    "codex_turn_id": turn_id,
                    "name": _str(g.get("name")),
                    "triggered": g.get("triggered") is True,
                    "error_text": _str(g.get("error")),
                    "ended_at": _int(g.get("at_unix_ms")),
                }
            )
    return rows


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
