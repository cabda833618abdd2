"""The analytics tables' schemas: names, column types and meanings, in one place.

The Parquet writer, the query command's empty views, the row builders (``tables.py``) and the
documentation test all read ``TABLES``. Every table starts with the bundle's ``trace_id``
(unique per recording), ``rollout_id`` (shared by a resumed rollout's bundles) and ``source``
(its path or URL: copies of one bundle are two sources with the same ids); a row's key is
``source`` and ``trace_id`` plus the table's id column. Times are UTC timestamps in milliseconds,
token counts and sequence numbers 64-bit integers, id lists lists of strings. pyarrow is
imported only inside ``arrow_schema`` and ``to_arrow``.
"""

from __future__ import annotations

from typing import Any, Final

Row = dict[str, Any]

#: Bumped when a table's columns or their meaning change (an export made by another version is
#: redone rather than skipped). 9: the id lists of inference calls and compactions; 11:
#: ``rollouts.last_turn_failed``; 12: ``guardrails`` and its counts in ``rollouts``; 13:
#: ``rollouts.metadata``; 14: ``threads.spawned_by_tool_call_id``, ``tool_calls.approval``.
TABLES_VERSION: Final = 14

# Column types, by name: the Parquet/Arrow type each one becomes.
_T = "timestamp"  # timestamp[ms, tz=UTC]
_S = "string"
_I = "int64"
_B = "bool"
_L = "list<string>"
_P = "list<struct<type: string, id: string>>"

_KEYS: Final = (
    ("trace_id", _S, "the bundle's trace id"),
    ("rollout_id", _S, "its rollout id"),
    ("source", _S, "the bundle's absolute path or URL (copies of a bundle: two sources)"),
)
_WINDOW: Final = (
    ("started_at", _T, "start time"),
    ("ended_at", _T, "end time (null while running)"),
    ("duration_ms", _I, "ended_at - started_at in milliseconds"),
    ("status", _S, "running, completed, failed, cancelled, ..."),
    ("started_seq", _I, "event sequence number of the start"),
    ("ended_seq", _I, "event sequence number of the end"),
)
# Column lists are data: _WINDOW and _USAGE (and the tables below) look alike line by line only.
_USAGE: Final = (
    ("input_tokens", _I, "prompt tokens"),
    ("cached_input_tokens", _I, "prompt tokens served from cache"),
    ("cache_write_input_tokens", _I, "prompt tokens written to cache"),
    ("output_tokens", _I, "completion tokens"),
    ("reasoning_output_tokens", _I, "reasoning tokens (part of output_tokens)"),
)
TOKEN_NAMES: Final = tuple(name for name, _, _ in _USAGE)

Column = tuple[str, str, str]

