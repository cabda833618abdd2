"""``error_texts``: why each call of a rollout failed, from Python, as the export's columns say."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from rollout_trace_sdk import ReduceError, error_texts, reduce_bundle
from rollout_trace_sdk.record import open_rollout

from ..conftest import CONFORMANCE, CONFORMANCE_V3


async def _record_failures(root: Path) -> Path:
    """A real recording: a tool that failed with an exception (the text is only in its raw
    result payload) and a model request that failed."""
    async with open_rollout(root, model="m") as rollout, rollout.root.turn() as turn:
        turn.accept({"type": "message", "role": "user", "content": []})
        async with turn.inference({"model": "m", "input": []}) as call:
            call.completed(
                output_items=[
                    {"type": "function_call", "name": "read", "call_id": "c1", "arguments": "{}"}
                ]
            )
        async with turn.tool_call("c1", "read", arguments="{}") as tool:
            try:
                Path("/nonexistent/file").read_text()
            except OSError as exc:
                tool.failed(exc)
        async with turn.inference({"model": "m", "input": []}) as call:
            call.failed("HTTP 500 from the provider")
    assert rollout.bundle_dir is not None
    return rollout.bundle_dir


@pytest.mark.parametrize("schema", ["2", "3"])
def test_a_failed_tool_and_request_say_why(
    schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLLOUT_TRACE_SCHEMA", schema)
    bundle = anyio.run(_record_failures, tmp_path)
    trace = reduce_bundle(bundle)
    texts = error_texts(bundle, trace)
    assert texts.tool_calls == {
        "c1": "FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent/file'"
    }
    (failed,) = [c for c in trace.inference_calls.values() if c.execution.status == "failed"]
    assert texts.inference_calls == {failed.inference_call_id: "HTTP 500 from the provider"}
    assert texts.turns == {} and texts.compaction_requests == {}
    assert error_texts(bundle / "manifest.json") == texts  # reduced here, same answer


@pytest.mark.parametrize("corpus", [CONFORMANCE, CONFORMANCE_V3], ids=["v2", "v3"])
def test_codex_bundles_say_why(corpus: Path) -> None:
    """Codex's own failures: a tool it does not know, a fatal model error, a failed remote
    compaction and the turn it ended."""
    if not corpus.is_dir():
        pytest.skip("no Codex corpus beside the checkout")
    (unknown,) = (corpus / "unknown_tool").glob("trace-*")
    assert error_texts(unknown).tool_calls == {"call_unknown": "unsupported call: no_such_tool"}
    (fatal,) = (corpus / "inference_fatal_error").glob("trace-*")
    texts = error_texts(fatal)
    assert len(texts.inference_calls) == 1 and len(texts.turns) == 1
    (compaction,) = (corpus / "compaction_remote_failed").glob("trace-*")
    texts = error_texts(compaction)
    assert len(texts.compaction_requests) == 1 and len(texts.turns) == 1


def test_no_bundle_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReduceError, match="not a bundle"):
        error_texts(tmp_path / "state.json")
