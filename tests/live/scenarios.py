"""Scenarios the conformance corpora do not hold, recorded afresh by the real Codex CLI against
:mod:`tests.live.fake_responses` (each by Codex 0.169 for schema 2 and 0.171 for schema 3,
unless a scenario says otherwise): those of ``codex exec`` (its tools, then how a run goes:
:mod:`tests.live.exec_run_scenarios`), of sub-agents and of
``codex app-server``, of approvals and hooks, more of each (:mod:`tests.live.more_scenarios`),
code mode over several turns (:mod:`tests.live.cell_scenarios`), and the vocabulary they are
written in (:mod:`tests.live.script`)."""

from __future__ import annotations

from tests.live.agents_scenarios import AGENT_SCENARIOS
from tests.live.app_scenarios import APP_SERVER_SCENARIOS
from tests.live.cell_scenarios import CELL_SCENARIOS
from tests.live.exec_scenarios import EXEC_SCENARIOS
from tests.live.more_scenarios import MORE_SCENARIOS
from tests.live.policy_scenarios import POLICY_SCENARIOS
from tests.live.script import MCP, PNG, Scenario, after, call, custom, message

__all__ = ["MCP", "PNG", "SCENARIOS", "Scenario", "after", "call", "custom", "message"]

SCENARIOS = [
    *EXEC_SCENARIOS,
    *AGENT_SCENARIOS,
    *APP_SERVER_SCENARIOS,
    *POLICY_SCENARIOS,
    *MORE_SCENARIOS,
    *CELL_SCENARIOS,
]
