"""Exports: reduced rollouts in other tools' formats.

Three formats of ``rollout-trace export``: ``perfetto.py`` (one rollout as Chrome trace-event
JSON for ui.perfetto.dev), ``otlp.py`` (OpenTelemetry spans in the GenAI conventions, sent to
an OTLP/HTTP receiver or written as OTLP/JSON; ``[otel]`` extra) and ``parquet.py`` (many
bundles as thirteen analytics tables, on a process pool or Ray; ``[analytics]`` extra), which
``query.py`` (``rollout-trace query``) reads with DuckDB. ``commands.py`` is the ``export``
subcommand; it picks the format's writer from one table and imports a format's modules only
when it is chosen. Of this package only ``parquet`` and ``query`` are public (their
``__all__``; docs/architecture.md, "What is public"). Exports sit on top of ``reduce/`` (and
the viewer's model and payload readers); the recorder never imports them.
"""
