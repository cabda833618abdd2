"""Payload reads are confined to the bundle: real files, symlinks and FIFOs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rollout_trace_sdk.view.payloads import PayloadReader, PayloadRefused


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    root = tmp_path / "bundle"
    (root / "payloads").mkdir(parents=True)
    (root / "payloads" / "1.json").write_text('{"ok": true}')
    (tmp_path / "secret.json").write_text('{"secret": 1}')
    return root


def test_reads_a_payload_inside(bundle: Path) -> None:
    assert PayloadReader(bundle).read_checked("raw_payload:1", "payloads/1.json") == b'{"ok": true}'


@pytest.mark.parametrize(
    "path", ["../secret.json", "/etc/passwd", "payloads/../../secret.json", ""]
)
def test_refuses_paths_that_leave(bundle: Path, path: str) -> None:
    with pytest.raises(PayloadRefused):
        PayloadReader(bundle).read_checked("raw_payload:9", path)


def test_refuses_symlinks_file_and_directory(bundle: Path) -> None:
    (bundle / "payloads" / "2.json").symlink_to(bundle.parent / "secret.json")
    (bundle / "linked").symlink_to(bundle.parent)
    reader = PayloadReader(bundle)
    with pytest.raises(PayloadRefused):
        reader.read_checked("raw_payload:2", "payloads/2.json")
    with pytest.raises(PayloadRefused, match="is a symlink"):
        reader.read_checked("raw_payload:3", "linked/secret.json")


def test_refuses_a_fifo_without_hanging(bundle: Path) -> None:
    os.mkfifo(bundle / "payloads" / "3.json")
    with pytest.raises(PayloadRefused, match="regular file"):
        PayloadReader(bundle).read_checked("raw_payload:3", "payloads/3.json")


def test_unknown_id_is_refused(bundle: Path) -> None:
    with pytest.raises(PayloadRefused, match="names no payload"):
        PayloadReader(bundle).path_of({"raw_payloads": {}}, "raw_payload:1")
