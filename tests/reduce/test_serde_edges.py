"""Serde's reading rules at the edges, each pinned by an edited copy of a corpus bundle and the
exact text Codex printed for it (0.169 for schema 2, 0.171 for schema 3), found by the mutation
differential (``tests/differential/test_mutants_vs_codex.py``): numbers serde_json keeps as
text, enums read through buffered ``Content`` (by index, as one-key maps, as sequences), keys
given twice, defaulted fields given as null, numbers cut off by the end of the text (the
``Value`` parser's "EOF" against the ``IgnoredAny`` walk's "invalid number"), collab events
given as sequences, which payloads a handler never reads, and a few
reducer checks whose place or wording differs between the two Codex versions. When the
matching Codex binary is here, it is asked too."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import attrs
import pytest

from rollout_trace_sdk.reduce import ReduceError, reduce_bundle, state_bytes
from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin
from tests.conftest import CONFORMANCE, CONFORMANCE_V3
from tests.reduce.serde_edges_support import WHOLE, apply_edit


@attrs.frozen
class Case:
    """The first ``old`` in ``file`` of the scenario's bundle becomes ``new`` (see
    ``apply_edit``); Codex then printed ``expected`` (None: it reduced the bundle)."""

    name: str
    schema: int
    scenario: str
    file: str
    old: bytes
    new: bytes
    expected: str | None


#: The second content entry of an agent message in the schema-3 multi-agent corpus bundle.
_SECOND_CONTENT = (
    b'{"type":"encrypted_content","encrypted_content":"NOTE: a message without a new turn."}'
)

CASES = [
    Case(
        "float_for_envelope_string",
        3,
        "single_exec",
        "trace.jsonl",
        b'"seq":5,"wall_time_unix_ms":1796172463234,"rollout_id":"01a23438-bc17-72b1-adb2-8fea1955a706","thread_id":null',
        b'"seq":5,"wall_time_unix_ms":1796172463234,"rollout_id":"01a23438-bc17-72b1-adb2-8fea1955a706","thread_id":1.5',
        "Error: parse trace event line 5\n\nCaused by:\n    invalid type: number, expected a string at line 1 column 129",
    ),
    Case(
        "big_integer_for_envelope_string",
        2,
        "single_exec",
        "trace.jsonl",
        b'"thread_id":null',
        b'"thread_id":18446744073709551616',
        "Error: parse trace event line 1\n\nCaused by:\n    invalid type: number, expected a string at line 1 column 146",
    ),
    Case(
        "float_for_seq",
        3,
        "single_exec",
        "trace.jsonl",
        b'"seq":5,',
        b'"seq":5.5,',
        "Error: parse trace event line 5\n\nCaused by:\n    invalid type: floating point `5.5`, expected u64 at line 1 column 29",
    ),
    Case(
        "huge_integer_for_seq",
        3,
        "single_exec",
        "trace.jsonl",
        b'"seq":5,',
        b'"seq":9999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999,',
        "Error: parse trace event line 5\n\nCaused by:\n    number out of range at line 1 column 426",
    ),
    Case(
        "float_in_payload_string",
        3,
        "single_exec",
        "trace.jsonl",
        b'"event_type":"turn_started"',
        b'"event_type":1.5',
        "Error: parse trace event line 5\n\nCaused by:\n    invalid type: map, expected a string at line 1 column 308",
    ),
    Case(
        "float_for_shard",
        3,
        "single_exec",
        "trace.jsonl",
        b'"kind":{"type":"protocol_event"},"shard":1}',
        b'"kind":{"type":"protocol_event"},"shard":1.5}',
        "Error: parse trace event line 3\n\nCaused by:\n    invalid type: map, expected u64 at line 1 column 327",
    ),
    Case(
        "sequence_for_payload_kind",
        2,
        "single_exec",
        "trace.jsonl",
        b'"kind":{"type":"protocol_event"}',
        b'"kind":{"type":[]}',
        "Error: parse trace event line 3\n\nCaused by:\n    invalid type: sequence, expected string or map at line 1 column 326",
    ),
    Case(
        "empty_map_for_payload_kind",
        3,
        "single_exec",
        "trace.jsonl",
        b'"kind":{"type":"protocol_event"}',
        b'"kind":{"type":{}}',
        "Error: parse trace event line 3\n\nCaused by:\n    invalid value: map, expected map with a single key at line 1 column 311",
    ),
    Case(
        "payload_kind_as_one_key_map",
        3,
        "single_exec",
        "trace.jsonl",
        b'"kind":{"type":"protocol_event"}',
        b'"kind":{"type":{"protocol_event":null}}',
        None,
    ),
    Case(
        "payload_kind_map_with_value",
        3,
        "single_exec",
        "trace.jsonl",
        b'"kind":{"type":"protocol_event"}',
        b'"kind":{"type":{"protocol_event":1}}',
        "Error: parse trace event line 3\n\nCaused by:\n    invalid type: integer `1`, expected unit at line 1 column 329",
    ),
    Case(
        "float_for_payload_kind",
        2,
        "single_exec",
        "trace.jsonl",
        b'"kind":{"type":"protocol_event"}',
        b'"kind":{"type":1.5}',
        "Error: parse trace event line 3\n\nCaused by:\n    unknown variant `$serde_json::private::Number`, expected one of `inference_request`, `inference_response`, `compaction_request`, `compaction_checkpoint`, `compaction_response`, `tool_invocation`, `tool_result`, `tool_runtime_event`, `terminal_runtime_event`, `protocol_event`, `session_metadata`, `agent_result` at line 1 column 327",
    ),
    Case(
        "status_as_one_key_map",
        3,
        "single_exec",
        "trace.jsonl",
        b'"status":"completed"',
        b'"status":{"completed":{}}',
        None,
    ),
    Case(
        "status_integer",
        2,
        "single_exec",
        "trace.jsonl",
        b'"status":"completed"',
        b'"status":0',
        "Error: parse trace event line 13\n\nCaused by:\n    invalid type: integer `0`, expected string or map at line 1 column 419",
    ),
    Case(
        "tool_kind_by_index",
        3,
        "single_exec",
        "trace.jsonl",
        b'"kind":{"type":"exec_command"}',
        b'"kind":{"type":1}',
        "Error: parse terminal invocation payload raw_payload:9 as dispatch payload\n\nCaused by:\n    dispatch terminal request is for exec_command, not write_stdin",
    ),
    Case(
        "tool_kind_index_out_of_range",
        2,
        "single_exec",
        "trace.jsonl",
        b'"kind":{"type":"exec_command"}',
        b'"kind":{"type":99}',
        "Error: parse trace event line 11\n\nCaused by:\n    invalid value: integer `99`, expected variant index 0 <= i < 12 at line 1 column 643",
    ),
    Case(
        "requester_type_null",
        3,
        "single_exec",
        "trace.jsonl",
        b'"requester":{"type":"model"}',
        b'"requester":{"type":null}',
        "Error: parse trace event line 11\n\nCaused by:\n    invalid type: null, expected variant identifier at line 1 column 637",
    ),
    Case(
        "tool_kind_as_lone_tag",
        3,
        "single_exec",
        "trace.jsonl",
        b'"kind":{"type":"exec_command"}',
        b'"kind":["write_stdin"]',
        "Error: parse terminal invocation payload raw_payload:9 as dispatch payload\n\nCaused by:\n    dispatch terminal request is for exec_command, not write_stdin",
    ),
    Case(
        "tool_kind_lone_tag_with_fields",
        2,
        "single_exec",
        "trace.jsonl",
        b'"kind":{"type":"exec_command"}',
        b'"kind":["mcp"]',
        "Error: parse trace event line 11\n\nCaused by:\n    invalid length 0, expected struct variant ToolCallKind::Mcp with 2 elements at line 1 column 639",
    ),
    Case(
        "payload_empty_sequence",
        3,
        "single_exec",
        "trace.jsonl",
        b'"payload":{"type":"protocol_event_observed","event_type":"turn_started","event_payload":{"raw_payload_id":"raw_payload:3","kind":{"type":"protocol_event"},"shard":1}}',
        b'"payload":[ ]',
        "Error: parse trace event line 5\n\nCaused by:\n    missing field `type` at line 1 column 165",
    ),
    Case(
        "payload_sequence_integer_tag",
        3,
        "single_exec",
        "trace.jsonl",
        b'"payload":{"type":"protocol_event_observed","event_type":"turn_started","event_payload":{"raw_payload_id":"raw_payload:3","kind":{"type":"protocol_event"},"shard":1}}',
        b'"payload":[1]',
        "Error: parse trace event line 5\n\nCaused by:\n    invalid type: integer `1`, expected variant identifier at line 1 column 164",
    ),
    Case(
        "payload_float",
        3,
        "single_exec",
        "trace.jsonl",
        b'"payload":{"type":"protocol_event_observed","event_type":"turn_started","event_payload":{"raw_payload_id":"raw_payload:3","kind":{"type":"protocol_event"},"shard":1}}',
        b'"payload":1.5',
        "Error: parse trace event line 5\n\nCaused by:\n    missing field `type` at line 1 column 165",
    ),
    Case(
        "ref_as_sequence",
        3,
        "single_exec",
        "trace.jsonl",
        b'"event_payload":{"raw_payload_id":"raw_payload:3","kind":{"type":"protocol_event"},"shard":1}',
        b'"event_payload":["raw_payload:3"]',
        "Error: parse trace event line 5\n\nCaused by:\n    invalid length 1, expected struct RawPayloadRef with 5 elements at line 1 column 259",
    ),
    Case(
        "ref_as_float",
        2,
        "single_exec",
        "trace.jsonl",
        b'"event_payload":{"raw_payload_id":"raw_payload:3","kind":{"type":"protocol_event"},"path":"payloads/3.json"}',
        b'"event_payload":2.5',
        "Error: parse trace event line 5\n\nCaused by:\n    missing field `raw_payload_id` at line 1 column 245",
    ),
    Case(
        "parts_null",
        3,
        "single_exec",
        "trace.jsonl",
        b'"kind":{"type":"protocol_event"},"shard":1}',
        b'"kind":{"type":"protocol_event"},"shard":1,"parts":null}',
        "Error: parse trace event line 3\n\nCaused by:\n    invalid type: null, expected a sequence at line 1 column 338",
    ),
    Case(
        "capture_null",
        3,
        "single_exec",
        "trace.jsonl",
        b'"kind":{"type":"protocol_event"},"shard":1}',
        b'"kind":{"type":"protocol_event"},"shard":1,"capture":null}',
        "Error: parse trace event line 3\n\nCaused by:\n    invalid type: null, expected internally tagged enum PayloadCapture at line 1 column 340",
    ),
    Case(
        "capture_bytes_are_usize",
        3,
        "single_exec",
        "trace.jsonl",
        b'"kind":{"type":"protocol_event"},"shard":1}',
        b'"kind":{"type":"protocol_event"},"shard":1,"capture":{"status":"omitted","original_bytes":"x"}}',
        'Error: parse trace event line 3\n\nCaused by:\n    invalid type: string "x", expected usize at line 1 column 377',
    ),
    Case(
        "envelope_field_twice",
        3,
        "single_exec",
        "trace.jsonl",
        b'"seq":5,',
        b'"seq":5,"seq":5,',
        "Error: parse trace event line 5\n\nCaused by:\n    duplicate field `seq` at line 1 column 33",
    ),
    Case(
        "payload_tag_twice",
        2,
        "single_exec",
        "trace.jsonl",
        b'{"type":"protocol_event_observed",',
        b'{"type":"protocol_event_observed","type":"protocol_event_observed",',
        "Error: parse trace event line 3\n\nCaused by:\n    duplicate field `type` at line 1 column 202",
    ),
    Case(
        "payload_field_twice",
        3,
        "single_exec",
        "trace.jsonl",
        b'"event_type":"turn_started",',
        b'"event_type":"turn_started","event_type":"turn_started",',
        "Error: parse trace event line 5\n\nCaused by:\n    duplicate field `event_type` at line 1 column 347",
    ),
    Case(
        "ref_field_twice",
        3,
        "single_exec",
        "trace.jsonl",
        b'"shard":1}',
        b'"shard":1,"shard":1}',
        "Error: parse trace event line 2\n\nCaused by:\n    duplicate field `shard` at line 1 column 369",
    ),
    Case(
        "unknown_field_twice",
        3,
        "single_exec",
        "trace.jsonl",
        b'"seq":5,',
        b'"seq":5,"extra":1,"extra":2,',
        None,
    ),
    Case(
        "manifest_field_twice",
        3,
        "single_exec",
        "manifest.json",
        b'  "trace_id"',
        b'  "rollout_id": "x",\n  "trace_id"',
        "Error: read bundle/manifest.json\n\nCaused by:\n    duplicate field `rollout_id` at line 5 column 15",
    ),
    Case(
        "ref_without_shard_read_at_the_end",
        3,
        "single_exec",
        "trace.jsonl",
        b'"kind":{"type":"protocol_event"},"shard":1}',
        b'"kind":{"type":"protocol_event"}}',
        "Error: payload omitted by size limit",
    ),
    Case(
        "unknown_field_control_character",
        2,
        "single_exec",
        "trace.jsonl",
        b'"seq":5,',
        b'"seq":5,"extra":"a\x01b",',
        "Error: parse trace event line 5\n\nCaused by:\n    control character (\\u0000-\\u001F) found while parsing a string at line 1 column 38",
    ),
    Case(
        "code_cell_end_without_thread",
        3,
        "code_mode_yield_wait",
        "trace.jsonl",
        b'"thread_id":"01a23439-6438-7ec0-b261-43942972bb09","codex_turn_id":"01a23439-644a-77c2-9975-55c04fdaea99","payload":{"type":"code_cell_ended"',
        b'"thread_id":null,"codex_turn_id":"01a23439-644a-77c2-9975-55c04fdaea99","payload":{"type":"code_cell_ended"',
        "Error: code cell end 1 did not include a thread id",
    ),
    Case(
        "code_cell_start_unknown_turn",
        2,
        "code_mode_yield_wait",
        "trace.jsonl",
        b'"codex_turn_id":"01a20c59-a906-7471-9cc7-d60f134ed272","payload":{"type":"code_cell_started"',
        b'"codex_turn_id":"zzz","payload":{"type":"code_cell_started"',
        "Error: code cell start referenced unknown Codex turn zzz",
    ),
    Case(
        "mcp_runtime_end_is_not_read",
        2,
        "mcp_tool_call",
        "payloads/24.json",
        b'"result"',
        b'"result" x',
        "Error: invalid payload raw_payload:24\n\nCaused by:\n    expected `:` at line 2 column 12",
    ),
    Case(
        "acceptance_of_a_known_item_is_not_compared",
        3,
        "view_image",
        "trace.jsonl",
        b'"item_id":"fco_01a23439-1345-7970-ae3c-073c444c46dc"',
        b'"item_id":"fco_01a23439-131d-7162-9a29-0aefc831dfad"',
        None,
    ),
    Case(
        "acceptance_of_a_response_item_is_compared",
        3,
        "unknown_tool",
        "trace.jsonl",
        b'"item_id":"fco_01a23438-e73a-7181-958a-6d831690d241"',
        b'"item_id":"fc_1_0"',
        "Error: accepted item payload does not match fc_1_0",
    ),
    Case(
        "empty_payload_path_is_the_bundle_directory",
        2,
        "single_exec",
        "trace.jsonl",
        b'"path":"payloads/3.json"',
        b'"path":""',
        "Error: read payload raw_payload:3\n\nCaused by:\n    Is a directory (os error 21)",
    ),
    Case(
        "template_shape_is_checked_before_its_parts",
        3,
        "interrupt_during_tool",
        "payloads/000001.zst#raw_payload:7",
        b'\\"type\\":\\"string',
        b'\\"type\\":\\bstring',
        "Error: expected value at line 1 column 244",
    ),
    Case(
        "template_part_not_utf8",
        3,
        "app_server_thread_resume",
        "payloads/000001.zst#raw_payload:6",
        b'"content":[',
        b'"content"\xba[',
        "Error: invalid utf-8 sequence of 1 bytes from index 89",
    ),
    Case(
        "v3_invocation_is_read_only_for_write_stdin",
        3,
        "auto_compaction_local",
        "payloads/000001.zst@6020",
        b"",
        b"",
        "Error: missing payload raw_payload:10 in shard 1",
    ),
    Case(
        "function_output_list_that_is_not_content",
        2,
        "terminal_session_reuse",
        "payloads/16.json",
        b'"output": "',
        b'"output": [1], "was": "',
        None,
    ),
    Case(
        "function_output_empty_list",
        2,
        "terminal_session_reuse",
        "payloads/16.json",
        b'"output": "',
        b'"output": [], "was": "',
        None,
    ),
    Case(
        "agent_message_metadata_numbers_keep_their_value",
        2,
        "multi_agent_v2_lifecycle",
        "payloads/63.json",
        b'"turn_id": "01a20c59-a34d-73b2-864d-f1d1114f5448"',
        b'"turn_id": 1.5',
        "Error: failed to parse agent_message item in payload raw_payload:63\n\nCaused by:\n    invalid type: floating point `1.5`, expected a string",
    ),
    Case(
        "part_not_json_is_its_own_invalid_payload",
        3,
        "single_exec",
        "payloads/000001.zst#raw_payload:5",
        b"{",
        b'{"a": x, ',
        "Error: invalid payload raw_payload:5\n\nCaused by:\n    expected value at line 1 column 7",
    ),
    Case(
        "control_character_in_an_unread_record",
        3,
        "single_exec",
        "payloads/000001.zst#raw_payload:20",
        b"{",
        b'{"a": "x\x01y", ',
        "Error: invalid payload raw_payload:20\n\nCaused by:\n    control character (\\u0000-\\u001F) found while parsing a string at line 1 column 8",
    ),
    Case(
        "truncated_capture_without_shard",
        3,
        "capture_payload_limit_exec",
        "trace.jsonl",
        b'"raw_payload_id":"raw_payload:13","kind":{"type":"protocol_event"},"shard":1,',
        b'"raw_payload_id":"raw_payload:13","kind":{"type":"protocol_event"},',
        "Error: payload omitted by size limit",
    ),
    Case(
        "unread_record_not_utf8",
        3,
        "single_exec",
        "payloads/000001.zst#raw_payload:20",
        b"{",
        b'{"a": "\xba", ',
        "Error: invalid utf-8 sequence of 1 bytes from index 7",
    ),
    Case(
        "agent_message_metadata_infinite_number",
        2,
        "multi_agent_v2_lifecycle",
        "payloads/63.json",
        b'"turn_id": "01a20c59-a34d-73b2-864d-f1d1114f5448"',
        b'"turn_id": -1e400',
        "Error: failed to parse agent_message item in payload raw_payload:63\n\nCaused by:\n    invalid type: map, expected a string",
    ),
    Case(
        "agent_message_metadata_empty_sequence",
        2,
        "multi_agent_v2_lifecycle",
        "payloads/48.json",
        b'"internal_chat_message_metadata_passthrough": {',
        b'"internal_chat_message_metadata_passthrough": [], "was": {',
        None,
    ),
    Case(
        "agent_message_variant_negative",
        2,
        "multi_agent_v2_nested_fork",
        "payloads/13.json",
        b'"type": "encrypted_content"',
        b'"type": -1',
        "Error: failed to parse agent_message item in payload raw_payload:13\n\nCaused by:\n    invalid type: integer `-1`, expected variant identifier",
    ),
    Case(
        "read_template_splices_bytes_as_they_are",
        3,
        "user_image_input",
        "payloads/000002.zst#raw_payload:4",
        b"base64,",
        b"base64,\xba",
        "Error: parse payload raw_payload:5\n\nCaused by:\n    invalid unicode code point at line 1 column 866",
    ),
    Case(
        "template_fragment_not_a_string",
        3,
        "single_exec",
        "payloads/000001.zst#raw_payload:7",
        b'["',
        b'[1.5,"',
        "Error: invalid type: number, expected a string at line 1 column 4",
    ),
    Case(
        "dispatch_payload_as_sequence",
        2,
        "terminal_session_reuse",
        "payloads/15.json",
        b'"payload": {',
        b'"payload": [], "was": {',
        "Error: parse terminal invocation payload raw_payload:15 as dispatch payload\n\nCaused by:\n    invalid length 0, expected struct DispatchedToolPayload with 2 elements",
    ),
    Case(
        "activity_kind_empty_map",
        2,
        "multi_agent_v2_lifecycle",
        "payloads/42.json",
        b'"kind": "interacted"',
        b'"kind": {}',
        "Error: invalid value: map, expected map with a single key",
    ),
    Case(
        "activity_kind_one_key_map",
        2,
        "multi_agent_v2_lifecycle",
        "payloads/42.json",
        b'"kind": "interacted"',
        b'"kind": {"a": 1}',
        "Error: unknown variant `a`, expected one of `started`, `interacted`, `interrupted`, `completed`",
    ),
    Case(
        "end_check_skips_surrogates_in_a_splice",
        3,
        "single_exec",
        "payloads/000001.zst#raw_payload:5",
        b'"type":"message"',
        b'"type":"message","z":"\\ud800"',
        None,
    ),
    Case(
        "response_template_error_has_no_context",
        3,
        "capture_payload_limit_exec",
        "payloads/000003.zst#raw_payload:25",
        b'\\"upstream_request_id\\":null',
        b'\\"upstream_request_id\\":nul',
        "Error: expected ident at line 1 column 50",
    ),
    Case(
        "request_template_error_has_context",
        3,
        "view_image",
        "payloads/000003.zst#raw_payload:13",
        b'","',
        b'","x',
        "Error: parse payload raw_payload:13\n\nCaused by:\n    expected `,` or `}` at line 1 column 1072",
    ),
    Case(
        "template_with_a_cut_part_error_has_no_context",
        3,
        "capture_payload_limit_exec",
        "payloads/000001.zst#raw_payload:19",
        b'","',
        b'","x',
        "Error: expected `,` or `]` at line 1 column 289",
    ),
    Case(
        "agent_message_create_time_as_a_map",
        2,
        "multi_agent_v2_child_failure",
        "payloads/23.json",
        b'"create_time": 1795503545.1694863',
        b'"create_time": {"a": 1}',
        "Error: failed to parse agent_message item in payload raw_payload:23\n\nCaused by:\n    expected field with custom name",
    ),
    Case(
        "v3_agent_message_numbers_are_numbers",
        3,
        "multi_agent_v2_nested_fork",
        "payloads/000001.zst#raw_payload:55",
        b'"content":[{"type":"input_text"',
        b'"content":[{"type":-1',
        "Error: invalid type: number, expected variant identifier",
    ),
    Case(
        "manifest_as_a_sequence",
        3,
        "empty_response",
        "manifest.json",
        b"{",
        b"[",
        'Error: read bundle/manifest.json\n\nCaused by:\n    invalid type: string "schema_version", expected u32 at line 2 column 18',
    ),
    Case(
        "exec_begin_given_as_a_sequence_reads_fields_in_declaration_order",
        3,
        "app_server_manual_compaction_local",
        "payloads/000001.zst#raw_payload:10",
        WHOLE,
        b'[null,["a","b"],"/x","in"]',
        None,
    ),
    Case(
        "exec_begin_sequence_second_field_is_the_command",
        3,
        "app_server_manual_compaction_local",
        "payloads/000001.zst#raw_payload:10",
        WHOLE,
        b'["p",",","/x",null]',
        "Error: parse terminal runtime start payload raw_payload:10\n\nCaused by:\n"
        '    invalid type: string ",", expected a sequence',
    ),
    Case(
        "exec_end_sequence_with_an_element_too_many",
        3,
        "app_server_manual_compaction_local",
        "payloads/000001.zst#raw_payload:11",
        WHOLE,
        b'["p","out",0,1]',
        "Error: parse exec terminal response raw_payload:11\n\nCaused by:\n"
        "    invalid length 4, expected fewer elements in array",
    ),
    Case(
        "exec_end_sequence_an_element_short",
        3,
        "app_server_manual_compaction_local",
        "payloads/000001.zst#raw_payload:11",
        WHOLE,
        b'[null,"out"]',
        "Error: parse exec terminal response raw_payload:11\n\nCaused by:\n"
        "    invalid length 2, expected struct ExecCommandEndPayload with 3 elements",
    ),
    Case(
        "template_body_a_cut_map_is_refused_by_its_type",
        3,
        "capture_payload_limit_exec",
        "payloads/000001.zst#raw_payload:7",
        WHOLE,
        b'  {"input":[',
        "Error: invalid type: map, expected a sequence at line 1 column 2",
    ),
    Case(
        "template_element_type_before_a_later_syntax_error",
        3,
        "capture_payload_limit_exec",
        "payloads/000001.zst#raw_payload:7",
        WHOLE,
        b'["a", 1, xx',
        "Error: invalid type: integer `1`, expected a string at line 1 column 7",
    ),
    Case(
        "template_body_a_scalar_after_whitespace",
        3,
        "capture_payload_limit_exec",
        "payloads/000001.zst#raw_payload:7",
        WHOLE,
        b"\n 5 ",
        "Error: invalid type: integer `5`, expected a sequence at line 2 column 2",
    ),
    Case(
        "recording_completed_cut_before_its_newline_v2",
        2,
        "local_shell_call",
        "trace.jsonl",
        b'"recording_completed"}}\n',
        b'"recording_completed"}}',
        None,  # read, but the recording is not complete (the state says so)
    ),
    Case(
        "recording_completed_cut_before_its_newline_v3",
        3,
        "local_shell_call",
        "trace.jsonl",
        b'"recording_completed"}}\n',
        b'"recording_completed"}}',
        None,  # recording_status "unclosed"
    ),
    Case(
        "thread_metadata_given_as_a_sequence_of_six",
        3,
        "terminal_session_reuse",
        "payloads/000001.zst#raw_payload:1",
        WHOLE,
        b'["/root/a","t","n","r","m",null]',
        None,
    ),
    Case(
        "thread_metadata_sequence_too_long",
        3,
        "terminal_session_reuse",
        "payloads/000001.zst#raw_payload:1",
        WHOLE,
        b'[null,null,null,null,null,null,"x","y","z"]',
        "Error: parse thread metadata raw_payload:1\n\nCaused by:\n"
        "    invalid length 9, expected fewer elements in array",
    ),
    Case(
        "thread_metadata_sequence_second_field_a_number",
        3,
        "terminal_session_reuse",
        "payloads/000001.zst#raw_payload:1",
        WHOLE,
        b'["p",5]',
        "Error: parse thread metadata raw_payload:1\n\nCaused by:\n"
        "    invalid type: number, expected a string",
    ),
    Case(
        "event_line_given_as_a_sequence_is_read_field_by_field",
        2,
        "single_exec",
        "trace.jsonl",
        b'{"schema_version":2,"seq":3,',
        b'["schema_version":2,"seq":3,',
        "Error: parse trace event line 3\n\nCaused by:\n"
        '    invalid type: string "schema_version", expected u32 at line 1 column 17',
    ),
    Case(
        "event_line_sequence_wrong_at_its_fourth_field",
        2,
        "single_exec",
        "trace.jsonl",
        b'{"schema_version":2,"seq":3,"wall_time_unix_ms":',
        b"[2,3,1,2,",
        "Error: parse trace event line 3\n\nCaused by:\n"
        "    invalid type: integer `2`, expected a string at line 1 column 8",
    ),
    Case(
        "write_stdin_result_sequence_unknown_tag",
        3,
        "terminal_session_reuse",
        "payloads/000001.zst#raw_payload:28",
        WHOLE,
        b'["zzz"]',
        "Error: parse write_stdin terminal response raw_payload:28 as protocol payload "
        "(invalid length 2, expected struct ExecCommandEndPayload with 3 elements) or dispatch "
        "payload\n\nCaused by:\n    unknown variant `zzz`, expected one of `direct_response`, "
        "`code_mode_response`, `error`",
    ),
    Case(
        "write_stdin_result_sequence_known_tag_without_its_field",
        3,
        "terminal_session_reuse",
        "payloads/000001.zst#raw_payload:28",
        WHOLE,
        b'["direct_response"]',
        "Error: parse write_stdin terminal response raw_payload:28 as protocol payload "
        "(invalid length 2, expected struct ExecCommandEndPayload with 3 elements) or dispatch "
        "payload\n\nCaused by:\n    invalid length 0, expected struct variant "
        "DispatchedToolTraceResponsePayload::DirectResponse with 1 element",
    ),
    Case(
        "write_stdin_result_sequence_error_variant",
        3,
        "terminal_session_reuse",
        "payloads/000001.zst#raw_payload:28",
        WHOLE,
        b'["error","boom"]',
        None,
    ),
    Case(
        "write_stdin_result_empty_sequence",
        3,
        "terminal_session_reuse",
        "payloads/000001.zst#raw_payload:28",
        WHOLE,
        b"[]",
        "Error: parse write_stdin terminal response raw_payload:28 as protocol payload "
        "(invalid length 0, expected struct ExecCommandEndPayload with 3 elements) or dispatch "
        "payload\n\nCaused by:\n    missing field `type`",
    ),
    Case(
        "collab_close_end_given_as_a_sequence_reads_the_completion_time_second",
        3,
        "multi_agent_v2_lifecycle",
        "payloads/000001.zst#raw_payload:113",
        WHOLE,
        b'["{\\"input\\":[",",",",",",",",","],\\"tools\\":"]',
        'Error: invalid type: string ",", expected i64',
    ),
    Case(
        "collab_close_end_sequence_short_of_its_first_field_without_a_default",
        3,
        "multi_agent_v2_lifecycle",
        "payloads/000001.zst#raw_payload:113",
        WHOLE,
        b'["call_interrupt"]',
        "Error: invalid length 2, expected struct CollabCloseEndEvent with 7 elements",
    ),
    Case(
        "collab_close_end_as_a_whole_sequence_is_read",
        3,
        "multi_agent_v2_lifecycle",
        "payloads/000001.zst#raw_payload:113",
        WHOLE,
        b'["call_interrupt",5,"01a23439-50c4-7ad0-a0a3-0397a4de549a","01a23439-51b7-7811-89fc-b12097f1e1db",null,null,"running"]',
        None,
    ),
    Case(
        "collab_close_end_completion_time_is_an_i64",
        3,
        "multi_agent_v2_lifecycle",
        "payloads/000001.zst#raw_payload:113",
        WHOLE,
        b'{"call_id":"call_interrupt","completed_at_ms":"x","sender_thread_id":"01a23439-50c4-7ad0-a0a3-0397a4de549a",'
        b'"receiver_thread_id":"01a23439-51b7-7811-89fc-b12097f1e1db","status":"running"}',
        'Error: invalid type: string "x", expected i64',
    ),
    Case(
        "collab_spawn_end_model_is_a_string_not_an_option",
        3,
        "multi_agent_v2_lifecycle",
        "payloads/000001.zst#raw_payload:13",
        WHOLE,
        b'{"call_id":"call_spawn","sender_thread_id":"01a23439-50c4-7ad0-a0a3-0397a4de549a","new_thread_id":"01a23439-51b7-7811-89fc-b12097f1e1db",'
        b'"prompt":"p","model":null,"reasoning_effort":"medium","status":"running"}',
        "Error: invalid type: null, expected a string",
    ),
    Case(
        "collab_interaction_end_sequence_nickname_is_an_optional_string",
        3,
        "multi_agent_v2_lifecycle",
        "payloads/000001.zst#raw_payload:62",
        WHOLE,
        b'["call_send",5,"01a23439-50c4-7ad0-a0a3-0397a4de549a","01a23439-51b7-7811-89fc-b12097f1e1db",{},null,"p","running"]',
        "Error: invalid type: map, expected a string",
    ),
    Case(
        "collab_close_end_sequence_in_schema_2",
        2,
        "multi_agent_v2_lifecycle",
        "payloads/67.json",
        WHOLE,
        b'["x","s"]',
        'Error: invalid type: string "s", expected i64',
    ),
    Case(
        "payload_number_cut_by_the_end_is_an_invalid_number_to_the_ignoring_walk",
        2,
        "code_mode_nested_tool",
        "payloads/16.json",
        WHOLE,
        b'{"a": 3.',
        "Error: invalid payload raw_payload:16\n\nCaused by:\n    invalid number at line 1 column 8",
    ),
    Case(
        "record_minus_cut_by_the_end_is_an_invalid_number",
        3,
        "code_mode_nested_tool",
        "payloads/000001.zst#raw_payload:16",
        WHOLE,
        b"[-",
        "Error: invalid payload raw_payload:16\n\nCaused by:\n    invalid number at line 1 column 2",
    ),
    Case(
        "record_exponent_cut_by_the_end_is_an_invalid_number",
        3,
        "code_mode_nested_tool",
        "payloads/000001.zst#raw_payload:16",
        WHOLE,
        b'{"a": 3.5e+',
        "Error: invalid payload raw_payload:16\n\nCaused by:\n    invalid number at line 1 column 11",
    ),
    Case(
        "manifest_unknown_field_number_cut_by_the_end_is_skipped_as_ignored",
        2,
        "single_exec",
        "manifest.json",
        WHOLE,
        b'{"schema_version":2,"seq":1.',
        "Error: read bundle/manifest.json\n\nCaused by:\n    invalid number at line 1 column 28",
    ),
    Case(
        "manifest_known_field_number_cut_by_the_end_is_eof",
        3,
        "single_exec",
        "manifest.json",
        WHOLE,
        b'{"schema_version": -',
        "Error: read bundle/manifest.json\n\nCaused by:\n    EOF while parsing a value at line 1 column 20",
    ),
    Case(
        "dispatch_result_buffers_an_integer_below_i64_as_i128_which_it_refuses",
        2,
        "terminal_session_reuse",
        "payloads/16.json",
        b'"call_id": "call_w2"',
        b'"call_id": "call_w2", "zz": -9223372036854775809',
        "Error: parse write_stdin terminal response raw_payload:16 as protocol payload "
        "(missing field `exit_code`) or dispatch payload\n\nCaused by:\n"
        "    invalid type: integer `-9223372036854775809` as i128, expected any value",
    ),
    Case(
        "dispatch_result_buffers_an_integer_past_u64_as_u128_in_schema_3",
        3,
        "terminal_session_reuse",
        "payloads/000001.zst#raw_payload:28",
        b'"call_id":"call_w2"',
        b'"call_id":18446744073709551616',
        "Error: parse write_stdin terminal response raw_payload:28 as protocol payload "
        "(missing field `exit_code`) or dispatch payload\n\nCaused by:\n"
        "    invalid type: integer `18446744073709551616` as u128, expected any value",
    ),
    Case(
        "v3_agent_content_entry_a_number_is_worded_with_its_value",
        3,
        "multi_agent_v2_lifecycle",
        "payloads/000001.zst#raw_payload:79",
        _SECOND_CONTENT,
        b"1.5",
        "Error: invalid type: floating point `1.5`, expected internally tagged enum "
        "AgentMessageInputContent",
    ),
    Case(
        "v3_agent_content_tag_a_number_is_no_variant_index",
        3,
        "multi_agent_v2_lifecycle",
        "payloads/000001.zst#raw_payload:79",
        _SECOND_CONTENT,
        b'{"type":0,"text":"x"}',
        "Error: invalid type: number, expected variant identifier",
    ),
    Case(
        "v3_agent_content_text_a_number_is_worded_with_its_value",
        3,
        "multi_agent_v2_lifecycle",
        "payloads/000001.zst#raw_payload:79",
        _SECOND_CONTENT,
        b'["input_text",-2]',
        "Error: invalid type: integer `-2`, expected a string",
    ),
    Case(
        "truncated_capture_must_keep_less_than_the_original",
        3,
        "capture_payload_limit_exec",
        "trace.jsonl",
        b'"capture":{"status":"truncated","original_bytes":40798,"retained_bytes":2048}',
        b'"capture":{"status":"truncated","original_bytes":2048,"retained_bytes":2048}',
        "Error: invalid retained length",
    ),
    Case(
        "sub_agent_activity_reasoning_effort_must_not_be_empty",
        2,
        "multi_agent_v2_lifecycle",
        "payloads/9.json",
        b'"reasoning_effort": "medium"',
        b'"reasoning_effort": ""',
        "Error: reasoning_effort must not be empty",
    ),
    Case(
        "collab_spawn_end_reasoning_effort_must_not_be_empty",
        3,
        "multi_agent_v2_lifecycle",
        "payloads/000001.zst#raw_payload:13",
        WHOLE,
        b'["call_spawn",5,"01a23439-50c4-7ad0-a0a3-0397a4de549a","01a23439-51b7-7811-89fc-b12097f1e1db",null,null,"p","m","","running"]',
        "Error: reasoning_effort must not be empty",
    ),
]


def _edited(case: Case, tmp_path: Path) -> Path | None:
    corpus = CONFORMANCE_V3 if case.schema == 3 else CONFORMANCE
    found = sorted((corpus / case.scenario).glob("trace-*"))
    if not found:
        return None
    bundle = tmp_path / "bundle"
    shutil.copytree(found[0], bundle, ignore=shutil.ignore_patterns("expected_state.json"))
    apply_edit(bundle, case.file, case.old, case.new)
    return bundle


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_edge_reads_as_codex_read_it(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = _edited(case, tmp_path)
    if bundle is None:
        pytest.skip("the conformance corpus is not present")
    monkeypatch.chdir(tmp_path)  # errors name the bundle as Codex was given it: "bundle"
    relative = Path("bundle")
    if case.expected is None:
        state = state_bytes(reduce_bundle(relative))
        if "newline" in case.name:  # the one edit that leaves the state short of complete
            assert b'"recording_complete": false' in state or b'"unclosed"' in state
    else:
        with pytest.raises(ReduceError) as info:
            reduce_bundle(relative)
        assert info.value.codex_text() == case.expected
    codex = codex_bin(case.schema)
    if codex is not None and os.environ.get("SERDE_EDGES_WITHOUT_CODEX") is None:
        result = reduce_and_compare(relative, codex)
        assert result.same_text, result.explain()
