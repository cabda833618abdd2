"""A dropped input's problem (``record/_problems.py``): the sentence as the bundle records
it, carrying its kind through copies."""

from __future__ import annotations

import copy
import pickle

import orjson

from rollout_trace_sdk.record._problems import Problem


def test_a_problem_is_its_sentence_with_its_kind() -> None:
    """Compared, joined and encoded as its sentence; its kind survives a deep copy and a
    pickle (``str``'s own reduction would rebuild it from the sentence alone)."""
    problem = Problem("unknown item type", "input[1] (x) is not an item type; dropped")
    assert problem == "input[1] (x) is not an item type; dropped"
    assert orjson.dumps([str(problem)]) == b'["input[1] (x) is not an item type; dropped"]'
    for copied in (copy.deepcopy(problem), pickle.loads(pickle.dumps(problem))):
        assert copied == problem and copied.kind == "unknown item type"
