"""Two rollouts compared from Python: :func:`diff_rollouts`, what ``rollout-trace diff A B
--json`` prints.

A researcher comparing two agent versions over an eval set scripts it (a loop over task pairs,
a regression report, a notebook): without this, the comparison was reachable only through the
command line's JSON or the view layer's internals.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

__all__ = ["diff_rollouts"]


def diff_rollouts(
    a: str | os.PathLike[str],
    b: str | os.PathLike[str],
    *,
    thread: str | None = None,
    ignore: Sequence[str] = (),
    actions_only: bool = False,
    lenient: bool = False,
) -> dict[str, Any]:
    """Where two rollouts of one task part ways, agent by agent (docs/viewing.md, "Comparing
    two rollouts").

    Args:
        a: the first rollout: a bundle directory or a ``state.json``.
        b: the second.
        thread: only this agent (its path in either rollout, or its nickname).
        ignore: regular expressions whose matches are left out of every comparison (a
            process id, a time, a temporary path).
        actions_only: compare what the agents did, not the results they got.
        lenient: reduce crash-cut bundles leniently, as ``--lenient`` does.

    Returns:
        The comparison as ``diff A B --json`` prints it: ``alike``, each rollout's totals,
        and per agent its steps aligned (``agents``).

    Raises:
        ReduceError: a bundle does not reduce (or is no bundle).
        LookupError: ``thread`` names no agent of either rollout.
        re.error: an ``ignore`` pattern is not a regular expression.
    """
    from .diff import build_diff
    from .load import load_state

    states = [load_state(os.fspath(source), lenient=lenient) for source in (a, b)]
    return build_diff(states[0], states[1], thread=thread, ignore=ignore, results=not actions_only)
