"""The OTLP export's mapping and its OTLP/JSON file, checked against the reduced state.

The round trip through a real receiver is in test_otlp_phoenix.py; here are the rules that
hold whatever the receiver: one span per node, a tree rooted at the rollout, the GenAI
attributes equal to the state's values, errors as ERROR status with the error text, content
only when asked for, ids that do not change from one export to the next. Where spans hang
(spawns, loops, deep chains) is in test_otlp_tree.py; the command (its file, usage errors,
receivers) in test_otlp_command.py.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.export.otlp import OtlpSpan, OtlpTrace, otlp_trace, span_id_of, trace_id_of
from rollout_trace_sdk.export.otlp_content import MAX_INLINE_BYTES, body_text, cut
from rollout_trace_sdk.export.otlp_names import INPUT_MESSAGES
from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.view.load import load_state

from ..conftest import CONFORMANCE_V3, PLANTED_ERROR, conformance_bundles, needs_conformance_v3


def by_name(trace: OtlpTrace, prefix: str) -> list[OtlpSpan]:
    return [s for s in trace.spans if s.name.startswith(prefix)]


def check_tree(trace: OtlpTrace) -> None:
    """One root; every parent is a span of the trace; following parents ends at the root."""
    ids = {s.span_id: s for s in trace.spans}
    assert len(ids) == len(trace.spans), "span ids collide"
    roots = [s for s in trace.spans if s.parent_id is None]
    assert roots == [trace.spans[0]]
    for span in trace.spans:
        seen: set[int] = set()
        current = span
        while current.parent_id is not None:
            assert current.parent_id in ids, f"{current.name}: parent is not in the trace"
            assert current.span_id not in seen, f"{span.name}: parents loop"
            seen.add(current.span_id)
            current = ids[current.parent_id]
        assert current is roots[0]
        assert 0 < span.start_ns <= span.end_ns
        for link in span.links:
            assert link.span_id in ids


def test_one_span_per_node_in_a_tree(demo_state: Any) -> None:
    trace = otlp_trace(demo_state)
    check_tree(trace)
    assert f"{trace.trace_id:032x}" == demo_state["trace_id"].replace("-", "")
    assert len(by_name(trace, "invoke_workflow")) == 1
    assert len(by_name(trace, "invoke_agent ")) == len(demo_state["threads"])
    assert len(by_name(trace, "turn")) == len(demo_state["codex_turns"])
    assert len(by_name(trace, "chat ")) == len(demo_state["inference_calls"]) + len(
        demo_state["compaction_requests"]
    )
    assert len(by_name(trace, "execute_tool ")) == len(demo_state["tool_calls"])
    links = [link for span in trace.spans for link in span.links]
    assert Counter(str(link.attributes["rollout_trace.edge_kind"]) for link in links) == Counter(
        e["kind"] for e in demo_state["interaction_edges"].values()
    )


def test_a_spawned_agents_role_is_an_attribute_when_it_has_one(demo_state: Any) -> None:
    """The role a spawn gave its agent (``agent_role``; Codex writes "" when none) is
    ``rollout_trace.agent_role`` on the agent's span. The demo's and the corpora's roles are
    all empty: dropping the attribute passed every OTLP test (mut31)."""
    state = orjson.loads(orjson.dumps(demo_state))
    spawned = [t for t in state["threads"].values() if t["origin"]["type"] == "spawned"]
    spawned[0]["origin"]["agent_role"] = "reviewer"
    roles = {
        s.attributes.get("gen_ai.agent.id"): s.attributes.get("rollout_trace.agent_role")
        for s in otlp_trace(state).spans
        if s.attributes.get("gen_ai.agent.id")
    }
    assert roles[spawned[0]["thread_id"]] == "reviewer"
    assert [r for t, r in roles.items() if t != spawned[0]["thread_id"]] == [None] * (
        len(roles) - 1
    )


def test_chat_spans_carry_model_and_usage(demo_state: Any) -> None:
    trace = otlp_trace(demo_state)
    spans = {s.attributes.get("rollout_trace.inference_call_id"): s for s in trace.spans}
    for call in demo_state["inference_calls"].values():
        span = spans[call["inference_call_id"]]
        assert span.kind == "client"
        attrs = span.attributes
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.request.model"] == call["model"]
        assert attrs["gen_ai.provider.name"] == call["provider_name"]
        assert attrs["gen_ai.response.id"] == call["response_id"]
        assert attrs["gen_ai.usage.input_tokens"] == call["usage"]["input_tokens"]
        assert attrs["gen_ai.usage.output_tokens"] == call["usage"]["output_tokens"]
        assert attrs["gen_ai.usage.cache_read.input_tokens"] == call["usage"]["cached_input_tokens"]
        assert attrs["rollout_trace.payload.request"] == call["raw_request_payload_id"]
        assert span.start_ns == call["execution"]["started_at_unix_ms"] * 1_000_000
        assert span.end_ns == call["execution"]["ended_at_unix_ms"] * 1_000_000
        assert span.parent_id == span_id_of(trace.trace_id, "turn", call["codex_turn_id"])


def test_references_by_default_content_on_request(demo_state: Any) -> None:
    plain = otlp_trace(demo_state)
    content = {"gen_ai.tool.call.arguments", "gen_ai.tool.call.result", INPUT_MESSAGES}
    for span in plain.spans:
        assert not content & set(span.attributes)
        assert not any(key.endswith(".body") for key in span.attributes)
    bodies: list[str] = []

    def payload(payload_id: str) -> str:
        bodies.append(payload_id)
        return f"<{payload_id}>"

    inline = otlp_trace(demo_state, inline=True, payload=payload)
    assert [s.span_id for s in inline.spans] == [s.span_id for s in plain.spans]
    tool = next(s for s in inline.spans if s.attributes.get("gen_ai.tool.call.id") == "call_0_sum")
    assert "Process exited with code 0" in str(tool.attributes["gen_ai.tool.call.result"])
    assert tool.attributes["rollout_trace.payload.invocation.body"] == (
        f"<{tool.attributes['rollout_trace.payload.invocation']}>"
    )
    chat = by_name(inline, "chat ")[0]
    messages = orjson.loads(str(chat.attributes[INPUT_MESSAGES]))
    assert messages[0]["role"] == "system"  # the developer message
    assert messages[0]["parts"][0]["type"] == "text"
    output = orjson.loads(str(chat.attributes["gen_ai.output.messages"]))
    assert output[0]["role"] == "assistant" and output[0]["finish_reason"] in ("stop", "tool_call")
    assert bodies, "inline read no payload"


def test_inlined_values_are_cut(demo_state: Any) -> None:
    long = "x" * (MAX_INLINE_BYTES * 2)
    trace = otlp_trace(demo_state, inline=True, payload=lambda _: long)
    bodies = [v for s in trace.spans for k, v in s.attributes.items() if k.endswith(".body")]
    assert bodies
    for body in bodies:
        assert isinstance(body, str) and body.startswith("x" * MAX_INLINE_BYTES)
        assert body.endswith(f"({MAX_INLINE_BYTES:,} more bytes)")


def test_failure_is_an_error_status_with_its_text(failing_state: Path) -> None:
    """The error text a tool gave is its output: content, sent only with ``inline`` (it was
    the ERROR description by default, found by review); the status word otherwise."""
    state = orjson.loads(failing_state.read_bytes())
    for inline, description in ((True, PLANTED_ERROR), (False, "failed")):
        trace = otlp_trace(state, inline=inline)
        failed = [s for s in trace.spans if s.error is not None]
        assert [s.attributes["gen_ai.tool.call.id"] for s in failed] == ["call_0_sum"]
        assert failed[0].error == description
        assert failed[0].attributes["error.type"] == "failed"
        assert inline or PLANTED_ERROR not in repr([s.attributes for s in trace.spans])


@pytest.mark.parametrize("schema", ["2", "3"])
def test_failed_model_calls_and_turns_say_why(why_bundles: dict[str, Path], schema: str) -> None:
    """A failed or cancelled chat span and a failed or aborted turn had the status word as
    their ERROR description, though ``show`` reads why from the log (review why27): now the
    text; a tool call's only with ``inline`` (what it said is content)."""
    state = load_state(why_bundles[f"failed{schema}"])
    for inline in (False, True):
        trace = otlp_trace(state, inline=inline)
        errors = [(s.name, s.error) for s in trace.spans if s.error is not None]
        tools = [
            ("execute_tool exec_command", "permission denied: /etc/shadow"),
            ("execute_tool apply_patch", "patch rejected:\nhunk 2 of 2 does not apply"),
        ]
        assert sorted(errors) == sorted(
            [
                ("chat m-1", "HTTP 503: upstream overloaded"),
                ("chat m-1", "superseded by a retry"),
                ("chat m-1", "context_length_exceeded: nothing left to compact"),
                ("turn", "Boom: tool exploded on k0"),
                *(tools if inline else [(name, "failed") for name, _ in tools]),
                ("invoke_agent /root", "failed"),  # the turn under it says why
                ("invoke_workflow rollout", "failed"),
            ]
        )
    aborted = otlp_trace(load_state(why_bundles[f"aborted{schema}"]))
    assert sorted(s.error for s in aborted.spans if s.error is not None) == [
        "aborted",
        "aborted",
        "ended before the response",
        "interrupted (cancel scope cancelled)",
    ]


