"""Cases of ``test_serde_edges``: structs given as sequences (the manifest, events, exec and
collab payloads, thread metadata, write_stdin results), numbers cut off by the end of the text,
wide integers inside buffered enums, 0.171's agent content, and checks on values (retained
lengths, reasoning efforts)."""

from __future__ import annotations

from tests.reduce.serde_edges_support import WHOLE, Case


def _interaction_end(receiver: bytes, status: bytes) -> bytes:
    """A send_message end event (to the worker thread ``receiver``) in place of the sub-agent
    activity the corpus has, with ``status`` as its agent status and no sender: serde reports
    a bad status on its way through the map, before any missing field."""
    return (
        b'{"call_id":"call_send","receiver_thread_id":"' + receiver + b'",'
        b'"receiver_agent_nickname":null,"receiver_agent_role":null,"prompt":"p","status":'
        + status
        + b"}"
    )


#: An integer past u64 (serde_json hands it over as a u128).
_U128 = b"18446744073709551616"
#: The content entry of the agent message in the schema-2 multi-agent corpus bundle's payload 39.
_V2_FIRST_ENTRY = (
    b'{\n          "type": "input_text",\n          "text": "Message Type: FINAL_ANSWER\\n'
    b'Task name: /root\\nSender: /root/worker\\nPayload:\\nchild finished task one"\n        }'
)
#: The second content entry of an agent message in the schema-3 multi-agent corpus bundle.
_SECOND_CONTENT = (
    b'{"type":"encrypted_content","encrypted_content":"NOTE: a message without a new turn."}'
)

STRUCT_CASES = [
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
        "collab_status_completed_carries_a_message",
        2,
        "multi_agent_v2_lifecycle",
        "payloads/37.json",
        WHOLE,
        _interaction_end(b"01a20c59-a379-75c1-8d00-05879518f232", b'"completed"'),
        "Error: invalid type: unit variant, expected newtype variant",
    ),
    Case(
        "collab_status_errored_message_is_a_string",
        2,
        "multi_agent_v2_lifecycle",
        "payloads/37.json",
        WHOLE,
        _interaction_end(b"01a20c59-a379-75c1-8d00-05879518f232", b'{"errored":null}'),
        "Error: invalid type: null, expected a string",
    ),
    Case(
        "collab_status_unit_variant_as_a_map_holds_null",
        3,
        "multi_agent_v2_lifecycle",
        "payloads/000001.zst#raw_payload:62",
        WHOLE,
        _interaction_end(b"01a23439-51b7-7811-89fc-b12097f1e1db", b'{"running":5}'),
        "Error: invalid type: number, expected unit",
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
    # the bound itself (mut31: refusing from -2^127 + 1 only passed every test) ...
    Case(
        "dispatch_result_buffers_i128_min_as_i128_which_it_refuses",
        2,
        "terminal_session_reuse",
        "payloads/16.json",
        b'"call_id": "call_w2"',
        b'"call_id": "call_w2", "zz": -170141183460469231731687303715884105728',
        "Error: parse write_stdin terminal response raw_payload:16 as protocol payload "
        "(missing field `exit_code`) or dispatch payload\n\nCaused by:\n"
        "    invalid type: integer `-170141183460469231731687303715884105728` as i128, "
        "expected any value",
    ),
    # ... and one below it: wider than i128, kept as text, it passes
    Case(
        "dispatch_result_keeps_an_integer_below_i128_as_text",
        2,
        "terminal_session_reuse",
        "payloads/16.json",
        b'"call_id": "call_w2"',
        b'"call_id": "call_w2", "zz": -170141183460469231731687303715884105729',
        None,
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
        "v3_agent_content_entry_past_u64_is_named_as_u128",
        3,
        "multi_agent_v2_lifecycle",
        "payloads/000001.zst#raw_payload:79",
        _SECOND_CONTENT,
        _U128,
        f"Error: invalid type: integer `{_U128.decode()}` as u128, expected internally tagged "
        "enum AgentMessageInputContent",
    ),
    Case(
        "v3_agent_content_entry_past_f64_is_a_map_without_a_tag",
        3,
        "multi_agent_v2_lifecycle",
        "payloads/000001.zst#raw_payload:79",
        _SECOND_CONTENT,
        b"1e400",
        "Error: missing field `type`",
    ),
    Case(
        "v3_agent_content_untagged_field_past_u64_is_refused_while_buffering",
        3,
        "multi_agent_v2_lifecycle",
        "payloads/000001.zst#raw_payload:79",
        _SECOND_CONTENT,
        b'{"type":"input_text","text":"x","extra":' + _U128 + b"}",
        f"Error: invalid type: integer `{_U128.decode()}` as u128, expected any value",
    ),
    Case(
        "v2_agent_message_buffers_the_whole_item_first",
        2,
        "multi_agent_v2_lifecycle",
        "payloads/39.json",
        b'"author": "/root/worker"',
        b'"author": ' + _U128,
        "Error: failed to parse agent_message item in payload raw_payload:39\n\nCaused by:\n"
        f"    invalid type: integer `{_U128.decode()}` as u128, expected any value",
    ),
    Case(
        "v2_agent_content_tag_below_i64_is_refused_while_buffering",
        2,
        "multi_agent_v2_lifecycle",
        "payloads/39.json",
        b'"type": "input_text",\n          "text": "Message Type: FINAL_ANSWER',
        b'"type": -9223372036854775809,\n          "text": "Message Type: FINAL_ANSWER',
        "Error: failed to parse agent_message item in payload raw_payload:39\n\nCaused by:\n"
        "    invalid type: integer `-9223372036854775809` as i128, expected any value",
    ),
    Case(
        "v2_agent_content_entry_past_f64_is_a_map_without_a_tag",
        2,
        "multi_agent_v2_lifecycle",
        "payloads/39.json",
        _V2_FIRST_ENTRY,
        b"1e400",
        "Error: failed to parse agent_message item in payload raw_payload:39\n\nCaused by:\n"
        "    missing field `type`",
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
