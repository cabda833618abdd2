"""The OTLP export as a command: its OTLP/JSON file, several sources, usage errors, receivers that
cannot be reached or answer an error, requests bounded in bytes, the missing extra named, a
capture limit's cut marked, one bad source failing alone (the mapping: test_otlp.py)."""

from __future__ import annotations

import io
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.export.otlp import otlp_trace
from rollout_trace_sdk.export.otlp_names import CONVERSATION
from rollout_trace_sdk.export.otlp_sdk import json_lines, sdk_spans, traces_url
from rollout_trace_sdk.view.load import load_state

from ..conftest import CONFORMANCE_V3, PLANTED_ERROR, needs_conformance_v3
from .tables_util import crash_cut


def test_file_is_otlp_json_and_a_reexport_is_identical(demo_bundle: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for target in (first, second):
        argv = ["export", "--format", "otlp", str(demo_bundle), "-o", str(target)]
        assert main(argv, out=io.StringIO()) == 0
    assert first.read_bytes() == second.read_bytes()
    lines = first.read_bytes().splitlines()
    assert len(lines) == 1
    request = orjson.loads(lines[0])
    (resource_spans,) = request["resourceSpans"]
    resource = {a["key"]: a["value"] for a in resource_spans["resource"]["attributes"]}
    assert resource["service.name"] == {"stringValue": "rollout-trace"}
    (scope_spans,) = resource_spans["scopeSpans"]
    spans = scope_spans["spans"]
    trace = otlp_trace(_state(demo_bundle))
    assert [s["name"] for s in spans] == [s.name for s in trace.spans]
    for written, mapped in zip(spans, trace.spans, strict=True):
        assert written["traceId"] == f"{trace.trace_id:032x}"
        assert written["spanId"] == f"{mapped.span_id:016x}"
        assert written.get("parentSpanId") == (
            f"{mapped.parent_id:016x}" if mapped.parent_id else None
        )
        assert written["kind"] == {"internal": 1, "client": 3}[mapped.kind]
        assert int(written["startTimeUnixNano"]) == mapped.start_ns
        assert [link["spanId"] for link in written.get("links", [])] == [
            f"{link.span_id:016x}" for link in mapped.links
        ]
        keys = {a["key"] for a in written["attributes"]}
        assert keys == set(mapped.attributes)
    root = {a["key"]: a["value"] for a in spans[0]["attributes"]}
    assert root[CONVERSATION] == {"stringValue": _state(demo_bundle)["rollout_id"]}


def _spans_in(lines: Any) -> list[dict[str, Any]]:
    """The spans of OTLP/JSON export requests, one request a line."""
    return [
        span
        for line in lines
        for rs in orjson.loads(line)["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    ]


def _state(bundle: Path) -> Any:

    return load_state(bundle)


def test_several_sources_are_several_traces(demo_bundle: Path, failing_state: Path) -> None:
    target = failing_state.parent / "two.jsonl"
    argv = ["export", "--format", "otlp", str(demo_bundle), str(failing_state), "-o", str(target)]
    err = io.StringIO()
    assert main([*argv, "--inline-payloads"], out=io.StringIO(), err=err) == 0
    assert "payload bodies are in the bundle" in err.getvalue()  # the state file's note
    spans = _spans_in(target.read_bytes().splitlines())
    # the failing state is the demo's state edited, so both traces have the same ids
    assert len(spans) == 2 * len(otlp_trace(_state(demo_bundle)).spans)
    errors = [s for s in spans if s.get("status", {}).get("code") == 2]
    assert [s["status"]["message"] for s in errors] == [PLANTED_ERROR]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "needs one of --endpoint URL and -o FILE"),
        (
            ["--endpoint", "http://127.0.0.1:9", "-o", "x.jsonl"],
            # "needs one of" told a user who gave both to give one (user32)
            "takes one of --endpoint URL and -o FILE, not both",
        ),
    ],
)
def test_usage_errors(demo_bundle: Path, extra: list[str], message: str) -> None:
    err = io.StringIO()
    # --endpoint alone chooses the format; without it, name it
    argv = ["export", *([] if extra else ["--format", "otlp"]), str(demo_bundle), *extra]
    assert main(argv, out=io.StringIO(), err=err) == 2
    assert message in err.getvalue()


