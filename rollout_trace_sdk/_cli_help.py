"""The command line's help layout (``rollout-trace --help`` and each command's): argparse's,
at the terminal's width, found without the imports argparse would make for it; and each
command's usage examples (``EXAMPLES``), which tests/test_cli_help.py runs on a demo traces
root, so none of them can go stale."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from typing import Any, Final

from .outputs import terminal_width as columns

__all__ = ["EXAMPLES", "Formatter", "Parser", "add_examples", "columns"]

#: Each command's examples, as its ``--help`` shows them under "examples:": real invocations
#: on the traces root ``demo --out traces`` makes (run in this order by the tests: ``export``
#: makes the ``tables`` that ``query`` reads; ``--serve`` until Ctrl-C, on a free port, and
#: ``--endpoint`` to a receiver of the tests' on one), a comment after ``#``.
EXAMPLES: Final[dict[str, tuple[str, ...]]] = {
    "demo": (
        "rollout-trace demo --out traces            # a bundle under traces/",
        "rollout-trace demo --out traces --fail-every 4  # with failures",
        "rollout-trace demo --out traces --scale 3  # three episodes: bigger",
    ),
    "ls": (
        "rollout-trace ls traces         # the bundles, newest first",
        "rollout-trace ls traces --json  # one JSON object a line",
        "rollout-trace ls traces --status recording,unclosed --since 2h",
        "rollout-trace ls traces --thread 6f1c9e2a --limit 1 --json",
        "rollout-trace ls traces --before 7d -0  # | xargs -0 -r rm -rf --",
    ),
    "reduce": (
        "rollout-trace reduce traces --latest  # writes BUNDLE/state.json",
        "rollout-trace reduce traces --latest -o state.json",
        "rollout-trace reduce traces --latest --lenient -o -",
    ),
    "validate": (
        "rollout-trace validate traces           # every bundle under it",
        "rollout-trace validate traces --latest  # the newest bundle",
        "rollout-trace validate traces --jobs 2  # two worker processes",
    ),
    "summary": (
        "rollout-trace summary traces --latest",
        "rollout-trace summary traces --latest --thread /root/helper_0",
        "rollout-trace summary traces --latest --json --limit 5",
    ),
    "show": (
        "rollout-trace show traces --latest",
        "rollout-trace show traces --latest --thread /root/helper_0 --full",
        "rollout-trace show traces --latest --follow  # as it is recorded",
    ),
    "diff": (
        "rollout-trace diff traces --latest  # the newest run against the one before",
        "rollout-trace diff traces --latest --steps  # every step of both, aligned",
        "rollout-trace diff traces --latest --ignore 'session ID \\d+' --actions-only",
    ),
    "view": (
        "rollout-trace view traces --latest  # writes BUNDLE/view.html",
        "rollout-trace view traces --latest -o rollout.html",
        "rollout-trace view traces --latest --serve  # follows a live bundle",
    ),
    "convert": ("rollout-trace convert traces --latest --to 2 -o schema2-bundle",),
    "redact": (
        "rollout-trace redact traces --latest -o shareable-bundle",
        "rollout-trace redact traces --latest --in-place",
    ),
    "export": (
        "rollout-trace export traces --latest -o perfetto.json",
        "rollout-trace export traces --latest --format otlp -o spans.jsonl",
        "rollout-trace export traces --to tables  # Parquet, every bundle",
        "rollout-trace export traces --latest --endpoint http://localhost:4318",
    ),
    "query": (
        "rollout-trace query tables --recipe tool-failure-rates",
        'rollout-trace query tables "SELECT status, count(*) FROM turns GROUP BY 1"',
        "rollout-trace query tables --recipe tokens-per-agent --format json",
    ),
}


def add_examples(parsers: Mapping[str, argparse.ArgumentParser]) -> None:
    """Put each command's :data:`EXAMPLES` at the end of its help (after what the command
    says there itself, the query recipes).

    Args:
        parsers: the commands' parsers by name (the subparsers' ``choices``).
    """
    for name, parser in parsers.items():
        examples = EXAMPLES.get(name)
        if examples:
            shown = "examples:\n" + "".join(f"  {line}\n" for line in examples)
            parser.epilog = f"{parser.epilog}\n\n{shown}" if parser.epilog else shown


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

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        """A description or epilog a line at a time (argparse runs it into one paragraph):
        each line wrapped at the width on its own, its wrapped part indented as far as its
        text after a gap of two spaces (a recipe's description, an example's comment)."""
        import textwrap

        lines = []
        for line in text.splitlines():
            lead = len(line) - len(line.lstrip())
            found = _HANG.match(line)
            at = found.end() if found else lead + 4 if lead else 0
            hang = indent + " " * (at if at <= width // 2 else lead + 4)
            lines.append(
                textwrap.fill(
                    line.strip(),
                    width,
                    initial_indent=indent + line[:lead],
                    subsequent_indent=hang,
                    break_on_hyphens=False,
                )
                if line.strip()
                else ""
            )
        return "\n".join(lines)


#: An indented line's head up to a gap of two spaces or more: where its wrapped part lines up.
_HANG: Final = re.compile(r"\s+\S.*?\s{2,}(?=\S)")


class Parser(argparse.ArgumentParser):
    """A parser whose help is laid out by :class:`Formatter` unless told otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)
