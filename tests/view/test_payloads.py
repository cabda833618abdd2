"""Payload reads go through the reducer's bundle reader: real files, symlinks and FIFOs, and
schema 3's shards."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.payloads import PayloadReader, PayloadRefused, tool_result_texts

from ..conftest import CONFORMANCE, CONFORMANCE_V3, conformance_bundles


def _ref(payload_id: str, path: str) -> dict[str, Any]:
    return {"raw_payload_id": payload_id, "kind": {"type": "tool_invocation"}, "path": path}


@pytest.fixture
def bundle(demo_bundle: Path, tmp_path: Path) -> Path:
    root = tmp_path / "bundle"
    shutil.copytree(demo_bundle, root)
    (tmp_path / "secret.json").write_text('{"secret": 1}')
    return root


def test_reads_what_the_state_names(bundle: Path, demo_state: Any) -> None:
    reader = PayloadReader(bundle)
    ref = reader.ref_of(demo_state, "raw_payload:1")
    assert reader.read_checked(ref) == (bundle / ref["path"]).read_bytes()
    with pytest.raises(PayloadRefused, match="names no payload"):
        reader.ref_of(demo_state, "raw_payload:999999")


@pytest.mark.parametrize(
    "path", ["../secret.json", "/etc/passwd", "payloads/../../secret.json", ""]
)
def test_refuses_paths_that_leave(bundle: Path, path: str) -> None:
    with pytest.raises(PayloadRefused):
        PayloadReader(bundle).read_checked(_ref("raw_payload:9", path))


def test_refuses_symlinks_file_and_directory(bundle: Path) -> None:
    (bundle / "payloads" / "900.json").symlink_to(bundle.parent / "secret.json")
    (bundle / "linked").symlink_to(bundle.parent)
    reader = PayloadReader(bundle)
    with pytest.raises(PayloadRefused, match="symlink"):
        reader.read_checked(_ref("raw_payload:2", "payloads/900.json"))
    with pytest.raises(PayloadRefused, match="symlink"):
        reader.read_checked(_ref("raw_payload:3", "linked/secret.json"))


def test_refuses_a_fifo_without_hanging(bundle: Path) -> None:
    os.mkfifo(bundle / "payloads" / "901.json")
    with pytest.raises(PayloadRefused, match="regular file"):
        PayloadReader(bundle).read_checked(_ref("raw_payload:3", "payloads/901.json"))


def test_malformed_reference_is_refused(bundle: Path) -> None:
    with pytest.raises(PayloadRefused, match="malformed"):
        PayloadReader(bundle).read_checked({"raw_payload_id": 5})


@pytest.mark.skipif(not conformance_bundles(CONFORMANCE_V3), reason="no schema-3 corpus")
def test_schema_3_payloads_come_from_shards() -> None:
    bundle = conformance_bundles(CONFORMANCE_V3)[0]
    state = load_state(bundle)
    reader = PayloadReader(bundle)
    read = [reader.read(ref) for ref in state["raw_payloads"].values()]
    assert read and any(raw for raw in read)


def test_a_truncated_payload_gives_its_kept_bytes_to_the_page_only(
    capped_bundles: dict[str, Path],
) -> None:
    """The page opened a payload a capture limit truncated as the reducer's placeholder
    ``{"$trace_unavailable": id}`` while its note said 2,000 bytes were kept (found by
    review: conformance-v3 ``capture_payload_limit_exec``). ``kept`` gives those bytes; the
    default read (the exports') keeps the placeholder; omitted and whole payloads read the
    same either way. Each bundle has payloads of both kinds (the loop checked whichever it
    met: a bundle with no truncated payload left ``kept`` untested, mut31)."""
    for name, bundle in capped_bundles.items():
        state = load_state(bundle)
        reader = PayloadReader(bundle)
        met = set()
        for payload_id, ref in state["raw_payloads"].items():
            capture = ref.get("capture") or {}
            plain, kept = reader.read_checked(ref), reader.read_checked(ref, kept=True)
            truncated = capture.get("status") == "truncated" and not ref.get("parts")
            met.add(truncated)
            if truncated:
                assert plain == b'{"$trace_unavailable":"%s"}' % payload_id.encode()
                assert len(kept) == capture["retained_bytes"], name
                assert b"$trace_unavailable" not in kept  # the text as it began
                assert reader.read(ref, kept=True) == kept
            else:
                assert kept == plain, (name, payload_id)
        reader.close()
        assert met == {True, False}, name


@pytest.mark.skipif(not conformance_bundles(CONFORMANCE), reason="no schema-2 corpus")
def test_a_nested_exec_calls_result_is_the_output_its_value_holds() -> None:
    """Codex answers a code cell's nested ``exec`` with a ``code_mode_response`` whose value is
    exec-like (``{"chunk_id", "exit_code", "output", ...}``): the text shown for the call (it
    has no output item of its own) is that ``output``, not the value as JSON. Showing the JSON
    passed every view test, as did reading one payload fewer than ``most`` (mut31)."""
    (bundle,) = sorted((CONFORMANCE / "code_mode_nested_tool").glob("trace-*"))
    state = load_state(bundle)
    expected = {}
    for tool in state["tool_calls"].values():
        ref = state["raw_payloads"].get(tool.get("raw_result_payload_id"))
        body = orjson.loads((bundle / ref["path"]).read_bytes()) if ref else None
        if isinstance(body, dict) and body.get("type") == "code_mode_response":
            expected[tool["tool_call_id"]] = body["value"]["output"]
    assert len(expected) == 2 and all(expected.values())
    assert tool_result_texts(bundle, state) == expected
    # ``most`` payloads are read, the first in the state's order (one fewer passed, mut31)
    assert tool_result_texts(bundle, state, most=2) == expected
    (first,) = tool_result_texts(bundle, state, most=1).items()
    assert first in expected.items()


@pytest.mark.skipif(not conformance_bundles(CONFORMANCE), reason="no schema-2 corpus")
def test_texts_known_from_an_earlier_call_are_not_read_again(tmp_path: Path) -> None:
    """``known`` (what ``show --follow`` keeps between its readings) gives the texts an earlier
    call read, by payload id and reference, without reading their payloads again: each
    reading of a 14.7 MB bundle read its 1,000 results anew (review follow49). A reference
    that changed is read again; what the call did not give is dropped from ``known``."""
    (source,) = sorted((CONFORMANCE / "code_mode_nested_tool").glob("trace-*"))
    bundle = tmp_path / "bundle"
    shutil.copytree(source, bundle)
    state = load_state(bundle)
    expected = tool_result_texts(bundle, state)
    assert len(expected) == 2
    known: dict[tuple[str, bytes], str] = {}
    assert tool_result_texts(bundle, state, known=known) == expected
    assert sorted(known.values()) == sorted(expected.values())
    refs = {
        tool["tool_call_id"]: state["raw_payloads"][tool["raw_result_payload_id"]]
        for tool in state["tool_calls"].values()
        if tool["tool_call_id"] in expected
    }
    for ref in refs.values():
        (bundle / ref["path"]).unlink()  # what is known is not read: gone, its text still given
    assert tool_result_texts(bundle, state) == {}
    assert tool_result_texts(bundle, state, known=dict(known)) == expected
    # a reference that changed is read again (here: nothing there to read), and forgotten
    moved = min(refs)
    refs[moved]["path"] += ".elsewhere"
    assert tool_result_texts(bundle, state, known=known) == {
        k: v for k, v in expected.items() if k != moved
    }
    assert len(known) == 1
