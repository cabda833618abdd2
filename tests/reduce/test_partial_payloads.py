"""Payloads Codex 0.171 reads whole: a template over a part the recorder cut or left out
(``rollout_trace.max_payload_bytes`` makes them) is refused as ``partial payload <id>`` by the
readers of typed structs (thread metadata, terminal and agent-tool payloads), while the readers
of model items splice the part's placeholder in and go on. Each case cuts one string of a
corpus payload out into a left-out ``content_value`` part (``tests/cut_parts.py``), as the
mutation differential does, and is checked against Codex 0.171 when it is here.

Found by fuzz27 (the grammar's cut templates, then a probe of every payload of the corpus):
we parsed the placeholder where a string belonged ("invalid type: map") or went on."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin
from tests.cut_parts import cut_part
from tests.reduce.v3_bundles import copy_bundle


def _cut(tmp_path: Path, scenario: str, payload_id: str) -> Path:
    bundle = copy_bundle(scenario, tmp_path)
    done = cut_part(bundle, random.Random(0), payload_id, "part-omitted", only_first=False)
    assert done != "nothing to edit"
    return bundle


def _outcome(bundle: Path) -> str:
    """Our outcome ("ok" or the refusal's headline), after checking that Codex 0.171 has the
    same one when it is here."""
    binary = codex_bin(3)
    result = reduce_and_compare(bundle, binary or "/nonexistent", timeout=60)
    if binary is not None:
        assert result.same_text, result.explain()
    return "ok" if result.error is None else result.error.message


#: Payloads Codex 0.171 reads into typed structs: (scenario, payload id, what it is).
_TYPED = [
    ("single_exec", "raw_payload:1", "thread metadata"),
    ("single_exec", "raw_payload:10", "exec_command runtime start"),
    ("single_exec", "raw_payload:11", "exec_command runtime end"),
    ("terminal_session_reuse", "raw_payload:18", "write_stdin invocation"),
    ("multi_agent_v2_lifecycle", "raw_payload:10", "spawn invocation, read at its activity"),
    ("multi_agent_v2_lifecycle", "raw_payload:13", "spawn_agent runtime end"),
]


@pytest.mark.parametrize(("scenario", "payload_id", "what"), _TYPED)
def test_a_typed_payload_with_a_part_not_kept_is_refused(
    tmp_path: Path, scenario: str, payload_id: str, what: str
) -> None:
    assert _outcome(_cut(tmp_path, scenario, payload_id)) == f"partial payload {payload_id}"


@pytest.mark.parametrize(("scenario", "payload_id", "what"), _TYPED)
def test_a_typed_payload_whose_parts_were_all_kept_is_read_whole(
    tmp_path: Path, scenario: str, payload_id: str, what: str
) -> None:
    """A template is refused for a part cut or left out, not for having parts: one whose
    every part was kept reads as the plain payload would. Found by the mut38 audit: refusing
    every template (``ref.parts or ...``) passed every test."""
    bundle = copy_bundle(scenario, tmp_path)
    done = cut_part(bundle, random.Random(0), payload_id, "part-kept", only_first=False)
    assert done != "nothing to edit"
    assert _outcome(bundle) == "ok"


@pytest.mark.parametrize(
    ("scenario", "payload_id", "what"),
    [
        ("single_exec", "raw_payload:9", "exec_command invocation (not read)"),
        ("mcp_tool_call", "raw_payload:17", "MCP runtime start (not read)"),
        ("mcp_tool_call", "raw_payload:18", "MCP runtime end (not read)"),
        ("apply_patch", "raw_payload:10", "apply_patch runtime start (not read)"),
        ("code_mode_yield_wait", "raw_payload:27", "code cell end"),
        ("multi_agent_v2_lifecycle", "raw_payload:42", "agent result"),
        ("single_exec", "raw_payload:13", "tool output acceptance (placeholder read)"),
    ],
)
def test_other_payloads_with_a_part_not_kept_are_not_refused_so(
    tmp_path: Path, scenario: str, payload_id: str, what: str
) -> None:
    assert not _outcome(_cut(tmp_path, scenario, payload_id)).startswith("partial payload")
