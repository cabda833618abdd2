"""How ``show`` and ``summary`` style what they print (view/show_format.py)."""

from __future__ import annotations

import pytest

from rollout_trace_sdk.reduce.failures import FAILED_STATUSES
from rollout_trace_sdk.view.show_format import status_style


@pytest.mark.parametrize(
    ("status", "style"),
    [("running", "yellow"), ("completed", "green"), (None, "green")]
    + [(status, "bold red") for status in sorted(FAILED_STATUSES)],
)
def test_a_status_prints_in_the_colour_of_how_it_went(status: str | None, style: str) -> None:
    """Failures red, running yellow, the rest green: the colour is how a reader scans a long
    listing for what went wrong or is still going. Found by the mut38 audit: running
    printed green (and everything else yellow) and no test failed."""
    assert status_style(status) == style
