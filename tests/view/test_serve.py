"""The viewer's local server: routes, confinement, following a bundle still being written."""

from __future__ import annotations

import http.client
import io
import shutil
import socket
import struct
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.view.serve import ViewServer

from .conftest import HOSTILE_ID, HOSTILE_ID_SHOWN, skipping_bundle


def _request(
    server: ViewServer, method: str, path: str, host: str | None = None
) -> tuple[int, bytes, http.client.HTTPResponse]:
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Host": host} if host else {}
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(), response
    finally:
        conn.close()


def _get(server: ViewServer, path: str, host: str | None = None) -> tuple[int, bytes]:
    status, body, _ = _request(server, "GET", path, host)
    return status, body


def test_routes(demo_bundle: Path, demo_state: Any) -> None:
    with ViewServer(demo_bundle, 0) as server:
        assert server.url.startswith("http://127.0.0.1:")
        status, page = _get(server, "/")
        assert status == 200 and b'"mode":"serve"' in page and b'id="rt-model"' not in page
        status, body = _get(server, "/model.json")
        model = orjson.loads(body)
        assert len(model["calls"]) == len(demo_state["inference_calls"])
        ref = demo_state["raw_payloads"]["raw_payload:1"]
        status, payload = _get(server, "/payload?id=raw_payload:1")
        assert status == 200 and payload == (demo_bundle / ref["path"]).read_bytes()
        status, body = _get(server, "/payload?id=raw_payload:999999")
        assert status == 404 and b"names no payload" in body
        assert _get(server, "/nothing")[0] == 404
        # the browser's own request: answered, with nothing (no 404 in the page's console)
        assert _get(server, "/favicon.ico") == (204, b"")
        # a page on another origin resolving to us (DNS rebinding) is refused
        assert _get(server, "/model.json", host="evil.example:80")[0] == 403


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("localhost:8000", 200),
        ("127.0.0.1:8000", 200),
        ("127.0.0.1.evil.example", 403),
        ("localhost.evil.example:80", 403),
        ("evil.example:127.0.0.1", 403),
    ],
)
def test_only_our_own_host_names_are_served(demo_bundle: Path, host: str, status: int) -> None:
    """A DNS-rebinding page names its own host: only 127.0.0.1 and localhost (any port) are
    ours, not a name that begins with them (only ``evil.example`` was tried: a prefix test
    passed, mut30)."""
    with ViewServer(demo_bundle, 0) as server:
        assert _get(server, "/model.json", host=host)[0] == status


def test_a_payload_the_reader_refuses_is_forbidden(demo_bundle: Path, tmp_path: Path) -> None:
    """A payload file replaced by a symlink after the state was read (to a file outside the
    bundle) is refused with 403 and none of that file is sent (answering 404, as for an id
    the state does not name, passed every test, mut30)."""
    bundle = tmp_path / "bundle"
    shutil.copytree(demo_bundle, bundle)
    secret = tmp_path / "secret.json"
    secret.write_bytes(b'{"secret": "outside the bundle"}')
    with ViewServer(bundle, 0) as server:
        assert _get(server, "/payload?id=raw_payload:1")[0] == 200
        payload = bundle / "payloads" / "1.json"
        payload.unlink()
        payload.symlink_to(secret)
        status, body = _get(server, "/payload?id=raw_payload:1")
        assert status == 403 and b"symlink" in body and b"outside the bundle" not in body


def test_state_file_has_no_payloads(failing_state: Path) -> None:
    with ViewServer(failing_state, 0) as server:
        status, body = _get(server, "/payload?id=raw_payload:1")
        assert status == 404 and b"state.json" in body
        assert orjson.loads(_get(server, "/model.json")[1])["tools"]


