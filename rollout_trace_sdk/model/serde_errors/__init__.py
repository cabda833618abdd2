"""Codex's serde wording, in one place: every error text Codex (Rust's serde_json) prints for a
bundle it cannot read, recomputed by us only after a fast parse has already failed.

- :mod:`._syntax`: JSON syntax errors with serde's message and position (``EOF while parsing a
  string at line 1 column 97``), and the recursion limit.
- :mod:`._typed`: where serde's derived visitors stop in typed documents (event lines, the
  manifest): ``missing field``, ``unknown variant``, ``invalid type`` at the field's end.
- :mod:`._numbers`: how serde_json's number visitors read and word a number there.
- :mod:`._values`: how serde describes an already-parsed ``serde_json::Value`` that does not
  fit a payload struct (``invalid type: map, expected a string``), and the id/path checks that
  share that wording.
"""

from ..serde_read import missing_field_text, unknown_variant_text
from ._syntax import (
    CONTROL_CHARACTER,
    END_OF_HEX_ESCAPE,
    EOF_LIST,
    EOF_OBJECT,
    EOF_STRING,
    EOF_VALUE,
    EXPECTED_COLON,
    EXPECTED_IDENT,
    EXPECTED_LIST_END,
    EXPECTED_OBJECT_END,
    EXPECTED_VALUE,
    INVALID_CODE_POINT,
    INVALID_ESCAPE,
    INVALID_NUMBER,
    KEY_NOT_STRING,
    LONE_SURROGATE,
    NUMBER_OUT_OF_RANGE,
    RECURSION_LIMIT,
    TRAILING_CHARACTERS,
    TRAILING_COMMA,
    at,
    ignored_error,
    position,
    recursion_error,
    syntax_error,
)
from ._typed import (
    event_line_error,
    event_line_event,
    event_line_read,
    manifest_error,
    manifest_read,
    string_list_error,
    string_struct_error,
)
from ._values import (
    agent_path_error,
    buffered_number_error,
    canonical_thread_id,
    describe,
    describe_content,
    integer_error,
    invalid_type,
    struct_error,
    text_syntax_error,
    typed_text_error,
    uuid_error,
    wide_integer,
)

__all__ = [
    "CONTROL_CHARACTER",
    "END_OF_HEX_ESCAPE",
    "EOF_LIST",
    "EOF_OBJECT",
    "EOF_STRING",
    "EOF_VALUE",
    "EXPECTED_COLON",
    "EXPECTED_IDENT",
    "EXPECTED_LIST_END",
    "EXPECTED_OBJECT_END",
    "EXPECTED_VALUE",
    "INVALID_CODE_POINT",
    "INVALID_ESCAPE",
    "INVALID_NUMBER",
    "KEY_NOT_STRING",
    "LONE_SURROGATE",
    "NUMBER_OUT_OF_RANGE",
    "RECURSION_LIMIT",
    "TRAILING_CHARACTERS",
    "TRAILING_COMMA",
    "agent_path_error",
    "at",
    "buffered_number_error",
    "canonical_thread_id",
    "describe",
    "describe_content",
    "event_line_error",
    "event_line_event",
    "event_line_read",
    "ignored_error",
    "integer_error",
    "invalid_type",
    "manifest_error",
    "manifest_read",
    "missing_field_text",
    "position",
    "recursion_error",
    "string_list_error",
    "string_struct_error",
    "struct_error",
    "syntax_error",
    "text_syntax_error",
    "typed_text_error",
    "unknown_variant_text",
    "uuid_error",
    "wide_integer",
]
