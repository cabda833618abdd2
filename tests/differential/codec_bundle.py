"""The bundle the script driver (:mod:`.codec_driver`) writes into: a
:class:`rollout_trace_sdk.testing.BundleBuilder` laid out as Codex 0.169 / 0.171 write, with
the tool-call events Codex records for a call (its start with the invocation, a unified-exec
command's runtime begin and end, a code-mode cell and the commands it runs). The driver
decides what happens in a conversation; this module how each tool call looks on disk."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.model import layout
from rollout_trace_sdk.testing import BundleBuilder, Capture

from .script import ToolScript

ROOT = "thread-root"
#: kinds whose payloads may be cut or left out when ``capture`` is on
_CAPTURABLE = frozenset(
    {"inference_request", "inference_response", "tool_invocation", "tool_result", "protocol_event"}
)


class CodexBundle(BundleBuilder):
    """A builder laid out as Codex writes (rollout id = root thread id, a realistic clock),
    plus the counters the script driver needs. With ``capture`` (schema 3), some payloads
    are recorded cut or left out, chosen by a hash of their bytes so that one script always
    gives the same bundle."""

    def __init__(
        self, directory: Path, idless: bool, schema: int = 2, capture: bool = False
    ) -> None:
        super().__init__(
            directory,
            schema=schema,
            rollout_id=ROOT,
            root_thread_id=ROOT,
            started_at=1_700_000_000_000,
            autoflush=False,
        )
        self.dir = directory
        self.idless = idless
        self.v3 = schema == 3
        self.capture = capture
        self.ids = 0
        self.started_execs: set[str] = set()
        self.cells = 0

    def next_id(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}_{self.ids}"

    def payload(
        self, kind: ev.PayloadKind, value: Any, *, capture: Capture | None = None
    ) -> ev.RawPayloadRef:
        if capture is None and self.capture and kind in _CAPTURABLE:
            choice = zlib.crc32(layout.compact_json(value)) % 9
            if choice == 0:
                capture = "omitted"
            elif choice == 1 and b"data:image" not in layout.compact_json(value):
                capture = "truncated"
        return super().payload(kind, value, capture=capture)

    def emit(
        self, payload: ev.EventPayload, thread: str | None = None, turn: str | None = None
    ) -> None:
        self.event(payload, thread=thread, turn=turn)

    def tool_started(
        self,
        thread: str,
        tool_call_id: str,
        name: str,
        arguments: str,
        turn: str,
        *,
        custom: bool,
        cell: str | None = None,
        runtime_tool_id: str | None = None,
    ) -> ev.ToolCallKind:
        invocation = self.payload(
            "tool_invocation",
            {
                "tool_name": name,
                "tool_namespace": None,
                "payload": {"type": "custom", "input": arguments}
                if custom
                else {"type": "function", "arguments": arguments},
            },
        )
        kind = {
            "exec_command": ev.ToolCallKind("exec_command"),
            "write_stdin": ev.ToolCallKind("write_stdin"),
            "apply_patch": ev.ToolCallKind("apply_patch"),
        }.get(name, ev.ToolCallKind.other(name))
        preview = arguments if len(arguments) <= 160 else arguments[:160] + "..."
        requester: ev.ToolCallRequester = (
            ev.ModelRequester() if cell is None else ev.CodeCellRequester(cell)
        )
        visible = tool_call_id if cell is None else None
        self.emit(
            ev.ToolCallStarted(
                tool_call_id,
                visible,
                runtime_tool_id,
                requester,
                kind,
                ev.GenericSummary(name, preview, None),
                invocation,
            ),
            thread,
            turn,
        )
        return kind

    def exec_runtime(
        self,
        thread: str,
        tool_call_id: str,
        kind: ev.ToolCallKind,
        turn: str,
        process_id: str | None,
        status: ev.ExecutionStatus,
        output: str,
    ) -> None:
        self.started_execs.add(tool_call_id)
        begin: dict[str, Any] = {"call_id": tool_call_id}
        if process_id is not None:
            begin["process_id"] = process_id
        begin.update(
            {
                "turn_id": turn,
                "started_at_ms": self.clock,
                "command": ["/bin/bash", "-lc", "echo"],
                "cwd": "/tmp",
                "parsed_cmd": [],
                "source": "unified_exec_startup",
            }
        )
        self.emit(
            ev.ToolCallRuntimeStarted(
                tool_call_id, kind, self.payload("tool_runtime_event", begin)
            ),
            thread,
            turn,
        )
        end = dict(begin)
        end.pop("started_at_ms")
        end["completed_at_ms"] = self.clock
        end.update(
            {
                "aggregated_output": output,
                "exit_code": 0 if status == "completed" else 1,
                "duration": {"secs": 0, "nanos": 5000},
                "status": status,
            }
        )
        self.emit(
            ev.ToolCallRuntimeEnded(tool_call_id, status, self.payload("tool_runtime_event", end)),
            thread,
            turn,
        )

    def code_cell(self, thread: str, tool: ToolScript, turn: str) -> list[dict[str, Any]]:
        self.cells += 1
        cell = str(self.cells)
        self.emit(ev.CodeCellStarted(cell, tool.call_id, tool.arguments), thread, turn)
        texts = []
        for k in range(tool.nested):
            nested_id = self.next_id("exec")
            kind = self.tool_started(
                thread,
                nested_id,
                "exec_command",
                f'{{"cmd":"echo {k}"}}',
                turn,
                custom=False,
                cell=cell,
                runtime_tool_id=f"tool-{k + 1}",
            )
            self.exec_runtime(
                thread, nested_id, kind, turn, str(5000 + self.ids), "completed", f"{k}\n"
            )
            value = {
                "chunk_id": "abc",
                "wall_time_seconds": 6.087e-6,
                "exit_code": 0,
                "original_token_count": 1,
                "output": f"{k}\n",
            }
            result = self.payload("tool_result", {"type": "code_mode_response", "value": value})
            self.emit(ev.ToolCallEnded(nested_id, "completed", result), thread, turn)
            texts.append({"type": "input_text", "text": f"{k}\n"})
        if tool.yielded:
            response: dict[str, Any] = {"Yielded": {"cell_id": cell, "content_items": texts}}
            self.emit(
                ev.CodeCellInitialResponse(
                    cell, "yielded", self.payload("tool_result", {"response": response})
                ),
                thread,
                turn,
            )
            return [{"type": "input_text", "text": "Script running\n"}, *texts]
        failed = tool.status == "failed"
        response = {
            "Result": {
                "cell_id": cell,
                "content_items": texts,
                "error_text": "boom" if failed else None,
            }
        }
        status: ev.CodeCellRuntimeStatus = "failed" if failed else "completed"
        self.emit(
            ev.CodeCellInitialResponse(
                cell, status, self.payload("tool_result", {"response": response})
            ),
            thread,
            turn,
        )
        self.emit(
            ev.CodeCellEnded(cell, status, self.payload("tool_result", {"response": response})),
            thread,
            turn,
        )
        return [{"type": "input_text", "text": "Script completed\n"}, *texts]
