"""``model.layout``: payload ids and the numbers they carry; JSON text kept in memory."""

from __future__ import annotations

import os
import tracemalloc

import orjson
import pytest

from rollout_trace_sdk.model.layout import (
    RIGHT_SIZE_BELOW,
    is_work_in_progress,
    payload_file_name,
    payload_file_number,
    payload_number,
    payload_path,
    raw_payload_id,
    right_sized,
    shard_name,
    shard_number,
    work_prefix,
)


@pytest.mark.parametrize("number", [1, 9, 10, 123456789])
def test_ids_as_codex_spells_them_carry_their_number(number: int) -> None:
    assert payload_number(raw_payload_id(number)) == number


@pytest.mark.parametrize(
    "payload_id",
    ["raw_payload:01", "raw_payload:²", "raw_payload:١", "raw_payload:", "raw_payload:1a", "x:1"],
)
def test_other_spellings_carry_none(payload_id: str) -> None:
    # as numbers they would collide with another id's file or fail int()
    assert payload_number(payload_id) is None


def _held(make: object, n: int = 200) -> float:
    """Bytes held per object ``make()`` returns, as the allocator was asked for them."""
    assert callable(make)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [make() for _ in range(n)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(kept) == n
    return held / n


@pytest.mark.parametrize("size", [10, 1_000, 20_000])
def test_short_texts_are_kept_in_their_own_size(size: int) -> None:
    value = {"text": "x" * size}
    text = orjson.dumps(value)
    assert right_sized(text) == text
    # orjson 3.12 and 3.13 hold 4 KB, 8 KB and 260 KB for these (not asserted: a later
    # orjson may stop); the copy holds the text and an object header
    assert _held(lambda: right_sized(orjson.dumps(value))) < len(text) + 100


def test_long_texts_are_kept_as_they_are() -> None:
    text = orjson.dumps("x" * RIGHT_SIZE_BELOW)
    assert right_sized(text) is text  # its unused tail costs no memory; a copy costs time


@pytest.mark.parametrize("name", ["out", "é" * 127 + "x", "\udcff" * 255])
@pytest.mark.parametrize("verb", ["convert", "redact", "old"])
def test_a_work_name_fits_a_file_name_and_is_known_as_one(name: str, verb: str) -> None:
    # a target name of NAME_MAX bytes made a hidden name the file system refused
    hidden = work_prefix(name, verb) + "a1b2c3d4e5f6"
    assert len(os.fsencode(hidden)) <= 255
    assert is_work_in_progress(hidden)


@pytest.mark.parametrize("number", [1, 12, 999_999, 1_234_567])
def test_a_shard_name_gives_back_its_number(number: int) -> None:
    assert shard_number(shard_name(number)) == number


@pytest.mark.parametrize("name", ["1.zst", "0001.zst", "000001.json", "00000a.zst", "٠٠٠٠٠١.zst"])
def test_a_name_codex_would_not_open_as_a_shard_has_no_number(name: str) -> None:
    """Only the zero-padded name Codex opens is a shard: ``1.zst`` beside ``000001.zst`` is
    a stray file, not a second shard 1."""
    assert shard_number(name) is None


@pytest.mark.parametrize("number", [1, 12, 1_234_567])
def test_a_payload_file_name_gives_back_its_number(number: int) -> None:
    assert payload_file_number(payload_file_name(number)) == number
    assert payload_path(number) == f"payloads/{payload_file_name(number)}"


@pytest.mark.parametrize(
    ("name", "number"), [("012.json", 12), ("12", 12), ("x.json", None), ("1.zst", None)]
)
def test_a_payload_file_number_is_its_digits(name: str, number: int | None) -> None:
    """``redact`` must not write a new payload over any file a number names, and ``validate``
    counts every numbered file in a trail: the digits as they are, the suffix optional."""
    assert payload_file_number(name) == number
