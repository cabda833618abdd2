"""How an export's bundles are planned into jobs (``export.jobs.plan_exports``): sizes only,
no files are read."""

from __future__ import annotations

import pytest

from rollout_trace_sdk.export.jobs import plan_exports
from rollout_trace_sdk.export.listing import BundleSource, bundle_key

MB = 1 << 20


def _sources(sizes: list[int]) -> list[BundleSource]:
    urls = [f"/traces/trace-{n:04d}" for n in range(len(sizes))]
    return [
        BundleSource(url=url, key=bundle_key(url), fingerprint="f", size_bytes=size, remote=False)
        for url, size in zip(urls, sizes, strict=True)
    ]


def test_a_batch_of_small_bundles_holds_at_most_64_mb_of_them() -> None:
    """Small bundles (under 4 MB) are batched by count (at least 128 a batch), and a batch
    ends before its bundles pass 64 MB: 100 bundles of 3 MB are 5 batches, not one of 300 MB.
    No test planned bundles that large: dropping the byte bound passed every export test
    (mut31)."""
    todo = _sources([3 * MB] * 100)
    jobs = plan_exports(todo, 2, pack=True)
    assert all(job.batch for job in jobs)
    assert [len(job.sources) for job in jobs] == [21, 21, 21, 21, 16]
    assert [s for job in jobs for s in job.sources] == todo  # each once, in order


@pytest.mark.parametrize(("small", "batched"), [(63, False), (64, True)])
def test_small_bundles_are_batched_once_there_are_enough_for_a_pack(
    small: int, batched: bool
) -> None:
    """Batched from 64 small bundles (a pack's worth at the run's end); fewer are exported
    one job each, as the large ones always are (first)."""
    todo = _sources([5 * MB] + [MB] * small)
    jobs = plan_exports(todo, 2, pack=True)
    assert jobs[0].sources == (todo[0],) and not jobs[0].batch
    assert all(job.batch for job in jobs[1:]) == batched
    assert len(jobs) == (2 if batched else 1 + small)
    assert [len(job.sources) for job in plan_exports(todo, 2, pack=False)] == [1] * (1 + small)
