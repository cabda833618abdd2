"""The item store: every item written once, requests and prompts as templates over them, and
bundles that Codex 0.171 and our reducer reduce to the same state."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import anyio
import attrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.record._content_values import template_body
from rollout_trace_sdk.record._deferred import LazyBody, render
from rollout_trace_sdk.record._item_store import ItemStore
from rollout_trace_sdk.record._shard_plan import CaptureLimits
from rollout_trace_sdk.reduce import reduce_bundle, state_bytes
from tests.codex_oracle import codex_bin, codex_reduce
from tests.record.recorder_support import bundle_in, check_bundle
from tests.record.v3_harness import Conversation, V3Bundle
from tests.test_conformance_states import first_difference

IMAGES = [
    "data:image/png;base64," + "iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkp" * 3,
    "data:image/gif;base64," + "R0lGODlhAQABAIAAAP" * 8,
]


class _Recorded:
    """A ``put`` that keeps what it was given."""

    def __init__(self) -> None:
        self.payloads: list[tuple[str, bytes, tuple[ev.RawPayloadRef, ...]]] = []

    def __call__(
        self, kind: ev.PayloadKind, body: bytes | LazyBody, parts: tuple[ev.RawPayloadRef, ...] = ()
    ) -> ev.RawPayloadRef:
        self.payloads.append((kind, render(body), parts))
        n = len(self.payloads)
        return ev.RawPayloadRef(f"raw_payload:{n}", kind, "", 1, None, parts)

    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.payloads]

    def text(self, ref: ev.RawPayloadRef) -> bytes:
        """The spliced text of ``ref`` (as a reader would see it)."""
        _, body, parts = self.payloads[int(ref.raw_payload_id.split(":")[1]) - 1]
        if not parts:
            return body
        fragments = [f.encode() for f in orjson.loads(body)]
        out: bytes = fragments[0]
        for part, fragment in zip(parts, fragments[1:], strict=True):
            out += self.text(part) + fragment
        return out


def _msg(n: int, text: str = "hi") -> dict[str, Any]:
    return {
        "type": "message",
        "id": f"msg_{n}",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }


def test_templates_splice_back_to_the_value() -> None:
    put = _Recorded()
    store = ItemStore(put)
    value = {"a": "\x00rt not a hole\x00", "z": [1, 2]}
    # a caller's NUL-framed string is not mistaken for a hole: plain body, spliced as is
    assert orjson.loads(template_body(value, ())) == [orjson.dumps(value).decode()]
    first = store.request("t", {"a": "\x00rt", "input": None, "z": 1}, [_msg(1), _msg(2)])
    assert orjson.loads(put.text(first.request)) == {
        "a": "\x00rt",
        "input": [_msg(1), _msg(2)],
        "z": 1,
    }
    empty = store.request("u", {"input": None}, [])
    assert not empty.request.parts
    assert orjson.loads(put.text(empty.request)) == {"input": []}


@pytest.mark.parametrize("hold", [list, tuple])
def test_large_request_values_are_stored_once(hold: Any) -> None:
    """``tools`` and instructions go with every request: one content value for all, the
    tools held in a tuple too (a module's constant: it was written whole in every request)."""
    put = _Recorded()
    store = ItemStore(put)
    tools = [{"type": "function", "name": f"tool_{n}", "description": "d" * 200} for n in range(20)]
    history = [_msg(1)]
    for n in range(3):
        refs = store.request("t", {"model": "m", "tools": hold(tools), "input": None}, history)
        history = [*history, _msg(10 + n)]
        request = orjson.loads(put.text(refs.request))
        assert request["tools"] == tools and request["input"][-1] == _msg(10 + n - 1 if n else 1)
        assert orjson.loads(put.text(refs.prompt))["tools"] == tools
    assert put.kinds().count("content_value") == 1


def test_a_request_value_of_exactly_2_kib_is_stored_once() -> None:
    """docs/format.md: request values of "2 KiB or more" are stored once. ``tools`` of
    exactly ``SHARED_VALUE_MIN_BYTES`` serialised is a content value, one a byte shorter
    stays inline; sharing only longer ones passed every item-store test (mutation audit)."""
    from rollout_trace_sdk.record._content_values import SHARED_VALUE_MIN_BYTES

    for n, size in enumerate((SHARED_VALUE_MIN_BYTES - 1, SHARED_VALUE_MIN_BYTES)):
        put = _Recorded()
        store = ItemStore(put)
        tools = ["x" * (size - 4)]  # ["…"]: 4 bytes of brackets and quotes
        assert len(orjson.dumps(tools)) == size
        refs = store.request("t", {"model": "m", "tools": tools, "input": None}, [_msg(n)])
        assert orjson.loads(put.text(refs.request))["tools"] == tools
        assert put.kinds().count("content_value") == (1 if size == SHARED_VALUE_MIN_BYTES else 0)


def test_resent_history_stores_each_item_once() -> None:
    put = _Recorded()
    store = ItemStore(put)
    history = [_msg(1), _msg(2)]
    first = store.request("t", {"model": "m", "input": None}, history)
    out = [
        {
            "type": "message",
            "id": "a_1",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "yo"}],
        }
    ]
    store.response("t", {"response_id": "r1", "output_items": None}, out, request=first)
    history = [*history, *out, _msg(3)]
    second = store.request("t", {"model": "m", "input": None}, history)
    assert put.kinds().count("model_item") == 4  # msg_1, msg_2, a_1, msg_3: once each
    assert second.incremental and not first.incremental
    assert [r.raw_payload_id for r in second.request.parts] == [second.item_refs[3].raw_payload_id]
    request = orjson.loads(put.text(second.request))
    assert request["previous_response_id"] == "r1"
    assert request["input"] == [_msg(3)]
    prompt = orjson.loads(put.text(second.prompt))
    assert prompt["input_prefix_payload"] == first.prompt.raw_payload_id
    assert prompt["input"] == [*out, _msg(3)]


