"""What a request, an output or a history lost: one sentence, and the kind of loss it is.

The sentences are what the bundle records (``rollout_trace_input_dropped``'s ``problems``)
and what the warning says; the kind decides whether the warning is shown (one of each kind
per process, ``_warnings.py``). All of a part's problems once shared one kind, so a loop
that first sent an unknown item type never heard that a later request named a conversation
the rollout never recorded, though the advice differs (review kinds38). So each site that
finds a problem names its kind there, a short stable key, never parsed from the text.

A :class:`Problem` is the sentence itself (a ``str``), carrying its kind: everything that
reads, joins or compares the sentences (the event, the warning's text, the tests) is as it
was, and only :func:`.inference.report_dropped` reads the kind.

The checks the reducers make on the items they parse strictly (``reasoning``,
``agent_message``), which a request's items and a message delivered to a thread both pass,
live here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..model.items import AGENT_CONTENT_FIELDS, REASONING_ENTRIES

#: The kind of problem an ``agent_message`` item the reducers refuse is, in a request
#: (``requests``) or delivered to a thread (``turns``).
AGENT_MESSAGE_REFUSED: Final = "agent message refused"


class Problem(str):
    """One thing dropped or not understood: the sentence, with its ``kind``.

    Made only by the site that finds the problem (``Problem("unknown item type", ...)``);
    a string built from one (``"; ".join``, an f-string) is a plain ``str``, which the
    ``list[Problem]`` the finders fill does not take, so a kind is never lost unseen."""

    kind: str

    def __new__(cls, kind: str, sentence: str) -> Problem:
        made = super().__new__(cls, sentence)
        made.kind = kind
        return made

    def __reduce__(self) -> tuple[type[Problem], tuple[str, str]]:
        """Pickled (a copy, a deep copy) as its kind and sentence: ``str``'s own would call
        ``Problem(sentence)``."""
        return Problem, (self.kind, str(self))


# --- checks the reducers make on the items they do not merely copy ------------------------------


def reasoning_problem(item: Mapping[str, Any]) -> str | None:
    """What in a ``reasoning`` item the reducers refuse, or ``None`` (as
    :func:`agent_message_problem`)."""
    found = False
    # the reducer's rules (model.items): it fails where this drops. Its loop
    # (reduce.normalize._reasoning_body) looks alike but builds the body, with Codex's
    # errors and references to parts not kept; this one reads what an agent holds (tuples
    # too): the rules are the one fact shared, REASONING_ENTRIES
    for key, allowed in REASONING_ENTRIES:
        if key not in item:
            continue
        entries = item[key]
        if entries is None and key == "content":
            continue
        if not isinstance(entries, list | tuple):
            return f"has a non-list {key}"
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("type") not in allowed:
                return f"has a {key} entry that is not one of {', '.join(allowed)}"
            if not isinstance(entry.get("text"), str):
                return f"has a {key} entry without string text"
            found = True
    encrypted = item.get("encrypted_content")
    if encrypted is not None and not isinstance(encrypted, str):
        return "has a non-string encrypted_content"
    if not found and encrypted is None:
        return "has no content, summary or encrypted_content"
    return None


def agent_message_problem(item: Mapping[str, Any]) -> str | None:
    """What in an ``agent_message`` item both reducers refuse (they parse one strictly, and
    a single one they cannot parse fails the whole bundle), or ``None``.

    Args:
        item: an item of type ``agent_message``.

    Returns:
        The problem, as the end of a sentence naming the item ("has no string author").
    """
    for key in ("author", "recipient"):
        if not isinstance(item.get(key), str):
            return f"has no string {key}"
    if item.get("id") is not None and not isinstance(item["id"], str):
        return "has a non-string id"
    content = item.get("content")
    if not isinstance(content, list | tuple) or not content:
        return "has no content list"
    for entry in content:
        kind = entry.get("type") if isinstance(entry, dict) else None
        field = AGENT_CONTENT_FIELDS.get(kind) if isinstance(kind, str) else None
        if field is None or not isinstance(entry.get(field), str):
            return "has a content entry that is neither input_text nor encrypted_content"
    return None