#: table name → columns (name, type, meaning), in column order.
TABLES: Final[dict[str, tuple[Column, ...]]] = {
    "rollouts": (
        *_KEYS,
        ("schema_version", _I, "bundle schema (2: Codex 0.169, 3: Codex 0.171)"),
        ("started_at", _T, "rollout start"),
        ("ended_at", _T, "rollout end (null if it never ended)"),
        ("duration_ms", _I, "ended_at - started_at"),
        ("status", _S, "rollout status"),
        ("recording_status", _S, "complete, unclosed or closed_with_partial_payloads"),
        ("root_thread_id", _S, "the root agent's thread"),
        ("threads", _I, "rows in threads"),
        ("turns", _I, "rows in turns"),
        ("conversation_items", _I, "rows in conversation_items"),
        ("inference_calls", _I, "rows in inference_calls"),
        ("tool_calls", _I, "rows in tool_calls"),
        ("terminal_operations", _I, "rows in terminal_operations"),
        ("code_cells", _I, "rows in code_cells"),
        ("compactions", _I, "rows in compactions"),
        ("compaction_requests", _I, "rows in compaction_requests"),
        ("interaction_edges", _I, "rows in interaction_edges"),
        ("guardrails", _I, "rows in guardrails"),
        ("guardrails_tripped", _I, "rows in guardrails whose tripwire triggered"),
        ("raw_payloads", _I, "rows in raw_payloads"),
        *(
            (name, _I, f"sum of inference_calls.{name} (null if no call has it)")
            for name in TOKEN_NAMES
        ),
        ("lenient", _B, "reduced with --lenient after a strict reduction failed"),
        ("lenient_notes", _L, "what lenient reduction skipped"),
        (
            "failure",
            _S,
            "why the first turn that failed or was cancelled ended so (turns.error_text, else "
            "its first call's error_text); with none, for a failed or aborted rollout, the "
            "first call's error_text; its first line, at most 200 characters (null: none)",
        ),
        (
            "last_turn_failed",
            _B,
            "the root agent's last turn ended failed, as ls says (complete (failed turn), its "
            "--json last_turn_failed): Codex ends such a rollout completed; failed runs: WHERE "
            "status IN ('failed', 'aborted') OR last_turn_failed",
        ),
        (
            "lossy",
            _B,
            "our recorder reported loss: events or payloads dropped, values recorded "
            "approximately (recorder_reports say what; ls says complete (lossy))",
        ),
        (
            "recorder_reports",
            _L,
            "what our recorder reported at the end of the log (loss, secrets redacted), as "
            "summary's recorder_reports ([]: none, or a bundle another writer made)",
        ),
        (
            "metadata",
            _S,
            "the rollout's metadata (open_rollout(metadata=), Rollout.add_metadata: an "
            "episode's id, its reward) as a JSON object, a later value of a key replacing an "
            "earlier one; json_extract(metadata, '$.reward') in DuckDB (null: none recorded)",
        ),
    ),
    "threads": (
        *_KEYS,
        ("thread_id", _S, "thread id"),
        ("agent_path", _S, "/root, /root/helper, ..."),
        ("nickname", _S, "agent nickname"),
        ("parent_thread_id", _S, "spawning thread (null for the root)"),
        ("spawn_edge_id", _S, "the spawn_agent edge that created it"),
        (
            "spawned_by_tool_call_id",
            _S,
            "the tool call that started it: its spawn edge's source call, or the call that "
            "ran an Agents SDK agent run as a tool (which has no spawn edge)",
        ),
        ("task_name", _S, "task given at spawn"),
        ("agent_role", _S, "role given at spawn"),
        ("default_model", _S, "the thread's model"),
        *_WINDOW,
        ("conversation_items", _I, "items in the thread's history"),
    ),
    "turns": (
        *_KEYS,
        ("codex_turn_id", _S, "turn id"),
        ("thread_id", _S, "owning thread"),
        *_WINDOW,
        ("input_items", _I, "input items of the turn"),
        (
            "error_text",
            _S,
            "a failed or cancelled turn: why (the error of its closing turn_complete or its "
            "error protocol event, a turn_aborted's reason)",
        ),
    ),
    "conversation_items": (
        *_KEYS,
        ("item_id", _S, "item id"),
        ("thread_id", _S, "owning thread"),
        ("codex_turn_id", _S, "turn that first saw it"),
        ("responses_item_id", _S, "the Responses API item id"),
        ("role", _S, "system, developer, user, assistant, tool"),
        ("channel", _S, "analysis, commentary, final, summary"),
        ("kind", _S, "message, reasoning, function_call, ..."),
        ("call_id", _S, "tool call id the item carries"),
        ("first_seen_at", _T, "first time a request or response held it"),
        ("accepted_at", _T, "when the harness accepted it into history"),
        ("author", _S, "inter-agent message author"),
        ("recipient", _S, "inter-agent message recipient"),
        ("part_types", _L, "body part types in order"),
        (
            "text",
            _S,
            "text, summaries and code of the body, and a message between agents' delivered "
            "text (a spawn's task), joined by newlines (null when a capture limit cut part of "
            "it: cut_payload_ids)",
        ),
        ("text_chars", _I, "length of text (null with it)"),
        (
            "cut_payload_ids",
            _L,
            "schema 3: payloads recorded truncated or omitted that the body stands for "
            "(its text, a value, an image)",
        ),
        ("raw_payload_ids", _L, "payloads the body refers to"),
        ("produced_by", _P, "producers: type and id"),
    ),
    "inference_calls": (
        *_KEYS,
        ("inference_call_id", _S, "call id"),
        ("thread_id", _S, "calling thread"),
        ("codex_turn_id", _S, "calling turn"),
        ("model", _S, "model name"),
        ("provider_name", _S, "provider"),
        ("response_id", _S, "provider response id"),
        ("upstream_request_id", _S, "provider request id"),
        *_WINDOW,
        *_USAGE,
        ("request_items", _I, "items sent"),
        ("response_items", _I, "items returned"),
        ("request_item_ids", _L, "the items sent, in the request's order"),
        ("response_item_ids", _L, "the items returned, in the response's order"),
        ("tool_calls_started", _I, "tool calls the response started"),
        ("raw_request_payload_id", _S, "request payload"),
        ("prepared_prompt_payload_id", _S, "prepared prompt payload"),
        ("raw_response_payload_id", _S, "response payload"),
        (
            "error_text",
            _S,
            "a failed or cancelled call: the error (inference_failed) or reason "
            "(inference_cancelled) in the log",
        ),
    ),
    "tool_calls": (
        *_KEYS,
        ("tool_call_id", _S, "tool call id"),
        ("thread_id", _S, "calling thread"),
        ("codex_turn_id", _S, "turn that started it"),
        ("tool_name", _S, "exec_command, mcp server/tool, the name of an other tool, ..."),
        ("kind", _S, "kind tag: exec_command, write_stdin, mcp, spawn_agent, other, ..."),
        ("mcp_server", _S, "MCP server"),
        ("mcp_tool", _S, "MCP tool"),
        ("model_visible_call_id", _S, "call id the model saw"),
        ("mcp_call_id", _S, "MCP correlation id"),
        ("code_mode_runtime_tool_id", _S, "code-mode runtime id"),
        ("requester", _S, "model or code_cell"),
        ("requester_code_cell_id", _S, "requesting code cell"),
        ("started_code_cell_id", _S, "code cell the call started"),
        ("terminal_operation_id", _S, "terminal operation it ran"),
        *_WINDOW,
        ("summary_type", _S, "generic, terminal, agent, wait_agent"),
        ("summary_label", _S, "generic summary label"),
        ("input_preview", _S, "generic input preview or agent message preview"),
        ("output_preview", _S, "generic output preview"),
        ("target_agent_path", _S, "agent tools: the target agent"),
        ("raw_invocation_payload_id", _S, "invocation payload"),
        ("raw_result_payload_id", _S, "result payload"),
        ("raw_runtime_payload_ids", _L, "runtime payloads"),
        (
            "error_text",
            _S,
            "a failed or cancelled call: its error as `show` prints it (output items, output "
            "preview, terminal stderr, the raw result's error), each text once",
        ),
        (
            "approval",
            _S,
            "an Agents SDK call that waited for an approval: pending (its run paused there; "
            "the call never ended), approved or rejected; null for any other",
        ),
    ),
    "terminal_operations": (
        *_KEYS,
        ("operation_id", _S, "operation id"),
        ("terminal_id", _S, "terminal session"),
        ("tool_call_id", _S, "tool call that ran it"),
        ("thread_id", _S, "the tool call's thread"),
        ("kind", _S, "exec_command or write_stdin"),
        *_WINDOW,
        ("command", _L, "exec_command argv"),
        ("display_command", _S, "argv joined by spaces"),
        ("cwd", _S, "working directory"),
        ("stdin", _S, "write_stdin input"),
        ("yield_time_ms", _I, "requested yield time"),
        ("max_output_tokens", _I, "requested output cap"),
        ("exit_code", _I, "exit code (null while running or unknown)"),
        ("stdout", _S, "standard output"),
        ("stderr", _S, "standard error"),
        ("original_token_count", _I, "output tokens before truncation"),
        ("raw_payload_ids", _L, "runtime payloads"),
    ),
    "code_cells": (
        *_KEYS,
        ("code_cell_id", _S, "code cell id"),
        ("thread_id", _S, "owning thread"),
        ("codex_turn_id", _S, "owning turn"),
        ("model_visible_call_id", _S, "custom tool call id"),
        ("runtime_cell_id", _S, "JavaScript runtime cell id"),
        ("source_item_id", _S, "the custom_tool_call item"),
        *_WINDOW,
        ("runtime_status", _S, "starting, running, yielded, completed, failed, terminated"),
        ("initial_response_at", _T, "first response from the runtime"),
        ("initial_response_status", _S, "status at the first response"),
        ("yielded_at", _T, "last yield"),
        ("source_js", _S, "the cell's JavaScript"),
        ("output_items", _I, "output items"),
        ("nested_tool_calls", _I, "tool calls made from the cell"),
        ("wait_tool_calls", _I, "wait calls resolved to the cell"),
        ("raw_initial_response_payload_id", _S, "initial response payload"),
        ("raw_result_payload_id", _S, "result payload"),
    ),
    "compactions": (
        *_KEYS,
        ("compaction_id", _S, "compaction id"),
        ("thread_id", _S, "compacted thread"),
        ("codex_turn_id", _S, "turn it happened in"),
        ("installed_at", _T, "when the replacement history was installed"),
        ("marker_item_id", _S, "compaction marker item"),
        ("input_items", _I, "items summarised away"),
        ("replacement_items", _I, "items that replaced them"),
        ("input_item_ids", _L, "the items summarised away, in the checkpoint's order"),
        ("replacement_item_ids", _L, "the items that replaced them, in the checkpoint's order"),
        ("requests", _I, "compaction requests made"),
        ("model", _S, "model of the last request"),
        ("provider_name", _S, "provider of the last request"),
        ("request_started_at", _T, "first request start"),
        ("request_ended_at", _T, "last request end"),
        ("request_status", _S, "status of the last request"),
    ),
    "compaction_requests": (
        *_KEYS,
        ("compaction_request_id", _S, "compaction request id"),
        ("compaction_id", _S, "the compaction it was made for"),
        ("thread_id", _S, "compacted thread"),
        ("codex_turn_id", _S, "turn it was made in"),
        *_WINDOW,
        ("model", _S, "model name"),
        ("provider_name", _S, "provider"),
        ("installed_at", _T, "when its compaction was installed (null: never, e.g. it failed)"),
        ("raw_request_payload_id", _S, "request payload"),
        ("raw_response_payload_id", _S, "response payload (null without a response)"),
        ("error_text", _S, "a failed request: the error of compaction_request_failed in the log"),
    ),
    "interaction_edges": (
        *_KEYS,
        ("edge_id", _S, "edge id"),
        ("kind", _S, "spawn_agent, assign_agent_task, send_message, agent_result, close_agent"),
        ("source_type", _S, "conversation_item, tool_call or thread"),
        ("source_id", _S, "the source object's id"),
        ("source_thread_id", _S, "thread the source belongs to"),
        ("target_type", _S, "conversation_item, tool_call or thread"),
        ("target_id", _S, "the target object's id"),
        ("target_thread_id", _S, "thread the target belongs to"),
        ("started_at", _T, "start"),
        ("ended_at", _T, "end"),
        ("carried_item_ids", _L, "items the edge delivered"),
        ("carried_raw_payload_ids", _L, "payloads that carried it"),
    ),
    "guardrails": (
        *_KEYS,
        ("seq", _I, "event sequence number of its protocol event (the row's id in the bundle)"),
        ("span_id", _S, "the Agents SDK guardrail span's id"),
        ("thread_id", _S, "the agent's thread"),
        ("codex_turn_id", _S, "the agent's turn it ran in"),
        ("name", _S, "the guardrail's name"),
        ("triggered", _B, "its tripwire triggered (the turn failed, its error_text naming it)"),
        ("error_text", _S, "the guardrail span's error (a tripped one: Guardrail tripwire ...)"),
        ("ended_at", _T, "when it ended (its protocol event's time)"),
    ),
    "raw_payloads": (
        *_KEYS,
        ("raw_payload_id", _S, "payload id"),
        ("kind", _S, "payload kind"),
        ("path", _S, "schema 2: payload file in the bundle"),
        ("shard", _I, "schema 3: zstd shard number (null: not stored)"),
        ("capture_status", _S, "schema 3: null (whole), truncated or omitted"),
        ("original_bytes", _I, "schema 3: size before truncation or omission"),
        ("retained_bytes", _I, "schema 3: bytes kept of a truncated body"),
        ("part_ids", _L, "schema 3: template parts"),
        ("text", _S, "the body as UTF-8 text (only with --payload-text)"),
        ("text_bytes", _I, "size of the body read (only with --payload-text)"),
        ("text_unread", _S, "why text is null with --payload-text (it or a part cut, too big...)"),
    ),
}

