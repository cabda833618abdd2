"""A readable overview of a reduced state, for a person at a terminal.

Works on the state's JSON form (``state.json`` or ``RolloutTrace.to_json()``), so it reads files
written by Codex as well as ours, and tolerates fields it does not know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_Row = Sequence[str]


def _duration(execution: Any) -> str:
    if not isinstance(execution, Mapping):
        return "-"
    start, end = execution.get("started_at_unix_ms"), execution.get("ended_at_unix_ms")
    if not isinstance(start, int) or not isinstance(end, int):
        return "open"
    ms = end - start
    return f"{ms} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def _status(execution: Any) -> str:
    if isinstance(execution, Mapping):
        return str(execution.get("status", "-"))
    return "-"


def _short(value: Any, width: int = 40) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(title: str, header: _Row, rows: list[_Row]) -> list[str]:
    out = [f"{title} ({len(rows)})"]
    if not rows:
        return [*out, "  (none)", ""]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def fmt(row: _Row) -> str:
        return "  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()

    out.append(fmt(header))
    out.append(fmt(["-" * w for w in widths]))
    out.extend(fmt(row) for row in rows)
    out.append("")
    return out


def _map(state: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """The objects of one state map in the order they happened (state maps are sorted by id,
    which for UUIDs is no order a reader can follow)."""
    value = state.get(key)
    if not isinstance(value, Mapping):
        return []
    objects = [v for v in value.values() if isinstance(v, Mapping)]
    return sorted(objects, key=_started_seq)


def _started_seq(obj: Mapping[str, Any]) -> int:
    execution = obj.get("execution")
    seq = execution.get("started_seq") if isinstance(execution, Mapping) else None
    return seq if isinstance(seq, int) else 0


def _endpoint(value: Any) -> str:
    if not isinstance(value, Mapping):
        return _short(value)
    kind = value.get("type", "?")
    ident = next(
        (v for k, v in value.items() if k != "type" and isinstance(v, str)),
        None,
    )
    if not ident:
        return str(kind)
    # ids such as ``conversation_item:14`` already say what they are
    return _short(ident, 44) if ident.startswith(f"{kind}:") else f"{kind}:{_short(ident, 36)}"


def _tokens(usage: Any) -> str:
    if not isinstance(usage, Mapping):
        return "-"
    return f"{usage.get('input_tokens', '?')} in / {usage.get('output_tokens', '?')} out"


def _tool_kind(kind: Any) -> str:
    if not isinstance(kind, Mapping):
        return _short(kind)
    tag = str(kind.get("type", "?"))
    if tag == "mcp":
        return f"mcp {kind.get('server')}/{kind.get('tool')}"
    if tag == "other":
        return f"other {kind.get('name')}"
    return tag


def summarize(state: Mapping[str, Any]) -> str:
    """Threads with agent paths, turns, inference calls, tool calls and interaction edges."""
    threads = _map(state, "threads")
    paths = {t.get("thread_id"): t.get("agent_path") or "-" for t in threads}

    def where(thread_id: Any) -> str:
        return _short(paths.get(thread_id, thread_id), 24)

    lines = [
        f"rollout {state.get('rollout_id', '?')}  trace {state.get('trace_id', '?')}",
        f"status {state.get('status', '?')}  recording: {_recording(state)}  "
        f"conversation items: {len(_map(state, 'conversation_items'))}  "
        f"raw payloads: {len(_map(state, 'raw_payloads'))}",
        "",
    ]
    lines += _table(
        "threads",
        ["thread", "agent path", "nickname", "status", "duration", "model"],
        [
            [
                _short(t.get("thread_id"), 36),
                _short(t.get("agent_path")),
                _short(t.get("nickname"), 20),
                _status(t.get("execution")),
                _duration(t.get("execution")),
                _short(t.get("default_model"), 20),
            ]
            for t in threads
        ],
    )
    lines += _table(
        "turns",
        ["turn", "agent", "status", "duration"],
        [
            [
                _short(t.get("codex_turn_id"), 36),
                where(t.get("thread_id")),
                _status(t.get("execution")),
                _duration(t.get("execution")),
            ]
            for t in _map(state, "codex_turns")
        ],
    )
    lines += _table(
        "inference calls",
        ["call", "agent", "model", "status", "duration", "tokens", "items in/out"],
        [
            [
                _short(c.get("inference_call_id"), 36),
                where(c.get("thread_id")),
                _short(c.get("model"), 20),
                _status(c.get("execution")),
                _duration(c.get("execution")),
                _tokens(c.get("usage")),
                f"{len(c.get('request_item_ids') or [])}/{len(c.get('response_item_ids') or [])}",
            ]
            for c in _map(state, "inference_calls")
        ],
    )
    lines += _table(
        "tool calls",
        ["call", "agent", "kind", "status", "duration", "requester"],
        [
            [
                _short(c.get("tool_call_id"), 36),
                where(c.get("thread_id")),
                _tool_kind(c.get("kind")),
                _status(c.get("execution")),
                _duration(c.get("execution")),
                _endpoint(c.get("requester")),
            ]
            for c in _map(state, "tool_calls")
        ],
    )
    lines += _table(
        "interaction edges",
        ["kind", "from", "to", "carried items"],
        [
            [
                _short(e.get("kind"), 20),
                _endpoint(e.get("source")),
                _endpoint(e.get("target")),
                str(len(e.get("carried_item_ids") or [])),
            ]
            for e in _map(state, "interaction_edges")
        ],
    )
    return "\n".join(lines).rstrip() + "\n"


def _recording(state: Mapping[str, Any]) -> str:
    """Schema 3 says ``recording_status``; schema 2 says whether the recording completed."""
    status = state.get("recording_status")
    if isinstance(status, str):
        return status.replace("_", " ")
    return "complete" if state.get("recording_complete") else "unclosed"
