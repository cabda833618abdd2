"""A loopback HTTP server for the fake model APIs the tests talk to (``tests.integrations``'
fake OpenAI API, ``tests.live``'s scripted Responses API): 127.0.0.1 on a free port, served
from a daemon thread while its ``with`` block runs."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 (the clients keep their connections), and no log line for each request."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None


#: How often the serving thread looks for ``shutdown()``: socketserver's default, 0.5 s, made
#: every test with a fake API wait about that long in its teardown (some 400 tests: minutes
#: of the suite).
_POLL_S = 0.02


class LoopbackServer:
    """Serves ``handler`` on 127.0.0.1 from a daemon thread; a context manager."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(_POLL_S,), daemon=True
        )

    @property
    def base_url(self) -> str:
        """The API's root as a client wants it (``http://127.0.0.1:<port>/v1``)."""
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()