def test_a_message_between_agents_says_what_it_delivered(demo_state: Any) -> None:
    """An agent message's content read "[encrypted_content]", not the task it delivered
    (which that part holds; found by newuser25): as the viewer reads it."""
    (message,) = [
        i
        for i in demo_state["conversation_items"].values()
        if (i.get("agent_message") or {}).get("recipient") == "/root/helper_0"
    ]
    (task,) = [p["value"] for p in message["body"]["parts"] if p["type"] == "encoded"]
    assert body_text(message).endswith(f"Payload:\n{task}")


def test_inlined_values_are_cut_in_bytes() -> None:
    """The cut counted characters: 64 Ki of them could be 256 KiB (found by review)."""
    wide = "€" * MAX_INLINE_BYTES  # 3 bytes each
    kept = cut(wide)
    assert len(kept.encode()) <= MAX_INLINE_BYTES + 40
    assert kept.startswith("€" * (MAX_INLINE_BYTES // 3))
    assert kept.endswith(f"… ({len(wide.encode()) - MAX_INLINE_BYTES // 3 * 3:,} more bytes)")
    assert cut("€" * 100) == "€" * 100


_DROPPABLE = ["execution", "origin", "usage", "codex_turn_id", "thread_id", "source", "body"]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_damaged_states_still_map_to_a_tree(demo_state: Any, data: st.DataObject) -> None:
    """Fields a hand-edited or foreign state may lack or mistype never break the mapping."""
    state = orjson.loads(orjson.dumps(demo_state))
    tables = [k for k, v in state.items() if isinstance(v, dict) and v]
    for _ in range(data.draw(st.integers(1, 8))):
        table = state[data.draw(st.sampled_from(tables))]
        node = table[data.draw(st.sampled_from(sorted(table)))]
        key = data.draw(st.sampled_from(_DROPPABLE))
        node[key] = data.draw(st.sampled_from([None, 7, "x", [], {}]))
    if data.draw(st.booleans()):
        state["trace_id"] = data.draw(st.sampled_from([None, "not-a-uuid", 0]))
    check_tree(otlp_trace(state, inline=data.draw(st.booleans())))


@pytest.mark.parametrize("when", [-1, -(2**62), 2**62, 2**70])
def test_times_otlp_cannot_carry_are_absent(
    demo_bundle: Path, demo_state: Any, tmp_path: Path, when: int
) -> None:
    """OTLP times are unsigned 64-bit nanoseconds: a damaged state's time before 1970 or past
    2554 is treated as absent (the OTLP encoder raised ``Value out of range``, which the CLI
    reported as an internal error, found by the hostile-bundle fuzz)."""
    state = orjson.loads(orjson.dumps(demo_state))
    state["started_at_unix_ms"] = when
    for table in ("threads", "inference_calls", "tool_calls"):
        for node in state.get(table, {}).values():
            if isinstance(node.get("execution"), dict):
                node["execution"]["started_at_unix_ms"] = when
    check_tree(otlp_trace(state))
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))  # orjson refuses 2**70
    target = tmp_path / "otlp.jsonl"
    code = main(["export", "--format", "otlp", str(path), "-o", str(target)], err=io.StringIO())
    assert code == 0 or when > 2**64  # a state.json orjson cannot read is a clear error
    assert code != 0 or target.stat().st_size > 0


