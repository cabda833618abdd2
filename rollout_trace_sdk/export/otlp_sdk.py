"""OpenTelemetry SDK glue for ``--format otlp``: span records to SDK spans, sent or written.

Imported only when the format is chosen: it needs the ``otel`` extra
(``opentelemetry-sdk`` and ``opentelemetry-exporter-otlp-proto-http``). The spans are built
as finished ``ReadableSpan`` objects with the recorded start and end times and the derived
ids, rather than through a tracer, which would stamp the current time and random ids.

Sending uses the SDK's OTLP/HTTP (protobuf) exporter, so the usual ``OTEL_EXPORTER_OTLP_*``
variables (headers for Langfuse's basic auth, certificates, timeout, compression) apply, and
``OTEL_RESOURCE_ATTRIBUTES`` adds to the resource (``openinference.project.name=NAME``
chooses a Phoenix project). Writing produces the OTLP/JSON file format: one
``ExportTraceServiceRequest`` per line, in the protobuf JSON mapping with OTLP's two changes
(hex trace and span ids, enums as integers), the format the Collector's file exporter
writes and its OTLP/JSON file receiver reads.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from .. import __version__
from .otlp import OtlpTrace

#: Most spans per OTLP request.
BATCH: Final = 512
#: Most bytes of attribute text per OTLP request (inlined content makes spans of up to a few
#: hundred KiB; receivers commonly cap a request at 4 to 16 MiB). A span over it goes alone.
BATCH_BYTES: Final = 3 * 1024 * 1024
_SPAN_OVERHEAD: Final = 256  # ids, times, names and the protobuf framing, roughly
_SCOPE: Final = InstrumentationScope("rollout_trace_sdk.export.otlp", __version__)
_KINDS: Final = {"internal": SpanKind.INTERNAL, "client": SpanKind.CLIENT}
_ID_KEYS: Final = frozenset({"traceId", "spanId", "parentSpanId"})


class OtlpExportError(Exception):
    """The receiver did not accept the spans (the message says which and why)."""


def sdk_spans(trace: OtlpTrace) -> list[ReadableSpan]:
    """The trace's spans as finished SDK spans.

    Args:
        trace: the spans of one rollout.

    Returns:
        One ``ReadableSpan`` per record, in the same order.
    """
    # Not Resource.create: it adds a random service.instance.id, and a re-export must be the
    # same spans. OTEL_RESOURCE_ATTRIBUTES still applies.
    resource = Resource(dict(trace.resource)).merge(OTELResourceDetector().detect())
    flags = TraceFlags(TraceFlags.SAMPLED)

    def context(span_id: int) -> SpanContext:
        return SpanContext(trace.trace_id, span_id, is_remote=False, trace_flags=flags)

    out: list[ReadableSpan] = []
    for span in trace.spans:
        status = (
            Status(StatusCode.ERROR, span.error)
            if span.error is not None
            else Status(StatusCode.UNSET)
        )
        out.append(
            ReadableSpan(
                name=span.name,
                context=context(span.span_id),
                parent=context(span.parent_id) if span.parent_id is not None else None,
                resource=resource,
                attributes=span.attributes,
                links=[Link(context(link.span_id), link.attributes) for link in span.links],
                kind=_KINDS[span.kind],
                status=status,
                start_time=span.start_ns,
                end_time=span.end_ns,
                instrumentation_scope=_SCOPE,
            )
        )
    return out


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL: ``endpoint`` as given when it has a path, else with the
    standard ``/v1/traces`` appended (so ``http://127.0.0.1:4318`` works as for the SDK's
    ``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
    parts = urlsplit(endpoint)
    if parts.path in ("", "/"):  # before a query string, not inside it
        return urlunsplit(parts._replace(path="/v1/traces"))
    return endpoint


def masked_url(url: str) -> str:
    """``url`` as it may be printed: a ``user:password@`` and a query string (``?api_key=``)
    carry credentials that would land in logs, so each is shown as ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class _MaskCredentials(logging.Filter):
    """Masks ``url``'s credentials in what the exporter logs: its retry warning quotes the
    HTTP library's error, which names the path with its query string."""

    def __init__(self, url: str) -> None:
        super().__init__()
        parts = urlsplit(url)
        # the password (the user name alone is no secret, and a short one would be masked
        # wherever its letters appear), as given and as the HTTP library may quote it
        password = parts.password or ""
        self._secrets = {p for p in (password, quote(password), unquote(password)) if len(p) >= 4}
        # the query string: whatever follows the path and "?" up to a space or a quote, in
        # any spelling the HTTP library gives it (it requotes and unquotes characters)
        self._query = (
            re.compile(re.escape(parts.path or "/") + r"\?[^\s'\"()]*") if parts.query else None
        )
        self._masked_query = f"{parts.path or '/'}?***"

    def masked(self, text: str) -> str:
        """``text`` with the credentials shown as ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        if self._query is not None:
            text = self._query.sub(self._masked_query, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = self.masked(text)
        if masked != text:
            record.msg, record.args = masked, ()
        return True


@contextlib.contextmanager
def _masked_logs(mask: _MaskCredentials) -> Iterator[None]:
    # the exporter hands its own logger to the HTTP client it makes; both are covered
    loggers = [logging.getLogger(OTLPSpanExporter.__module__)]
    loggers.append(logging.getLogger("opentelemetry.exporter.otlp.common.http"))
    for logger in loggers:
        logger.addFilter(mask)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(mask)


def send(spans: Sequence[ReadableSpan], endpoint: str) -> None:
    """Send spans to an OTLP/HTTP receiver, :data:`BATCH` per request.

    Raises:
        OtlpExportError: a request failed (the exporter has already retried what it retries).
    """
    url = traces_url(endpoint)
    exporter = OTLPSpanExporter(endpoint=url)
    mask = _MaskCredentials(url)
    with _masked_logs(mask):
        _send(exporter, url, spans, mask)


def _send(
    exporter: OTLPSpanExporter, url: str, spans: Sequence[ReadableSpan], mask: _MaskCredentials
) -> None:
    try:
        for start, end in _batches(spans):
            refused = f"{url} did not accept spans {start + 1}-{end} of {len(spans)}"
            try:
                result = exporter.export(spans[start:end])
            except OSError as exc:
                # the exporter before 1.40 lets the HTTP library's error (an OSError) out where
                # later ones retry and log it; its text names the path with the query string
                raise OtlpExportError(f"{refused}: {mask.masked(str(exc))}") from None
            if result is not SpanExportResult.SUCCESS:
                raise OtlpExportError(f"{refused} (the exporter's log above says why)")
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]


def _span_bytes(span: ReadableSpan) -> int:
    """About how many bytes ``span`` takes in a request: its attribute texts, and more."""
    size = _SPAN_OVERHEAD + len(span.name)
    for key, value in (span.attributes or {}).items():
        size += len(key) + (len(value.encode()) if isinstance(value, str) else 16)
    for link in span.links:
        size += _SPAN_OVERHEAD // 2 + sum(len(k) + 16 for k in link.attributes or {})
    return size


def _batches(spans: Sequence[ReadableSpan]) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each request: at most :data:`BATCH` spans and, but for a single
    span, at most :data:`BATCH_BYTES` of them."""
    start, size = 0, 0
    for index, span in enumerate(spans):
        cost = _span_bytes(span)
        if index > start and (index - start >= BATCH or size + cost > BATCH_BYTES):
            yield start, index
            start, size = index, 0
        size += cost
    if start < len(spans):
        yield start, len(spans)


def json_lines(spans: Sequence[ReadableSpan]) -> Iterable[bytes]:
    """OTLP/JSON lines: one ``ExportTraceServiceRequest`` per request :func:`send` would make."""
    import orjson
    from google.protobuf.json_format import MessageToDict

    for start, end in _batches(spans):
        request = encode_spans(spans[start:end])
        document = MessageToDict(request, use_integers_for_enums=True)
        yield orjson.dumps(_hex_ids(document)) + b"\n"


def _hex_ids(value: Any) -> Any:
    """OTLP/JSON spells trace and span ids in hex where protobuf's mapping uses base64."""
    if isinstance(value, dict):
        return {
            k: base64.b64decode(v).hex() if k in _ID_KEYS and isinstance(v, str) else _hex_ids(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hex_ids(v) for v in value]
    return value
