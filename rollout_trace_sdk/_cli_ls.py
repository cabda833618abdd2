"""``rollout-trace ls ROOT``: the bundles under a traces root, newest first, without reducing
any (``sources.bundles_under`` reads each one's manifest and the head and tail of its log)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from ._cli_help import columns
from .sources import (
    LS_HEADER,
    SourceError,
    bundles_under,
    describe,
    describe_json,
    describe_task,
    looks_like_bundle,
    no_bundles_text,
)
from .view.visible import json_visible, one_line, visible


def cmd_ls(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print one entry per bundle (two lines, or one JSON object with ``--json``).

    Args:
        args: the parsed command line (``root``, ``json``).
        out: where the listing goes.
        err: where "no bundles" goes.

    Returns:
        The exit status (0; a root that is no directory, or a bundle, raises SourceError).
    """
    root = Path(args.root)
    if not root.is_dir():
        raise SourceError(f"{one_line(args.root)} is not a directory")
    if looks_like_bundle(root):
        raise SourceError(
            f"{one_line(args.root)} is a bundle; ls lists the bundles under a traces root"
        )
    found = bundles_under(root, task=True)
    if not found:
        print(visible(no_bundles_text(Path(args.root))), file=err)
        return 0
    if args.json:
        for info in found:
            print(json_visible(describe_json(info)), file=out)
        return 0
    print(LS_HEADER, file=out)
    width = columns()
    for info in found:
        print(visible(describe(info)), file=out)
        print(describe_task(info, width), file=out)
    return 0