def test_ids_are_stable_and_never_zero(demo_state: Any) -> None:
    assert otlp_trace(demo_state) == otlp_trace(demo_state)
    other = dict(demo_state, trace_id="not-a-uuid")
    assert trace_id_of(other) != 0 and trace_id_of(other) == trace_id_of(dict(other))
    assert trace_id_of(dict(demo_state, trace_id="00000000-0000-0000-0000-000000000000")) != 0


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"recording_complete": True}, "complete"),
        ({"recording_complete": False}, "unclosed"),
        ({"recording_status": "closed_with_partial_payloads"}, "closed_with_partial_payloads"),
        ({}, None),
    ],
)
def test_the_root_says_how_the_recording_ended_in_either_schema(
    demo_state: Any, fields: dict[str, Any], expected: str | None
) -> None:
    """A schema-2 state (Codex 0.169) says ``recording_complete``, not ``recording_status``:
    the root span had no ``rollout_trace.recording_status`` for any schema-2 rollout (56 of
    125 in a review's export), where the tables say ``complete`` or ``unclosed``."""
    state = {
        k: v for k, v in demo_state.items() if k not in ("recording_status", "recording_complete")
    }
    root = otlp_trace({**state, **fields}).spans[0]
    assert root.attributes.get("rollout_trace.recording_status") == expected


