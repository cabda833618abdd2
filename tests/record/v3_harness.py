"""A small schema-3 bundle writer for tests and benchmarks: the manifest and ``trace.jsonl``
lines through the codec, payloads through :class:`ShardPlan` / :class:`ShardSink` and
:class:`ItemStore`. It stands in for the recorder (which is being reworked elsewhere), so
the storage modules can be checked against both reducers on their own."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson

from rollout_trace_sdk.model import codec
from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.record._deferred import LazyBody
from rollout_trace_sdk.record._item_store import ItemStore, RequestRefs
from rollout_trace_sdk.record._shard_plan import CaptureLimits, ShardPlan, ShardRecord, is_cut
from rollout_trace_sdk.record._shards import ShardSink

ROOT = "thread-root"
V3 = 3


class V3Bundle:
    """Writes one schema-3 bundle; ``flush`` hands queued records to the sink (as the
    writer's worker thread would), ``close`` seals and finishes the log."""

    def __init__(
        self,
        directory: Path,
        *,
        limits: CaptureLimits | None = None,
        rotate_bytes: int | None = None,
        incremental: bool = True,
        content_value_min_chars: int | None = None,
    ) -> None:
        self.dir = directory
        (directory / "payloads").mkdir(parents=True)
        self.plan = (
            ShardPlan(limits)
            if rotate_bytes is None
            else ShardPlan(limits, rotate_bytes=rotate_bytes)
        )
        self.sink = ShardSink(directory / "payloads")
        kwargs: dict[str, Any] = {"incremental": incremental}
        if content_value_min_chars is not None:
            kwargs["content_value_min_chars"] = content_value_min_chars
        if limits is not None:
            kwargs["max_payload_bytes"] = limits.max_payload_bytes
        self.store = ItemStore(self.put, **kwargs)
        self.queue: list[ShardRecord] = []
        self.lines: list[bytes] = []
        self.clock = 1_700_000_000_000
        manifest = ev.Manifest(V3, "trace-1", ROOT, ROOT, self.clock)
        (directory / "manifest.json").write_bytes(codec.manifest_bytes(manifest))
        self.log = (directory / "trace.jsonl").open("wb")

    def put(
        self, kind: ev.PayloadKind, body: bytes | LazyBody, parts: tuple[ev.RawPayloadRef, ...] = ()
    ) -> ev.RawPayloadRef:
        ref, record = self.plan.place(kind, body, parts)
        if record is not None:
            self.queue.append(record)
            if is_cut(record[0]):
                # a body to be cut: the sink settles its retained size, which the lines
                # citing it carry (the writer writes such records before encoding lines)
                self.sink.write(self.queue)
                self.queue.clear()
        return ref

    def payload(self, kind: ev.PayloadKind, value: Any) -> ev.RawPayloadRef:
        return self.put(kind, orjson.dumps(value))

    def event(
        self, payload: ev.EventPayload, thread: str | None = None, turn: str | None = None
    ) -> None:
        self.clock += 1
        started = time.process_time_ns()
        event = ev.TraceEvent(V3, len(self.lines) + 1, self.clock, ROOT, thread, turn, payload)
        line = codec.event_line(event, V3)
        self.encode_ns += time.process_time_ns() - started
        self.plan.charge(len(line))
        self.lines.append(line)

    def flush(self) -> None:
        """Payload records first, then the lines that cite them (the writer's invariant)."""
        self.sink.write(self.queue)
        self.queue.clear()
        self.sink.seal_below(self.plan.current_shard)  # nothing earlier is queued now
        self.log.write(b"".join(self.lines[self._written :]))
        self._written = len(self.lines)

    _written = 0
    #: CPU spent turning events into lines (the codec here; the writer has its own encoder)
    encode_ns = 0

    def close(self, *, complete: bool = True) -> None:
        if complete:
            self.event(ev.RecordingCompleted())
        self.flush()
        self.sink.seal()
        self.log.close()


class Conversation:
    """One agent loop on the root thread: turns, inferences that resend the history, tool
    calls whose outputs are accepted into history. Items carry ids (as the recorder gives)."""

    def __init__(self, bundle: V3Bundle) -> None:
        self.b = bundle
        self.history: list[dict[str, Any]] = [
            {
                "type": "message",
                "id": "msg_dev",
                "role": "developer",
                "content": [{"type": "input_text", "text": "be brief"}],
            }
        ]
        self.n = 0
        self.turn = ""
        self.last: RequestRefs | None = None
        b = bundle
        b.event(ev.RolloutStarted("trace-1", ROOT))
        meta = b.payload("session_metadata", {"thread_id": ROOT, "model": "gpt-test"})
        b.event(ev.ThreadStarted(ROOT, "/root", meta))

    def next_id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}_{self.n}"

    def start_turn(self, text: str, image: str | None = None) -> None:
        self.turn = self.next_id("turn")
        self.b.event(ev.CodexTurnStarted(self.turn, ROOT), ROOT, self.turn)
        content: list[dict[str, Any]] = [{"type": "input_text", "text": text}]
        if image is not None:
            content.append({"type": "input_image", "image_url": image, "detail": "original"})
        user_id = self.next_id("msg")
        user = {"type": "message", "id": user_id, "role": "user", "content": content}
        self.history.append(user)
        self.b.event(ev.HistoryItemAcceptedV3(user_id), ROOT, self.turn)

    def end_turn(self) -> None:
        self.b.event(ev.CodexTurnEnded(self.turn, "completed"), ROOT, self.turn)

    def infer(
        self,
        items: list[dict[str, Any]] | None = None,
        *,
        text: str = "ok",
        call_tool: str | None = None,
        response_id: str | bool | None = True,
        tools: list[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """One inference over ``items`` (default: the history); returns its output items,
        appended to the history."""
        b = self.b
        call = self.next_id("inference")
        body: dict[str, Any] = {"model": "gpt-test", "tools": tools or [], "input": None}
        sent = self.history if items is None else items
        refs = b.store.request(ROOT, body, sent)
        b.event(
            ev.InferenceStartedV3(
                call, ROOT, self.turn, "gpt-test", "test", refs.request, refs.prompt
            ),
            ROOT,
            self.turn,
        )
        output: list[dict[str, Any]] = [
            {
                "type": "message",
                "id": self.next_id("msg"),
                "role": "assistant",
                "content": [{"type": "output_text", "text": text}],
            }
        ]
        if call_tool is not None:
            output.append(
                {
                    "type": "function_call",
                    "id": self.next_id("fc"),
                    "name": "exec_command",
                    "arguments": orjson.dumps({"cmd": call_tool}).decode(),
                    "call_id": self.next_id("call"),
                }
            )
        rid = self.next_id("resp") if response_id is True else response_id or None
        response = {
            "response_id": rid,
            "upstream_request_id": None,
            "token_usage": None,
            "output_items": None,
        }
        ref = b.store.response(ROOT, response, output, request=refs)
        b.event(ev.InferenceCompleted(call, rid, None, ref), ROOT, self.turn)
        for item in output:
            self.history.append(item)
            b.event(ev.HistoryItemAcceptedV3(item["id"]), ROOT, self.turn)
        return output

    def tool(self, call: dict[str, Any], output: str) -> dict[str, Any]:
        """Run the function call ``call``: tool events, then its output accepted into history
        with the output item as ``tool_output_payload`` (stored once, as a model item)."""
        b = self.b
        call_id = call["call_id"]
        invocation = b.payload("tool_invocation", {"tool_name": "exec_command"})
        b.event(
            ev.ToolCallStarted(
                call_id,
                call_id,
                None,
                ev.ModelRequester(),
                ev.ToolCallKind("exec_command"),
                ev.GenericSummary("exec_command", None),
                invocation,
            ),
            ROOT,
            self.turn,
        )
        item = {
            "type": "function_call_output",
            "id": self.next_id("fco"),
            "call_id": call_id,
            "output": output,
        }
        result = b.payload("tool_result", {"type": "direct_response", "response_item": item})
        b.event(ev.ToolCallEnded(call_id, "completed", result), ROOT, self.turn)
        self.history.append(item)
        accepted = ev.HistoryItemAcceptedV3(item["id"], None, b.store.item(item))
        b.event(accepted, ROOT, self.turn)
        return item

    def finish(self, *, complete: bool = True) -> None:
        b = self.b
        b.event(ev.ThreadEnded(ROOT, "completed"))
        b.event(ev.RolloutEnded("completed"))
        b.close(complete=complete)
