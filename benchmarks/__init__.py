"""Benchmark scripts (run each as ``python benchmarks/<name>.py``); a package so that tests and
mypy see one module per file (``benchmarks.soak``, not a second top-level ``soak``)."""
