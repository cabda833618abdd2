"""Conversation item shapes the reducer reads by rules of its own rather than as serde structs:
a reasoning item's entry lists, an agent message's content entries.

The recorder checks an item against the same tables before it writes it (an item the reducer
would refuse is recorded in a form it accepts), so each rule is stated once, here.
"""

from __future__ import annotations

from typing import Final

#: A reasoning item's entry lists, each with the entry types it may hold (every entry carries
#: its words in ``text``).
REASONING_ENTRIES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("content", ("reasoning_text", "text")),
    ("summary", ("summary_text",)),
)

#: An agent message's content entry types, in Codex's declaration order (serde reads a
#: variant index by it), each with the field holding its text.
AGENT_CONTENT_FIELDS: Final[dict[str, str]] = {
    "input_text": "text",
    "encrypted_content": "encrypted_content",
}
