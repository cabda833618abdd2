"""Tools for testing with rollout traces (in the spirit of ``structlog.testing``).

* :class:`BundleBuilder` writes a bundle event by event, with the seq and clock in the
  caller's hands: reducer tests, differential tests against Codex, benchmarks and offline
  importers of other logs all build bundles with it.
* :func:`reduce_and_compare` reduces a bundle with our reducer and with a Codex binary and
  says whether the bytes (or the refusals) are the same; :func:`run_codex_reduce` runs Codex
  alone.

Like the reducer, this package imports the model and the reducer, never the recorder.
"""

from ._payloads import Capture
from .builder import ROOT_THREAD, BundleBuilder
from .codex import Comparison, first_difference, reduce_and_compare, run_codex_reduce

__all__ = [
    "ROOT_THREAD",
    "BundleBuilder",
    "Capture",
    "Comparison",
    "first_difference",
    "reduce_and_compare",
    "run_codex_reduce",
]
