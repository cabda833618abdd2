"""The command line's help layout (``rollout-trace --help`` and each command's): argparse's,
at the terminal's width, found without the imports argparse would make for it."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["Formatter", "Parser", "columns"]


def columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` finds it (``COLUMNS``, else the
    terminal of standard output, else 80), without importing ``shutil``."""
    try:
        width = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        width = 0
    if width > 0:
        return width
    stdout = sys.__stdout__
    if stdout is None:
        return 80
    try:
        return os.get_terminal_size(stdout.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


class Formatter(argparse.HelpFormatter):
    """argparse's help layout at the width it would choose: argparse finds it with ``shutil``
    (which loads bz2 and lzma), for each argument added, 2 ms of every command's start-up."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        super().__init__(
            prog, indent_increment, max_help_position, columns() - 2 if width is None else width
        )


class Parser(argparse.ArgumentParser):
    """A parser whose help is laid out by :class:`Formatter` unless told otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)
