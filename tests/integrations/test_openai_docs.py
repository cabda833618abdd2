"""The pages' ``instrument`` blocks (README.md, docs/integrations.md) run as written against the
fake API: tests/test_docs.py runs the blocks that need no model, and names this module for
these two."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openai")

from rollout_trace_sdk.record import RecorderWarning

from ..doc_blocks import block_program, python_blocks
from ..record.recorder_support import check_bundle, of_type
from .fake_openai import FakeOpenAI

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("page", ["README.md", "integrations.md"])
async def test_the_docs_blocks_run(
    page: str, fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each block, its client named the fake API by the SDK's own environment variables,
    records one inference call, in a bundle both reducers take."""
    block = python_blocks()[f"{page}: from openai import AsyncOpenAI"]
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"tools": [], "get_weather": lambda city: "rain"}
    after = "\nawait main()" if "async def main" in block else ""
    run = block_program(block, namespace, after=after)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        await run()
    await namespace["block_locals"]["client"].close()
    assert not [str(w.message) for w in said if issubclass(w.category, RecorderWarning)]
    (bundle,) = (tmp_path / "traces").iterdir()
    assert len(of_type(bundle, "inference_completed")) == 1
    check_bundle(bundle)
