"""``rollout-trace diff ROOT_A [ROOT_B] --by KEY``: many pairs of rollouts compared at once.

An evaluation runs every task with two agent versions, each run its own rollout with
``metadata`` naming its task and version. The question after "did v2 get better?" is which
tasks went otherwise and where: this pairs the bundles of two roots (or of one root, each
side picked by ``--meta-a`` / ``--meta-b``) by the value of one metadata key, compares each
pair as ``diff A B`` does (``view/diff.py``), and prints one line per pair that differs, the
pairs alike on one line, and the values only one side has. ``--json`` prints one object a
line per pair, the whole comparison in it, for a script's regression report.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import orjson

from ._cli_ls_select import MetaWanted, meta_filter, meta_matches
from .outputs import json_line
from .sources import bundles_under
from .view.diff import AmbiguousAgent, NoSuchAgent, compare_sides, step_name, without_agent
from .view.diff_text import replaced_by
from .view.rollout_metadata import read_metadata
from .view.show import transcript
from .view.show_format import clip
from .view.visible import one_line, visible

#: How many values the line of pairs alike names.
_NAMED = 20


def _side_bundles(root: Path, key: str, wanted: Sequence[MetaWanted]) -> dict[str, Path]:
    """The bundles under ``root`` whose metadata holds ``key`` and every ``wanted``, by the
    key's value (as JSON text: ``"t12"``, ``17``); the newest bundle of a value when several
    have it (a task run again). Bundles still being recorded are left out: their rollout
    has not ended."""
    found: dict[str, Path] = {}
    for info in bundles_under(root):  # newest first
        if info.status == "recording":
            continue
        metadata = read_metadata(info.path)
        if key not in metadata or not meta_matches(metadata, list(wanted)):
            continue
        found.setdefault(orjson.dumps(metadata[key]).decode(), info.path)
    return found


def cmd_diff_pairs(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Pair the bundles of ``args.source`` and ``args.other`` (else ``args.source`` again) by
    the metadata ``args.by`` and compare each pair."""
    from .view.commands import DIFFER_EXIT, ignore_patterns_compile, load_noting

    if args.other is None and not (args.meta_a or args.meta_b):
        print(
            "rollout-trace diff: --by with one root compares nothing: give two roots, or pick"
            " each side with --meta-a KEY=VALUE and --meta-b KEY=VALUE",
            file=err,
        )
        return 2
    if args.steps or args.latest or args.context is not None:
        print(
            "rollout-trace diff: --by compares many pairs: not with --steps, --context or --latest",
            file=err,
        )
        return 2
    try:
        wanted = [
            [meta_filter(text) for text in texts or []] for texts in (args.meta_a, args.meta_b)
        ]
    except argparse.ArgumentTypeError as exc:
        print(f"rollout-trace diff: --meta-a/--meta-b {exc}", file=err)
        return 2
    if not ignore_patterns_compile(args.ignore or [], err):
        return 2
    roots = [Path(args.source), Path(args.other if args.other is not None else args.source)]
    for root in roots:
        if not root.is_dir():
            print(
                visible(f"rollout-trace diff: {root}: not a traces root (--by pairs its bundles)"),
                file=err,
            )
            return 1
    sides = [_side_bundles(root, args.by, side) for root, side in zip(roots, wanted, strict=True)]
    if not sides[0] and not sides[1]:
        said = f"rollout-trace diff: no bundle under {roots[0]} has metadata {args.by!r}"
        print(visible(said), file=err)
        return 1
    values = sorted(set(sides[0]) | set(sides[1]), key=_order)
    results: list[dict[str, Any]] = []
    #: pairs compared, and those that had the ``--thread`` agent: a typo has it in none
    compared = with_thread = 0
    for value in values:
        a, b = sides[0].get(value), sides[1].get(value)
        entry: dict[str, Any] = {"by": args.by, "value": orjson.loads(value)}
        entry.update(a=None if a is None else str(a), b=None if b is None else str(b))
        if a is None or b is None:
            entry.update(alike=False, diff=None)
        else:
            states = [load_noting(path, args.lenient, err) for path in (a, b)]
            options: dict[str, Any] = {
                "ignore": args.ignore or [],
                "results": not args.actions_only,
            }
            compared += 1
            shown = [transcript(state) for state in states]  # once, whichever diff is made
            try:
                diff = compare_sides(shown, states, thread=args.thread, **options)
                with_thread += 1
            except AmbiguousAgent as exc:  # a nickname two agents of this pair have
                said = f"rollout-trace diff: {exc.args[0]} ({args.by} {_shown(entry['value'])})"
                print(visible(said), file=err)
                return 1
            except NoSuchAgent:  # --thread: an agent neither run of this pair has
                diff = without_agent(shown, states)
            entry.update(alike=diff["alike"], diff=diff)
        results.append(entry)
    if args.thread is not None and compared and not with_thread:
        print(
            f"rollout-trace diff: no agent {args.thread!r} in any of the {compared:,} pairs"
            " (give its path, /root/..., or its nickname)",
            file=err,
        )
        return 1
    if args.json:
        for entry in results:
            out.write(json_line(entry) + "\n")
    else:
        # tool names, arguments, metadata values and paths are the agents' and the user's:
        # their control characters spelled out, as ``show`` prints them, and their newlines
        # (each of these lines is one pair's, or says one thing)
        lines = _pairs_text(args.by, results)
        out.write("".join(visible(one_line(line)) + "\n" for line in lines))
    differ = any(not entry["alike"] for entry in results)
    return DIFFER_EXIT if args.exit_code and differ else 0