def test_new_dict_objects_are_recognised_by_content() -> None:
    put = _Recorded()
    store = ItemStore(put, incremental=False)
    history = [_msg(1), _msg(2)]
    store.request("t", {"input": None}, history)
    again = store.request("t", {"input": None}, [*copy.deepcopy(history), _msg(3)])
    assert put.kinds().count("model_item") == 3
    assert orjson.loads(put.text(again.request))["input"] == [_msg(1), _msg(2), _msg(3)]


def test_trimmed_history_is_recorded_whole() -> None:
    put = _Recorded()
    store = ItemStore(put)
    history = [_msg(1), _msg(2), _msg(3)]
    first = store.request("t", {"input": None}, history)
    store.response("t", {"response_id": "r1", "output_items": None}, [], request=first)
    trimmed = store.request("t", {"input": None}, [history[0], history[2]])
    assert not trimmed.incremental
    assert orjson.loads(put.text(trimmed.request))["input"] == [_msg(1), _msg(3)]
    assert "input_prefix_payload" not in orjson.loads(put.text(trimmed.prompt))
    assert put.kinds().count("model_item") == 3


def test_images_are_content_values_stored_once() -> None:
    put = _Recorded()
    store = ItemStore(put)
    image = {"type": "input_image", "image_url": IMAGES[0], "detail": "original"}
    one = {"type": "message", "id": "m1", "role": "user", "content": [image]}
    two = {"type": "message", "id": "m2", "role": "user", "content": [dict(image)]}
    ref_one, ref_two = store.item(one), store.item(two)
    assert put.kinds().count("content_value") == 1
    assert ref_one.parts == ref_two.parts and ref_one.parts[0].kind == "content_value"
    assert orjson.loads(put.text(ref_two)) == two


