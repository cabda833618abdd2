"""What an OpenAI SDK call sends, read from its keyword arguments: the request body as the
SDK posts it, and whether the call is a raw-response one (not recorded). Shared by the
``create`` / ``parse`` wrappers and the ``compact`` one, so that every recorded request
leaves out the same client-only options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

#: Keyword arguments that shape the HTTP call, not its body. ``betas`` (the ``client.beta``
#: resources) is sent as the ``openai-beta`` header.
_CLIENT_OPTIONS: Final = frozenset(
    {"extra_headers", "extra_query", "extra_body", "timeout", "betas"}
)
_UNSET: Final = frozenset({"Omit", "NotGiven"})  # the SDK's "argument not given" sentinels
#: The header the SDK's ``with_raw_response`` / ``with_streaming_response`` wrappers add.
_RAW_HEADER: Final = "X-Stainless-Raw-Response"


def sent_request(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The request body a call's keyword arguments make: the arguments given, less the
    client-only ones, ``extra_body`` merged in (the SDK sends it as more body fields), a
    ``parse`` call's class-valued format as the JSON schema the SDK sends."""
    request: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key not in _CLIENT_OPTIONS and type(value).__name__ not in _UNSET:
            request[key] = value
    if isinstance(request.get("response_format"), type) or "text_format" in request:
        _sent_format(request)
    extra_body = kwargs.get("extra_body")
    if isinstance(extra_body, Mapping):
        request.update(extra_body)
    return request


def sent_field(kwargs: Mapping[str, Any], key: str) -> Any:
    """What the request sends as ``key``: ``extra_body``'s value when it holds one (the SDK
    merges ``extra_body`` over the arguments, as :func:`sent_request` records it; checked
    on the wire by tests/integrations/test_openai_background.py), else the argument; ``None``
    when neither is given."""
    extra_body = kwargs.get("extra_body")
    if isinstance(extra_body, Mapping) and key in extra_body:
        return extra_body[key]
    value = kwargs.get(key)
    return None if type(value).__name__ in _UNSET else value


def _sent_format(request: dict[str, Any]) -> None:
    """``parse(text_format=Model)`` / ``parse(response_format=Model)`` send the class's JSON
    schema, made by the SDK's own helpers (imported only here, where a client of that SDK is
    in use): record the request as sent, ``text_format`` merged into ``text`` as the SDK
    does. Should the helpers be missing, the class is recorded by name."""
    text_format = request.pop("text_format", None)
    response_format = request.get("response_format")
    try:
        if text_format is not None:
            from openai.lib._parsing._responses import type_to_text_format_param

            text = request.get("text")
            request["text"] = {
                **(text if isinstance(text, Mapping) else {}),
                "format": type_to_text_format_param(text_format),
            }
        if isinstance(response_format, type):
            from openai.lib._parsing._completions import type_to_response_format_param

            request["response_format"] = type_to_response_format_param(response_format)
    except Exception:  # another SDK version: the class's name says what was asked
        if text_format is not None:
            request["text_format"] = getattr(text_format, "__name__", repr(text_format))
        if isinstance(response_format, type):
            request["response_format"] = response_format.__name__


def is_raw(kwargs: Mapping[str, Any]) -> bool:
    """A raw-response call returns the HTTP response, not the model's answer: not recorded."""
    headers = kwargs.get("extra_headers")
    return isinstance(headers, Mapping) and _RAW_HEADER in headers
