"""Live ``codex exec`` scenarios of how a run goes rather than of one tool: compaction (local
and remote), resumed sessions, the model's responses cut, failed, incomplete or retried, a
context window exceeded, and schema-3 capture limits. :mod:`tests.live.exec_scenarios` has
the tool scenarios and lists these after its own."""

from __future__ import annotations

from tests.live.script import (
    HIGH_USAGE,
    LIMIT,
    ONE_RETRY,
    PNG,
    SMALL_CONTEXT,
    Scenario,
    after,
    call,
    custom,
    first,
    message,
)

EXEC_RUN_SCENARIOS = [
    Scenario(
        "compaction_local_twice",
        "Run two commands; context is tiny.",
        [
            {
                "name": "summarize",
                "match": {"last_user": "CONTEXT CHECKPOINT COMPACTION"},
                "items": [message("SUMMARY: commands ran so far.")],
            },
            {
                "name": "again",
                "match": {"any_contains": "SUMMARY: commands"},
                "times": 1,
                "items": [call("exec_command", {"cmd": "echo two"}, "k2")],
                "usage": HIGH_USAGE,
            },
            {  # after the second compaction (k2 is summarised away)
                "name": "end",
                "match": {"any_contains": "SUMMARY: commands"},
                "items": [message("Two commands, two compactions.")],
            },
            {
                "name": "first",
                "match": {"step": 0},
                "items": [call("exec_command", {"cmd": "echo one"}, "k1")],
                "usage": HIGH_USAGE,
            },
        ],
        extra=SMALL_CONTEXT,
    ),
    Scenario(
        "compaction_remote_mid_turn",
        "Run two commands; context is tiny (remote).",
        [
            {
                "name": "compact",
                "match": {"last_type": "compaction_trigger"},
                "items": [{"type": "compaction", "encrypted_content": "ENC_SUMMARY_X"}],
            },
            {
                "name": "after_compact",
                "match": {"any_contains": "ENC_SUMMARY_X", "lacks_call_id": "r2"},
                "items": [
                    {"type": "reasoning", "id": "rs_x", "summary": [], "encrypted_content": "e"},
                    call("exec_command", {"cmd": "echo two"}, "r2"),
                ],
            },
            after("r2", message("Done after remote compaction.")),
            {
                "name": "first",
                "match": {"step": 0},
                "items": [call("exec_command", {"cmd": "echo one"}, "r1")],
                "usage": HIGH_USAGE,
            },
        ],
        extra=(*SMALL_CONTEXT, "-c", 'model_providers.fake.name="OpenAI"'),
    ),
    Scenario(
        "resumed_twice",
        "First turn: write a file.",
        [
            {
                "name": "t1",
                "match": {"last_user": "First turn", "step": 0},
                "items": [call("exec_command", {"cmd": "echo one > f.txt"}, "t1")],
            },
            after("t1", message("Wrote it.")),
            {
                "name": "t2",
                "match": {"last_user": "Second turn"},
                "items": [message("Nothing to do.", phase="final_answer")],
            },
            {
                "name": "t3",
                "match": {"last_user": "Third turn", "lacks_call_id": "t3"},
                "items": [call("exec_command", {"cmd": "cat f.txt"}, "t3")],
            },
            after("t3", message("It says one.")),
        ],
        then=("Second turn: nothing.", "Third turn: read it."),
    ),
    Scenario(
        "stream_cut_after_a_call_then_retried",
        "Cut.",
        [
            {
                "name": "cut",
                "match": {"step": 0},
                "times": 1,
                "items": [call("exec_command", {"cmd": "echo never"}, "c_cut")],
                "end": "cut",
            },
            first(
                message("Partial", phase="commentary"),
                call("exec_command", {"cmd": "echo ok"}, "c_ok"),
            ),
            after("c_ok", message("Done after the retry.")),
        ],
        extra=ONE_RETRY,
    ),
    Scenario(
        "response_failed_mid_turn",
        "Fail later.",
        [
            first(call("exec_command", {"cmd": "echo one"}, "c1")),
            {
                "name": "failed",
                "match": {"last_call_id": "c1"},
                "items": [message("half an answer")],
                "end": "failed",
                "error": {"code": "invalid_prompt", "message": "scripted refusal"},
            },
        ],
    ),
    Scenario(
        "response_incomplete_with_deltas",
        "Run long.",
        [
            {
                "name": "incomplete",
                "match": {"step": 0},
                "items": [message("This answer was cut")],
                "deltas": ["This answer ", "was cut"],
                "end": "incomplete",
            }
        ],
    ),
    Scenario(
        "error_event_then_retried",
        "Error event.",
        [
            {
                "name": "error",
                "match": {"step": 0},
                "times": 1,
                "items": [],
                "end": "error",
                "error": {"code": "server_error", "message": "scripted stream error"},
            },
            first(message("Recovered after the error event.")),
        ],
        extra=ONE_RETRY,
    ),
    Scenario(
        "http_429_then_retried",
        "Rate limited.",
        [
            {
                "name": "busy",
                "match": {"step": 0},
                "times": 1,
                "http_status": 429,
                "body": {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}},
            },
            first(call("exec_command", {"cmd": "echo later"}, "c_l")),
            after("c_l", message("Done after the rate limit.")),
        ],
        extra=ONE_RETRY,
    ),
    Scenario(
        "context_window_exceeded",
        "Too long.",
        [
            first(call("exec_command", {"cmd": "echo fits"}, "c_fit")),
            {
                "name": "too_long",
                "match": {"last_call_id": "c_fit"},
                "http_status": 400,
                "body": {
                    "error": {
                        "message": "Your input exceeds the context window of this model.",
                        "type": "invalid_request_error",
                        "code": "context_length_exceeded",
                    }
                },
            },
        ],
    ),
    Scenario(
        "limit_parallel_exec",
        "Three, limited.",
        [
            first(
                call("exec_command", {"cmd": "seq 1 400"}, "c1"),
                call("exec_command", {"cmd": "echo small"}, "c2"),
            ),
            {"name": "end", "match": {"step": 2}, "items": [message("Limited.")]},
        ],
        extra=LIMIT,
        schemas=(3,),
    ),
    Scenario(
        "limit_reasoning_and_image",
        "Limited image.",
        [
            first(call("view_image", {"path": "dot.png"}, "c_v")),
            after(
                "c_v",
                {
                    "type": "reasoning",
                    "id": "rs_1",
                    "summary": [{"type": "summary_text", "text": "x" * 900}],
                },
                message("y" * 900),
            ),
        ],
        files={"dot.png": PNG},
        extra=LIMIT,
        schemas=(3,),
    ),
    Scenario(
        "limit_long_texts_everywhere",
        "Long texts.",
        [
            first(
                {
                    "type": "reasoning",
                    "id": "rs_1",
                    "summary": [{"type": "summary_text", "text": "s" * 900}],
                    "content": [{"type": "reasoning_text", "text": "r" * 900}],
                },
                call("exec_command", {"cmd": "echo " + "a" * 900}, "c1"),
            ),
            after(
                "c1",
                custom(
                    "apply_patch",
                    "*** Begin Patch\n*** Add File: a.txt\n+" + "p" * 900 + "\n*** End Patch\n",
                    "c2",
                ),
            ),
            after("c2", call("exec_command", {"cmd": "seq 1 300"}, "c3")),
            after(
                "c3",
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [
                        {"type": "output_text", "text": "o" * 900, "annotations": []},
                        {"type": "refusal", "refusal": "f" * 900},
                    ],
                },
            ),
        ],
        extra=LIMIT,
        schemas=(3,),
    ),
    Scenario(
        "limit_total_bytes",
        "Out of budget.",
        [
            first(call("exec_command", {"cmd": "seq 1 3000"}, "c1")),
            after("c1", message("Budget gone.")),
        ],
        extra=("-c", "rollout_trace.max_bytes=40000"),
        schemas=(3,),
    ),
]
