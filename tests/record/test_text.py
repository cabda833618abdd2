"""Text the recorder makes of the agent's values (``record/_text``)."""

from __future__ import annotations

from rollout_trace_sdk.record import tool_kinds
from rollout_trace_sdk.record._text import clip


def test_a_text_of_exactly_the_limit_is_kept_whole_and_one_more_is_cut() -> None:
    """``clip``'s limit is inclusive, as the writer's fast path for tool-call previews
    (``len(text) <= PREVIEW_CHARS``: kept as is) reads it: a preview of exactly 160
    characters is the same whichever path records it, with no ``...`` after a text that
    lost nothing (a ``<`` there passed every test: mut43)."""
    exact = "word " * 31 + "words"
    assert len(exact) == tool_kinds.PREVIEW_CHARS
    assert tool_kinds.preview(exact) == exact
    assert clip("ab cd", 5) == "ab cd"
    assert clip("ab cd", 4) == "ab ..."  # the cut falls inside "cd": the run goes


def test_a_chain_of_groups_gives_the_leaves_of_the_first_hundred() -> None:
    """``group_leaves`` opens at most 100 groups; the leaves of those it opened are all said,
    also those the 100th group holds (a chain exactly 100 deep gave none: mut52)."""
    from rollout_trace_sdk.record._text import group_leaves

    def chain(depth: int) -> BaseExceptionGroup[BaseException]:
        group: BaseExceptionGroup[BaseException] = BaseExceptionGroup(
            "g", [ValueError(f"leaf {depth}")]
        )
        for n in range(depth - 1, 0, -1):
            inner: list[BaseException] = [ValueError(f"leaf {n}"), group]
            group = BaseExceptionGroup("g", inner)
        return group

    assert [str(e) for e in group_leaves(chain(100))] == [f"leaf {n}" for n in range(1, 101)]
    assert [str(e) for e in group_leaves(chain(150))] == [f"leaf {n}" for n in range(1, 101)]
