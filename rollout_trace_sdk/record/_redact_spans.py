"""Where the secrets are: the spans the rules find at the sites the gate scan reports, and
which of overlapping spans win.

:class:`.redact.Redactor` asks the scan (:mod:`._redact_scan`) for the sites of markers
whose rule could match, runs the rule of each here, anchored at its site, with the patterns
of :mod:`._redact_rules`, then keeps the spans :func:`resolve` picks and replaces them. Nothing
here holds state: the one thing a redactor's configuration changes (which names are secret)
comes in as ``name_kind``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from typing import Final

import attrs

from . import _redact_rules as rules
from . import _redact_scan as scan

#: Span ranks: tokens and headers win over each other by position; a secret-named value
#: wins over the spans inside it (see :func:`resolve`).
TOKEN: Final = 0
HEADER: Final = 1
NAME: Final = 2


@attrs.frozen
class Span:
    """A stretch of the data to replace, and why (``rank``: TOKEN, HEADER or NAME)."""

    start: int
    end: int
    kind: str
    rank: int
    #: the text hashed for the placeholder (decoded when it was escaped)
    secret: bytes = b""
    #: an unquoted value of a name (it must still look secret when cut short)
    bare: bool = False


#: ``Authorization:`` (quoted, escaped, spaced) just before a bearer token: the
#: authorization rule names that secret.
_AFTER_AUTHORIZATION: Final = re.compile(rb"(?i:authorization)(?:[\"'\\ \t:=]|\\[nrt])*\Z")


def token_at(data: bytes, at: int, kind: str, pattern: re.Pattern[bytes], out: list[Span]) -> None:
    """The token a token marker at ``at`` starts (``sk-...``, ``AKIA...``), if its rule
    matches there and it is not inside a placeholder."""
    match = pattern.match(data, at)
    if match is None or _in_placeholder(data, at):
        return
    if kind == "sk_key" and match[0].count(b"-") < 2 and not re.search(rb"[0-9]", match[0]):
        return  # a bare sk- slug without a digit (sk-learn-...) is prose
    if kind == "bearer_token" and (
        not re.search(rb"[0-9]", match["secret"])  # "Bearer authentication_required": prose
        or _wordy(match["secret"])
        or _AFTER_AUTHORIZATION.search(data, max(0, at - 40), at)  # the header rule's
    ):
        return
    group = "secret" if match.re.groupindex.get("secret") else 0
    start, end = match.span(group)
    if kind == "aws_access_key_id" and match["aws_secret"]:
        start, end = match.span(0)[0], match.start("gap")
        s2, e2 = match.span("aws_secret")
        out.append(Span(s2, e2, "aws_secret_key", TOKEN, data[s2:e2]))
    out.append(Span(start, end, kind, TOKEN, data[start:end]))


def header_at(data: bytes, marker: bytes, at: int, out: list[Span]) -> None:
    """The header rules a keyword marker starts (``Authorization``, ``Cookie``, a PEM)."""
    if marker == b"uthoriz":
        _authorization_at(data, at - 1, out)
    elif marker == b"ookie":
        _cookie_at(data, at - 1, out)
    elif marker == b"key" and at >= 8 and data[at - 8 : at].lower() == b"private ":
        _private_key_at(data, at, out)


def _authorization_at(data: bytes, at: int, out: list[Span]) -> None:
    if at < 0 or _in_placeholder(data, at):
        return
    match = rules.AUTHORIZATION.match(data, at)
    if match is None:
        return
    start, end = match.span("secret")
    secret = data[start:end]
    if len(secret) >= 6 if match["scheme"] else _looks_secret(secret):
        out.append(Span(start, end, "authorization", HEADER, secret))


def _private_key_at(data: bytes, at: int, out: list[Span]) -> None:
    begin = data.rfind(b"-----BEGIN ", max(0, at - 60), at)
    match = rules.PRIVATE_KEY.match(data, begin) if begin >= 0 else None
    if match is None and begin >= 0:  # no END line, and text after the cut
        match = rules.CUT_PRIVATE_KEY.match(data, begin)
    # a key has a body; a bare header is a constant in code (`_START = b"-----BEGIN ...`)
    body = data[match.end("label") : match.end()].split(b"-----END")[0] if match else b""
    if match is not None and len(rules.KEY_BODY.findall(body)) >= 16:
        out.append(Span(begin, match.end(), "private_key", TOKEN, match[0]))


def _cookie_at(data: bytes, at: int, out: list[Span]) -> None:
    if at < 0 or _in_placeholder(data, at):
        return
    begin = at - 4 if data[at - 4 : at].lower() == b"set-" else at
    match = rules.COOKIE.match(data, begin)
    if match is None:
        return
    vstart = match.end()
    following = rules.NEXT_COOKIE.search(data, vstart)
    value = rules.COOKIE_VALUE.match(
        data, vstart, len(data) if following is None else following.start()
    )
    assert value is not None  # it matches the empty string
    for pair in rules.COOKIE_PAIR.finditer(value[0]):
        start = pair.start("secret")
        secret = pair["secret"].strip()
        if secret and rules.PLACEHOLDER_PREFIX not in secret:
            lead = len(pair["secret"]) - len(pair["secret"].lstrip())
            s = vstart + start + lead
            out.append(Span(s, s + len(secret), "cookie", HEADER, secret))
        if match["set"]:
            break  # Set-Cookie: only the first pair is the cookie, the rest attributes


def name_at(
    data: bytes,
    at: int,
    seen: set[tuple[int, int]],
    out: list[Span],
    name_kind: Callable[[bytes], str | None],
) -> None:
    """The value of a secret-named key or variable whose name holds the keyword marker at
    ``at`` (``name_kind`` says which names are secret, and of what kind); ``seen`` holds the
    names already tried, as (start, end): two markers may share a name's start and still
    name two names (``sk-proj-password-----BEGIN ... KEY-----Password: x`` read as one name
    by its start left the second unread, and a second redaction pass found it)."""
    left = rules.NAME_LEFT.search(data, max(0, at - 64), at)
    right = rules.NAME_RIGHT.match(data, at)
    if left is None or right is None:
        return
    start, end = left.start(), right.end()
    while end > at and data[end - 1] in b".-":
        end -= 1  # "... the access token." ends a sentence, not a name
    if (start, end) in seen:
        return
    seen.add((start, end))
    kind = name_kind(data[start:end])
    if kind is None or _in_placeholder(data, start):
        return
    after = rules.AFTER_NAME.match(data, end)
    if after is None:
        _pair_at(data, start, end, kind, out)
        return
    opened, closed = after["open"], after["close"]
    if not closed and b" " in data[start:end]:
        # words before a name count in a quoted key only ("API Key": ...); in text they
        # are prose ("Invalid API key: 401"), and the last word alone names no secret
        start = data.rindex(b" ", start, end) + 1
        kind = name_kind(data[start:end])
        if kind is None:
            return
    if opened is not None and closed is not None and closed != opened:
        return
    if opened == b'"' and closed is None:
        return  # text inside a string, whose closing quote comes next
    vstart = after.end()
    if opened is None:
        if closed:
            return  # a JSON key whose value is a number, literal, object or array
        value = rules.VALUE_BARE.match(data, vstart)
        if value is None or kind == "cookie":
            return
        if not _looks_secret(value[0]) or data.startswith(b"(", value.end()):
            value = _wider_bare_value(data, vstart, value.end())
            if value is None:
                return  # `password=None`, a call: `token = make_token(...)`
    elif opened == b'"':
        value = rules.VALUE_JSON.match(data, vstart)
    elif opened == b"'":
        value = rules.VALUE_SINGLE.match(data, vstart)
    else:
        value = rules.nested_value(len(opened) - 1).match(data, vstart)
    if value is None:
        return
    raw = value[0]
    # `name: \"` in text inside a string may be that inner string's end: only a value
    # closed by the same quote it opened with counts, and, in text (no JSON key), only
    # a short one-line value (`password = \"...\"`), not a stretch of code up to the
    # next quote
    if (
        opened not in (None, b'"', b"'")
        and closed is None
        and (
            not data.startswith(opened, value.end())
            or raw[:1] in (b",", b"}", b"]", b"", b")")
            or len(raw) > 256
            or rules.LINE_BREAK.search(raw) is not None
        )
    ):
        return
    if (
        not raw
        or raw.startswith((b"${", b"$(", b"{{"))
        or rules.PLACEHOLDER_PREFIX in raw
        or rules.SCHEME_ONLY.fullmatch(raw)  # default_token='Bearer'
    ):
        return
    # logprobs carry {"token": "Hello"}: a bare "token" needs a token-like value
    if (
        kind == "token"
        and scan.normalise(data[start:end]) == b"token"
        and (len(raw) < 8 or re.search(rb"\s|\\[nrt]", raw))
    ):
        return
    if kind == "cookie" and b"=" in raw:
        return  # a cookie header's value: its pairs were taken by the cookie rule
    out.append(Span(vstart, value.end(), kind, NAME, raw, opened is None))


def _pair_at(data: bytes, start: int, end: int, kind: str, out: list[Span]) -> None:
    """The value of a name/value pair whose name (``data[start:end]``, secret of ``kind``)
    is a string: ``{"name": "OPENAI_API_KEY", "value": "..."}`` (Kubernetes env, HAR
    headers) or ``["authorization", "Bearer ..."]`` (raw header lists). An auth scheme
    before the value stays, as in an ``Authorization`` header."""
    after = rules.PAIR_AFTER_NAME.match(data, end)
    if after is None:
        return
    window = max(0, start - 64)
    if after["key"] is not None:
        if rules.PAIR_NAME_KEY.search(data, window, start) is None:
            return
    elif rules.PAIR_LIST_OPEN.search(data, window, start) is None:
        return
    quote = after["open"]
    vstart = after.end()
    if quote == b'"':
        value = rules.VALUE_JSON.match(data, vstart)
    else:
        value = rules.nested_value(len(quote) - 1).match(data, vstart)
    if value is None or not data.startswith(quote, value.end()):
        return
    if after["key"] is None and not rules.PAIR_LIST_CLOSE.match(data, value.end() + len(quote)):
        return
    raw = value[0]
    scheme = rules.SCHEME_ONLY.match(raw)
    lead = 0 if scheme is None else scheme.end()
    if lead == len(raw) or rules.PLACEHOLDER_PREFIX in raw or _in_placeholder(data, start):
        return
    if after["key"] is None and not _header_pair(data[start:end], kind, raw[lead:]):
        return
    out.append(Span(vstart + lead, value.end(), kind, NAME, raw[lead:], False))


def _header_pair(name: bytes, kind: str, value: bytes) -> bool:
    """Whether a two-string list is a header and its value: a header's name (an
    ``Authorization`` or ``Cookie`` one, or a dashed ``X-Api-Key``) and a value with no
    blank, of token length. ``["password", "confirm password"]``, ``["api_key",
    "api_key_v2"]``: field names, not a header."""
    return (
        (kind in ("authorization", "cookie") or b"-" in name)
        and len(value) >= 8
        and re.search(rb"\s|\\[nrt]", value) is None
        and _looks_secret(value)
    )


#: a run of letters between separators: a word, which tokens rarely hold two of
_WORD: Final = re.compile(rb"(?:^|[-._~+/])[A-Za-z]{4,}(?=[-._~+/]|$)")


def _wordy(token: bytes) -> bool:
    """Whether a bearer token reads as words ("scheme-2024-update", "OAuth2-compatible-
    tokens"): two or more all-letter parts of 4 letters between separators."""
    return len(_WORD.findall(token)) >= 2


def resolve(data: bytes, spans: list[Span]) -> list[Span]:
    """Pick non-overlapping spans. Token and header spans win over each other by order;
    a secret-named value wins over the spans inside it unless all it adds is an auth scheme
    (``"Authorization": "Bearer <token>"`` keeps the token's own placeholder)."""
    strong = sorted((s for s in spans if s.rank != NAME), key=lambda s: (s.start, s.rank))
    chosen: list[Span] = []
    for span in strong:
        if chosen and span.start < chosen[-1].end:
            continue
        chosen.append(span)
    starts = [s.start for s in chosen]  # kept beside ``chosen`` (rebuilt per span: quadratic)
    for span in sorted((s for s in spans if s.rank == NAME), key=lambda s: s.start):
        lo = bisect.bisect_left(starts, span.start)
        if lo and chosen[lo - 1].end > span.start:
            continue  # crosses a token span that began earlier
        hi = lo
        while hi < len(chosen) and chosen[hi].start < span.end:
            hi += 1
        inner = chosen[lo:hi]
        crossing = next((i for i, s in enumerate(inner) if s.end > span.end), None)
        if crossing is not None:
            # a token starts inside the value and runs past it: the value ends where it starts
            cut = inner[crossing].start
            value = data[span.start : cut]
            if cut <= span.start or (span.bare and not _looks_secret(value)):
                continue
            span = attrs.evolve(span, end=cut, secret=value)
            hi = lo + crossing
            inner = chosen[lo:hi]
        if inner:
            rest = bytearray()
            done = span.start
            for s in inner:
                rest += data[done : s.start]
                done = s.end
            rest += data[done : span.end]
            if rules.SCHEME_ONLY.fullmatch(bytes(rest)):
                continue
        chosen[lo:hi] = [span]
        starts[lo:hi] = [span.start]
    return chosen


def _wider_bare_value(data: bytes, vstart: int, narrow_end: int) -> re.Match[bytes] | None:
    """An unquoted value the narrow rule stopped at a comma or a bracket, taken on to the
    next blank, quote, ``;``, ``&`` or ``=`` (``PASSWORD=abc,def123xyz``,
    ``password=hunter2(xyz)9876``: both were written as they are), when that run holds a
    digit (``pw,retries`` is a list in code) and is no call (``sha256(data)``,
    ``make_token(user,`` cut by a blank, ``get().value``)."""
    wide = rules.VALUE_BARE_WIDE.match(data, vstart)
    if wide is None or wide.end() <= narrow_end:
        return None
    run = wide[0]
    if re.search(rb"[0-9]", run) is None or _is_call(run):
        return None
    return wide


def _is_call(run: bytes) -> bool:
    """Whether ``run`` starts with a call: a name, ``(``, and either no matching ``)`` in
    the run (a blank cut it) or one followed by nothing or by what code puts there."""
    start = rules.CALL_START.match(run)
    if start is None:
        return False
    depth = 0
    for index in range(start.end() - 1, len(run)):
        char = run[index]
        if char == 0x28:  # (
            depth += 1
        elif char == 0x29:  # )
            depth -= 1
            if depth == 0:
                rest = run[index + 1 : index + 2]
                return rest in (b"", b")", b",", b".", b"[", b":", b"]", b"}")
    return True


def _looks_secret(value: bytes) -> bool:
    """An unquoted value counts as a secret when it holds a digit or a symbol (``hunter2``,
    ``s3cr3t!``): ``None``, ``os.environ``, ``Keyword.Reserved``, ``ed25519.Key`` and
    ``api_key`` are code, and real keys without a digit are vanishingly rare."""
    return (
        len(value) >= 3
        and re.search(rb"[^A-Za-z_.]", value) is not None
        and rules.DOTTED_NAME.fullmatch(value) is None
    )


def _in_placeholder(data: bytes, at: int) -> bool:
    """Whether ``at`` falls inside a well-formed placeholder (its kind names a keyword)."""
    opened = data.rfind(rules.PLACEHOLDER_PREFIX, max(0, at - 60), at)
    if opened < 0:
        return False
    match = rules.PLACEHOLDER.match(data, opened)
    return match is not None and match.end() > at