def test_unreachable_receiver_is_a_clear_error(
    demo_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a port nothing listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2")
        err = io.StringIO()
        argv = ["export", "--format", "otlp", str(demo_bundle)]
        code = main([*argv, "--endpoint", f"http://127.0.0.1:{port}"], out=io.StringIO(), err=err)
    assert code == 1
    assert f"http://127.0.0.1:{port}/v1/traces did not accept spans 1-" in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_an_http_error_the_exporter_raises_is_printed_without_credentials(
    demo_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exporter that lets the HTTP library's error out (opentelemetry-exporter-otlp-proto-
    http 1.27 does, for a refused connection) had it printed as it was: the URL's path with
    the ``?api_key=`` query (found by review). Newer exporters retry it and fail the export
    (the log is masked, see test_otlp_run); either way nothing secret is printed."""
    with socket.socket() as sock:  # a port nothing listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2")
        err = io.StringIO()
        endpoint = f"http://alice:s3cretpw@127.0.0.1:{port}/v1/traces?api_key=k3y-long"
        argv = ["export", "--format", "otlp", str(demo_bundle), "--endpoint", endpoint]
        code = main(argv, out=io.StringIO(), err=err)
    assert code == 1
    printed = err.getvalue()
    assert f"http://***@127.0.0.1:{port}/v1/traces?*** did not accept spans 1-" in printed
    assert "k3y" not in printed and "s3cretpw" not in printed and "Traceback" not in printed


def test_traces_url() -> None:
    assert traces_url("http://127.0.0.1:4318") == "http://127.0.0.1:4318/v1/traces"
    assert traces_url("http://127.0.0.1:4318/") == "http://127.0.0.1:4318/v1/traces"
    assert (
        traces_url("https://x/api/public/otel/v1/traces") == "https://x/api/public/otel/v1/traces"
    )
    # the path goes before a query string, not into it (found by review)
    assert traces_url("http://h:4318?api_key=S") == "http://h:4318/v1/traces?api_key=S"


def test_requests_are_bounded_in_bytes_not_only_in_spans(
    demo_state: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """512 spans of inlined content made one request of ~128 MiB (found by review): a
    request now holds at most ``BATCH_BYTES`` of attribute text (lowered here to the demo's
    size), and every span is sent once."""
    from rollout_trace_sdk.export import otlp_sdk

    monkeypatch.setattr(otlp_sdk, "BATCH_BYTES", 400_000)
    big = "y" * 200_000  # cut to 64 KiB per value
    spans = sdk_spans(otlp_trace(demo_state, inline=True, payload=lambda _: big))
    assert len(spans) < 512, "one request by count"
    lines = list(json_lines(spans))
    assert len(lines) > 3
    assert all(len(line) < 400_000 + 150_000 for line in lines)  # one span may overshoot
    sent = [span["spanId"] for span in _spans_in(lines)]
    assert len(sent) == len(set(sent)) == len(spans)


def test_missing_extra_is_named(demo_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the OpenTelemetry packages the command names the extra to install."""
    for name in ("rollout_trace_sdk.export.otlp_run", "rollout_trace_sdk.export.otlp_sdk"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # import fails
    err = io.StringIO()
    argv = ["export", "--format", "otlp", str(demo_bundle), "-o", "x.jsonl"]
    assert main(argv, out=io.StringIO(), err=err) == 2
    assert "pip install '.[otel]'" in err.getvalue()


def _string_attributes(path: Path) -> list[tuple[str, str, str]]:
    """(span name, key, value) of every string attribute in an OTLP/JSON file."""
    found = []
    for line in path.read_text().splitlines():
        for resource in orjson.loads(line)["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    for a in span["attributes"]:
                        if "stringValue" in a["value"]:
                            found.append((span["name"], a["key"], a["value"]["stringValue"]))
    return found


@needs_conformance_v3
def test_a_payload_a_capture_limit_cut_is_marked_not_sent_as_content(tmp_path: Path) -> None:
    """With --inline-payloads a payload recorded truncated (or a template spliced from such a
    part) was sent as Codex's placeholder, ``{"$trace_unavailable": "raw_payload:4"}``, as if
    it were the body, and a cut text as "[text]" (found by review): the span now says what was
    cut, and no placeholder is sent."""
    [bundle] = (CONFORMANCE_V3 / "capture_payload_limit_exec").glob("trace-*")
    target = tmp_path / "spans.jsonl"
    argv = ["export", "--format", "otlp", str(bundle), "--inline-payloads", "-o", str(target)]
    assert main(argv, out=io.StringIO(), err=io.StringIO()) == 0
    found = _string_attributes(target)
    assert not [f for f in found if "$trace_unavailable" in f[2]]
    capture = {(key, value) for _, key, value in found if key.endswith(".capture")}
    assert capture == {
        ("rollout_trace.payload.request.capture", "recorded truncated"),
        ("rollout_trace.payload.request.capture", "part raw_payload:18 recorded truncated"),
        ("rollout_trace.payload.prompt.capture", "part raw_payload:21 recorded truncated"),
        ("rollout_trace.payload.response.capture", "part raw_payload:23 recorded truncated"),
        ("rollout_trace.payload.result.capture", "recorded truncated"),
    }
    bodies = [key for _, key, _ in found if key.endswith(".body")]
    assert bodies  # the whole payloads are still sent
    said = "[text: raw_payload:23, truncated: 2,048 of 6,092 bytes kept]"
    assert any(said in value for _, key, value in found if key == "gen_ai.output.messages")


@pytest.mark.parametrize("lenient", [[], ["--lenient"]])
def test_a_source_that_cannot_be_read_fails_alone(
    demo_bundle: Path, failing_state: Path, tmp_path: Path, lenient: list[str]
) -> None:
    """One bad bundle among several stopped the whole export: nothing was written or sent,
    and the error did not say which SOURCE it was (found by review, exporting a directory of
    rollouts). The others are exported, the bad one is named with the reducer's error, as
    ``--to`` reports a bundle, and the exit code is 1."""
    broken = tmp_path / "broken"
    shutil.copytree(demo_bundle, broken)
    (broken / "manifest.json").write_text("{ torn")
    target = tmp_path / "spans.jsonl"
    argv = ["export", "--format", "otlp", str(demo_bundle), str(broken), str(failing_state)]
    out, err = io.StringIO(), io.StringIO()
    assert main([*argv, "-o", str(target), *lenient], out=out, err=err) == 1
    assert f"rollout-trace export: read {broken}/manifest.json: " in err.getvalue()
    assert out.getvalue() == f"{target}\n"
    spans = _spans_in(target.read_bytes().splitlines())
    assert len(spans) == 2 * len(otlp_trace(_state(demo_bundle)).spans)
    # nothing to export: nothing written
    assert main([*argv[:3], str(broken), "-o", str(tmp_path / "none.jsonl")], err=err) == 1
    assert not (tmp_path / "none.jsonl").exists()


def test_a_lenient_reduction_is_said_on_the_root_span(demo_bundle: Path, tmp_path: Path) -> None:
    """A receiver shows a rollout without the terminal that exported it: one a crash cut short
    (``--lenient``) read as whole there, the events it skipped said only on stderr (review39;
    the tables' ``rollouts.lenient_notes`` and the page's notice say them). The root span says
    how many were skipped and the first of them; a whole bundle's has neither."""
    whole = tmp_path / "whole.jsonl"
    argv = ["export", "--format", "otlp", str(demo_bundle), "-o", str(whole)]
    assert main(argv, out=io.StringIO(), err=io.StringIO()) == 0
    keys = {a["key"] for a in _spans_in(whole.read_bytes().splitlines())[0]["attributes"]}
    assert not {k for k in keys if "lenient" in k}

    bundle = crash_cut(demo_bundle, tmp_path / "cut")
    target, err = tmp_path / "cut.jsonl", io.StringIO()
    argv = ["export", "--format", "otlp", str(bundle), "--lenient", "-o", str(target)]
    assert main(argv, out=io.StringIO(), err=err) == 0, err.getvalue()
    spans = _spans_in(target.read_bytes().splitlines())
    root = {a["key"]: a["value"] for a in spans[0]["attributes"]}
    assert root["rollout_trace.recording_status"] == {"stringValue": "unclosed"}
    assert root["rollout_trace.lenient_skipped"] == {"intValue": "1"}
    notes = root["rollout_trace.lenient_notes"]["stringValue"]
    assert "truncated last line" in notes and notes in err.getvalue()


def test_a_lossy_bundle_says_its_recorder_reports_on_the_root_span(tmp_path: Path) -> None:
    """The recorder's loss report reached no receiver (review ops41): the root span carries
    ``rollout_trace.recorder_reports`` and ``rollout_trace.lossy``."""
    from tests.test_log_status import record_one_turn

    lossy = record_one_turn(tmp_path / "traces", schema=2, drop=True)
    target = tmp_path / "lossy.jsonl"
    argv = ["export", "--format", "otlp", str(lossy), "-o", str(target)]
    assert main(argv, out=io.StringIO(), err=io.StringIO()) == 0
    root = {
        a["key"]: a["value"] for a in _spans_in(target.read_bytes().splitlines())[0]["attributes"]
    }
    assert root["rollout_trace.lossy"] == {"boolValue": True}
    assert root["rollout_trace.recorder_reports"]["stringValue"].startswith("dropped ")