@pytest.mark.parametrize(
    "bundle",
    conformance_bundles() + conformance_bundles(CONFORMANCE_V3),
    ids=lambda b: f"{b.parts[-3]}/{b.parts[-2]}",
)
def test_children_lie_within_their_parents_but_where_docs_say(bundle: Path) -> None:
    """Every span of Codex's own rollouts starts within its parent and ends within it, except
    what docs/otlp.md names: a spawned agent outlives its ``spawn_agent`` call, and a node the
    state never ended (a command Codex left running when it interrupted the turn) ends at the
    rollout's last time, after its parent. A review found the second undocumented."""
    state = orjson.loads((bundle / "expected_state.json").read_bytes())
    trace = otlp_trace(state)
    check_tree(trace)
    spans = {s.span_id: s for s in trace.spans}
    open_ids = {
        span_id_of(trace.trace_id, kind, key)
        for kind, table in (("tool", "tool_calls"), ("turn", "codex_turns"))
        for key, node in state[table].items()
        if node["execution"]["ended_at_unix_ms"] is None
    }
    for span in trace.spans[1:]:
        parent = spans[span.parent_id] if span.parent_id is not None else None
        assert parent is not None
        assert parent.start_ns <= span.start_ns, (span.name, parent.name)
        spawned = span.name.startswith("invoke_agent ") and parent.name.startswith("execute_tool")
        if not spawned and span.span_id not in open_ids:
            assert span.end_ns <= parent.end_ns, (span.name, parent.name)


_OTLP_DOCS = Path(__file__).resolve().parents[2] / "docs" / "otlp.md"


