"""The items both reducers keep whole as their JSON (``model.items.WHOLE_JSON_CALLS`` and
``WHOLE_JSON_OUTPUTS``: a web search, a tool search and what it found, an image generation,
the legacy local shell call) read as words, for people.

The view model puts these words in an item's ``text`` and keeps its JSON beside them
(``json``): ``show`` prints the words and, with ``--full``, the JSON under them; the page puts
the JSON behind a toggle (a search that matches only the JSON opens it). The exports keep the
JSON alone, for their JSON functions. An item a capture limit cut a value of, or whose
fields are not the shape any writer gives them, reads as its JSON: that says what it holds.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson

from .capture import unavailable_ids

_Obj = Mapping[str, Any]


def hosted_text(body: Any) -> str | None:
    """An item's words (see the module), or None when its body is not one item kept whole as
    JSON of a type read here, or cannot be read so. The state keeps the JSON's first 240
    bytes (``reduce.normalize.json_summary``; the raw payload has it all): the fields that fit
    are read, and words read from a cut JSON end ``…`` (a tool search's found tools, an
    image's prompt before its base64 ``result``)."""
    value = _whole_json(body)
    kind = value.get("type") if value is not None else None
    read = _READERS.get(kind) if isinstance(kind, str) else None  # a state's list: no key
    words = read(value) if read is not None and value is not None else None
    return words + " …" if words is not None and value is not None and _CUT in value else words


def web_search_text(body: Any) -> str | None:
    """A ``web_search_call`` item (a search the model ran on the server: no tool call records
    it) as words, by its action: ``⌕ web search: "rust serde"``, ``⌕ open page: URL``,
    ``⌕ find in page: "x" in URL``; its status when not ``completed``; a source or result it
    lists, one a line. None for any other body."""
    value = _whole_json(body)
    if value is None or value.get("type") != "web_search_call":
        return None
    return _web_search(value)


def _whole_json(body: Any) -> dict[str, Any] | None:
    """The object of a body of one JSON part, unless a capture limit cut a value of it."""
    parts = body.get("parts") if isinstance(body, Mapping) else None
    if not isinstance(parts, list) or len(parts) != 1 or not isinstance(parts[0], Mapping):
        return None
    summary = parts[0].get("summary")
    if parts[0].get("type") != "json" or not isinstance(summary, str):
        return None
    if unavailable_ids(summary):  # a value a capture limit cut: its JSON and note say so
        return None
    try:
        value = orjson.loads(summary)
    except orjson.JSONDecodeError:
        value = _complete_part(summary[: -len("...")]) if summary.endswith("...") else None
    return value if isinstance(value, dict) else None


#: The key :func:`_complete_part` marks a cut JSON's object with.
_CUT: Final = "\0cut"


def _complete_part(text: str) -> Any:
    """The object of a compact JSON object cut short, as far as its last whole element: its
    open arrays and objects closed after it, marked :data:`_CUT`; None when nothing is whole
    or it is no object.

    What is open is a linked list (a closer and what was open before it), so the last comma
    keeps it as it was there in one step: joined at every comma, a state file's long and deep
    summary took quadratic time."""
    open_: tuple[str, Any] | None = None
    whole: tuple[int, tuple[str, Any] | None] | None = None
    quoted = escaped = False
    for at, char in enumerate(text):
        if quoted:
            escaped, quoted = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            quoted = True
        elif char in "[{":
            open_ = ("]" if char == "[" else "}", open_)
        elif char in "]}" and open_ is not None:
            open_ = open_[1]
        elif char == ",":  # what is before it is whole
            whole = (at, open_)
    if whole is None or not text.startswith("{"):
        return None
    closers, node = [], whole[1]
    while node is not None:
        closers.append(node[0])
        node = node[1]
    try:
        value = orjson.loads(text[: whole[0]] + "".join(closers))
    except orjson.JSONDecodeError:
        return None
    return {**value, _CUT: True} if isinstance(value, dict) else None


#: The web search actions the Responses API and Codex name (``action.type``), as words.
_WEB_ACTIONS: Final = {
    "search": "web search",
    "open_page": "open page",
    "find_in_page": "find in page",
    "find": "find in page",  # the API's earlier name for it
}


def _web_search(value: _Obj) -> str | None:
    action: _Obj = value["action"] if isinstance(value.get("action"), dict) else {}
    kind = action.get("type") if isinstance(action.get("type"), str) else None
    queries = [action.get("query"), *_listed(action, "queries")]
    fields = [*queries, action.get("url"), action.get("pattern")]
    if any(f is not None and not isinstance(f, str) for f in fields):
        return None  # not the shape of any writer's: its JSON says what it is
    what = ", ".join(dict.fromkeys(_quoted(q) for q in queries if q))
    if kind in ("find", "find_in_page"):
        what = _quoted(action.get("pattern") or "")
        what += f" in {action['url']}" if action.get("url") else ""
    elif kind == "open_page":
        what = action.get("url") or ""
    words = _WEB_ACTIONS.get(kind or "search", f"web search ({kind})")
    lines = [f"⌕ {words}" + (f": {what}" if what else "") + _status(value)]
    lines += [f"source: {_cited(s)}" for s in _listed(action, "sources") if _cited(s)]
    lines += [f"result: {_cited(r)}" for r in _listed(value, "results") if _cited(r)]
    return "\n".join(lines)


def _tool_search(value: _Obj) -> str | None:
    """``⌕ tool search: "demo echo" · up to 8``; a search the server ran says so."""
    arguments = value.get("arguments")
    if not isinstance(arguments, dict):
        return None
    query, limit = arguments.get("query"), arguments.get("limit")
    if isinstance(query, str):
        what = _quoted(query) + (f" · up to {limit}" if isinstance(limit, int) else "")
    else:  # arguments of a shape of their own: as they are
        try:
            what = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
        except RecursionError:  # a state's, deeper than Python writes (orjson reads 1,024)
            return None
    server = " · on the server" if value.get("execution") == "server" else ""
    return f"⌕ tool search: {what}{server}{_status(value)}"


def _tool_search_output(value: _Obj) -> str | None:
    """``tools found: mcp__demo (echo, add)``: each tool or namespace the search loaded."""
    tools = value.get("tools")
    if not isinstance(tools, list):
        return None
    names = [_tool_named(tool) for tool in tools]
    if not all(names):
        return None
    found = f"tools found: {', '.join(names)}" if names else "no tools found"
    return found + _status(value)


def _tool_named(tool: Any) -> str:
    """A loaded tool's name; a namespace's with the names of its tools."""
    if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
        return ""
    inner = [t.get("name") for t in _listed(tool, "tools") if isinstance(t, Mapping)]
    named = [n for n in inner if isinstance(n, str)]
    return str(tool["name"]) + (f" ({', '.join(named)})" if named else "")


def _image_generation(value: _Obj) -> str | None:
    """``image generation: "a dot"`` (the prompt as the model rewrote it), its status when not
    ``completed`` and a failure's message; the image itself is drawn from its ``result``."""
    prompt, error = value.get("revised_prompt"), value.get("error")
    if prompt is not None and not isinstance(prompt, str):
        return None
    line = "image generation" + (f": {_quoted(prompt)}" if prompt else "") + _status(value)
    if isinstance(error, Mapping) and isinstance(error.get("message"), str):
        line += f"\nerror: {error['message']}"
    return line


def _local_shell(value: _Obj) -> str | None:
    """``local shell: $ echo hi`` (in its working directory when it names one)."""
    action = value.get("action")
    command = action.get("command") if isinstance(action, Mapping) else None
    if not isinstance(command, list) or not all(isinstance(c, str) for c in command):
        return None
    assert isinstance(action, Mapping)
    where = action.get("working_directory")
    place = f" (in {where})" if isinstance(where, str) and where else ""
    return f"local shell: $ {shlex.join(command)}{place}{_status(value)}"


_READERS: Final[dict[Any, Callable[[_Obj], str | None]]] = {
    "web_search_call": _web_search,
    "tool_search_call": _tool_search,
    "tool_search_output": _tool_search_output,
    "image_generation_call": _image_generation,
    "local_shell_call": _local_shell,
}


def _status(value: _Obj) -> str:
    status = value.get("status")
    return f" · {status}" if status != "completed" and isinstance(status, str) else ""


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _listed(obj: _Obj, key: str) -> list[Any]:
    value = obj.get(key)
    return value if isinstance(value, list) else []


def _cited(source: Any) -> str:
    """A source or result a web search lists: its title and URL, whichever it has."""
    if not isinstance(source, Mapping):
        return ""
    title, url = source.get("title"), source.get("url")
    said = [str(v) for v in (title, url) if isinstance(v, str) and v]
    return " · ".join(said)
