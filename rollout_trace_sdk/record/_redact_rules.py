"""What counts as a secret: the markers the pre-scan looks for and the patterns behind them.

Every rule works on JSON text as the writer produces it (a pretty payload file or compact log
lines), never on decoded values: a secret can sit in a JSON string (``"sk-proj-..."``), in a
JSON string inside a JSON string (``"{\\"api_key\\": \\"...\\"}"``, a tool call's arguments), or
in text inside either (a curl command, a ``.env`` file a tool printed). So the patterns accept
JSON escapes where a secret's surroundings may hold them (``\\n`` before a token, ``\\"`` around
a value), and every secret span they report is made of whole escape sequences and holds no
quote: replacing it with a placeholder keeps the JSON valid.

Every rule starts at a marker: token markers (``sk-``, ``AKIA``) as they are, keyword markers
(``oken``, ``pass``) in any case. A marker's rule only runs anchored at the marker, so no
pattern ever scans a whole payload. Finding the markers is one Hyperscan pass over the data
(:mod:`._redact_scan`) for *gates*: a marker with what must follow it for its rule to have a
chance (``sk-`` and 8 key characters; a keyword, the rest of its name and a ``:`` or ``=``).
A gate is looser than its rule, never stricter, so the rules see every marker that could hold
a secret, and clean text (``task-list``, ``sort(key=...)``) costs no Python at all. A kind that
a keyword already finds (a PEM block says ``PRIVATE KEY``) has no marker of its own.
"""

from __future__ import annotations

import re
from typing import Final

#: A token may start here: not inside a longer identifier, but right after a JSON escape
#: (``\\n``, ``\\t``, ``\\u0041``) is fine, since the letter there is part of the escape.
_START: Final = rb"(?:(?<![A-Za-z0-9_\-])|(?<=\\[nrtbf])|(?<=\\u[0-9a-fA-F]{4}))"

#: Token rules: case-sensitive marker -> (kind, pattern matched at the marker's offset). The
#: whole match is the secret unless the pattern has a ``secret`` group.
TOKEN_RULES: Final[dict[bytes, tuple[str, re.Pattern[bytes]]]] = {}
#: Token gates: marker -> what must follow it for its rule to match (a Hyperscan regex, also
#: valid for ``re``). Necessary, not sufficient: the rule decides. A gate's match (marker
#: included) spans at most :data:`TOKEN_GATE_SPAN` bytes.
TOKEN_GATES: Final[dict[bytes, bytes]] = {}
TOKEN_GATE_SPAN: Final = 80


def _token(
    kind: str,
    markers: tuple[bytes, ...],
    pattern: bytes,
    *,
    gate: bytes,
    boundary: bool = True,
) -> None:
    compiled = re.compile(_START + pattern if boundary else pattern)
    for marker in markers:
        TOKEN_RULES[marker] = (kind, compiled)
        TOKEN_GATES[marker] = gate


