"""The tool kinds Codex derives from a tool's name (``record/tool_kinds``)."""

from __future__ import annotations

import pytest

from rollout_trace_sdk.record import tool_kinds


@pytest.mark.parametrize(
    "kinds",
    [
        frozenset({"spawn_agent"}),
        frozenset({"send_message", "assign_agent_task"}),
        frozenset({"close_agent"}),
        frozenset({"exec_command", "web"}),
    ],
)
def test_names_of_gives_back_exactly_the_names_of_those_kinds(kinds: frozenset[str]) -> None:
    """What a warning tells a caller to call a tool: every name Codex reads as one of
    ``kinds`` and no other (a list kept beside the table left ``assign_task`` out)."""
    names = tool_kinds.names_of(kinds)
    assert names and len(set(names)) == len(names)
    assert all(tool_kinds.tool_kind(name).type in kinds for name in names)
    assert {tool_kinds.tool_kind(n).type for n in names} == kinds


def test_names_of_an_unknown_kind_is_empty() -> None:
    assert tool_kinds.names_of(frozenset({"mcp", "other"})) == ()


def test_a_name_codex_does_not_know_is_other() -> None:
    kind = tool_kinds.tool_kind("delegate")
    assert (kind.type, kind.name) == ("other", "delegate")