TABLE_NAMES: Final = tuple(TABLES)

#: state map each table counts (rollouts counts itself).
STATE_MAPS: Final[dict[str, str]] = {
    "threads": "threads",
    "turns": "codex_turns",
    "conversation_items": "conversation_items",
    "inference_calls": "inference_calls",
    "tool_calls": "tool_calls",
    "terminal_operations": "terminal_operations",
    "code_cells": "code_cells",
    "compactions": "compactions",
    "compaction_requests": "compaction_requests",
    "interaction_edges": "interaction_edges",
    "raw_payloads": "raw_payloads",
}


def arrow_schema(table: str) -> Any:
    """The ``pyarrow.Schema`` of ``table`` (pyarrow imported here, not at module import)."""
    import pyarrow as pa

    scalar = {
        _T: pa.timestamp("ms", tz="UTC"),
        _S: pa.string(),
        _I: pa.int64(),
        _B: pa.bool_(),
        _L: pa.list_(pa.string()),
        _P: pa.list_(pa.struct([("type", pa.string()), ("id", pa.string())])),
    }
    return pa.schema([(name, scalar[kind]) for name, kind, _ in TABLES[table]])


def to_arrow(table: str, rows: list[Row]) -> Any:
    """Rows of ``table`` as a ``pyarrow.Table`` with the documented schema. An integer or
    time no int64 holds is null: Codex reads a start of ``-2^63`` ms, and a duration from it
    passes ``2^63`` (pyarrow raised ``OverflowError``, the bundle's export an internal error;
    fuzz28)."""
    import pyarrow as pa

    schema = arrow_schema(table)
    wide = {name for name, kind, _ in TABLES[table] if kind in (_I, _T)}
    columns = {
        name: [_int64(row.get(name)) if name in wide else row.get(name) for row in rows]
        for name in schema.names
    }
    return pa.Table.from_pydict(columns, schema=schema)


def _int64(value: Any) -> Any:
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return None
    return value