# OpenAI / Anthropic / OpenRouter style keys. A bare ``sk-`` needs 20 characters and a digit
# (checked in code) so that slugs such as ``sk-learn-tutorial`` stay.
_token(
    "sk_key",
    (b"sk-",),
    rb"sk-(?:(?:proj|ant|svcacct|admin|or)-[A-Za-z0-9_\-]{8,}|[A-Za-z0-9_\-]{20,})",
    gate=rb"[A-Za-z0-9_\-]{8}",
)
# AWS access key ids, and a 40-character secret key right after one (CSV, `aws configure`).
_token(
    "aws_access_key_id",
    (b"AKIA", b"ASIA"),
    rb"(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"
    rb"(?:(?P<gap>(?:[\s,;:|=\"']|\\[nt\"]){1,24})(?P<aws_secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=]))?",
    gate=rb"[A-Z0-9]{8}",
)
_token("gcp_api_key", (b"AIza",), rb"AIza[0-9A-Za-z_\-]{35,}", gate=rb"[0-9A-Za-z_\-]{8}")
_token(
    "github_token",
    # personal, OAuth (gh auth token), Actions, GitHub App user-to-server, refresh tokens.
    # Each marker is a literal of the Hyperscan database; past a count of them one clean
    # workload scans at half speed (100 KB: ~30 -> ~60 µs, the 1 MB one unchanged at ~800),
    # within the < 100 µs target, and it runs on the writer thread
    (b"ghp_", b"gho_", b"ghs_", b"ghu_", b"ghr_"),
    rb"gh[pousr]_[A-Za-z0-9]{30,}",
    gate=rb"[A-Za-z0-9]{8}",
)
_token(
    "github_token", (b"github_pat_",), rb"github_pat_[A-Za-z0-9_]{20,}", gate=rb"[A-Za-z0-9_]{8}"
)
_token(
    "slack_token", (b"xox",), rb"xox[abposr]-[A-Za-z0-9\-]{10,}", gate=rb"[abposr]-[A-Za-z0-9\-]{8}"
)
# Tokens of the services an agent's tools reach most: Hugging Face (``hf_`` + 34; identifiers
# such as ``hf_hub_download`` hold an underscore, which a token never does), Stripe secret and
# restricted keys, GitLab personal access tokens, npm access tokens.
_token(
    "huggingface_token", (b"hf_",), rb"hf_[A-Za-z0-9]{34,}(?![A-Za-z0-9_])", gate=rb"[A-Za-z0-9]{8}"
)
_token(
    "stripe_key",
    (b"sk_live_", b"rk_live_", b"sk_test_", b"rk_test_"),
    # a key holds digits; an identifier (``sk_test_SubscriptionCancellationFlow``) may not
    rb"[sr]k_(?:live|test)_(?=[A-Za-z]*[0-9])[A-Za-z0-9]{20,}(?![A-Za-z0-9_])",
    gate=rb"[A-Za-z0-9]{8}",
)
_token("gitlab_token", (b"glpat-",), rb"glpat-[A-Za-z0-9_\-]{20,}", gate=rb"[A-Za-z0-9_\-]{8}")
_token("npm_token", (b"npm_",), rb"npm_[A-Za-z0-9]{36,}(?![A-Za-z0-9_])", gate=rb"[A-Za-z0-9]{8}")
_token(
    "jwt",
    (b"eyJ",),
    rb"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
    gate=rb"[A-Za-z0-9_\-]{8}",
)
# A PEM private key block; its line breaks are JSON escapes (``\\n``, ``\\\\n`` nested), so the
# body may hold backslashes but never a quote. Found through the ``key`` keyword (``PRIVATE
# KEY``), matched at its ``-----BEGIN``; a block with its END line goes to it. The search for
# the END line stops at the next BEGIN line: run from each of many headers without an END,
# it would otherwise read the rest of the text again each time.
PRIVATE_KEY: Final = re.compile(
    rb"-----BEGIN (?P<label>[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?)-----"
    rb"(?:[A-Za-z0-9+/=:,. \t]|-(?!----BEGIN )|\\+[nrt])*?"
    rb"-----END (?P=label)-----"
)
# A block without its END line (a preview cut it, ``head -3 id_rsa`` printed part of it, more
# output may follow): its header lines, then the lines that are base64 alone (a whole line,
# ending at a line break or the string's end; lines joined by blanks, while the next holds 16
# base64 characters or more), then a last line cut short (8 or more base64 characters,
# whatever follows them). It ends at the first line that is not base64 (a shell
# prompt, a note, a blank line), so the text after the key stays.
_LINE_BREAK = rb"(?:\\+r)?\\+n"
CUT_PRIVATE_KEY: Final = re.compile(
    rb"-----BEGIN (?P<label>[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?)-----"
    rb"(?:" + _LINE_BREAK + rb"[A-Za-z][A-Za-z0-9\-]*: [^\\\"]*)*"  # Proc-Type:, DEK-Info:
    rb"(?:" + _LINE_BREAK + rb"(?=" + _LINE_BREAK + rb"))?"  # the blank line after them
    rb"(?:(?:" + _LINE_BREAK + rb"|[ \t]+)[A-Za-z0-9+/=]+"
    rb"(?=" + _LINE_BREAK + rb"|\\*\"|[ \t]+[A-Za-z0-9+/=]{16}))*"
    rb"(?:(?:" + _LINE_BREAK + rb"|[ \t]+)[A-Za-z0-9+/=]{8,})?"
)
# user:password@ in a URL: only the password goes. The user may be empty (``redis://:pw@``);
# the password may hold ``@`` (it ends at the last ``@`` before the host).
_token(
    "url_password",
    (b"://",),
    rb"://[A-Za-z0-9._~%!$&*+,;=\-]{0,64}:(?P<secret>[^\s/\"\\\[\]<>{}]{1,128})@"
    rb"(?=[^\s/@\"\\\[\]<>{}]*(?:[/\s\"\\\[\]<>{}]|\Z))",
    gate=rb"[A-Za-z0-9._~%!$&*+,;=\-]{0,64}:",
    boundary=False,
)
# A bearer token on its own (a log line, an error text): 16 or more token characters with a
# digit (checked in code), so prose ("Bearer authentication") stays.
for _scheme in (b"Bearer", b"bearer"):
    _token(
        "bearer_token",
        (_scheme,),
        _scheme + rb"[ \t]+(?P<secret>[A-Za-z0-9._~+/\-]{16,}=*)",
        gate=rb"[ \t]{1,8}[A-Za-z0-9._~+/\-]{16}",
    )

