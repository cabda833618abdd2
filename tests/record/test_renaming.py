"""``record/_renaming.unique_name``: turn, tool call and code cell ids renamed ``id#2`` when
used again, the names kept by space in dicts the garbage collector does not walk."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from rollout_trace_sdk.record._renaming import Names, unique_name


def test_a_name_used_again_is_renamed_in_its_space_only() -> None:
    used: dict[str, Names] = {}
    assert unique_name(used, "turn", "a") == ("a", False)
    assert unique_name(used, "turn", "a") == ("a#2", True)
    assert unique_name(used, "turn", "a#2") == ("a#2#2", True)
    assert unique_name(used, "tool call", "a") == ("a", False)
    assert unique_name(used, "turn", "a") == ("a#3", True)


class _SwitchAfterLooking(dict[str, Names]):
    """The names by space, where another OS thread takes a name just after this one looked
    for the space (a thread switch between the look and the insert)."""

    def __init__(self) -> None:
        super().__init__()
        self.other: Callable[[], Any] | None = None

    def get(self, key: str, default: Any = None) -> Any:
        found = super().get(key, default)
        other, self.other = self.other, None
        if other is not None:
            thread = threading.Thread(target=other)
            thread.start()
            thread.join()
        return found


def test_two_threads_naming_the_first_ids_of_a_space_keep_both() -> None:
    """Handles may be used from any OS thread. The first name of a space made the space's
    dict: two threads doing so at once each made one, and the second replaced the first,
    so the first thread's id was forgotten and a later call with it was not renamed (a tool
    call started twice: both reducers refuse the whole bundle)."""
    used = _SwitchAfterLooking()
    used.other = lambda: unique_name(used, "tool call", "call_b")
    assert unique_name(used, "tool call", "call_a") == ("call_a", False)
    assert set(used["tool call"]) == {"call_a", "call_b"}
    assert unique_name(used, "tool call", "call_b") == ("call_b#2", True)
