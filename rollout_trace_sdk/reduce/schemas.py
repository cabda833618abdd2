"""Which schema a bundle is read as, and Codex's words when it is neither.

Codex 0.169 reads only schema 2 and Codex 0.171 only schema 3; we read both and dispatch on the
manifest. For a schema we do not read, the refusal repeats the Codex whose bundle layout this
is: a bundle with zstd shards is refused in 0.171's words, any other in 0.169's. Events are
gated against the manifest's schema, in that schema's Codex's words.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..model import layout


def _has_shards(root: Path) -> bool:
    try:
        with os.scandir(root / layout.PAYLOADS_DIR) as entries:
            return any(entry.name.endswith(layout.SHARD_SUFFIX) for entry in entries)
    except OSError:
        return False


def manifest_gate_text(schema: int, root: Path) -> str:
    """The refusal of a manifest whose ``schema_version`` we do not read."""
    if _has_shards(root):
        return (
            f"unsupported manifest schema {schema} (expected {layout.SCHEMA_3}). "
            "Run the exact Codex executable that recorded this bundle"
        )
    return (
        f"trace schema {schema} cannot establish accepted history; "
        "use its matching reducer or record a new bundle"
    )


def event_gate_text(bundle_schema: int, event_schema: int, line: int) -> str:
    """The refusal of an event whose ``schema_version`` is not the manifest's."""
    text = f"unsupported trace event schema {event_schema} at line {line}"
    if bundle_schema == layout.SCHEMA_3:
        text += (
            f" (expected {layout.SCHEMA_3}). "
            "Run the exact Codex executable that recorded this bundle"
        )
    return text
