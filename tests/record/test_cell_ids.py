"""Runtime cell ids made unique per thread, and the waits that name them (``_cell_ids``)."""

from __future__ import annotations

import orjson

from rollout_trace_sdk.record._cell_ids import CellNames, renamed_wait, wait_target


def test_an_id_used_again_in_a_thread_is_numbered_and_named_by_its_latest_cell() -> None:
    names = CellNames()
    assert names.claim("t", "1") == ("1", False)
    assert names.claim("other", "1") == ("1", False)  # each thread numbers its own
    assert names.named("t", "1") == "1"
    assert names.claim("t", "1") == ("1#2", True)
    assert names.claim("t", "1#2") == ("1#2#2", True)  # a given id the renaming took
    assert names.claim("t", "1") == ("1#3", True)
    assert names.named("t", "1") == "1#3"
    assert names.named("other", "1") == "1"
    assert names.named("t", "9") == "9"  # never recorded: as given


def test_a_wait_names_its_cell_by_its_cell_id_argument() -> None:
    assert wait_target("wait", '{"cell_id": "1", "yield_time_ms": 5}') == "1"
    assert wait_target("wait", {"cell_id": "2"}) == "2"
    assert wait_target("wait", "not json") is None
    assert wait_target("wait", {"cell_id": 3}) is None
    assert wait_target("wait_agent", {"cell_id": "1"}) is None


def test_a_renamed_wait_keeps_its_other_arguments_and_its_form() -> None:
    text = renamed_wait('{"cell_id": "1", "yield_time_ms": 5}', "1#2")
    assert isinstance(text, str)
    assert orjson.loads(text) == {"cell_id": "1#2", "yield_time_ms": 5}
    given = {"cell_id": "1", "max_tokens": 10}
    assert renamed_wait(given, "1#2") == {"cell_id": "1#2", "max_tokens": 10}
    assert given["cell_id"] == "1"  # the agent's own arguments are not changed
