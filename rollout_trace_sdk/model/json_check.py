"""Whether a document nobody reads is JSON Codex accepts, decided fast and without keeping it.

Codex checks each payload no handler read by walking it as serde's ``IgnoredAny``; the exact
walk (and its error wording) is :func:`.serde_errors.ignored_error`, a scan in Python run only
once this fast check has said "not sure".
"""

from __future__ import annotations

from typing import Any, Final

import orjson

#: Documents from this size on are checked without building their values: orjson builds them
#: all (30 MB of ``[{},{},...]`` took ~1 GB); below it, orjson's speed wins.
LOW_MEMORY_FROM: Final = 1 << 20


def _nothing(value: object) -> None:
    return None


def _no_constant(name: str) -> None:
    raise ValueError(name)  # NaN, Infinity: not JSON, and serde refuses them


_checker: Any = None


def _low_memory_checker() -> Any:
    """Python's C scanner, keeping nothing it reads: an object or a number becomes None at
    once (an array holds one pointer per element, a string its text until the array ends).
    Made on first use: small documents never need it."""
    global _checker
    if _checker is None:
        import json

        _checker = json.JSONDecoder(
            object_pairs_hook=_nothing,
            parse_float=_nothing,
            parse_int=_nothing,
            parse_constant=_no_constant,
            strict=True,
        )
    return _checker


def surely_ignorable(data: bytes) -> bool:
    """Whether serde accepts ``data`` as ``IgnoredAny``, found quickly.

    What either fast parser accepts, serde does too (serde also takes lone surrogate escapes
    and numbers beyond f64, which orjson refuses, so a ``False`` is only "ask the exact
    walk"). Large documents go through a parser that keeps no values, so memory stays near
    the document's size whatever its shape.

    Args:
        data: the document's bytes.

    Returns:
        ``True`` when certainly accepted; ``False`` when :func:`.serde_errors.ignored_error`
        must decide.
    """
    if len(data) < LOW_MEMORY_FROM:
        try:
            orjson.loads(data)
        except orjson.JSONDecodeError:
            return False
        return True
    try:
        _low_memory_checker().decode(data.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        return False
    return True


def manifest_value(raw: bytes) -> Any:
    """The JSON value of ``manifest.json`` bytes as Codex reads them: orjson's, or for what
    orjson refuses and serde accepts (an unknown field holding bytes that are not UTF-8 is
    skipped unread by both Codex builds) serde's reading. Every reader of a manifest goes
    through here, so ``ls``, ``summary`` and the outputs agree with the reducer.

    Args:
        raw: the manifest's bytes.

    Returns:
        The parsed value (any JSON type: the caller checks it is an object).

    Raises:
        ValueError: serde refuses the bytes too (a :class:`~.serde_read.DecodeError` with
            serde's message, or orjson's error).
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        from .serde_errors import manifest_read  # the slow, exact reading, only when needed

        return manifest_read(raw)
