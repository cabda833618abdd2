"""Reducer scenarios: :class:`rollout_trace_sdk.testing.BundleBuilder` plus the few steps
every reducer test repeats, and a reduction that is checked against Codex whenever the oracle
for the bundle's schema is on this machine.

Independent of the recorder on purpose: these tests pin the reducer's rules, so the bundles
must say exactly what a test means, including things no well-behaved recorder would write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.model.state import state_bytes
from rollout_trace_sdk.reduce import ReduceError, reduce_bundle
from rollout_trace_sdk.testing import BundleBuilder, reduce_and_compare

from ..codex_oracle import codex_bin

ROOT = "thread-root"
TURN = "turn-1"
MODEL = "gpt-test"
PROVIDER = "test-provider"


def message(role: str, text: str, item_id: str | None = None, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "message", "role": role}
    if item_id is not None:
        item["id"] = item_id
    item["content"] = [{"type": "input_text", "text": text}]
    item.update(extra)
    return item


def request(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "input": list(items), **extra}


def response(*items: dict[str, Any], usage: dict[str, int] | None = None) -> dict[str, Any]:
    return {"response_id": None, "token_usage": usage, "output_items": list(items)}


def agent_message(
    item_id: str,
    text: str,
    *,
    author: str = "/root",
    recipient: str = "/root/worker",
    encrypted: str | None = None,
) -> dict[str, Any]:
    """An agent message item (what one agent sent another), as a request or a receipt lists it."""
    content: list[dict[str, Any]] = [{"type": "input_text", "text": text}]
    if encrypted is not None:
        content.append({"type": "encrypted_content", "encrypted_content": encrypted})
    return {
        "type": "agent_message",
        "id": item_id,
        "author": author,
        "recipient": recipient,
        "content": content,
    }


def start_tool(
    bundle: Scenario,
    call_id: str,
    kind: ev.ToolCallKind,
    name: str,
    arguments: str = "{}",
    *,
    invocation: bool = True,
) -> None:
    """A tool call the model asked for (``tool_call_started``), with its invocation payload
    unless ``invocation`` is false."""
    ref = None
    if invocation:
        ref = bundle.payload(
            "tool_invocation",
            {
                "tool_name": name,
                "tool_namespace": None,
                "payload": {"type": "function", "arguments": arguments},
            },
        )
    bundle.event(
        ev.ToolCallStarted(
            call_id,
            call_id,
            None,
            ev.ModelRequester(),
            kind,
            ev.GenericSummary(name, arguments),
            ref,
        ),
        thread=ROOT,
        turn=TURN,
    )


class Scenario(BundleBuilder):
    """A schema-2 bundle of rollout ``rollout-1`` (seq 1, 2, …; wall times 1001, 1002, …),
    written through to disk after every event so a test may reduce it at any point."""

    def __init__(self, root: Path, *, schema: int = 2) -> None:
        super().__init__(root, schema=schema, rollout_id="rollout-1", root_thread_id=ROOT)

    def infer_raw(self, call_id: str, request_text: str) -> None:
        ref = self.raw_payload("inference_request", request_text)
        self.event(
            ev.InferenceStarted(call_id, ROOT, TURN, MODEL, PROVIDER, ref), thread=ROOT, turn=TURN
        )

    # --- conveniences -----------------------------------------------------------------------

    def start_thread(
        self,
        thread_id: str = ROOT,
        agent_path: str = "/root",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        ref = None if metadata is None else self.payload("session_metadata", metadata)
        self.event(ev.ThreadStarted(thread_id, agent_path, ref))

    def start_turn(self, turn_id: str = TURN, thread_id: str = ROOT) -> None:
        self.event(ev.CodexTurnStarted(turn_id, thread_id), thread=thread_id, turn=turn_id)

    def end_turn(
        self, status: ev.ExecutionStatus = "completed", turn_id: str = TURN, thread_id: str = ROOT
    ) -> None:
        self.event(ev.CodexTurnEnded(turn_id, status), thread=thread_id, turn=turn_id)

    def begin(self) -> None:
        self.event(ev.RolloutStarted("trace-1", ROOT))
        self.start_thread()
        self.start_turn()

    def infer(
        self,
        call_id: str,
        req: dict[str, Any],
        resp: dict[str, Any] | None = None,
        *,
        response_id: str | None = None,
        thread_id: str = ROOT,
        turn_id: str = TURN,
    ) -> None:
        ref = self.payload("inference_request", req)
        self.event(
            ev.InferenceStarted(call_id, thread_id, turn_id, MODEL, PROVIDER, ref),
            thread=thread_id,
            turn=turn_id,
        )
        if resp is not None:
            self.complete(
                call_id, resp, response_id=response_id, thread_id=thread_id, turn_id=turn_id
            )

    def complete(
        self,
        call_id: str,
        resp: dict[str, Any],
        *,
        response_id: str | None = None,
        thread_id: str = ROOT,
        turn_id: str = TURN,
    ) -> None:
        ref = self.payload("inference_response", resp)
        self.event(
            ev.InferenceCompleted(call_id, response_id, None, ref), thread=thread_id, turn=turn_id
        )

    def accept(
        self,
        item_id: str,
        *,
        thread_id: str | None = ROOT,
        turn_id: str | None = TURN,
        receipt: dict[str, Any] | None = None,
    ) -> None:
        ref = None if receipt is None else self.payload("protocol_event", receipt)
        self.event(ev.HistoryItemAccepted(item_id, ref), thread=thread_id, turn=turn_id)

    def finish(self) -> None:
        self.event(ev.RolloutEnded("completed"))
        self.event(ev.RecordingCompleted())

    # --- reducing ---------------------------------------------------------------------------

    def reduce(self) -> dict[str, Any]:
        """Our state, after checking that Codex writes the same bytes (when it is here)."""
        binary = codex_bin(self.schema)
        if binary is None:
            return dict(orjson.loads(state_bytes(reduce_bundle(self.flush()))))
        result = reduce_and_compare(self.flush(), binary, timeout=60)
        assert result.ours is not None, result.explain()
        assert result.same, result.explain()
        return dict(orjson.loads(result.ours))

    def reduce_error(self) -> ReduceError:
        """Our refusal, after checking that Codex refuses with the same message."""
        binary = codex_bin(self.schema)
        if binary is None:
            try:
                reduce_bundle(self.flush())
            except ReduceError as exc:
                return exc
            raise AssertionError("reduction unexpectedly succeeded")
        result = reduce_and_compare(self.flush(), binary, timeout=60)
        assert result.error is not None, "reduction unexpectedly succeeded"
        assert result.same_text, result.explain()
        return result.error
