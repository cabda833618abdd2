"""What a tool call is, derived from its name the way Codex derives it.

The reducer builds terminal operations, agent edges and code-cell links from the ``kind`` on
``tool_call_started`` (and the one on ``tool_call_runtime_started``), so these names are part
of the format, not a matter of taste.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import orjson

from ..model import events as ev
from ._plain import to_plain
from ._text import clip, text_of

_KIND_BY_NAME: Final[dict[str, ev.ToolCallKind]] = {
    **dict.fromkeys(
        ("exec_command", "local_shell", "shell", "shell_command"), ev.ToolCallKind("exec_command")
    ),
    "write_stdin": ev.ToolCallKind("write_stdin"),
    "apply_patch": ev.ToolCallKind("apply_patch"),
    **dict.fromkeys(("web_search", "web_search_preview"), ev.ToolCallKind("web")),
    **dict.fromkeys(
        ("image_generation", "image_query", "imagegen"), ev.ToolCallKind("image_generation")
    ),
    "spawn_agent": ev.ToolCallKind("spawn_agent"),
    "send_message": ev.ToolCallKind("send_message"),
    **dict.fromkeys(("followup_task", "assign_task"), ev.ToolCallKind("assign_agent_task")),
    "wait_agent": ev.ToolCallKind("wait_agent"),
    **dict.fromkeys(("close_agent", "interrupt_agent"), ev.ToolCallKind("close_agent")),
}

PREVIEW_CHARS: Final = 160


def tool_kind(name: str) -> ev.ToolCallKind:
    kind = _KIND_BY_NAME.get(name)
    return kind if kind is not None else ev.ToolCallKind.other(name)


def names_of(kinds: frozenset[str]) -> tuple[str, ...]:
    """The tool names Codex gives calls of ``kinds`` (kind types), in the table's order: what
    a warning tells a caller to name a call so that it is read as one of those kinds."""
    return tuple(name for name, kind in _KIND_BY_NAME.items() if kind.type in kinds)


def preview(text: str) -> str:
    """The input preview of a tool call's summary (never part of a secret: see ``clip``)."""
    return clip(text, PREVIEW_CHARS)


def label(name: str, namespace: str | None) -> str:
    """The label of a tool call's summary: the tool's name, with its namespace."""
    return f"{namespace}.{name}" if namespace else name


def summary(name: str, namespace: str | None, preview_source: str | None) -> ev.GenericSummary:
    return ev.GenericSummary(
        label(name, namespace), None if preview_source is None else preview(preview_source)
    )


def arguments_text(
    arguments: str | Mapping[str, Any] | None, encode: Callable[[Any], bytes]
) -> str:
    """Function arguments as the model sent them: a JSON string (``encode`` never raises:
    a 21-digit integer keeps its digits, a set becomes a list, ...)."""
    if arguments is None:
        return "{}"
    if isinstance(arguments, str):
        return arguments
    return encode(arguments).decode()


def invocation(
    name: str,
    namespace: str | None,
    *,
    arguments: str | Mapping[str, Any] | None,
    custom_input: str | None,
    search: Mapping[str, Any] | None,
    command: Sequence[str] | None,
    encode: Callable[[Any], bytes],
) -> tuple[dict[str, Any], str | None]:
    """The ``tool_invocation`` payload and the text its preview is cut from."""
    payload: dict[str, Any]
    source: str | None
    if custom_input is not None:
        payload = {"type": "custom", "input": custom_input}
        source = custom_input
    elif search is not None:
        search = to_plain(search)  # a model or a dataclass: the dict it holds
        payload = {"type": "tool_search", "arguments": dict(search)}
        query = search.get("query")
        source = query if isinstance(query, str) else None
    elif command is not None:
        # one copy, read before its parts are: a part's str (the agent's code) may change
        # the list given (one that grew at every part never ended)
        argv = list(command)
        payload = {
            "type": "local_shell",
            "command": argv,
            "workdir": None,
            "timeout_ms": None,
            "sandbox_permissions": None,
            "prefix_rule": None,
            "additional_permissions": None,
            "justification": None,
        }
        source = " ".join(map(text_of, argv))
    else:
        text = arguments_text(arguments, encode)
        payload = {"type": "function", "arguments": text}
        source = text
    if source is not None and source.__class__ is not str:
        # a str subclass's own string: the preview is cut from it in the writer's thread,
        # where a method of the subclass that raises (``__len__``) stopped the recording
        source = str.__str__(source)
    return {"tool_name": name, "tool_namespace": namespace, "payload": payload}, source


def parsed_arguments(arguments: object) -> Mapping[str, Any] | None:
    """A call's arguments as the JSON object they hold: the mapping given, or the JSON text
    parsed; None for anything else (text that is no JSON object, ``None``)."""
    if isinstance(arguments, str):
        try:
            arguments = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return None
    return arguments if isinstance(arguments, Mapping) else None


def holds_message(arguments: object) -> bool:
    """Whether a spawn / send call's arguments hold the ``message`` text both reducers read
    the delivered message from (they refuse the whole bundle for an activity without it)."""
    parsed = parsed_arguments(arguments)
    return parsed is not None and isinstance(parsed.get("message"), str)
