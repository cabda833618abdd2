"""Conversation item shapes the reducer reads by rules of its own rather than as serde structs:
a reasoning item's entry lists, an agent message's content entries, the tool items kept whole
as JSON.

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

#: Tool calls the server runs (and the legacy local shell call), which both reducers keep whole
#: as their JSON (every field but Codex's passthrough metadata): the same call sent back with
#: one field more or less is another conversation item.
WHOLE_JSON_CALLS: Final = frozenset(
    {"tool_search_call", "web_search_call", "image_generation_call", "local_shell_call"}
)
#: The outputs both reducers keep whole as their JSON, likewise.
WHOLE_JSON_OUTPUTS: Final = frozenset({"tool_search_output", "mcp_tool_call_output"})

#: How Codex's envelope of a message between agents ends (``Message Type``, ``Task name``,
#: ``Sender`` lines, then this): the text delivered follows it. The recorder writes it
#: (``record/items.py``); ``diff`` reads an agent's task after it.
ENVELOPE_PAYLOAD: Final = "\nPayload:\n"
