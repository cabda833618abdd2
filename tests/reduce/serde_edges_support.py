"""What a case of ``test_serde_edges`` is, and how it edits its copy of a corpus bundle."""

from __future__ import annotations

from pathlib import Path

import attrs

from tests.reduce.v3_bundles import read_records, shard_bytes

#: As an edit's ``old``: the whole record (or file) is replaced.
WHOLE = b"<whole record>"


@attrs.frozen
class Case:
    """The first ``old`` in ``file`` of the scenario's bundle becomes ``new`` (see
    :func:`apply_edit`); Codex then printed ``expected`` (None: it reduced the bundle)."""

    name: str
    schema: int
    scenario: str
    file: str
    old: bytes
    new: bytes
    expected: str | None


def apply_edit(bundle: Path, where: str, old: bytes, new: bytes) -> None:
    """The first ``old`` in ``where`` becomes ``new``. ``where`` is a file of the bundle, a
    record of a shard (``payloads/000001.zst#raw_payload:7``, edited decompressed), or a
    shard cut to a length (``payloads/000001.zst@6020``). ``old`` may be :data:`WHOLE`: the
    whole file or record body becomes ``new``."""
    if "@" in where:
        name, length = where.split("@")
        target = bundle / name
        target.write_bytes(target.read_bytes()[: int(length)])
        return
    if "#" in where:
        name, payload_id = where.split("#")
        records = read_records(bundle / name)
        if old == WHOLE:
            records[payload_id] = new
        else:
            assert old in records[payload_id], f"{where}: the corpus changed"
            records[payload_id] = records[payload_id].replace(old, new, 1)
        (bundle / name).write_bytes(shard_bytes(records))
        return
    target = bundle / where
    if old == WHOLE:
        target.write_bytes(new)
        return
    data = target.read_bytes()
    assert old in data, f"{where}: the corpus changed"
    target.write_bytes(data.replace(old, new, 1))