def _order(value: str) -> tuple[int, Any]:
    """Values in their natural order: numbers by number, then text."""
    loaded = orjson.loads(value)
    if isinstance(loaded, int | float) and not isinstance(loaded, bool):
        return (0, loaded)
    return (1, value)


def _pairs_text(by: str, results: Sequence[dict[str, Any]]) -> list[str]:
    """The text: a count line, a line per pair that differs (the first agent that differs
    and where, the tokens each side used), the pairs alike, the values of one side only."""
    differ = [e for e in results if e["diff"] is not None and not e["alike"]]
    alike = [e for e in results if e["alike"]]
    alone = [e for e in results if e["diff"] is None]
    lines = [
        f"by {by}: {len(results):,} values · {len(differ):,} differ · {len(alike):,} alike"
        + (f" · {len(alone):,} on one side only" if alone else "")
    ]
    width = max((len(_shown(e["value"])) for e in results), default=0)
    for entry in differ:
        diff = entry["diff"]
        tokens = f"tokens {_n(diff['a']['input_tokens'])} → {_n(diff['b']['input_tokens'])}"
        agents = [agent for agent in diff["agents"] if not agent["alike"]]
        others = len(agents) - 1
        more = f" (+{others:,} more agent{'' if others == 1 else 's'})" if others else ""
        where = _where(agents[0]) if agents else "the rollouts differ"
        lines.append(f"{_shown(entry['value']):<{width}}  differ  {tokens} · {where}{more}")
    for entry in alone:
        side = "A" if entry["a"] is not None else "B"
        lines.append(
            f"{_shown(entry['value']):<{width}}  only in {side}: {entry['a'] or entry['b']}"
        )
    if alike:
        named = ", ".join(_shown(e["value"]) for e in alike[:_NAMED])
        rest = f" and {len(alike) - _NAMED:,} more" if len(alike) > _NAMED else ""
        lines.append(f"alike: {named}{rest}")
    if differ:
        lines.append("one pair in full: rollout-trace diff A B (--json gives each pair's bundles)")
    return lines


def _where(agent: dict[str, Any]) -> str:
    """Where one agent's runs differ, on one line."""
    path = agent["path"]
    if agent["in"] != "both":
        return f"{path} only in {agent['in'].upper()}"
    if agent["first_difference"] is None:
        return f"{path} asked otherwise"
    row = agent["rows"][agent["first_difference"]]
    if row["op"] == "changed":
        a, b = agent["a"][row["a"]], agent["b"][row["b"]]
        return f"{path} step {row['a'] + 1}: {_step(a)} → {b['status']}"
    if row.get("moved") is not None:
        side, other = ("A", "B") if row["a"] is not None else ("B", "A")
        step = agent[side.lower()][row[side.lower()]]
        return (
            f"{path} {side}'s step {row[side.lower()] + 1}: {_step(step)}, in another order"
            f" ({other}'s step {row['moved'] + 1})"
        )
    if row["a"] is not None:
        said = f"{path} A's step {row['a'] + 1}: {_step(agent['a'][row['a']])}"
        instead = replaced_by(agent["rows"], agent["first_difference"])
        if instead is not None:
            said += f" | B: {_step(agent['b'][instead['b']])}"
        return said
    return f"{path} B's step {row['b'] + 1}: {_step(agent['b'][row['b']])}"


def _step(step: dict[str, Any]) -> str:
    text = clip(str(step["text"]), False, lines=1, chars=60)
    if step["kind"] == "message":
        return f"{step['name']}: {text}"
    if step["kind"] == "item":  # its words name it: ``⌕ web search: "…"``
        return f"{text} ({step['status']})"
    return f"{step_name(step)} {text} ({step['status']})"


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
