"""``export --format otlp --endpoint`` (export/otlp_run.py): what it prints of the URL."""

from __future__ import annotations

import io
import shutil
from importlib.metadata import version
from pathlib import Path

import orjson
import pytest

from rollout_trace_sdk.cli import main

from ..loopback import LoopbackServer, QuietHandler


class _Receiver(QuietHandler):
    """An OTLP/HTTP receiver that answers every POST with the class's status."""

    status = 200

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(self.status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()


class _Refusing(_Receiver):
    status = 400  # not retried


@pytest.mark.parametrize("handler", [_Receiver, _Refusing])
def test_credentials_in_the_endpoint_are_not_printed(
    demo_bundle: Path, handler: type[_Receiver]
) -> None:
    """``user:password@`` and a query string carry credentials: masked on success and on
    failure, so they do not land in a CI log."""
    with LoopbackServer(handler) as server:
        host, port = server.server.server_address[:2]
        endpoint = f"http://alice:s3cret@{host!s}:{port}/v1/traces?api_key=k3y"
        out, err = io.StringIO(), io.StringIO()
        argv = ["export", "--format", "otlp", str(demo_bundle), "--endpoint", endpoint]
        code = main(argv, out=out, err=err)
    printed = out.getvalue() + err.getvalue()
    assert code == (0 if handler is _Receiver else 1), printed
    assert f"http://***@{host!s}:{port}/v1/traces?***" in printed
    assert "s3cret" not in printed and "alice" not in printed and "k3y" not in printed


def _exporter_retries_refused_connections() -> bool:
    """From opentelemetry-exporter-otlp-proto-http 1.40 a refused connection is retried and
    logged; before, the HTTP library's error is raised (test_otlp checks what is printed)."""
    major, minor = version("opentelemetry-exporter-otlp-proto-http").split(".")[:2]
    return (int(major), int(minor)) >= (1, 40)


@pytest.mark.skipif(
    not _exporter_retries_refused_connections(), reason="this exporter raises, logs nothing"
)
@pytest.mark.parametrize("query", ["api_key=k3y-long", "api_key=k3y|long", "api_key=k3y%41long"])
def test_the_exporters_retry_log_does_not_print_the_query_string(
    demo_bundle: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
) -> None:
    """The SDK's retry warning quotes the HTTP library's error, which names the path with
    its query string (``?api_key=...``): masked in the log as in what we print."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on: connection refused, retried
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "3")  # one retry
    # the HTTP library requotes the query ("|" -> "%7C") or unquotes it ("%41" -> "A")
    endpoint = f"http://alice:s3cretpw@127.0.0.1:{port}/v1/traces?{query}"
    out, err = io.StringIO(), io.StringIO()
    with caplog.at_level("WARNING"):
        code = main(
            ["export", "--format", "otlp", str(demo_bundle), "--endpoint", endpoint],
            out=out,
            err=err,
        )
    assert code == 1
    logged = caplog.text
    assert "Transient error" in logged and "/v1/traces?***" in logged, logged
    assert "k3y" not in logged + err.getvalue() and "s3cretpw" not in logged


def test_sources_sharing_a_trace_id_are_noted(demo_bundle: Path, tmp_path: Path) -> None:
    """Span ids derive from the trace id, so two sources of one recording (a bundle named
    twice, a bundle and its redacted copy) send spans with the same ids, which a receiver
    merges: one of each kept, whichever it likes. They were sent without a word (found by
    review export24: 112 of 6,042 spans of a 133-bundle run collided). A bundle named twice is
    now sent once; another source with a trace id already sent is noted, and still sent."""
    copy = tmp_path / "copy"
    shutil.copytree(demo_bundle, copy)
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "spans.jsonl"
    argv = ["export", "--format", "otlp", str(demo_bundle), f"{demo_bundle}/", str(copy)]
    code = main([*argv, "-o", str(target)], out=out, err=err)
    assert code == 0, err.getvalue()
    trace_id = orjson.loads((demo_bundle / "manifest.json").read_bytes())["trace_id"]
    assert err.getvalue().splitlines() == [
        f"note: {demo_bundle}/: the same path as {demo_bundle}; exported once",
        f"note: {copy}: trace id {trace_id} was exported from {demo_bundle} too: their spans "
        "share ids, and a receiver keeps one of each",
    ]
    span_ids = [
        span["spanId"]
        for line in target.read_text().splitlines()
        for resource in orjson.loads(line)["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]
    assert len(span_ids) == 2 * len(set(span_ids))
