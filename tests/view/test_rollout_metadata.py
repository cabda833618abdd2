"""``view/rollout_metadata.py``: a rollout's metadata (``Rollout.add_metadata``) read back from
its ``rollout_metadata`` protocol events, merged in log order, and shown by ``summary`` (text
and JSON), the page's view model and the exports' ``rollouts.metadata`` (user50: an RL user
could not join a rollout to its episode). The recorder's side is tests/record/test_rollout.py."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import anyio
import orjson

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.export.query import run
from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.model import build_view_model
from rollout_trace_sdk.view.rollout_metadata import (
    metadata_and_cut,
    metadata_texts,
    read_metadata,
)

from .conftest import Page, write_page

LONG = "x" * 300


async def _record(root: Path, **metadata: object) -> Path:
    async with open_rollout(root, model="m", metadata={"episode": 17}) as rollout:
        async with rollout.root.turn():
            pass
        rollout.add_metadata(metadata)
    assert rollout.bundle_dir is not None
    return rollout.bundle_dir


def _cli(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert main(list(args), out=out, err=err) == 0, err.getvalue()
    return out.getvalue()


def test_summary_prints_the_metadata_and_its_json_has_it_whole(tmp_path: Path) -> None:
    bundle = anyio.run(lambda: _record(tmp_path, reward=0.5, note=LONG))
    text = _cli("summary", str(bundle))
    line = next(line for line in text.splitlines() if "metadata" in line)
    assert "episode=17" in text and "reward=0.5" in text
    assert "note=" + "x" * 79 + "…" in text.replace("\n", "").replace(" ", "")
    assert LONG not in text, line
    summary = json.loads(_cli("summary", str(bundle), "--json"))
    assert summary["rollout"]["metadata"] == {"episode": 17, "reward": 0.5, "note": LONG}


def test_a_rollout_without_metadata_says_none(tmp_path: Path) -> None:
    async def plain() -> Path:
        async with open_rollout(tmp_path, model="m") as rollout:
            pass
        assert rollout.bundle_dir is not None
        return rollout.bundle_dir

    bundle = anyio.run(plain)
    assert "metadata" not in _cli("summary", str(bundle))
    assert json.loads(_cli("summary", str(bundle), "--json"))["rollout"]["metadata"] == {}
    assert build_view_model(load_state(bundle))["meta"]["metadata"] == []


def test_the_page_shows_each_value_cut(tmp_path: Path) -> None:
    bundle = anyio.run(lambda: _record(tmp_path, reward=0.5, note=LONG))
    meta = build_view_model(load_state(bundle))["meta"]
    pairs = [list(pair) for pair in meta["metadata"]]
    assert pairs[:2] == [["episode", "17"], ["reward", "0.5"]]
    assert pairs[2][0] == "note" and pairs[2][1] == "x" * 199 + "…"


def test_the_exports_hold_it_as_json(tmp_path: Path) -> None:
    bundle = anyio.run(lambda: _record(tmp_path, reward=0.5, big=2**70))
    out = tmp_path / "tables"
    _cli("export", str(bundle), "--to", str(out))
    _, rows = run(
        out,
        "SELECT json_extract(metadata, '$.episode')::INT, json_extract(metadata, '$.reward')"
        "::DOUBLE, metadata FROM rollouts",
    )
    [(episode, reward, whole)] = rows
    assert (episode, reward) == (17, 0.5)
    assert json.loads(whole) == {"episode": 17, "reward": 0.5, "big": 2**70}


def test_an_unreadable_payload_adds_nothing_and_what_was_read_stays(tmp_path: Path) -> None:
    """The second event's payload is gone (a crash, a hand edit): the first's values stay."""
    bundle = anyio.run(lambda: _record(tmp_path, reward=0.5))
    lines = [orjson.loads(line) for line in (bundle / "trace.jsonl").read_bytes().splitlines()]
    refs = [
        e["payload"]["event_payload"]
        for e in lines
        if e["payload"].get("event_type") == "rollout_metadata"
    ]
    assert len(refs) == 2
    if "path" in refs[1] and refs[1]["path"]:  # schema 2: one file a payload
        (bundle / refs[1]["path"]).unlink()
        assert read_metadata(bundle) == {"episode": 17}
    else:
        assert read_metadata(bundle) == {"episode": 17, "reward": 0.5}


def test_many_keys_are_shown_up_to_a_count_and_long_keys_cut(tmp_path: Path) -> None:
    """10,000 keys (a loop's per-step values given to ``add_metadata``) printed 1,413 lines
    of ``summary`` before its totals, and as many pairs in the page's header; a 5 MB key was
    printed whole. Both show the first ``METADATA_KEYS`` pairs and say how many more there
    are, a key cut as a value is; ``summary --json`` has them all (review50)."""
    many = {f"k{i}": i for i in range(10_000)}
    bundle = anyio.run(lambda: _record(tmp_path, **{"q" * 5000: 1}, **many))
    text = _cli("summary", str(bundle))
    head = text.split("totals")[0]
    assert len(head.splitlines()) < 12, head[:2000]
    assert "9,982 more" in head
    assert "q" * 200 not in head
    assert len(json.loads(_cli("summary", str(bundle), "--json"))["rollout"]["metadata"]) == 10_002
    meta = build_view_model(load_state(bundle))["meta"]
    assert len(meta["metadata"]) == 20 and meta["metadata_more"] == 9_982
    assert meta["metadata"][1][0] == "q" * 199 + "…"


def test_a_key_is_cut_as_a_value_is() -> None:
    assert metadata_texts({"k" * 9: "v"}, 5) == [("kkkk…", "v")]
    assert len(metadata_texts({f"k{i}": i for i in range(30)}, 80, keys=20)) == 20


def test_summary_says_what_a_capture_limit_left_of_the_metadata(tmp_path: Path) -> None:
    """Under ``max_bundle_bytes`` the reward recorded at the episode's end, once the bundle's
    payload budget is spent, is omitted, and a value past ``max_payload_bytes`` is cut: the
    readers skipped such records without a word, and ``summary`` showed the rest as if it were
    all the metadata. It says how many records a capture limit cut or left out now
    (``--json``: ``rollout.metadata_cut``), and ``read_metadata`` counts them (review50)."""

    async def record() -> Path:
        async with open_rollout(
            tmp_path, model="m", schema_version=3, max_bundle_bytes=20_000, metadata={"ep": 1}
        ) as rollout:
            rollout.add_metadata(note="y" * 50_000)
            rollout.add_metadata(reward=0.5)
        assert rollout.bundle_dir is not None
        return rollout.bundle_dir

    bundle = anyio.run(record)
    assert read_metadata(bundle) == {"ep": 1}
    assert metadata_and_cut(bundle) == ({"ep": 1}, 2)
    text = " ".join(_cli("summary", str(bundle)).split())
    assert "metadata · ep=1 · 2 records cut by a capture limit" in text, text
    summary = json.loads(_cli("summary", str(bundle), "--json"))
    assert summary["rollout"]["metadata"] == {"ep": 1}
    assert summary["rollout"]["metadata_cut"] == 2


def test_values_are_json_unless_text_and_cut_with_an_ellipsis() -> None:
    texts = metadata_texts({"a": "plain", "b": [1, "x"], "c": None, "d": 2**70, "e": "y" * 9}, 5)
    assert texts == [("a", "plain"), ("b", '[1,"…'), ("c", "null"), ("d", "1180…"), ("e", "yyyy…")]


def test_the_page_shows_the_metadata_in_its_header(
    page: Page, demo_state: Any, tmp_path: Path
) -> None:
    """Each pair in the summary line, escaped (a key or value is the agent's text), a long
    value cut there and whole in its title."""
    state = orjson.loads(orjson.dumps(demo_state))
    state["rollout_metadata"] = {"episode": 17, "<b>k</b>": "<i>v</i>", "note": LONG}
    source = tmp_path / "state.json"
    source.write_bytes(orjson.dumps(state))
    p = page.open(write_page(source, tmp_path / "page.html"))
    p.wait_for_selector("#metadata")
    shown = p.eval_on_selector_all("#metadata .meta-pair", "els => els.map(e => e.textContent)")
    assert shown == ["episode=17", "<b>k</b>=<i>v</i>", "note=" + "x" * 39 + "…"], shown
    title = p.eval_on_selector_all("#metadata .meta-pair", "els => els[2].title")
    assert title == "note=" + "x" * 199 + "…"
    assert page.errors == []


def test_the_page_says_how_many_more_keys_there_are(
    page: Page, demo_state: Any, tmp_path: Path
) -> None:
    """Past ``METADATA_KEYS`` pairs the header says how many more (review50)."""
    state = orjson.loads(orjson.dumps(demo_state))
    state["rollout_metadata"] = {f"k{i}": i for i in range(1_025)}
    source = tmp_path / "state.json"
    source.write_bytes(orjson.dumps(state))
    p = page.open(write_page(source, tmp_path / "page.html"))
    p.wait_for_selector("#metadata")
    assert p.eval_on_selector_all("#metadata .meta-pair", "els => els.length") == 20
    assert "+1,005 more" in p.inner_text("#metadata")
    assert page.errors == []