#: Header-like rules, anchored at the first letter of their keyword (marker offset - 1).
AUTHORIZATION: Final = re.compile(
    rb"(?i:authorization)(?:\\*[\"'])?(?:[ \t]|\\[nrt])*[:=](?:[ \t]|\\[nrt])*(?:\\*[\"'])?"
    rb"(?:[ \t]|\\[nrt])*"
    rb"(?:(?P<scheme>(?i:bearer|basic|token|bot|digest|negotiate|apikey|sso-key))[ \t]+)?"
    rb"(?P<secret>[A-Za-z0-9._~+/=:\-]+)"
)
COOKIE: Final = re.compile(
    rb"(?P<set>(?i:set-))?(?i:cookie)(?:\\*[\"'])?(?:[ \t]|\\[nrt])*:(?:[ \t]|\\[nrt])*"
    rb"(?:\\*[\"'])?"
)
#: a cookie header's value, up to the end of its line or the next cookie header (which takes
#: the pairs after it: each pair is read by one header, so many headers on one line cost as
#: much as one, not their number times the line)
COOKIE_VALUE: Final = re.compile(rb"[^\"\\\r\n]*")
NEXT_COOKIE: Final = re.compile(rb"(?i:cookie)(?:\\*[\"'])?(?:[ \t]|\\[nrt])*:")
#: one ``name=value`` pair of a cookie header's value (``value`` is redacted)
COOKIE_PAIR: Final = re.compile(rb"(?:^|;)[ \t]*[^=;\s]+=(?P<secret>[^;]*)")

#: Keyword markers (lowercase) for names: JSON keys, ``NAME=value`` assignments, ``Name:
#: value`` headers. ``uthoriz`` and ``ookie`` also start the header rules above.
NAME_MARKERS: Final = (b"oken", b"ecret", b"pass", b"key", b"ookie", b"uthoriz")
#: Name gates (case-insensitive, built by the scanner from the suffixes below): a keyword
#: marker, then what makes its name end like a secret name (``api_key``, ``tokenSecret``;
#: not ``key`` nor ``max_tokens``), then what :data:`AFTER_NAME` starts with. A name ends at
#: most :data:`NAME_GATE_REACH` bytes after a marker it holds, and starts at most as far
#: before it (:data:`NAME_LEFT`, :data:`NAME_RIGHT`).
NAME_GATE_CHARS: Final = rb"[A-Za-z0-9_.\-]"
NAME_GATE_SEPARATORS: Final = rb"[_.\- ]*"
#: ``:`` or ``=`` after a name, or (a name in a string) a comma before its value: a name/value
#: pair (``{"name": "API_KEY", "value": ...}``, ``["authorization", "Bearer ..."]``)
NAME_GATE_AFTER: Final = rb"(?:(?:\\*[\"'])?[ \t]*[:=]|\\*\"[ \t]*,)"
NAME_GATE_REACH: Final = 64
#: Header gates (case-insensitive): keyword marker -> (text before it, text after it) that
#: its header rule needs (``Authorization``, ``Cookie``, ``PRIVATE KEY`` for a PEM block).
HEADER_GATES: Final = {
    b"uthoriz": (b"a", b"ation"),
    b"ookie": (b"c", b""),
    b"key": (b"private ", b""),
}

#: Normalised name (lowercase, no ``_-. ``) ends with -> kind. Longest first.
NAME_SUFFIXES: Final = (
    ("authorization", "authorization"),
    ("secretaccesskey", "aws_secret_key"),
    ("clientsecret", "secret"),
    ("passphrase", "password"),
    ("privatekey", "private_key"),
    ("subscriptionkey", "api_key"),
    ("accesskey", "access_key"),
    ("secretkey", "secret"),
    ("password", "password"),
    ("apikey", "api_key"),
    ("passwd", "password"),
    ("secret", "secret"),
    ("cookie", "cookie"),
    ("token", "token"),
)

