"""Ids and agent names as people give them back (``view/ids``)."""

from __future__ import annotations

from rollout_trace_sdk.view.ids import find_agent, names

_THREADS = [
    {"thread_id": "019a0000-0000-7000-8000-000000000001", "agent_path": "/root"},
    {
        "thread_id": "019a0000-0000-7000-8000-000000000002",
        "agent_path": "/root/fix\u200ber",
        "nickname": "Pla\u200bto",
    },
]


def test_an_id_is_named_as_stored_or_as_printed_and_by_nothing_else() -> None:
    """``show`` prints a character shown as nothing spelled (``call_\\u200ba``): the id must
    be taken back in that form as well as raw, and the plain text it hides must not name
    it (an ``and`` for the ``or`` passed every test: ``--call`` falls back to prefixes,
    which found the printed form alone: mut43)."""
    assert names("call_\u200ba", "call_\u200ba")
    assert names("call_\\u200ba", "call_\u200ba")
    assert not names("call_a", "call_\u200ba")
    assert not names("call_\\u200ba", None)


def test_an_agent_is_found_by_its_path_or_nickname_as_printed() -> None:
    """A path or nickname holding an invisible character is printed spelled in the agents
    table, and ``--thread`` given that text finds the agent: nicknames and paths have no
    prefix fallback, so only :func:`names`' printed form finds them."""
    sub = _THREADS[1]
    assert find_agent(_THREADS, "/root/fix\\u200ber") is sub
    assert find_agent(_THREADS, "Pla\\u200bto") is sub
    assert find_agent(_THREADS, "/root/fix\\u200ber (Pla\\u200bto)") is sub
    assert find_agent(_THREADS, "Pla\u200bto") is sub


def test_a_task_name_alone_is_refused_naming_the_agents_whose_path_ends_so() -> None:
    """``--thread worker_1`` (the name given at the spawn, the path's last segment) names no
    agent, and the refusal said only that: it now names the agents whose path ends with it,
    what to type (review user43: ``show --follow --thread worker_1`` waited the whole
    recording and then said it named nothing)."""
    import pytest

    threads = [
        *_THREADS,
        {"thread_id": "019a0000-0000-7000-8000-000000000003", "agent_path": "/root/worker_1"},
        {"thread_id": "019a0000-0000-7000-8000-000000000004", "agent_path": "/root/a/worker_1"},
    ]
    with pytest.raises(LookupError) as refused:
        find_agent(threads, "worker_1")
    assert str(refused.value) == (
        "no agent with path, nickname or thread id 'worker_1' in this rollout"
        " (a path that ends so: /root/worker_1, /root/a/worker_1)"
    )
    with pytest.raises(LookupError) as refused:
        find_agent(threads, "nobody")
    assert (
        str(refused.value) == "no agent with path, nickname or thread id 'nobody' in this rollout"
    )
