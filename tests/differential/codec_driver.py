"""Turn a :class:`Script` into a bundle by writing events and payloads straight through the
codec, the way Codex 0.169 lays them out. It needs nothing of the recorder, so reducer
differential tests keep working while the recorder changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rollout_trace_sdk.model import codec
from rollout_trace_sdk.model import events as ev

from .script import ChildScript, Script, StepScript, ToolScript, TurnScript

ROOT = "thread-root"


class _Bundle:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        (directory / "payloads").mkdir(parents=True)
        self.lines: list[bytes] = []
        self.payloads = 0
        self.clock = 1_700_000_000_000
        self.ids = 0
        self.started_execs: set[str] = set()
        manifest = ev.Manifest(2, "trace-1", ROOT, ROOT, self.clock)
        (directory / "manifest.json").write_bytes(codec.manifest_bytes(manifest))

    def next_id(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}_{self.ids}"

    def payload(self, kind: ev.PayloadKind, value: Any) -> ev.RawPayloadRef:
        self.payloads += 1
        path = f"payloads/{self.payloads}.json"
        (self.dir / path).write_bytes(codec.pretty_bytes(value))
        return ev.RawPayloadRef(f"raw_payload:{self.payloads}", kind, path)

    def event(
        self, payload: ev.EventPayload, thread: str | None = None, turn: str | None = None
    ) -> None:
        self.clock += 1
        seq = len(self.lines) + 1
        event = ev.TraceEvent(2, seq, self.clock, ROOT, thread, turn, payload)
        self.lines.append(codec.event_line(event))

    def close(self) -> None:
        (self.dir / "trace.jsonl").write_bytes(b"".join(self.lines))


def _message(item_id: str, role: str, text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "role": role,
        "content": [{"type": "input_text" if role != "assistant" else "output_text", "text": text}],
    }


class _Thread:
    def __init__(self, bundle: _Bundle, thread_id: str, agent_path: str) -> None:
        self.b = bundle
        self.id = thread_id
        self.path = agent_path
        self.history: list[dict[str, Any]] = [
            _message(f"msg_base_{thread_id}", "developer", "be brief")
        ]
        self.response_no = 0

    def accept(
        self, item: dict[str, Any], turn: str, payload: ev.RawPayloadRef | None = None
    ) -> None:
        self.history.append(item)
        self.b.event(ev.HistoryItemAccepted(item["id"], payload), self.id, turn)

    def run_turn(self, script: TurnScript, turn_no: int, first_item: dict[str, Any] | None) -> None:
        b = self.b
        turn = f"{self.id}-turn-{turn_no}"
        b.event(ev.CodexTurnStarted(turn, self.id), self.id, turn)
        if first_item is not None:
            ref = b.payload("protocol_event", first_item)
            self.accept(first_item, turn, ref)
        else:
            user = _message(b.next_id("msg"), "user", script.user_text)
            if script.accept_user:
                self.accept(user, turn)
            else:
                self.history.append(user)
        for step in script.steps:
            self.run_step(step, turn)
        if script.compaction != "none":
            self.compact(script, turn)
        if script.spawn is not None:
            self.spawn(script.spawn, turn)
        b.event(ev.CodexTurnEnded(turn, script.end), self.id, turn)

    def run_step(self, step: StepScript, turn: str) -> None:
        b = self.b
        request_items = list(self.history)
        if step.drop_index is not None and step.drop_index < len(request_items):
            del request_items[step.drop_index]
        call = b.next_id("inference")
        request = b.payload("inference_request", {"model": "gpt-test", "input": request_items})
        b.event(
            ev.InferenceStarted(call, self.id, turn, "gpt-test", "test-provider", request),
            self.id,
            turn,
        )
        self.response_no += 1
        n = self.response_no
        output: list[dict[str, Any]] = []
        if step.reasoning:
            reasoning: dict[str, Any] = {
                "type": "reasoning",
                "id": f"rs_{self.id}_{n}",
                "summary": [{"type": "summary_text", "text": f"thinking {n}"}],
            }
            if step.encrypted_reasoning:
                reasoning["encrypted_content"] = f"ENC{n}"
            output.append(reasoning)
        if step.message is not None:
            message = _message(f"msg_{self.id}_{n}", "assistant", step.message)
            if step.phase is not None:
                message["phase"] = step.phase
            output.append(message)
        for tool in step.tools:
            if tool.name == "apply_patch":
                output.append(
                    {
                        "type": "custom_tool_call",
                        "id": f"ctc_{tool.call_id}",
                        "name": "apply_patch",
                        "input": tool.arguments,
                        "call_id": tool.call_id,
                    }
                )
            else:
                output.append(
                    {
                        "type": "function_call",
                        "id": f"fc_{tool.call_id}",
                        "name": tool.name,
                        "arguments": tool.arguments,
                        "call_id": tool.call_id,
                    }
                )
        usage = {
            "input_tokens": step.input_tokens,
            "cached_input_tokens": 0,
            "cache_write_input_tokens": 0,
            "output_tokens": step.output_tokens,
            "reasoning_output_tokens": 0,
            "total_tokens": step.input_tokens + step.output_tokens,
        }
        if step.outcome == "failed":
            partial = output[:1]
            ref = None
            if partial:
                ref = b.payload(
                    "inference_response",
                    {
                        "response_id": None,
                        "upstream_request_id": None,
                        "token_usage": None,
                        "output_items": partial,
                    },
                )
            b.event(ev.InferenceFailed(call, "req-1", "stream disconnected", ref), self.id, turn)
            return
        if step.outcome == "cancelled":
            b.event(ev.InferenceCancelled(call, None, "turn interrupted", None), self.id, turn)
            return
        response = b.payload(
            "inference_response",
            {
                "response_id": f"resp_{self.id}_{n}",
                "upstream_request_id": None,
                "token_usage": usage,
                "output_items": output,
            },
        )
        b.event(ev.InferenceCompleted(call, f"resp_{self.id}_{n}", None, response), self.id, turn)
        for item, accepted in zip(output, step.accept, strict=False):
            if accepted:
                self.accept(item, turn)
        for tool in step.tools:
            self.run_tool(tool, turn)

    def run_tool(self, tool: ToolScript, turn: str) -> None:
        b = self.b
        custom = tool.name == "apply_patch"
        invocation = b.payload(
            "tool_invocation",
            {
                "tool_name": tool.name,
                "tool_namespace": None,
                "payload": {"type": "custom", "input": tool.arguments}
                if custom
                else {"type": "function", "arguments": tool.arguments},
            },
        )
        kind = {
            "exec_command": ev.ToolCallKind("exec_command"),
            "write_stdin": ev.ToolCallKind("write_stdin"),
            "apply_patch": ev.ToolCallKind("apply_patch"),
        }.get(tool.name, ev.ToolCallKind.other(tool.name))
        preview = tool.arguments if len(tool.arguments) <= 160 else tool.arguments[:160] + "..."
        b.event(
            ev.ToolCallStarted(
                tool.call_id,
                tool.call_id,
                None,
                ev.ModelRequester(),
                kind,
                ev.GenericSummary(tool.name, preview, None),
                invocation,
            ),
            self.id,
            turn,
        )
        if tool.target_exec is not None and tool.target_exec in b.started_execs:
            b.event(ev.StdinTargetResolved(tool.call_id, tool.target_exec), self.id, turn)
        if tool.name == "exec_command":
            b.started_execs.add(tool.call_id)
            begin: dict[str, Any] = {"call_id": tool.call_id}
            if tool.process_id is not None:
                begin["process_id"] = tool.process_id
            begin.update(
                {
                    "turn_id": turn,
                    "started_at_ms": b.clock,
                    "command": ["/bin/bash", "-lc", "echo"],
                    "cwd": "/tmp",
                    "parsed_cmd": [],
                    "source": "unified_exec_startup",
                }
            )
            ref = b.payload("tool_runtime_event", begin)
            b.event(ev.ToolCallRuntimeStarted(tool.call_id, kind, ref), self.id, turn)
            end = dict(begin)
            end.pop("started_at_ms")
            end["completed_at_ms"] = b.clock
            end.update(
                {
                    "aggregated_output": tool.output,
                    "exit_code": 0 if tool.status == "completed" else 1,
                    "duration": {"secs": 0, "nanos": 5000},
                    "status": tool.status,
                }
            )
            ref = b.payload("tool_runtime_event", end)
            b.event(ev.ToolCallRuntimeEnded(tool.call_id, tool.status, ref), self.id, turn)
        output_type = "custom_tool_call_output" if custom else "function_call_output"
        result = b.payload(
            "tool_result",
            {
                "type": "direct_response",
                "response_item": {
                    "type": output_type,
                    "call_id": tool.call_id,
                    "output": tool.output,
                },
            },
        )
        b.event(ev.ToolCallEnded(tool.call_id, tool.status, result), self.id, turn)
        self.accept(
            {
                "type": output_type,
                "id": b.next_id("fco"),
                "call_id": tool.call_id,
                "output": tool.output,
            },
            turn,
        )

    def compact(self, script: TurnScript, turn: str) -> None:
        b = self.b
        compaction = b.next_id("compaction")
        request_id = b.next_id("compaction_request")
        request = b.payload(
            "compaction_request",
            {"model": "gpt-test", "input": [*self.history, {"type": "compaction_trigger"}]},
        )
        b.event(
            ev.CompactionRequestStarted(
                compaction, request_id, self.id, turn, "gpt-test", "OpenAI", request
            ),
            self.id,
            turn,
        )
        if script.compaction == "failed":
            b.event(
                ev.CompactionRequestFailed(compaction, request_id, "compaction failed"),
                self.id,
                turn,
            )
            return
        summary = {
            "type": "compaction",
            "id": b.next_id("item"),
            "encrypted_content": f"SUMMARY-{compaction}",
        }
        response = b.payload("compaction_response", {"output_items": [summary]})
        b.event(ev.CompactionRequestCompleted(compaction, request_id, response), self.id, turn)
        users = [i for i in self.history if i.get("role") == "user"]
        replacement = [*users, summary]
        checkpoint = b.payload(
            "compaction_checkpoint",
            {"input_history": self.history[1:], "replacement_history": replacement},
        )
        b.event(ev.CompactionInstalled(compaction, checkpoint), self.id, turn)
        self.history = [self.history[0], *replacement]

    def spawn(self, child: ChildScript, turn: str) -> None:
        b = self.b
        call_id = b.next_id("call_spawn")
        child_id = f"00000000-0000-4000-8000-{b.ids:012d}"
        child_path = f"{self.path}/{child.task_name}"
        arguments = codec.pretty_bytes(
            {"task_name": child.task_name, "message": child.message}
        ).decode()
        spawn_call = {
            "type": "function_call",
            "id": f"fc_{call_id}",
            "name": "spawn_agent",
            "arguments": arguments,
            "call_id": call_id,
        }
        self.history.append(spawn_call)
        invocation = b.payload(
            "tool_invocation",
            {
                "tool_name": "spawn_agent",
                "tool_namespace": "collaboration",
                "payload": {"type": "function", "arguments": arguments},
            },
        )
        b.event(
            ev.ToolCallStarted(
                call_id,
                call_id,
                None,
                ev.ModelRequester(),
                ev.ToolCallKind("spawn_agent"),
                ev.GenericSummary("collaboration.spawn_agent", arguments[:160], None),
                invocation,
            ),
            self.id,
            turn,
        )
        metadata = b.payload(
            "session_metadata",
            {
                "thread_id": child_id,
                "agent_path": child_path,
                "task_name": child.task_name,
                "nickname": "Nash",
                "agent_role": None,
                "session_source": {
                    "subagent": {
                        "thread_spawn": {
                            "parent_thread_id": self.id,
                            "depth": 1,
                            "agent_path": child_path,
                            "agent_nickname": "Nash",
                            "agent_role": None,
                        }
                    }
                },
                "cwd": "/tmp",
                "rollout_path": None,
                "model": "gpt-test",
                "provider_name": "test-provider",
                "approval_policy": "never",
                "sandbox_policy": "DangerFullAccess",
            },
        )
        b.event(ev.ThreadStarted(child_id, child_path, metadata))
        activity = b.payload(
            "tool_runtime_event",
            {
                "model": "gpt-test",
                "reasoning_effort": "medium",
                "event_id": call_id,
                "occurred_at_ms": b.clock,
                "agent_thread_id": child_id,
                "agent_path": child_path,
                "kind": "started",
            },
        )
        b.event(ev.ToolCallRuntimeEnded(call_id, "completed", activity), self.id, turn)
        result = b.payload(
            "tool_result",
            {
                "type": "direct_response",
                "response_item": {
                    "type": "function_call_output",
                    "call_id": call_id,
                    "output": "{}",
                },
            },
        )
        b.event(ev.ToolCallEnded(call_id, "completed", result), self.id, turn)
        self.accept(
            {
                "type": "function_call_output",
                "id": b.next_id("fco"),
                "call_id": call_id,
                "output": "{}",
            },
            turn,
        )
        sub = _Thread(b, child_id, child_path)
        for n, child_turn in enumerate(child.turns):
            first = None
            if n == 0:
                first = {
                    "type": "agent_message",
                    "id": b.next_id("amsg"),
                    "author": self.path,
                    "recipient": child_path,
                    "content": [
                        {"type": "input_text", "text": "Message Type: NEW_TASK\n"},
                        {"type": "encrypted_content", "encrypted_content": child.message},
                    ],
                }
            sub.run_turn(child_turn, n, first)
        last_turn = f"{child_id}-turn-{len(child.turns) - 1}"
        carried = b.payload(
            "agent_result",
            {
                "child_agent_path": child_path,
                "message": child.result,
                "status": {"completed": child.result},
            },
        )
        b.event(
            ev.AgentResultObserved(
                f"edge:agent_result:{child_id}:{last_turn}:{self.id}",
                child_id,
                last_turn,
                self.id,
                child.result,
                carried,
            ),
            child_id,
            last_turn,
        )
        b.event(ev.ThreadEnded(child_id, "completed"))
        delivery = {
            "type": "agent_message",
            "id": b.next_id("amsg"),
            "author": child_path,
            "recipient": self.path,
            "content": [{"type": "input_text", "text": child.result}],
        }
        self.accept(delivery, turn, b.payload("protocol_event", delivery))


def write_bundle(script: Script, directory: Path) -> Path:
    """Write ``script`` as a Codex-shaped bundle under ``directory`` and return its path."""
    bundle_dir = directory / f"trace-trace-1-{ROOT}"
    b = _Bundle(bundle_dir)
    b.event(ev.RolloutStarted("trace-1", ROOT))
    metadata = b.payload(
        "session_metadata",
        {"thread_id": ROOT, "agent_path": "/root", "session_source": "exec", "model": "gpt-test"},
    )
    b.event(ev.ThreadStarted(ROOT, "/root", metadata))
    root = _Thread(b, ROOT, "/root")
    for n, turn in enumerate(script.turns):
        root.run_turn(turn, n, None)
    b.event(ev.ThreadEnded(ROOT, "completed"))
    b.event(ev.RolloutEnded("completed"))
    b.event(ev.RecordingCompleted())
    b.close()
    return bundle_dir
