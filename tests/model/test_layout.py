"""``model.layout``: payload ids and the numbers they carry."""

from __future__ import annotations

import pytest

from rollout_trace_sdk.model.layout import payload_number, raw_payload_id


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