def test_a_string_of_exactly_the_minimum_length_is_a_content_value() -> None:
    """``content_value_min_chars`` is the shortest string held out of its item: one of that
    length is a content value, one a character shorter stays inline. Holding out only longer
    strings passed every item-store test (mut33)."""
    put = _Recorded()
    store = ItemStore(put, content_value_min_chars=100)
    for n, size in enumerate((99, 100)):
        item = {"type": "function_call_output", "id": f"o{n}", "call_id": "c", "output": "x" * size}
        ref = store.item(item)
        assert [p.kind for p in ref.parts] == ([] if size < 100 else ["content_value"])
        assert orjson.loads(put.text(ref)) == item


@pytest.mark.parametrize("lazy", [False, True])
def test_a_long_string_kept_whole_leaves_the_item_plain(lazy: bool) -> None:
    """An item whose only long string is one never cut out (``encrypted_content``: a
    reasoning item's, an agent message's part) is stored as plain JSON. With lazy strings
    (the writer without limits) it was stored as a template of one fragment and no part,
    ``["{...}"]``, which both reducers read as an item without a ``type``: a reasoning item
    with 64 Ki characters of encrypted content in a request made the whole bundle refused
    ("model item in payload raw_payload:6 did not contain a string type"; live43)."""
    put = _Recorded()
    store = ItemStore(put, content_value_min_chars=100, lazy_strings=lazy)
    item = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "x" * 300}
    ref = store.item(item)
    assert ref.parts == ()
    assert orjson.loads(put.text(ref)) == item


def test_long_encrypted_content_in_a_request_reduces_alike(tmp_path: Path) -> None:
    """The same through the recorder (schema 3, no limits: lazy strings): a reasoning item
    and an agent message carrying 70,000 characters of encrypted content, sent in a
    request, give a bundle Codex 0.171 and our reducer reduce to one state."""
    encrypted = "x" * 70_000
    items = [
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": encrypted},
        {
            "type": "agent_message",
            "author": "/root/a",
            "recipient": "/root",
            "content": [
                {"type": "input_text", "text": "hi"},
                {"type": "encrypted_content", "encrypted_content": encrypted + "y"},
            ],
        },
    ]

    async def record() -> None:
        async with (
            open_rollout(tmp_path, schema_version=3, model="m", provider_name="p") as rollout,
            rollout.root.turn() as turn,
            turn.inference({"model": "m", "input": [_msg(1), *items]}) as call,
        ):
            call.completed(response_id="r1", output_items=[], accept=False)

    anyio.run(record)
    check_bundle(bundle_in(tmp_path))


def test_oversized_item_keeps_its_structure_under_max_payload_bytes() -> None:
    put = _Recorded()
    store = ItemStore(put, max_payload_bytes=500)
    item = {"type": "function_call_output", "id": "o1", "call_id": "c1", "output": "x" * 2000}
    ref = store.item(item)
    assert [p.kind for p in ref.parts] == ["content_value"]
    skeleton = orjson.loads(put.payloads[int(ref.raw_payload_id.split(":")[1]) - 1][1])
    assert '"call_id":"c1"' in skeleton[0]


class _Touchy:
    """A value that refuses comparison (as a numpy array does)."""

    def __eq__(self, other: object) -> bool:
        raise ValueError("ambiguous")

    __hash__ = None  # type: ignore[assignment]


def test_odd_values_neither_raise_nor_stop_the_store() -> None:
    put = _Recorded()
    store = ItemStore(put, dumps=lambda v: orjson.dumps(v, default=repr))
    odd = {"type": "message", "id": "m1", "role": "user", "content": [], "x": _Touchy()}
    first = store.request("t", {"input": None}, [odd])
    copy_of = {**odd, "x": _Touchy()}
    second = store.request("t", {"input": None}, (copy_of, _msg(2)))  # a tuple, too
    assert not second.incremental and len(second.item_refs) == 2
    assert first.item_refs[0] != second.item_refs[0]  # repr differs: stored again, no error


def test_a_response_id_seen_twice_in_a_thread_is_not_built_on() -> None:
    put = _Recorded()
    store = ItemStore(put)
    history = [_msg(1)]
    for n in range(3):
        req = store.request("t", {"input": None}, history)
        out = [_msg(100 + n)]
        store.response("t", {"response_id": "same", "output_items": None}, out, request=req)
        history = [*history, *out]
        assert req.incremental == (n == 1)