#: A name may hold single spaces between its words (``"API Key"``).
NAME_LEFT: Final = re.compile(rb"(?:[A-Za-z0-9_.\-]{1,64} )*[A-Za-z0-9_.\-]{0,64}\Z")
NAME_RIGHT: Final = re.compile(rb"[A-Za-z0-9_.\-]{0,64}")
#: What may follow a name before its value: a closing quote (JSON key, possibly escaped), a
#: ``:`` or ``=``, an opening quote; all on the name's line (JSON keys and their values, and
#: assignments, never break a line there; prose that ends a line with "token." does).
AFTER_NAME: Final = re.compile(rb"(?P<close>\\*[\"'])?[ \t]*[:=][ \t]*(?P<open>\\*\"|')?")
#: A name/value pair after a name in a string (its closing quote, the same run before each
#: quote): ``"API_KEY", "value": "`` (the name was a ``"name"`` key's value) or
#: ``"authorization", "`` (a two-string list, checked around it).
_BLANK: Final = rb"(?:[ \t\r\n]|\\+[nrt])*"  # blanks, line breaks of any nesting depth
PAIR_AFTER_NAME: Final = re.compile(
    rb"(?P<close>\\*\")"
    + _BLANK
    + rb","
    + _BLANK
    + rb"(?:(?P<key>(?P=close)value(?P=close))[ \t]*:[ \t]*)?(?P<open>(?P=close))"
)
#: What stands before a name that a ``"value"`` key follows: ``"name": "``.
PAIR_NAME_KEY: Final = re.compile(rb"(?P<q>\\*\")name(?P=q)[ \t]*:[ \t]*(?P=q)\Z")
#: What stands before the first string of a two-string list, and after the second.
PAIR_LIST_OPEN: Final = re.compile(rb"\[" + _BLANK + rb"\\*\"\Z")
PAIR_LIST_CLOSE: Final = re.compile(_BLANK + rb"\]")
#: A value in a plain JSON string (the opening quote just matched): any escapes, up to ``"``.
VALUE_JSON: Final = re.compile(rb'(?:[^"\\\n]|\\.)*(?=")')
_NESTED: dict[int, re.Pattern[bytes]] = {}


def nested_value(run: int) -> re.Pattern[bytes]:
    """The value of a JSON string nested in another, opened by ``run`` backslashes and a
    quote: it ends at the same run and a quote (its own end) or at an even run and a quote
    (the end of the enclosing string, when a preview cut it short). Backslash runs are taken
    whole, so no escape is cut in two; longer odd runs before a quote are quotes inside it."""
    pattern = _NESTED.get(run)
    if pattern is None:
        pattern = _NESTED[run] = re.compile(
            rb'(?:[^"\\\n]++|\\++(?!")|(?=(?:\\\\)*+\\")(?!\\{%d}")\\++")*+(?=\\*")' % run
        )
    return pattern


VALUE_SINGLE: Final = re.compile(rb"[^'\"\\\r\n]*(?=')")
#: An unquoted value, at most :data:`BARE_VALUE_REACH` bytes: a longer run is taken up to there
#: (a rejected run scanned again from every marker inside it would cost quadratic time).
BARE_VALUE_REACH: Final = 4096
VALUE_BARE: Final = re.compile(
    rb"[^\s\"'\\,;&\[\]{}()<>$`=|][^\s\"'\\,;&\[\]{}()<>$`|]{0,%d}" % (BARE_VALUE_REACH - 1)
)
#: The same value taken past a comma or bracket, up to a blank, quote, ``;``, ``&`` or ``=``:
#: a password may hold them (``abc,def123``, ``hunter2(x)9``), which the value above stops at.
VALUE_BARE_WIDE: Final = re.compile(rb"[^\s\"'\\;&=$][^\s\"'\\;&=]{0,%d}" % (BARE_VALUE_REACH - 1))
#: A call's start (``make_token(``, ``os.getenv(``): code, not a value.
CALL_START: Final = re.compile(rb"[A-Za-z_][A-Za-z0-9_.]*\(")
SCHEME_ONLY: Final = re.compile(rb"(?i:bearer|basic|token|bot)?[ \t]*")

#: Markers holding a byte that is rare in text (uppercase ``K``/``J``, ``z``): found by a
#: memchr scan for that byte (``bytes.find`` of one byte, ~40x faster than a longer needle)
#: and a comparison around each hit. Marker -> index of the rare byte.
ANCHORS: Final = {b"AKIA": 1, b"AIza": 3, b"eyJ": 2, b"uthoriz": 6}
#: After this many rare bytes a marker goes back to plain ``bytes.find`` (text full of them).
ANCHOR_LIMIT: Final = 64
#: Below this size every marker is one plain ``bytes.find``.
ANCHOR_MIN_BYTES: Final = 16 << 10

#: a dotted name (``os.environ``, ``rsa.RSAPrivateKey``): code, not a secret
DOTTED_NAME: Final = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
#: a line break in JSON text, at any nesting depth
LINE_BREAK: Final = re.compile(rb"\\+[nr]")
#: base64 characters of a PEM body (a header alone is no key)
KEY_BODY: Final = re.compile(rb"[A-Za-z0-9+/]")

PLACEHOLDER_PREFIX: Final = b"[REDACTED:"
PLACEHOLDER: Final = re.compile(rb"\[REDACTED:[a-z0-9_]{1,40}:[0-9a-f]{8}\]")
