"""The viewer's local server: routes, confinement, following a bundle still being written."""

from __future__ import annotations

import http.client
import shutil
from pathlib import Path
from typing import Any

import orjson

from rollout_trace_sdk.view.serve import ViewServer


def _get(server: ViewServer, path: str, host: str | None = None) -> tuple[int, bytes]:
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Host": host} if host else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


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
        assert status == 403 and b"names no payload" in body
        assert _get(server, "/nothing")[0] == 404
        # a page on another origin resolving to us (DNS rebinding) is refused
        assert _get(server, "/model.json", host="evil.example:80")[0] == 403


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