def _documented_attributes() -> list[re.Pattern[str]]:
    """The attribute names docs/otlp.md's tables give, as patterns: a row's first cell names
    them in full (`gen_ai.agent.id`), relative to its first name's namespace
    (`rollout_trace.rollout_id`, `.trace_id`), as the first name's last part replaced
    (`gen_ai.usage.input_tokens` / `output_tokens`), or with a placeholder (`<role>`)."""
    patterns = []
    for line in _OTLP_DOCS.read_text().splitlines():
        if not line.startswith("| `"):
            continue
        names = re.findall(r"`([^`]+)`", line.split(" | ")[0])
        first = names[0]
        for name in names:
            if name.startswith("."):
                name = first.split(".")[0] + name
            elif "." not in name:
                name = first.rsplit(".", 1)[0] + "." + name
            parts = (re.escape(p) for p in re.split(r"<[a-z]+>", name))
            patterns.append(re.compile("[a-z_]+".join(parts)))
    return patterns


@needs_conformance_v3
@pytest.mark.parametrize("inline", [False, True])
def test_every_attribute_sent_is_in_the_docs(demo_state: Any, inline: bool) -> None:
    """A code-mode cell's nested tool call carried ``rollout_trace.requester_code_cell_id``,
    which docs/otlp.md did not name (found by review, over both Codex corpora)."""
    documented = _documented_attributes()
    states = [demo_state] + [
        orjson.loads((bundle / "expected_state.json").read_bytes())
        for bundle in conformance_bundles(CONFORMANCE_V3)
        if bundle.parts[-2].startswith(("code_mode", "capture", "multi_agent"))
    ]
    sent = {
        key
        for state in states
        for span in otlp_trace(state, inline=inline).spans
        for key in [*span.attributes, *(k for link in span.links for k in link.attributes)]
    }
    assert "rollout_trace.requester_code_cell_id" in sent
    assert [k for k in sorted(sent) if not any(p.fullmatch(k) for p in documented)] == []


def test_an_mcp_tool_is_an_extension_and_a_clock_step_back_never_ends_a_span_early(
    demo_state: Any,
) -> None:
    """``gen_ai.tool.type`` is ``extension`` for an MCP tool (``function`` otherwise), and a
    call whose end is before its start (the wall clock stepped back) ends where it starts."""
    state = orjson.loads(orjson.dumps(demo_state))
    ping = state["tool_calls"]["call_0_ping"]
    ping["kind"] = {"type": "mcp", "server": "srv", "tool": "ping"}
    execution = ping["execution"]
    execution["ended_at_unix_ms"] = execution["started_at_unix_ms"] - 5
    spans = {
        s.attributes.get("gen_ai.tool.call.id"): s
        for s in otlp_trace(state).spans
        if "gen_ai.tool.call.id" in s.attributes
    }
    assert spans["call_0_ping"].attributes["gen_ai.tool.type"] == "extension"
    assert spans["call_0_cat"].attributes["gen_ai.tool.type"] == "function"
    assert spans["call_0_ping"].end_ns == spans["call_0_ping"].start_ns
    assert spans["call_0_ping"].start_ns == execution["started_at_unix_ms"] * 1_000_000


def test_each_guardrail_is_a_span_under_its_turn_tripped_ones_in_error(tmp_path: Path) -> None:
    """An Agents SDK guardrail (its protocol event, which both reducers skip) was nowhere in
    the spans: one that passed was invisible, one that tripped showed only as its turn's error
    (user49). Each is now a ``guardrail NAME`` span under its agent's turn, typed GUARDRAIL
    for Phoenix, ERROR with the span's error when its tripwire triggered."""
    from .test_tables_guardrails import TRIPPED, record_guardrails

    bundle, _, turn_id = anyio.run(record_guardrails, tmp_path)
    trace = otlp_trace(load_state(bundle))
    check_tree(trace)
    turn = span_id_of(trace.trace_id, "turn", turn_id)
    guards = {s.name: s for s in by_name(trace, "guardrail ")}
    assert set(guards) == {"guardrail no_secrets", "guardrail rude"}
    passed, tripped = guards["guardrail no_secrets"], guards["guardrail rude"]
    assert passed.parent_id == tripped.parent_id == turn
    assert (passed.error, tripped.error) == (None, TRIPPED)
    assert passed.attributes["openinference.span.kind"] == "GUARDRAIL"
    assert passed.attributes["rollout_trace.guardrail.triggered"] is False
    assert tripped.attributes["rollout_trace.guardrail.triggered"] is True
    assert tripped.attributes["rollout_trace.guardrail.span_id"] == "span_2"
    assert tripped.attributes["error.type"] == "guardrail_tripped"
    assert passed.start_ns == passed.end_ns > 0
    # derived ids: the same spans each time
    assert otlp_trace(load_state(bundle)).spans == trace.spans


