"""The OTLP export end to end: spans sent to a real receiver on 127.0.0.1 and read back.

The receiver is Arize Phoenix (``phoenix serve``), an OpenTelemetry trace store from PyPI that
accepts OTLP/HTTP at ``/v1/traces`` and answers span queries over REST. It is large, so it
lives in its own virtual environment: scripts/test.sh installs it once into the cache next to
the Codex oracles (``$ROLLOUT_TRACE_CACHE/phoenix-VERSION``, ``PHOENIX_BIN`` overrides), and
the module skips, saying so, only when that install is missing. One server is started for the
module, in a temporary working directory, on free ports, and stopped at the end.

Phoenix keeps the attributes as sent (and adds its own OpenInference ones, derived from the
``gen_ai.*`` ones) but not span links, so links are checked in test_otlp.py's OTLP/JSON file.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.export.otlp import otlp_trace
from rollout_trace_sdk.view.load import load_state

from ..conftest import PLANTED_ERROR

_CACHE = Path(os.environ.get("ROLLOUT_TRACE_CACHE", Path.home() / ".cache" / "rollout-trace-sdk"))
#: All on one pytest-xdist worker (scripts/test.sh runs two): one Phoenix server, 10-20 s to
#: start, serves the module, not one on each worker.
pytestmark = pytest.mark.xdist_group("phoenix")
#: How long Phoenix may take to start (it migrates a new database first; slow on a busy machine).
_START_S = 300
#: How long ingestion may take before the spans are readable (Phoenix inserts in batches).
_INGEST_S = 60


def _phoenix_bin() -> Path | None:
    if os.environ.get("PHOENIX_BIN"):
        return Path(os.environ["PHOENIX_BIN"])
    found = sorted(_CACHE.glob("phoenix-*/.installed"))  # scripts/test.sh's mark of a whole install
    if found:
        return found[-1].parent / "bin" / "phoenix"
    which = shutil.which("phoenix")
    return Path(which) if which else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return orjson.loads(response.read())


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Phoenix server on 127.0.0.1; yields its base URL."""
    binary = _phoenix_bin()
    if binary is None or not binary.exists():
        pytest.skip(
            "Arize Phoenix (the OTLP receiver) is not installed: scripts/test.sh installs it "
            f"into {_CACHE}/phoenix-VERSION, or set PHOENIX_BIN"
        )
    work = tmp_path_factory.mktemp("phoenix")
    port = _free_port()
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(work),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(_free_port()),
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log = (work / "phoenix.log").open("wb")
    process = subprocess.Popen(
        [str(binary), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + _START_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"phoenix serve exited {process.returncode}: {_tail(work)}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"phoenix serve not up after {_START_S} s: {_tail(work)}")
            time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _tail(work: Path) -> str:
    return (work / "phoenix.log").read_text(errors="replace")[-3000:]


def _spans(base: str, project: str, expected: int) -> list[dict[str, Any]]:
    """A project's spans, once ``expected`` of them are stored (or what is there at the
    deadline, for the caller's assertion to show)."""
    deadline = time.monotonic() + _INGEST_S
    while True:
        spans: list[dict[str, Any]] = []
        cursor = ""
        try:
            while True:
                page = _get(f"{base}/v1/projects/{project}/spans?limit=1000{cursor}")
                spans.extend(page["data"])
                if not page.get("next_cursor"):
                    break
                cursor = f"&cursor={page['next_cursor']}"
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # 404: the project does not exist until its first span
                raise
        if len(spans) >= expected or time.monotonic() > deadline:
            return spans
        time.sleep(0.5)


def _export(source: Path, base: str, project: str, *extra: str) -> str:
    """Run the CLI against Phoenix; the project is chosen through the resource, as a user
    would with ``OTEL_RESOURCE_ATTRIBUTES``."""
    out, err = io.StringIO(), io.StringIO()
    previous = os.environ.get("OTEL_RESOURCE_ATTRIBUTES")
    os.environ["OTEL_RESOURCE_ATTRIBUTES"] = f"openinference.project.name={project}"
    try:
        argv = ["export", "--format", "otlp", str(source), "--endpoint", base, *extra]
        code = main(argv, out=out, err=err)
    finally:
        if previous is None:
            del os.environ["OTEL_RESOURCE_ATTRIBUTES"]
        else:
            os.environ["OTEL_RESOURCE_ATTRIBUTES"] = previous
    assert code == 0, err.getvalue()
    return out.getvalue()


def _ms(stamp: str) -> int:
    return round(datetime.fromisoformat(stamp).timestamp() * 1000)


def test_demo_round_trip(phoenix: str, demo_bundle: Path) -> None:
    state = load_state(demo_bundle)
    mapped = otlp_trace(state)
    said = _export(demo_bundle, phoenix, "refs")
    assert said.startswith(f"{len(mapped.spans)} spans, 1 trace -> {phoenix}/v1/traces")
    stored = _spans(phoenix, "refs", len(mapped.spans))
    assert len(stored) == len(mapped.spans)
    by_id = {s["context"]["span_id"]: s for s in stored}
    for span in mapped.spans:
        got = by_id[f"{span.span_id:016x}"]
        assert got["context"]["trace_id"] == f"{mapped.trace_id:032x}"
        assert got["name"] == span.name
        assert got["parent_id"] == (f"{span.parent_id:016x}" if span.parent_id else None)
        assert _ms(got["start_time"]) * 1_000_000 == span.start_ns
        assert _ms(got["end_time"]) * 1_000_000 == span.end_ns
        assert got["status_code"] == "UNSET"
        for key, value in span.attributes.items():
            assert got["attributes"][key] == value, (span.name, key)
    # Phoenix read the GenAI conventions: agents, model calls and tools are typed as such.
    kinds = {s["name"].split(" ")[0]: s["span_kind"] for s in stored}
    assert kinds["invoke_agent"] == "AGENT"
    assert kinds["chat"] == "LLM"
    assert kinds["execute_tool"] == "TOOL"
    usage = [s["attributes"].get("gen_ai.usage.input_tokens") for s in stored]
    assert sum(u for u in usage if u) == sum(
        c["usage"]["input_tokens"] for c in state["inference_calls"].values()
    )


def test_reexport_keeps_one_copy(phoenix: str, demo_state: Any, tmp_path: Path) -> None:
    """The same rollout sent again (same ids) is not stored twice. To know the second send
    has been ingested, another trace follows it and the count waits for that one. (Span ids
    are global in Phoenix, so this test's rollouts get trace ids of their own.)"""
    again = _renamed(demo_state, tmp_path / "again.json", "again")
    spans = len(otlp_trace(orjson.loads(again.read_bytes())).spans)
    _export(again, phoenix, "again")
    assert len(_spans(phoenix, "again", spans)) == spans
    _export(again, phoenix, "again")
    _export(_renamed(demo_state, tmp_path / "sentinel.json", "sentinel"), phoenix, "again")
    stored = _spans(phoenix, "again", 2 * spans)
    assert len(stored) == 2 * spans
    assert len({s["context"]["span_id"] for s in stored}) == 2 * spans


def _renamed(state: Any, target: Path, name: str) -> Path:
    """A copy of a state under a new trace id, so its spans are new to the receiver."""
    state = dict(state, trace_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"otlp-phoenix-{name}")))
    target.write_bytes(orjson.dumps(state))
    return target


