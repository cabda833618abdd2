"""``rollout-trace view --serve``: the page, its view model and payloads over local HTTP.

A small threaded HTTP/1.1 server on 127.0.0.1 (never another interface). It follows a bundle
that is still being written: when ``trace.jsonl`` (or the ``state.json`` given) changes, the
next request reduces it again, leniently, since a live bundle ends mid-write; the page polls
``/status`` and refetches the model when its token moves. Payload bodies are read on request,
only as the reduced state names them, through the reducer's own reads (``PayloadReader``).

Routes: ``/`` the page, ``/model.json`` the view model, ``/version`` the change token alone
(for scripts), ``/status`` the token with what lenient reduction skipped and why the input
could not be read again (the page polls it), ``/payload?id=raw_payload:N`` one payload body.
The same notes and errors are said on standard error once each time they change.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final, TextIO
from urllib.parse import parse_qs, urlsplit

import orjson

from ..model import layout
from ..reduce.errors import ReduceError
from . import live
from .html import SCRIPT_PATH, render_page, script_text
from .load import load_state
from .model import build_view_model
from .payloads import PayloadReader, PayloadRefused
from .progress import reduction_progress
from .reports import recorder_reports

HOST: Final = "127.0.0.1"
#: Seconds a connection may sit idle or half-sent before it is dropped: each one holds a
#: thread, and a client that never finishes its request must not hold one forever.
REQUEST_TIMEOUT_S: Final = 30.0


class _Source:
    """The bundle (or state file) being viewed, reduced again whenever it changes; what
    lenient reduction skipped and why a new reading failed are said on ``err`` (when given)
    each time they change, and kept for the page."""

    def __init__(self, source: str | Path, err: TextIO | None = None) -> None:
        self.path = Path(source)
        self.err = err
        self.is_bundle = self.path.is_dir()
        self.reader = PayloadReader(self.path) if self.is_bundle else None
        self._lock = threading.Lock()
        self._token: str | None = None
        self._state: Any = None
        self._model: bytes = b""
        self.notes: list[str] = []
        #: the recorder's reports at the log's end (events dropped, secrets redacted)
        self.reports: list[str] = []
        self.error: str | None = None
        #: notes held back while the recording writes what they say is missing (view/live.py),
        #: the paths whose change may make them untrue, and when the input last changed
        self._held: list[str] = []
        self._watch: tuple[str, ...] = ()
        self._changed_at = time.monotonic()

    def token(self) -> str:
        """Changes whenever the input's files change (file, size and modification time), and
        the shard a held-back note waits on."""
        names = (layout.EVENT_LOG, layout.MANIFEST, *self._watch) if self.is_bundle else ("",)
        parts = []
        for name in names:
            try:
                info = os.stat(self.path / name if name else self.path)
            except OSError:
                parts.append("-")
                continue
            parts.append(f"{info.st_ino}.{info.st_size}.{info.st_mtime_ns}")
        return "/".join(parts)

    def current(self) -> tuple[str, Any, bytes]:
        """(token, state, view model bytes), reduced again if the input moved on, or once
        notes held back (view/live.py) have waited :data:`live.HOLD_S` on a still bundle:
        that reading shows every note it makes."""
        with self._lock:
            token = self.token()
            moved = token != self._token or self._state is None
            if moved or (self._held and time.monotonic() - self._changed_at >= live.HOLD_S):
                if moved:
                    self._changed_at = time.monotonic()
                self._read(hold=moved)
                # the log and manifest as they were before this reading: stamped after it, a
                # log the recorder wrote on meanwhile counted as read, and the page kept the
                # older state for good; the paths a held note waits on as they are now
                after = self.token().split("/")
                self._token = "/".join([*token.split("/")[:2], *after[2:]])
            assert self._token is not None
            return self._token, self._state, self._model

    def _read(self, *, hold: bool) -> None:
        """Reduce the input again (leniently) and say what changed; ``hold``: notes of a
        payload the recording is still writing are held back."""
        notes: list[str] = []
        try:
            state = self._load(notes)
        except ReduceError as exc:
            # Mid-write or broken: keep showing the last good state, say why.
            if self._state is None:
                raise
            if str(exc) != self.error:
                self._say(
                    f"rollout-trace view: cannot read {self.path} again: {exc}; "
                    "serving the last state read"
                )
            self.error = str(exc)
            return
        # the reader opened with the source serves the first state as it is
        again = self._state is not None and self.reader is not None
        self._state = state
        self._model = orjson.dumps(build_view_model(state))
        self._held, self._watch = (
            live.transient_notes(self.path, state, notes) if hold and self.is_bundle else ([], ())
        )
        shown = [note for note in notes if note not in self._held]
        if shown != self.notes:
            self._say_notes(shown)
        if self.error is not None:
            self._say(f"rollout-trace view: {self.path} read again")
        self.notes = shown
        self.reports = recorder_reports(self.path) if self.is_bundle else []
        self.error = None
        if again:
            self._reopen_reader()

    def _load(self, notes: list[str]) -> Any:
        """The input reduced again; the first time, before the server says its address, with
        a progress bar on ``err`` when it is a terminal (as ``reduce`` and ``summary`` draw
        it): a large bundle took its 20 s with nothing printed at all."""
        if self._state is not None or self.err is None:
            return load_state(self.path, lenient=True, skipped=notes)
        with reduction_progress(self.err, f"reducing {self.path.name}") as progress:
            return load_state(self.path, lenient=True, skipped=notes, progress=progress)

    def _reopen_reader(self) -> None:
        """The new state's payloads are read from the bundle as it is now."""
        assert self.reader is not None
        try:
            self.reader.reopen()
        except ReduceError as exc:  # replaced again since: the next change reads it
            self._say(f"rollout-trace view: cannot read {self.path}'s payloads again: {exc}")

    def status(self) -> dict[str, Any]:
        """What the page polls: the change token, lenient notes and the last reading's error
        (the model then is the last state that could be read)."""
        token, _, _ = self.current()
        return {
            "version": token,
            "notes": self.notes,
            "reports": self.reports,
            "error": self.error,
        }

    def _say_notes(self, notes: list[str]) -> None:
        if self.err is not None:
            from .commands import notes_to

            notes_to(notes, self.err)
            self.err.flush()

    def _say(self, text: str) -> None:
        if self.err is not None:
            from .visible import visible  # the error quotes the bundle's ids and paths

            print(visible(text), file=self.err, flush=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    #: the socket's timeout (``StreamRequestHandler`` sets it); a read that times out ends
    #: the connection quietly (``handle_one_request``, then ``_Server.handle_error``)
    timeout = REQUEST_TIMEOUT_S

    #: a HEAD request: every route answers as for GET, without the body (``curl -I``)
    _head_only = False

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the URL, not every poll."""

    def do_HEAD(self) -> None:
        self._head_only = True
        try:
            self.do_GET()
        finally:
            self._head_only = False

    def do_GET(self) -> None:
        if not self._host_ok():
            self._send(HTTPStatus.FORBIDDEN, b"forbidden host", "text/plain")
            return
        url = urlsplit(self.path)
        source = self.server.source
        try:
            if url.path in ("/", "/index.html"):
                page = render_page(
                    {}, boot={"mode": "serve", **source.status()}, script_url=SCRIPT_PATH
                )
                self._send(HTTPStatus.OK, page.encode("utf-8"), "text/html; charset=utf-8")
            elif url.path == f"/{SCRIPT_PATH}":
                self._send(
                    HTTPStatus.OK, script_text().encode("utf-8"), "text/javascript; charset=utf-8"
                )
            elif url.path == "/model.json":
                _, _, model = source.current()
                self._send(HTTPStatus.OK, model, "application/json")
            elif url.path == "/version":
                token, _, _ = source.current()
                self._send(HTTPStatus.OK, token.encode(), "text/plain")
            elif url.path == "/status":
                self._send(HTTPStatus.OK, orjson.dumps(source.status()), "application/json")
            elif url.path == "/favicon.ico":
                self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
            elif url.path == "/payload":
                self._payload(parse_qs(url.query).get("id", [""])[0])
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
        except ReduceError as exc:
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, str(exc).encode(), "text/plain")

    def _payload(self, payload_id: str) -> None:
        source = self.server.source
        if source.reader is None:
            self._send(
                HTTPStatus.NOT_FOUND,
                b"viewing a state.json: payload bodies are in the bundle",
                "text/plain",
            )
            return
        _, state, _ = source.current()
        try:
            ref = source.reader.ref_of(state, payload_id)
        except PayloadRefused as exc:  # no such payload
            self._send(HTTPStatus.NOT_FOUND, str(exc).encode(), "text/plain")
            return
        try:
            body = source.reader.read_checked(ref, kept=True)
        except PayloadRefused as exc:  # one the reader will not read (outside the bundle...)
            self._send(HTTPStatus.FORBIDDEN, str(exc).encode(), "text/plain")
            return
        self._send(HTTPStatus.OK, body, "application/json")

    def _host_ok(self) -> bool:
        """Only our own address may be asked for (no DNS-rebinding page reads the bundle)."""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        return host in (HOST, "localhost", "")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not self._head_only:
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, source: _Source, port: int) -> None:
        self.source = source
        super().__init__((HOST, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a reloaded tab, an aborted poll) or stopped sending is
        no error of ours: the connection is dropped quietly. Anything else is printed."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class ViewServer:
    """The viewer's HTTP server, started on 127.0.0.1.

    Args:
        source: a bundle directory or a state.json file.
        port: the port, 0 for any free one.
        err: where to say what lenient reduction skipped and that the input could not be
            read again (standard error in the CLI), each time that changes; None: nowhere.

    Raises:
        ReduceError: the input cannot be reduced at all.
        OSError: the port cannot be bound.
    """

    def __init__(self, source: str | Path, port: int = 0, *, err: TextIO | None = None) -> None:
        self.source = _Source(source, err)
        self.source.current()  # refuse bad input before listening
        self._server = _Server(self.source, port)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._server.server_address[1]}/"

    def serve_forever(self) -> None:
        """Serve until interrupted (the CLI's foreground mode)."""
        self._server.serve_forever(poll_interval=0.2)

    def start(self) -> ViewServer:
        """Serve from a background thread (tests, notebooks)."""
        self._thread = threading.Thread(
            target=self.serve_forever, name="rollout-trace-view", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        if self.source.reader is not None:
            self.source.reader.close()

    def __enter__(self) -> ViewServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()