def test_follows_a_bundle_being_written(demo_bundle: Path, tmp_path: Path) -> None:
    live = tmp_path / "live"
    shutil.copytree(demo_bundle, live)
    (live / "state.json").unlink(missing_ok=True)
    lines = (demo_bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    (live / "trace.jsonl").write_bytes(b"".join(lines[:half]) + lines[half][:20])  # torn line
    with ViewServer(live, 0) as server:
        token = _get(server, "/version")[1]
        early = orjson.loads(_get(server, "/model.json")[1])
        assert early["meta"]["status"] == "running"
        with (live / "trace.jsonl").open("wb") as handle:
            handle.write(b"".join(lines))
        assert _get(server, "/version")[1] != token
        late = orjson.loads(_get(server, "/model.json")[1])
        assert late["meta"]["status"] == "completed"
        assert len(late["calls"]) > len(early["calls"])


def test_a_log_that_grows_while_it_is_reduced_is_read_again(
    demo_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The change token was taken after the reduction: a log the recorder wrote on while it
    was being reduced (a large one takes seconds) was stamped as read whole, and the page
    stayed on the older state for good, "running" and "still recording" after the recording
    had closed (found by review user35 on a ``demo --scale 300`` being recorded). The writer
    here finishes the log during the first reduction."""
    from rollout_trace_sdk.view import serve

    live = tmp_path / "live"
    shutil.copytree(demo_bundle, live)
    (live / "state.json").unlink(missing_ok=True)
    lines = (demo_bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)
    (live / "trace.jsonl").write_bytes(b"".join(lines[: len(lines) // 2]))
    from rollout_trace_sdk.view.load import load_state as real

    calls: list[Path] = []

    def reduce_while_the_writer_finishes(path: Path, **kwargs: Any) -> Any:
        state = real(path, **kwargs)
        if not calls:
            (live / "trace.jsonl").write_bytes(b"".join(lines))
        calls.append(path)
        return state

    monkeypatch.setattr(serve, "load_state", reduce_while_the_writer_finishes)
    with ViewServer(live, 0) as server:  # its first reading: half the log
        model = orjson.loads(_get(server, "/model.json")[1])
        assert model["meta"]["status"] == "completed" and len(calls) == 2
        assert orjson.loads(_get(server, "/model.json")[1]) == model and len(calls) == 2


def test_the_script_is_served_from_its_files_and_inlined_in_the_static_page(
    demo_bundle: Path, demo_state: Any
) -> None:
    """One file per job (util, list, timeline, detail, app), joined in one function scope:
    served as viewer.js by the server, inlined by the static page."""
    from rollout_trace_sdk.view.html import SCRIPTS, script_text, static_page, static_text

    joined = script_text()
    assert joined.startswith('"use strict";\n(function () {') and joined.endswith("})();\n")
    positions = [joined.index(static_text(name)) for name in SCRIPTS]
    assert positions == sorted(positions)
    with ViewServer(demo_bundle, 0) as server:
        page = _get(server, "/")[1].decode()
        assert '<script src="viewer.js"></script>' in page and "/*__SCRIPT__*/" not in page
        assert _get(server, "/viewer.js") == (200, joined.encode())
    static = static_page(demo_state, None)
    assert joined in static and "<script src=" not in static


def test_follows_a_schema_3_bundle_being_written(tmp_path: Path) -> None:
    """Payloads written after the server read a shard are served too: the shard's index was
    kept for the server's life, so every later payload of that shard was refused as missing,
    and a bundle replaced at the same path had its payloads served from the old one (found by
    review)."""
    import anyio

    from rollout_trace_sdk.record import open_rollout
    from rollout_trace_sdk.reduce import reduce_bundle, state_bytes

    def served(server: ViewServer, bundle: Path) -> dict[str, int]:
        state = orjson.loads(state_bytes(reduce_bundle(bundle, lenient=True)))
        return {ident: _get(server, f"/payload?id={ident}")[0] for ident in state["raw_payloads"]}

    async def scenario() -> None:
        async with open_rollout(tmp_path / "traces", schema_version=3) as rollout:
            bundle = Path(str(rollout.bundle_dir))
            async with rollout.root.turn() as turn:
                turn.accept({"type": "message", "role": "user", "content": "first"})
            await rollout.flush()
            with ViewServer(bundle, 0) as server:
                first = served(server, bundle)
                assert first and set(first.values()) == {200}
                for n in range(3):
                    async with rollout.root.turn() as turn:
                        turn.accept({"type": "message", "role": "user", "content": f"more {n}"})
                    await rollout.flush()
                    later = served(server, bundle)
                    assert len(later) > len(first) and set(later.values()) == {200}

    anyio.run(scenario)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_following_a_bundle_holds_no_more_descriptors_as_it_grows(tmp_path: Path) -> None:
    """Each re-reading of a changed bundle released the last one's descriptors only when the
    garbage collector ran (28 more after 50 changes of a schema-3 bundle; a server left on a
    running agent could run out of them; found by review)."""
    import contextlib
    import gc
    import os

    from rollout_trace_sdk.model import events as ev
    from rollout_trace_sdk.testing import BundleBuilder

    def into_bundle() -> int:  # the server's sockets come and go; count the bundle's files
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                count += os.readlink(f"/proc/self/fd/{fd}").startswith(str(tmp_path))
        return count

    b = BundleBuilder(tmp_path / "b", schema=3, autoflush=True)
    b.event(ev.RolloutStarted("246c02a9-0000-4000-8000-000000000002", b.root_thread_id))
    meta = b.payload("session_metadata", {"thread_id": b.root_thread_id})
    b.event(ev.ThreadStarted(b.root_thread_id, "/root", meta))
    gc.disable()  # what is left to the collector must show
    try:
        with ViewServer(tmp_path / "b", 0) as server:
            assert _get(server, f"/payload?id={meta.raw_payload_id}")[0] == 200
            before = into_bundle()
            for n in range(20):
                body = b.payload("protocol_event", {"type": "x", "n": n})
                b.event(ev.ProtocolEventObserved("x", body))
                assert _get(server, f"/payload?id={body.raw_payload_id}")[0] == 200
            assert into_bundle() == before
    finally:
        gc.enable()
        b.close()


def _status(server: ViewServer) -> Any:
    status, body = _get(server, "/status")
    assert status == 200
    return orjson.loads(body)


def test_lenient_notes_and_read_errors_are_said_and_served(
    demo_bundle: Path, tmp_path: Path
) -> None:
    """What lenient reduction skipped is said on standard error (control characters spelled
    out) and served to the page; a bundle that cannot be read again keeps its last state,
    says so once, and the status says why (it was served as "live", silently: found by
    review); once readable again, it says so once too."""
    bundle = skipping_bundle(demo_bundle, tmp_path)
    err = io.StringIO()
    with ViewServer(bundle, 0, err=err) as server:
        said = err.getvalue()
        assert said.startswith("lenient: skipped 1 thing(s):\n") and HOSTILE_ID_SHOWN in said
        assert "\x1b" not in said
        status = _status(server)
        assert status["error"] is None and len(status["notes"]) == 1
        assert HOSTILE_ID in status["notes"][0]  # the page escapes it itself
        model = _get(server, "/model.json")[1]
        _status(server)
        assert err.getvalue() == said  # said once, not at every poll

        log = (bundle / "trace.jsonl").read_bytes()
        (bundle / "trace.jsonl").write_bytes(b'{"not": "a trace"}\n')
        status = _status(server)
        assert status["error"] and "schema_version" in status["error"]
        assert _get(server, "/model.json")[1] == model  # the last good state, still served
        _status(server)
        assert err.getvalue().count("cannot read") == 1
        assert f"cannot read {bundle} again" in err.getvalue()

        # readable again: said once, and the status has no error (mut30: unsaid passed)
        (bundle / "trace.jsonl").write_bytes(log)
        assert _status(server)["error"] is None
        _status(server)
        assert err.getvalue().count(f"rollout-trace view: {bundle} read again\n") == 1
        (bundle / "trace.jsonl").write_bytes(b'{"not": "a trace"}\n')
        assert _status(server)["error"]
        assert err.getvalue().count("cannot read") == 2

        shutil.rmtree(bundle)
        status = _status(server)
        assert "No such file" in status["error"]
        assert err.getvalue().count("cannot read") == 3


def test_a_client_that_goes_away_is_no_error(
    demo_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reloaded tab or an aborted poll printed a full traceback on the user's terminal."""
    with ViewServer(demo_bundle, 0) as server:
        port = int(server.url.rsplit(":", 1)[1].strip("/"))
        for error in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")):
            try:
                raise error
            except OSError:
                server._server.handle_error(None, ("127.0.0.1", port))
        for _ in range(3):  # the real thing: gone (with a reset) before the answer
            client = socket.create_connection(("127.0.0.1", port))
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.sendall(b"GET /model.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            client.close()
        assert _get(server, "/version")[0] == 200
    assert "Traceback" not in capsys.readouterr().err


def test_a_half_sent_request_is_dropped(demo_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each connection holds a server thread: one that never finishes its request is dropped
    after the handler's timeout instead of held forever."""
    from rollout_trace_sdk.view import serve

    assert serve._Handler.timeout == 30  # was None: held forever
    monkeypatch.setattr(serve._Handler, "timeout", 0.3)
    with ViewServer(demo_bundle, 0) as server:
        port = int(server.url.rsplit(":", 1)[1].strip("/"))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(b"GET /model.json HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no end
            assert client.recv(100) == b""  # closed by the server, not left waiting


def test_head_answers_as_get_without_the_body(demo_bundle: Path) -> None:
    """``curl -I`` got 501 (http.server answers only the methods a handler defines)."""
    with ViewServer(demo_bundle, 0) as server:
        for path in ("/", "/model.json", "/payload?id=raw_payload:1", "/nothing"):
            get_status, get_body = _get(server, path)
            status, body, response = _request(server, "HEAD", path)
            assert (status, body) == (get_status, b""), path
            assert response.getheader("Content-Length") == str(len(get_body)), path


def test_head_sends_no_body_on_a_kept_alive_connection(demo_bundle: Path) -> None:
    """A HEAD answer has no body on the wire: a client keeping the connection reads the next
    answer right after its headers (http.client never reads a HEAD body, so writing the page
    after a HEAD's headers passed the test above, mut31)."""
    with ViewServer(demo_bundle, 0) as server:
        port = int(server.url.rsplit(":", 1)[1].strip("/"))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for path in ("/", "/model.json", "/nothing"):
                conn.request("HEAD", path)
                head = conn.getresponse()
                assert head.read() == b""
                conn.request("GET", "/version")
                answer = conn.getresponse()
                assert answer.status == 200, path
                assert answer.read() == _get(server, "/version")[1], path
        finally:
            conn.close()


def test_every_answer_forbids_sniffing_and_caching(demo_bundle: Path) -> None:
    """Payload bodies are agent text served as JSON: a browser must not sniff one into HTML
    (``nosniff``), nor keep a payload or model of a live bundle (``no-store``). Dropping the
    nosniff header passed every server test (mut31)."""
    with ViewServer(demo_bundle, 0) as server:
        for path in ("/", "/model.json", "/status", "/payload?id=raw_payload:1", "/nothing"):
            _, _, response = _request(server, "GET", path)
            assert response.getheader("X-Content-Type-Options") == "nosniff", path
            assert response.getheader("Cache-Control") == "no-store", path
        _, _, response = _request(server, "GET", "/model.json", host="evil.example")
        assert response.status == 403
        assert response.getheader("X-Content-Type-Options") == "nosniff"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_serving_a_bundle_says_on_a_terminal_that_it_is_reducing_it(
    demo_bundle_200: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``view --serve`` on a large bundle printed nothing until its address, 20 s at
    ``demo --scale 2000`` (user39): its first reduction draws the bar ``reduce`` and
    ``summary`` draw, on a terminal only (here past no delay: the bundle reduces in under a
    second)."""
    from rollout_trace_sdk.view import progress

    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    monkeypatch.delenv("TERM", raising=False)
    terminal, piped = _Terminal(), io.StringIO()
    with ViewServer(demo_bundle_200, 0, err=terminal):
        pass
    assert "reducing trace-" in terminal.getvalue()  # the bundle's name, cut to the width
    with ViewServer(demo_bundle_200, 0, err=piped):
        pass
    assert piped.getvalue() == ""
