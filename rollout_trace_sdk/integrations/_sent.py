"""What an OpenAI SDK call sends, read from its keyword arguments: the request body as the
SDK posts it, and whether the call is a raw-response one (not recorded). Shared by the
``create`` / ``parse`` wrappers and the ``compact`` one, so that every recorded request
leaves out the same client-only options and reads the same iterables once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import orjson

from .._signals import raise_interrupt
from ..record._held import TO_HOOK, held_fields
from ..record._plain import SCALARS
from ..record._values import MAX_DEPTH

#: Keyword arguments that shape the HTTP call, not its body. ``betas`` (the ``client.beta``
#: resources) is sent as the ``openai-beta`` header.
_CLIENT_OPTIONS: Final = frozenset(
    {"extra_headers", "extra_query", "extra_body", "timeout", "betas"}
)
_UNSET: Final = frozenset({"Omit", "NotGiven"})  # the SDK's "argument not given" sentinels
#: The header the SDK's ``with_raw_response`` / ``with_streaming_response`` wrappers add.
_RAW_HEADER: Final = "X-Stainless-Raw-Response"


#: Keyword arguments :func:`read_once` leaves alone: options of the HTTP call itself.
_NOT_BODY: Final = frozenset({"extra_headers", "extra_query", "timeout"})
#: What is iterable but no array the loop built (text, bytes, a mapping's keys).
_NOT_ARRAYS: Final = (str, bytes, bytearray, memoryview, Mapping, Sequence)


def read_once(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's keyword arguments as the record reads them, each iterable the SDK reads
    itself read once, here, into a list.

    The SDK takes any ``Iterable`` for its arrays (Chat ``messages``, ``tools``, a message's
    content parts, ``compact``'s ``input``) and lists it as it builds the body: a generator
    read by the record first would go out empty, and one left to the SDK would be recorded
    as no array. So each iterable that is no sequence (a generator, ``map``, an iterator, a
    dict's ``values()``, a set), at any depth of dicts, lists and tuples (not inside a
    model), is read once into a list: the record gets the list, the SDK an iterator over
    it (``kwargs`` is changed in place: it is the wrapper's own dict; the loop's objects are
    not). The SDK thus sends the same items, and refuses an iterator where it refused the
    loop's (``include`` or ``stop``, which it takes as a list only).

    Args:
        kwargs: the call's keyword arguments (the wrapper's own dict).

    Returns:
        ``kwargs`` itself when no iterable was read (found by one pass in C), else a copy
        holding the lists.
    """
    if not _holds_iterables(kwargs):  # one pass over them all: the common case
        return kwargs
    record = kwargs
    for key, value in list(kwargs.items()):
        if value.__class__ in SCALARS or key in _NOT_BODY or not _holds_iterables(value):
            continue
        for_sdk, for_record = _read(value, 0)
        if for_sdk is not value:
            if record is kwargs:
                record = dict(kwargs)
            kwargs[key] = for_sdk
            record[key] = for_record
    return record


def _holds_iterables(value: Any) -> bool:
    """Whether ``value`` may hold an iterable :func:`read_once` reads: one pass of orjson
    that looks into nothing it does not know (a model is not looked into), and stops at the
    first iterable; anything else it refuses (a non-string key, a deep value) says maybe (a
    Ctrl-C while its hook ran, which orjson hands back as a refusal, is raised again)."""
    try:
        orjson.dumps(value, _refuse_iterables, orjson.OPT_NON_STR_KEYS | TO_HOOK)
    except TypeError as exc:
        raise_interrupt(exc)
        return True
    return False


def _refuse_iterables(value: Any) -> Any:
    if _is_loose_iterable(value):
        raise TypeError("an iterable")
    return held_fields(value)  # a dataclass is looked into (None: anything else)


def _is_loose_iterable(value: Any) -> bool:
    return (
        isinstance(value, Iterable)
        and not isinstance(value, _NOT_ARRAYS)
        and not isinstance(value, type)
        and not callable(getattr(value, "model_dump", None))  # a pydantic model iterates
    )


def _read(value: Any, depth: int) -> tuple[Any, Any]:
    """``value`` for the SDK and for the record: the same object where it holds no iterable
    to read, else copies (containers on the way to one copied, never changed)."""
    if value.__class__ in SCALARS or depth > MAX_DEPTH:
        return value, value
    if isinstance(value, Mapping):
        pairs = {key: _read(item, depth + 1) for key, item in value.items()}
        if all(sdk is value[key] for key, (sdk, _) in pairs.items()):
            return value, value
        return (
            {key: sdk for key, (sdk, _) in pairs.items()},
            {key: rec for key, (_, rec) in pairs.items()},
        )
    if isinstance(value, list | tuple):
        read = [_read(item, depth + 1) for item in value]
        if all(sdk is item for item, (sdk, _) in zip(value, read, strict=True)):
            return value, value
        sdks = [sdk for sdk, _ in read]
        return (tuple(sdks) if isinstance(value, tuple) else sdks), [rec for _, rec in read]
    if _is_loose_iterable(value):
        read = [_read(item, depth + 1) for item in value]
        return iter([sdk for sdk, _ in read]), [rec for _, rec in read]
    return value, value


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


def passed_through(kwargs: Mapping[str, Any]) -> bool:
    """Whether a raw-response call goes through unrecorded: its body is the caller's to read
    later (``with_streaming_response``, or a stream through ``with_raw_response``), so
    reading the answer here would take it from them. A ``with_raw_response`` call whose body
    came back read is recorded (its answer read with :func:`._answers.raw_answer`)."""
    raw = raw_kind(kwargs)
    return raw is not None and (raw != "true" or kwargs.get("stream") is True)


def raw_kind(kwargs: Mapping[str, Any]) -> str | None:
    """Which raw-response wrapper a call came through: ``"true"`` for ``with_raw_response``
    (the HTTP response comes back with its body read), ``"stream"`` for
    ``with_streaming_response`` (its body not read yet); ``None`` for neither."""
    headers = kwargs.get("extra_headers")
    value = headers.get(_RAW_HEADER) if isinstance(headers, Mapping) else None
    return None if value is None else str(value)
