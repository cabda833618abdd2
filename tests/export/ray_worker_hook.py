"""A Ray worker setup hook for ``test_ray_engine.py``: a worker asked to export a bundle whose
path holds ``worker-dies`` exits at once, as one the kernel kills for memory would."""

from __future__ import annotations

import os
from typing import Any

#: Bundles whose path holds this take their worker down.
MARK = "worker-dies"


def setup() -> None:
    from rollout_trace_sdk.export import ray_engine

    namespace = vars(ray_engine)  # the name its task calls
    real = namespace["run_job"]

    def dying(job: Any, options: Any) -> Any:
        if any(MARK in str(source.url) for source in getattr(job, "sources", ())):
            os._exit(137)
        return real(job, options)

    namespace["run_job"] = dying
