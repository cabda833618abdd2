"""Hand-built bundles for reducer tests: events through our codec, payloads as plain dicts.

Independent of the recorder on purpose: these tests pin the reducer's rules, so the bundles
must say exactly what a test means, including things no well-behaved recorder would write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from rollout_trace_sdk.model import codec
from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.model.state import state_bytes
from rollout_trace_sdk.reduce import ReduceError, reduce_bundle

from ..codex_oracle import codex_bin
from ..codex_oracle import run_codex as run_oracle

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


class BundleBuilder:
    """Appends events with seq 1, 2, … and wall times 1001, 1002, …; payloads numbered in
    write order."""

    def __init__(
        self,
        root: Path,
        *,
        trace_id: str = "trace-1",
        rollout_id: str = "rollout-1",
        root_thread_id: str = ROOT,
    ) -> None:
        self.root = root
        self.rollout_id = rollout_id
        (root / "payloads").mkdir(parents=True, exist_ok=True)
        manifest = ev.Manifest(2, trace_id, rollout_id, root_thread_id, 1000)
        (root / "manifest.json").write_bytes(codec.manifest_bytes(manifest))
        self._lines: list[bytes] = []
        self._payloads = 0
        self.clock = 1000

    # --- raw writing ------------------------------------------------------------------------

    def payload(self, kind: ev.PayloadKind, value: Any) -> ev.RawPayloadRef:
        self._payloads += 1
        path = f"payloads/{self._payloads}.json"
        (self.root / path).write_bytes(codec.pretty_bytes(value))
        return ev.RawPayloadRef(f"raw_payload:{self._payloads}", kind, path)

    def raw_payload(self, kind: ev.PayloadKind, text: str) -> ev.RawPayloadRef:
        """A payload file written verbatim (number spellings, invalid JSON, ...)."""
        self._payloads += 1
        path = f"payloads/{self._payloads}.json"
        (self.root / path).write_text(text, encoding="utf-8")
        return ev.RawPayloadRef(f"raw_payload:{self._payloads}", kind, path)

    def infer_raw(self, call_id: str, request_text: str) -> None:
        ref = self.raw_payload("inference_request", request_text)
        self.event(
            ev.InferenceStarted(call_id, ROOT, TURN, MODEL, PROVIDER, ref), thread=ROOT, turn=TURN
        )

    def event(
        self, payload: ev.EventPayload, *, thread: str | None = None, turn: str | None = None
    ) -> int:
        self.clock += 1
        seq = len(self._lines) + 1
        event = ev.TraceEvent(2, seq, self.clock, self.rollout_id, thread, turn, payload)
        self._lines.append(codec.event_line(event))
        (self.root / "trace.jsonl").write_bytes(b"".join(self._lines))
        return seq

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
        state: dict[str, Any] = orjson.loads(state_bytes(reduce_bundle(self.root)))
        check_against_codex(self.root, state=state)
        return state

    def reduce_error(self) -> ReduceError:
        try:
            reduce_bundle(self.root)
        except ReduceError as exc:
            check_against_codex(self.root, error=exc)
            return exc
        raise AssertionError("reduction unexpectedly succeeded")


def codex_binary() -> str | None:
    return codex_bin(2)


def run_codex(bundle: Path) -> tuple[bytes | None, str]:
    """Codex's state bytes (or None) and its stderr for a bundle."""
    out = bundle.parent / f"{bundle.name}.codex-state.json"
    done = run_oracle(bundle, out, timeout=60)
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        return None, stderr
    data = out.read_bytes()
    out.unlink()
    return data, stderr


def check_against_codex(
    bundle: Path, *, state: dict[str, Any] | None = None, error: ReduceError | None = None
) -> None:
    """When the Codex binary is around, our outcome must be Codex's, byte for byte."""
    if codex_binary() is None:
        return
    codex_state, stderr = run_codex(bundle)
    if state is not None:
        assert codex_state is not None, f"Codex failed where we succeeded:\n{stderr}"
        assert orjson.loads(codex_state) == state
    if error is not None:
        assert codex_state is None, "Codex succeeded where we failed"
        assert error.codex_text() in stderr, stderr
