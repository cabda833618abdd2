"""Turn a :class:`Script` into a bundle with :class:`rollout_trace_sdk.testing.BundleBuilder`,
the way Codex 0.169 (schema 2) or Codex 0.171 (schema 3) lays it out. It needs nothing of the
recorder, so reducer differential tests keep working while the recorder changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rollout_trace_sdk.model import codec
from rollout_trace_sdk.model import events as ev

from .codec_bundle import ROOT, CodexBundle
from .script import ChildScript, Script, StepScript, ToolScript, TurnScript

_IMAGES = [
    "iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGP4z8AARwzEcQCukw",
    "R0lGODlhAQABAIAAAP",
    "UklGRiQAAABXRUJQVlA4",
]


_OUTPUT_TYPES = frozenset({"function_call_output", "custom_tool_call_output"})


def _message(item_id: str | None, role: str, text: str) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "message"}
    if item_id is not None:
        item["id"] = item_id
    kind = "output_text" if role == "assistant" else "input_text"
    item.update(role=role, content=[{"type": kind, "text": text}])
    return item


def _usage(step: StepScript) -> dict[str, int]:
    return {
        "input_tokens": step.input_tokens,
        "cached_input_tokens": 0,
        "cache_write_input_tokens": 0,
        "output_tokens": step.output_tokens,
        "reasoning_output_tokens": 0,
        "total_tokens": step.input_tokens + step.output_tokens,
    }


class _Thread:
    def __init__(self, bundle: CodexBundle, thread_id: str, agent_path: str) -> None:
        self.b = bundle
        self.id = thread_id
        self.path = agent_path
        base_id = None if bundle.idless else f"msg_base_{thread_id}"
        self.history: list[dict[str, Any]] = [_message(base_id, "developer", "be brief")]
        self.response_no = 0
        #: (response id, len(history) right after its output) of the last completed step
        self.last_response: tuple[str, int] | None = None

    def accept(
        self, item: dict[str, Any], turn: str, payload: ev.RawPayloadRef | None = None
    ) -> None:
        self.history.append(item)
        if "id" not in item:
            return
        if self.b.v3 and item.get("type") in _OUTPUT_TYPES:
            # 0.171 writes the accepted tool output with its acceptance
            output = self.b.payload("protocol_event", item)
            accepted: ev.EventPayload = ev.HistoryItemAcceptedV3(item["id"], payload, output)
        else:
            accepted = ev.HistoryItemAccepted(item["id"], payload)
        self.b.emit(accepted, self.id, turn)

    def loop_item_id(self, prefix: str) -> str | None:
        return None if self.b.idless else self.b.next_id(prefix)

    def run_turn(self, script: TurnScript, turn_no: int, first_item: dict[str, Any] | None) -> None:
        b = self.b
        turn = f"{self.id}-turn-{turn_no}"
        b.emit(ev.CodexTurnStarted(turn, self.id), self.id, turn)
        if first_item is not None:
            self.accept(first_item, turn, b.payload("protocol_event", first_item))
        else:
            user = _message(b.next_id("msg"), "user", script.user_text)
            if script.image is not None:
                user["content"].append(
                    {
                        "type": "input_image",
                        "image_url": f"data:image/png;base64,{_IMAGES[script.image]}",
                        "detail": "original",
                    }
                )
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
        b.emit(ev.CodexTurnEnded(turn, script.end), self.id, turn)

    def run_step(self, step: StepScript, turn: str) -> None:
        b = self.b
        request_items = list(self.history)
        if step.drop_index is not None and step.drop_index < len(request_items):
            del request_items[step.drop_index]
        request: dict[str, Any] = {"model": "gpt-test", "input": request_items}
        if step.incremental and self.last_response is not None:
            previous, seen = self.last_response
            request = {
                "model": "gpt-test",
                "previous_response_id": previous,
                "input": self.history[seen:],
            }
        call = b.next_id("inference")
        ref = b.payload("inference_request", request)
        b.emit(
            ev.InferenceStarted(call, self.id, turn, "gpt-test", "test-provider", ref),
            self.id,
            turn,
        )
        self.response_no += 1
        n = self.response_no
        output = self._output(step, n)
        if step.outcome != "completed":
            self.last_response = None
            partial = output[:1]
            partial_ref: ev.RawPayloadRef | None = None
            if partial:
                body: dict[str, Any] = {
                    "response_id": None,
                    "upstream_request_id": None,
                    "token_usage": None,
                    "output_items": partial,
                }
                partial_ref = b.payload("inference_response", body)
            if step.outcome == "failed":
                failed = ev.InferenceFailed(call, "req-1", "stream disconnected", partial_ref)
                b.emit(failed, self.id, turn)
            else:
                cancelled = ev.InferenceCancelled(call, None, "turn interrupted", partial_ref)
                b.emit(cancelled, self.id, turn)
            return
        response_id = f"resp_{self.id}_{n}"
        body = {
            "response_id": response_id,
            "upstream_request_id": None,
            "token_usage": _usage(step),
            "output_items": output,
        }
        b.emit(
            ev.InferenceCompleted(call, response_id, None, b.payload("inference_response", body)),
            self.id,
            turn,
        )
        for item, accepted in zip(output, step.accept, strict=False):
            if accepted:
                self.accept(item, turn)
        self.last_response = (response_id, len(self.history))
        for tool in step.tools:
            self.run_tool(tool, turn)

    def _output(self, step: StepScript, n: int) -> list[dict[str, Any]]:
        output: list[dict[str, Any]] = []
        if step.reasoning:
            reasoning: dict[str, Any] = {
                "type": "reasoning",
                "id": f"rs_{self.id}_{n}",
                "summary": [{"type": "summary_text", "text": f"thinking {n}"}],
            }
            if step.encrypted_reasoning:
                reasoning["encrypted_content"] = f"ENC{n % 3}"
            output.append(reasoning)
        if step.message is not None:
            message = _message(f"msg_{self.id}_{n}", "assistant", step.message)
            if step.phase is not None:
                message["phase"] = step.phase
            output.append(message)
        for tool in step.tools:
            if tool.name in ("apply_patch", "exec"):
                output.append(
                    {
                        "type": "custom_tool_call",
                        "id": f"ctc_{tool.call_id}",
                        "name": tool.name,
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
        return output

    def run_tool(self, tool: ToolScript, turn: str) -> None:
        b = self.b
        custom = tool.name in ("apply_patch", "exec")
        kind = b.tool_started(self.id, tool.call_id, tool.name, tool.arguments, turn, custom=custom)
        if tool.target_exec is not None and tool.target_exec in b.started_execs:
            b.emit(ev.StdinTargetResolved(tool.call_id, tool.target_exec), self.id, turn)
        if tool.name == "exec_command":
            b.exec_runtime(
                self.id, tool.call_id, kind, turn, tool.process_id, tool.status, tool.output
            )
        output: Any = tool.output
        if tool.name == "exec":
            output = b.code_cell(self.id, tool, turn)
        output_type = "custom_tool_call_output" if custom else "function_call_output"
        response_item = {"type": output_type, "call_id": tool.call_id, "output": output}
        result = b.payload(
            "tool_result", {"type": "direct_response", "response_item": response_item}
        )
        b.emit(ev.ToolCallEnded(tool.call_id, tool.status, result), self.id, turn)
        item_id = self.loop_item_id("fco")
        item = (
            {"type": output_type}
            | ({"id": item_id} if item_id else {})
            | {"call_id": tool.call_id, "output": output}
        )
        self.accept(item, turn)

    def compact(self, script: TurnScript, turn: str) -> None:
        b = self.b
        self.last_response = None
        compaction = b.next_id("compaction")
        request_id = b.next_id("compaction_request")
        request = b.payload(
            "compaction_request",
            {"model": "gpt-test", "input": [*self.history, {"type": "compaction_trigger"}]},
        )
        b.emit(
            ev.CompactionRequestStarted(
                compaction, request_id, self.id, turn, "gpt-test", "OpenAI", request
            ),
            self.id,
            turn,
        )
        if script.compaction == "failed":
            b.emit(
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
        b.emit(ev.CompactionRequestCompleted(compaction, request_id, response), self.id, turn)
        users = [i for i in self.history if i.get("role") == "user"]
        replacement = [*users, summary]
        checkpoint = b.payload(
            "compaction_checkpoint",
            {"input_history": self.history[1:], "replacement_history": replacement},
        )
        b.emit(ev.CompactionInstalled(compaction, checkpoint), self.id, turn)
        self.history = [self.history[0], *replacement]

    def spawn(self, child: ChildScript, turn: str) -> None:
        b = self.b
        self.last_response = None
        call_id = b.next_id("call_spawn")
        child_id = f"00000000-0000-4000-8000-{b.ids:012d}"
        child_path = f"{self.path}/{child.task_name}"
        arguments = codec.pretty_bytes(
            {"task_name": child.task_name, "message": child.message}
        ).decode()
        self.history.append(
            {
                "type": "function_call",
                "id": f"fc_{call_id}",
                "name": "spawn_agent",
                "arguments": arguments,
                "call_id": call_id,
            }
        )
        invocation = b.payload(
            "tool_invocation",
            {
                "tool_name": "spawn_agent",
                "tool_namespace": "collaboration",
                "payload": {"type": "function", "arguments": arguments},
            },
        )
        summary = ev.GenericSummary("collaboration.spawn_agent", arguments[:160], None)
        b.emit(
            ev.ToolCallStarted(
                call_id,
                call_id,
                None,
                ev.ModelRequester(),
                ev.ToolCallKind("spawn_agent"),
                summary,
                invocation,
            ),
            self.id,
            turn,
        )
        spawn = {
            "parent_thread_id": self.id,
            "depth": 1,
            "agent_path": child_path,
            "agent_nickname": "Nash",
            "agent_role": None,
        }
        metadata = b.payload(
            "session_metadata",
            {
                "thread_id": child_id,
                "agent_path": child_path,
                "task_name": child.task_name,
                "nickname": "Nash",
                "agent_role": None,
                "session_source": {"subagent": {"thread_spawn": spawn}},
                "cwd": "/tmp",
                "rollout_path": None,
                "model": "gpt-test",
                "provider_name": "test-provider",
                "approval_policy": "never",
                "sandbox_policy": "DangerFullAccess",
            },
        )
        b.emit(ev.ThreadStarted(child_id, child_path, metadata))
        activity = {
            "model": "gpt-test",
            "reasoning_effort": "medium",
            "event_id": call_id,
            "occurred_at_ms": b.clock,
            "agent_thread_id": child_id,
            "agent_path": child_path,
            "kind": "started",
        }
        b.emit(
            ev.ToolCallRuntimeEnded(
                call_id, "completed", b.payload("tool_runtime_event", activity)
            ),
            self.id,
            turn,
        )
        result = {
            "type": "direct_response",
            "response_item": {"type": "function_call_output", "call_id": call_id, "output": "{}"},
        }
        b.emit(
            ev.ToolCallEnded(call_id, "completed", b.payload("tool_result", result)), self.id, turn
        )
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
                content = [
                    {"type": "input_text", "text": "Message Type: NEW_TASK\n"},
                    {"type": "encrypted_content", "encrypted_content": child.message},
                ]
                first = {
                    "type": "agent_message",
                    "id": b.next_id("amsg"),
                    "author": self.path,
                    "recipient": child_path,
                    "content": content,
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
        edge = f"edge:agent_result:{child_id}:{last_turn}:{self.id}"
        b.emit(
            ev.AgentResultObserved(edge, child_id, last_turn, self.id, child.result, carried),
            child_id,
            last_turn,
        )
        b.emit(ev.ThreadEnded(child_id, "completed"))
        delivery = {
            "type": "agent_message",
            "id": b.next_id("amsg"),
            "author": child_path,
            "recipient": self.path,
            "content": [{"type": "input_text", "text": child.result}],
        }
        self.accept(delivery, turn, b.payload("protocol_event", delivery))


def write_bundle(
    script: Script, directory: Path, *, schema: int = 2, capture: bool = False
) -> Path:
    """Write ``script`` as a Codex-shaped bundle of ``schema`` under ``directory`` and return
    its path (``capture``, schema 3: some payloads recorded cut or left out)."""
    bundle_dir = directory / f"trace-trace-1-{ROOT}"
    b = CodexBundle(bundle_dir, script.idless, schema, capture)
    b.emit(ev.RolloutStarted("trace-1", ROOT))
    metadata = b.payload(
        "session_metadata",
        {"thread_id": ROOT, "agent_path": "/root", "session_source": "exec", "model": "gpt-test"},
    )
    b.emit(ev.ThreadStarted(ROOT, "/root", metadata))
    root = _Thread(b, ROOT, "/root")
    for n, turn in enumerate(script.turns):
        root.run_turn(turn, n, None)
    b.emit(ev.ThreadEnded(ROOT, "completed"))
    b.emit(ev.RolloutEnded("completed"))
    b.emit(ev.RecordingCompleted())
    return b.close()
