"""What the ``openai`` integration tests share: a rollout's run on disk, read back."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from openai import OpenAI

from rollout_trace_sdk.integrations import use_turn
from rollout_trace_sdk.integrations.openai import instrument
from rollout_trace_sdk.record import open_rollout

from ..record.recorder_support import bundle_in, of_type, payload

CODEX_USAGE = {
    "input_tokens": 12,
    "cached_input_tokens": 2,
    "cache_write_input_tokens": 0,
    "output_tokens": 7,
    "reasoning_output_tokens": 1,
    "total_tokens": 19,
}


class Run:
    """A rollout with one open turn, and what it left on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def bundle(self) -> Path:
        return bundle_in(self.root)

    def ends(self, kind: str) -> list[dict[str, Any]]:
        return [e["payload"] for e in of_type(self.bundle, f"inference_{kind}")]

    def response(self, end: dict[str, Any]) -> Any:
        ref = end.get("response_payload") or end.get("partial_response_payload")
        return payload(self.bundle, ref)

    def requests(self) -> list[Any]:
        return [
            payload(self.bundle, e["payload"]["request_payload"])
            for e in of_type(self.bundle, "inference_started")
        ]

    def protocol(self, event_type: str) -> list[Any]:
        return [
            payload(self.bundle, e["payload"]["event_payload"])
            for e in of_type(self.bundle, "protocol_event_observed")
            if e["payload"]["event_type"] == event_type
        ]


@contextlib.contextmanager
def closing_client(client: OpenAI) -> Iterator[OpenAI]:
    try:
        yield client
    finally:
        client.close()


def state_text(state: Any) -> str:
    return json.dumps(state)


@contextlib.asynccontextmanager
async def sync_client_in_turn(root: Path, base_url: str) -> AsyncIterator[OpenAI]:
    """An instrumented sync client of the fake API at ``base_url`` whose calls go to the one
    turn of a rollout under ``root`` (made current with ``use_turn``); closed after."""
    with closing_client(
        instrument(OpenAI(base_url=base_url, api_key="test", max_retries=0))
    ) as client:
        async with open_rollout(root, model="gpt-test") as rollout:
            turn = rollout.root.turn()
            with use_turn(turn):
                yield client
            turn.end()
