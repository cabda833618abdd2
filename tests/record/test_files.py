"""The recorder's file operations (``record/_files``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rollout_trace_sdk.record import _files


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_a_sync_by_the_folders_path_closes_what_it_opened(tmp_path: Path) -> None:
    """Durable mode syncs the payload folder at each checkpoint; held by its path (where
    no descriptor of it could be opened, :func:`~._files.open_folder`), each sync opens the
    folder and must close it again, or each checkpoint leaks a descriptor until a long
    recording runs out of them (dropping that ``os.close`` passed every test: mut43)."""
    log_fd = os.open(tmp_path / "trace.jsonl", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(5):
            _files.sync(log_fd, str(tmp_path))
        assert len(os.listdir("/proc/self/fd")) == before
    finally:
        os.close(log_fd)
