"""Exports: a reduced rollout in other tools' formats.

Each format is one module with one job (``perfetto.py``: Chrome trace-event JSON for
ui.perfetto.dev). ``commands.py`` is the ``rollout-trace export`` subcommand; it picks the
format's writer from one table. Exports sit on top of ``reduce/`` (and the viewer's model); the
recorder never imports them.
"""