# --- bundles through both reducers ---------------------------------------------------------

Step = tuple[str, int]


@st.composite
def _scripts(draw: st.DrawFn) -> list[Step]:
    ops = st.sampled_from(["turn", "infer", "tool", "trim", "copy", "noid", "dupid", "image_tool"])
    return draw(st.lists(st.tuples(ops, st.integers(0, 5)), min_size=1, max_size=14))


def _write(
    directory: Path,
    script: list[Step],
    *,
    incremental: bool = True,
    limits: CaptureLimits | None = None,
) -> None:
    bundle = V3Bundle(directory, incremental=incremental, limits=limits, rotate_bytes=6000)
    conv = Conversation(bundle)
    conv.start_turn("start", image=IMAGES[0])
    pending: list[dict[str, Any]] = []
    for op, arg in script:
        if op == "turn":
            conv.end_turn()
            conv.start_turn(f"turn {arg}", image=IMAGES[arg % 2] if arg % 3 == 0 else None)
        elif op in ("infer", "trim", "copy", "noid", "dupid"):
            items: list[dict[str, Any]] | None = None
            if op == "trim" and len(conv.history) > 2:
                items = conv.history[:1] + conv.history[2:]
            elif op == "copy":
                items = copy.deepcopy(conv.history)
            rid: str | bool | None = True
            if op == "noid":
                rid = None
            elif op == "dupid":
                rid = "resp_dup"
            out = conv.infer(
                items,
                text="t" * (arg * 300),
                call_tool=f"cmd {arg}" if arg % 2 else None,
                response_id=rid,
            )
            pending.extend(item for item in out if item["type"] == "function_call")
        elif op in ("tool", "image_tool") and pending:
            call = pending.pop(0)
            if op == "image_tool":
                output: Any = [
                    {"type": "input_image", "image_url": IMAGES[arg % 2], "detail": "original"}
                ]
                conv.tool(call, output)
            else:
                conv.tool(call, "o" * (arg * 400))
    conv.infer()
    conv.end_turn()
    conv.finish()


def _ours(directory: Path) -> Any:
    return orjson.loads(state_bytes(reduce_bundle(directory)))


_settings = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_settings
@given(script=_scripts())
def test_incremental_requests_reduce_like_full_ones(
    tmp_path_factory: pytest.TempPathFactory, script: list[Step]
) -> None:
    """The delta form is a representation choice only: the reduced state (but the payload
    bodies) is the one the full requests give."""
    base = tmp_path_factory.mktemp("inc")
    _write(base / "inc", script)
    _write(base / "full", script, incremental=False)
    inc, full = _ours(base / "inc"), _ours(base / "full")
    inc.pop("raw_payloads")
    full.pop("raw_payloads")
    assert inc == full, first_difference(inc, full)


@pytest.mark.skipif(codex_bin(3) is None, reason="no Codex 0.171 (set CODEX3_BIN)")
@_settings
@given(script=_scripts(), limited=st.sampled_from([None, 400, 20_000]))
def test_store_bundles_reduce_alike_with_codex_and_ours(
    tmp_path_factory: pytest.TempPathFactory, script: list[Step], limited: int | None
) -> None:
    limits = None
    if limited == 400:
        limits = CaptureLimits(max_payload_bytes=400)
    elif limited is not None:
        limits = CaptureLimits(max_bundle_bytes=limited)
    bundle = tmp_path_factory.mktemp("v3") / "b"
    _write(bundle, script, limits=limits)
    ok, stderr, expected = codex_reduce(bundle)
    assert ok, stderr
    ours = _ours(bundle)
    assert ours == expected, first_difference(ours, expected)
    if limits is None:
        assert ours["recording_status"] == "complete"


def test_request_refs_are_frozen() -> None:
    put = _Recorded()
    refs = ItemStore(put).request("t", {"input": None}, [_msg(1)])
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        refs.incremental = True  # type: ignore[misc]
