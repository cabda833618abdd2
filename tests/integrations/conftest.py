"""Fixtures of the OpenAI SDK tests: the fake API on 127.0.0.1 and an instrumented async
client talking to it (the Agents SDK tests have a fake API of their own)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from .fake_openai import FakeOpenAI


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[Any]:
    """An instrumented ``AsyncOpenAI`` (imported here: this directory's other tests run
    without the SDK's async client)."""
    from openai import AsyncOpenAI

    from rollout_trace_sdk.integrations.openai import instrument

    # closed in the test's own event loop: left to the garbage collector, a client made
    # under trio would be closed later by an asyncio test's loop
    async with instrument(
        AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0)
    ) as instrumented:
        yield instrumented