def test_inlined_failure_round_trip(phoenix: str, failing_state: Path, tmp_path: Path) -> None:
    """A failed tool call arrives as an ERROR span with its error text; inlined content too.
    (The failing state is the demo's, edited: a new trace id keeps its spans apart.)"""
    source = _renamed(orjson.loads(failing_state.read_bytes()), tmp_path / "s.json", "failing")
    state = orjson.loads(source.read_bytes())
    mapped = otlp_trace(state, inline=True)
    _export(source, phoenix, "inline", "--inline-payloads")
    stored = _spans(phoenix, "inline", len(mapped.spans))
    assert len(stored) == len(mapped.spans)
    errors = [s for s in stored if s["status_code"] == "ERROR"]
    assert [s["attributes"]["gen_ai.tool.call.id"] for s in errors] == ["call_0_sum"]
    assert errors[0]["status_message"] == PLANTED_ERROR
    tools = [s for s in stored if s["name"].startswith("execute_tool")]
    assert all("gen_ai.tool.call.arguments" in s["attributes"] for s in tools)
    chats = [
        s
        for s in stored
        if s["name"].startswith("chat") and "gen_ai.input.messages" in s["attributes"]
    ]
    assert len(chats) == len(state["inference_calls"])


def test_guardrails_are_guardrail_spans_under_their_turn(phoenix: str, tmp_path: Path) -> None:
    """An Agents SDK guardrail arrives as a span of Phoenix's GUARDRAIL kind in its turn's
    tree, the one that tripped ERROR with the span's error (user49: Phoenix showed none)."""
    import anyio

    from .test_tables_guardrails import TRIPPED, record_guardrails

    bundle, _, turn_id = anyio.run(record_guardrails, tmp_path)
    mapped = otlp_trace(load_state(bundle))
    _export(bundle, phoenix, "guardrails")
    stored = _spans(phoenix, "guardrails", len(mapped.spans))
    assert len(stored) == len(mapped.spans)
    [turn] = [s for s in stored if s["name"] == "turn"]
    guards = {s["name"]: s for s in stored if s["name"].startswith("guardrail ")}
    assert {n: s["span_kind"] for n, s in guards.items()} == {
        "guardrail no_secrets": "GUARDRAIL",
        "guardrail rude": "GUARDRAIL",
    }
    assert {s["parent_id"] for s in guards.values()} == {turn["context"]["span_id"]}
    tripped = guards["guardrail rude"]
    assert (tripped["status_code"], tripped["status_message"]) == ("ERROR", TRIPPED)
    assert guards["guardrail no_secrets"]["status_code"] == "UNSET"
    assert turn["attributes"]["rollout_trace.turn_id"] == turn_id


def test_the_rollouts_metadata_arrives_as_the_root_spans_metadata(
    phoenix: str, tmp_path: Path
) -> None:
    """Phoenix stores the workflow span's OpenInference ``metadata`` (its spans table's
    metadata column, which its filters read): the rollout's episode and reward."""
    import anyio

    from rollout_trace_sdk.record import open_rollout

    async def record() -> Path:
        async with open_rollout(tmp_path, model="m", metadata={"episode": 17}) as rollout:
            rollout.add_metadata(reward=0.5)
        assert rollout.bundle_dir is not None
        return rollout.bundle_dir

    bundle = anyio.run(record)
    mapped = otlp_trace(load_state(bundle))
    _export(bundle, phoenix, "metadata")
    stored = _spans(phoenix, "metadata", len(mapped.spans))
    [root] = [s for s in stored if s["name"] == "invoke_workflow rollout"]
    # Phoenix parses the JSON into its metadata and gives it back flattened
    attributes = root["attributes"]
    stored_metadata = {k[9:]: v for k, v in attributes.items() if k.startswith("metadata.")}
    assert stored_metadata == {"episode": 17, "reward": 0.5}, attributes