def test_the_rollouts_metadata_is_the_root_spans_openinference_metadata(tmp_path: Path) -> None:
    """``Rollout.add_metadata`` (an episode's id, its reward) on the workflow span as
    OpenInference's ``metadata``, a JSON object as text, which Phoenix shows and filters by;
    a rollout without any has no such attribute."""

    async def record() -> tuple[Path, Path]:
        async with open_rollout(tmp_path / "a", model="m", metadata={"episode": 17}) as rollout:
            rollout.add_metadata(reward=0.5)
        async with open_rollout(tmp_path / "b", model="m") as plain:
            pass
        assert rollout.bundle_dir is not None and plain.bundle_dir is not None
        return rollout.bundle_dir, plain.bundle_dir

    with_metadata, without = anyio.run(record)
    [root] = by_name(otlp_trace(load_state(with_metadata)), "invoke_workflow")
    assert json.loads(str(root.attributes["metadata"])) == {"episode": 17, "reward": 0.5}
    [root] = by_name(otlp_trace(load_state(without)), "invoke_workflow")
    assert "metadata" not in root.attributes


def test_metadata_too_long_for_a_receiver_is_cut_and_still_an_object(tmp_path: Path) -> None:
    """Metadata past ``MAX_INLINE_BYTES`` (a 200 KB value, 10,000 keys) was put on the span
    whole, where every other long value is cut for the receivers' size caps: now a value
    whose JSON is long is its text cut, the keys that fit are kept, and ``…`` says what was
    left out; the attribute stays a JSON object that Phoenix can filter by (review50)."""

    async def record() -> Path:
        async with open_rollout(tmp_path, model="m", metadata={"episode": 17}) as rollout:
            rollout.add_metadata({"note": "x" * 200_000, "reward": 0.5})
            rollout.add_metadata({f"k{i}": i for i in range(10_000)})
        assert rollout.bundle_dir is not None
        return rollout.bundle_dir

    [root] = by_name(otlp_trace(load_state(anyio.run(record))), "invoke_workflow")
    text = str(root.attributes["metadata"])
    assert len(text.encode()) <= MAX_INLINE_BYTES
    metadata = json.loads(text)
    assert metadata["episode"] == 17 and metadata["reward"] == 0.5
    assert metadata["note"].startswith("xxx") and len(metadata["note"]) < 2000
    assert "k0" in metadata and "k9999" not in metadata
    assert "more keys" in metadata["…"]


def test_a_tool_span_says_the_agents_sdk_approval_its_call_waited_for(tmp_path: Path) -> None:
    """A call an Agents SDK run paused at for an approval was an ``execute_tool`` span
    ``running`` with no word of why, and the approved and rejected ones said nothing either
    (agents51): each says it in ``rollout_trace.tool.approval`` (``pending``, ``approved``,
    ``rejected``: the latest its events say, as ``show`` and the tables read them); no
    other call has it."""
    from ..view.test_approvals import APPROVALS, record_approvals

    bundle = anyio.run(record_approvals, tmp_path)
    trace = otlp_trace(load_state(bundle))
    said = {
        span.attributes["gen_ai.tool.call.id"]: span.attributes.get("rollout_trace.tool.approval")
        for span in by_name(trace, "execute_tool ")
    }
    assert said == APPROVALS
