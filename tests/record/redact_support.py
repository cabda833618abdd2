"""What the redaction tests share: the planted secrets (the kind, a text holding one, the
secret), the positions a secret can take in a JSON value, generated JSON with secret-like
fragments, and a redactor with a fixed key."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from hypothesis import strategies as st

from rollout_trace_sdk.record.redact import RedactionConfig, Redactor

PRETTY = orjson.OPT_INDENT_2
PLACEHOLDER = re.compile(r"\[REDACTED:([a-z0-9_]+):([0-9a-f]{8})\]")


#: (kind, text holding the secret, the secret). Each must go wherever it is planted.
PLANTED = [
    # unquoted values holding a comma or brackets (found by review: written as they were)
    ("password", "PASSWORD=abc,def123xyzQ9", "abc,def123xyzQ9"),
    ("password", "password=hunter2(xyz)9876 and more", "hunter2(xyz)9876"),
    ("token", "token: abc(def)12345", "abc(def)12345"),
    ("authorization", "Authorization: Bearer abcDEF0123456789xyz", "abcDEF0123456789xyz"),
    ("authorization", "authorization=Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    (
        "sk_key",
        "key sk-proj-Q2x9LmN4pR7sT1vW3yZ5bC8dF0gH2",
        "sk-proj-Q2x9LmN4pR7sT1vW3yZ5bC8dF0gH2",
    ),
    ("sk_key", "sk-ant-api03-AbCdEfGhIjKlMnOpQrSt012", "sk-ant-api03-AbCdEfGhIjKlMnOpQrSt012"),
    ("sk_key", "OPENAI_API_KEY=sk-Ab12Cd34Ef56Gh78Ij90Kl12", "sk-Ab12Cd34Ef56Gh78Ij90Kl12"),
    (
        "huggingface_token",
        "HF_HOME=/data hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567 ok",
        "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
    ),
    (
        "stripe_key",
        "stripe.api_key = sk_live_51H8abcdEFGHijklMNOPqrstUV",
        "sk_live_51H8abcdEFGHijklMNOPqrstUV",
    ),
    ("stripe_key", "rk_test_51H8abcdEFGHijklMNOPqrstUV", "rk_test_51H8abcdEFGHijklMNOPqrstUV"),
    ("gitlab_token", "PRIVATE-TOKEN: glpat-xxxxXXXXxxxx1234yyyy", "glpat-xxxxXXXXxxxx1234yyyy"),
    (
        "npm_token",
        "//registry.npmjs.org/:_authToken=npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    ),
    ("aws_access_key_id", "id AKIAZ7QW3RTY5UIOP2AS here", "AKIAZ7QW3RTY5UIOP2AS"),
    ("aws_access_key_id", "ASIAZ7QW3RTY5UIOP2AS", "ASIAZ7QW3RTY5UIOP2AS"),
    (
        "aws_secret_key",
        "AKIAZ7QW3RTY5UIOP2AS,wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9EXAMPLE",
    ),
    (
        "aws_secret_key",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9EXAMPLE",
    ),
    (
        "gcp_api_key",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    ),
    (
        "github_token",
        "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
        "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    ),
    (
        "github_token",
        "github_pat_11ABCDEFG0aBcDeFgHiJkL_mNoPqRsTuVwXyZ0123456789",
        "github_pat_11ABCDEFG0aBcDeFgHiJkL_mNoPqRsTuVwXyZ0123456789",
    ),
    ("slack_token", "xoxb-123456789012-abcdefABCDEF", "xoxb-123456789012-abcdefABCDEF"),
    (
        "private_key",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAx/+=\nQWERTY\n-----END RSA PRIVATE KEY-----",
        "MIIEpAIBAAKCAQEAx/+=",
    ),
    (
        "jwt",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9Pl",
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9Pl",
    ),
    ("cookie", "Cookie: session=q8Lx2Zp0; theme=dark", "q8Lx2Zp0"),
    ("cookie", "Set-Cookie: sid=31d4d96e407aad42; Path=/; HttpOnly", "31d4d96e407aad42"),
    ("url_password", "postgres://admin:s3cretPw@db:5432/app", "s3cretPw"),
    ("password", "DB_PASSWORD=hunter2!", "hunter2!"),
    ("password", "password: 'c0rrect h0rse'", "c0rrect h0rse"),
    ("token", "GITHUB_TOKEN=abc123def456", "abc123def456"),
    ("secret", "client_secret=Zx9-Yw8-Vu7", "Zx9-Yw8-Vu7"),
    ("api_key", "X-Api-Key: 5f8e2c1d9b7a4e3f", "5f8e2c1d9b7a4e3f"),
    # found by the recorder review (session 10)
    ("api_key", "Ocp-Apim-Subscription-Key: 5f8e2c1d9b7a4e3f", "5f8e2c1d9b7a4e3f"),
    ("bearer_token", "retrying with Bearer bareBearerTok3n9xyz", "bareBearerTok3n9xyz"),
    ("url_password", "redis://:r3disPw0123@cache:6379/0", "r3disPw0123"),
    ("url_password", "postgres://app:p@ss0123w0rdTail@db:5432/app", "p@ss0123w0rdTail"),
    (
        "github_token",
        "ghu_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
        "ghu_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    ),
    # the two session 10 left out for the scan's speed (session 11: within the target)
    (
        "github_token",
        "ghr_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
        "ghr_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    ),
    ("bearer_token", "curl -H 'x: y' then bearer lowerTok3n9xyzABCD", "lowerTok3n9xyzABCD"),
]


def redactor(**config: Any) -> Redactor:
    return Redactor(RedactionConfig(**config), key=b"test-key")


def positions(text: str) -> list[Any]:
    """One value per JSON position a secret can take."""
    return [
        text,
        {"output": text},
        {"items": [1, {"content": [{"type": "input_text", "text": text}]}]},
        [text, "x"],
        {"arguments": json.dumps({"cmd": text, "n": 1})},
        {"outer": json.dumps({"inner": json.dumps({"cmd": text})})},
        {"preview": json.dumps({"cmd": text})[:160] + "…"},
        {"a": f"line one\n{text}\nline three"},
    ]


FRAGMENTS = [
    "password",
    "Password: ",
    "token",
    "api_key",
    "secret=",
    '"',
    "\\",
    "\n",
    ":",
    "=",
    " ",
    "'",
    "Bearer ",
    "Authorization: ",
    "Cookie: a=b; ",
    "Set-Cookie: ",
    "sk-proj-",
    "AKIA",
    "AIza",
    "ghp_",
    "eyJ",
    ".",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "://u:",
    "@",
    "[REDACTED:x:",
    "]",
    "é",
    "\u2028",
    "\x00",
]


_text = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(min_size=1, max_size=12)), max_size=12
).map("".join)


KEYS = st.one_of(st.sampled_from(["password", "api_key", "token", "Cookie", "x"]), st.text())


JSON_VALUES: Any = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        _text,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(KEYS, inner, max_size=4),
        inner.map(lambda v: json.dumps(v)),  # JSON inside a string (tool arguments)
    ),
    max_leaves=12,
)


SECRETS = st.sampled_from([s for _, _, s in PLANTED if len(s) >= 12])


def plant(value: Any, secret: str, where: int) -> Any:
    """Put a planted-secret text at one of the value's strings (or beside it)."""
    text = next(t for _, t, s in PLANTED if s == secret)
    spots = positions(text)
    return [value, spots[where % len(spots)]]
