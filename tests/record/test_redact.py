"""Secret redaction on serialised JSON, by example: what goes (planted secrets in every
position, secret-named fields, name-value pairs, private keys, free text in log lines) and
what stays (look-alikes, clean text, big integers); placeholders, counts, options and the
fallbacks when a pattern or the rules fail."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.record.redact import Redactor

from .redact_support import PLACEHOLDER, PLANTED, PRETTY, positions, redactor

#: JSON fields whose (string) value goes whole.
FIELDS = [
    ("api_key", "api_key"),
    ("apiKey", "api_key"),
    ("x-api-key", "api_key"),
    ("password", "password"),
    ("db_passwd", "password"),
    ("client_secret", "secret"),
    ("AWS_SECRET_ACCESS_KEY", "aws_secret_key"),
    ("access_token", "token"),
    ("refresh_token", "token"),
    ("token", "token"),
    ("Authorization", "authorization"),
    ("session_cookie", "cookie"),
    ("private_key", "private_key"),
]


#: Text that must come out unchanged.
CLEAN = [
    "The token limit is 128k tokens; keep the secret of success: practice.",
    "Password reset links expire after 24 hours. Authorization is handled by the gateway.",
    "3f1e0c8a-9b2d-4c6e-8f10-2a3b4c5d6e7f",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk",
    "def f(api_key=None, token=api_key):\n    return os.environ.get('API_KEY')",
    "max_tokens: 4096, input_tokens=12, total_tokens: 40",
    "ask-questions-about-the-task-and-risk-assessment",
    "Bearer of bad news",
    "see https://example.com/docs:8080/path and git@github.com:org/repo.git",
    "password=$DB_PASSWORD token=${TOKEN} secret: {{ secrets.X }}",
    "Cookie: a small file the browser keeps",
    "export PATH=/usr/local/bin:$PATH",
    # code that names secrets without holding one (false positives found on stdlib sources)
    "token = Keyword.Reserved",
    "private_key = ed25519.Ed25519PrivateKey.from_private_bytes(secret)",
    "private_key: rsa.RSAPrivateKey, CHALLENGE_PASSWORD = ObjectIdentifier(oid)",
    "    Check the access token.\n    :returns: True or False",
    '_SK_START = b"-----BEGIN OPENSSH PRIVATE KEY-----"',
    "ResourceEndpoint.__init__(self, default_token='Bearer')",
    'password = ask_password("Password: ")\n    return username, password, True',
    "token = make_token(user_id=42)",
    "token = make_token(user_id, 3)",
    "token = sha256(data)",
    "f(password=pw,retries=3)",
    "password = get_pw(2).strip()",
    "password=abc, then 12 more",
    "Bearer authentication_required_for_this_route",
    "Invalid API key: 401 Unauthorized",
    "Refresh Token: 30d TTL",
    "from huggingface_hub import hf_hub_download; hf_hub_download(repo_id=r)",
    "npm_config_cache=/tmp/npm_cache_directory_for_the_build_step_1",
    "def sk_test_SubscriptionCancellationFlow(): pass",
    "we moved to the Bearer scheme-2024-update.",
    "Bearer OAuth2-compatible-tokens are accepted",
]


#: (kind, a JSON value naming a secret by a name/value pair or a spaced key, the secret).
PAIRS = [
    (
        "authorization",
        {"headers": [{"name": "Authorization", "value": "Bearer harT0kenVal9xQ"}]},
        "harT0kenVal9xQ",
    ),
    (
        "api_key",
        {"env": [{"name": "OPENAI_API_KEY", "value": "pl4inEnvS3cretV"}]},
        "pl4inEnvS3cretV",
    ),
    ("authorization", {"raw": [["authorization", "Bearer pairT0kenVal9x"]]}, "pairT0kenVal9x"),
    ("api_key", {"cfg": {"API Key": "spAc3dK3yValue"}}, "spAc3dK3yValue"),
]


#: Name/value look-alikes that hold no secret.
PAIRS_CLEAN = [
    {"fields": ["password", "email"]},
    {"fields": ["username", "password", "email"]},
    {"env": [{"name": "TOKEN_COUNT", "value": "12"}]},
    {"pair": ["token", "limit"]},
    # found by a second review: two-string lists of field names, not headers
    {"enum": ["access_token", "refresh-token"]},
    ["Access token", "Expires in 30 days"],
    ["password", "last changed"],
    ["password", "confirm password"],
    ["secret", "k8s.io/v1"],
    ["api_key", "api_key_v2"],
    ["token", "2fa"],
    ["test_token", "test_token[1]"],
]


@pytest.mark.parametrize(
    "kind,value,secret", PAIRS, ids=[k + str(i) for i, (k, _, _) in enumerate(PAIRS)]
)
def test_name_value_pairs_and_spaced_names(kind: str, value: Any, secret: str) -> None:
    """Kubernetes env vars and HAR headers (``{"name": ..., "value": ...}``), raw header
    lists, a key with a space: each landed verbatim. An auth scheme stays readable."""
    r = redactor()
    for held in (
        value,
        {"arguments": json.dumps(value)},
        {"nested": json.dumps([json.dumps(value)])},
    ):
        for data in (orjson.dumps(held), orjson.dumps(held, option=PRETTY)):
            out = r.redact(data)
            assert secret.encode() not in out, out
            assert f"[REDACTED:{kind}:" in _deep_text(orjson.loads(out)), out
            assert (b"Bearer " in out) is (b"Bearer " in data)


@pytest.mark.parametrize("value", PAIRS_CLEAN, ids=[str(i) for i in range(len(PAIRS_CLEAN))])
def test_name_value_look_alikes_stay(value: Any) -> None:
    r = redactor()
    for data in (orjson.dumps(value), orjson.dumps(value, option=PRETTY)):
        assert r.redact(data) == data


@pytest.mark.parametrize("kind,text,secret", PLANTED, ids=[f"{k}:{t[:20]}" for k, t, _ in PLANTED])
def test_planted_secret_goes_everywhere(kind: str, text: str, secret: str) -> None:
    r = redactor()
    for value in positions(text):
        for data in (orjson.dumps(value), orjson.dumps(value, option=PRETTY)):
            out = r.redact(data)
            decoded = orjson.loads(out)
            assert secret not in json.dumps(decoded, ensure_ascii=False), (value, out)
            assert secret.encode() not in out
            assert f"[REDACTED:{kind}:" in _deep_text(decoded), (kind, out)


#: a private key's first lines, as ``head -3 id_rsa`` prints them (no END line)
_KEY_LINES = (
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu"
)


@pytest.mark.parametrize(
    "after",
    [
        "\n$ ls\nREADME.md",
        "\n... [2,000 more characters]",
        "… (cut)",
        " ✓ done",
        "\n(output truncated)",
        "\n\nNext: run the deploy script",
        " ssh -i id_rsa host",  # the key's lines joined by blanks (below)
    ],
)
def test_a_private_key_without_its_end_line_loses_its_body_whatever_follows(after: str) -> None:
    # found by review20: a block cut short was taken only when it ran to the end of its
    # string, so `head -3 id_rsa` followed by more output kept the whole key body
    r = redactor()
    lines = _KEY_LINES.replace("\n", " ") if after.startswith(" ssh") else _KEY_LINES
    text = f"$ head -3 id_rsa\n-----BEGIN PRIVATE KEY-----\n{lines}{after}"
    for value in positions(text):
        for data in (orjson.dumps(value), orjson.dumps(value, option=PRETTY)):
            decoded = _deep_text(orjson.loads(r.redact(data)))
            assert "MIIEvQIB" not in decoded and "tCSuYEvu" not in decoded, (value, decoded)
            assert "[REDACTED:private_key:" in decoded
            # what follows the key is not part of it (a preview may have cut it off)
            last_word = after.strip().rsplit(" ", 1)[-1]
            assert last_word in decoded or last_word not in _deep_text(value)


def _deep_text(value: Any) -> str:
    """Every string, decoded as far as it nests (tool arguments hold JSON in a string)."""
    text = json.dumps(value, ensure_ascii=False)
    for _ in range(3):
        text = text.replace("\\\\", "\\").replace('\\"', '"')
    return text


@pytest.mark.parametrize("name,kind", FIELDS)
def test_secret_named_fields_lose_their_value(name: str, kind: str) -> None:
    r = redactor()
    # a bare "token" needs a token-like value (logprobs hold {"token": "Hello"})
    value = "tok_9f8e7d6c5b4a" if name == "token" else "v4lue with spaces & symbols"
    for doc in ({name: value}, {"cfg": {name: value, "other": "kept"}}):
        for depth_doc in (doc, {"arguments": json.dumps(doc)}):
            out = r.redact(orjson.dumps(depth_doc, option=PRETTY))
            assert value.encode() not in out
            assert f"[REDACTED:{kind}:".encode() in out
            assert b"kept" in out or "other" not in json.dumps(doc)


def test_token_named_fields_that_are_not_secrets_stay() -> None:
    r = redactor()
    doc = {
        "logprobs": [{"token": "Hello", "logprob": -0.1}, {"token": " world", "logprob": -1}],
        "token_usage": {"input_tokens": 5, "output_tokens": 10, "total_tokens": 15},
        "max_output_tokens": 100,
        "tokenizer": "o200k_base",
        "secret_name": "prod-db",
        "password": "",
        "api_key": None,
    }
    data = orjson.dumps(doc, option=PRETTY)
    assert r.redact(data) is data
    assert r.counts == {}


@pytest.mark.parametrize("text", CLEAN)
def test_clean_text_is_untouched(text: str) -> None:
    r = redactor()
    for value in positions(text):
        data = orjson.dumps(value)
        assert r.redact(data) == data, r.redact(data)


def test_same_secret_same_placeholder_in_every_context() -> None:
    r = redactor()
    secret = "sk-proj-Q2x9LmN4pR7sT1vW3yZ5bC8dF0gH2"
    plain = r.redact(orjson.dumps({"text": f"key {secret}"}))
    nested = r.redact(orjson.dumps({"arguments": json.dumps({"k": f"key {secret}"})}))
    [a] = PLACEHOLDER.findall(plain.decode())
    [b] = PLACEHOLDER.findall(nested.decode())
    assert a == b
    # a password with a quote in it, plain and escaped inside tool arguments
    value = 'p"a\\ss w0rd'
    one = r.redact(orjson.dumps({"password": value}))
    two = r.redact(orjson.dumps({"arguments": json.dumps({"password": value})}))
    assert PLACEHOLDER.findall(one.decode()) == PLACEHOLDER.findall(two.decode())
    assert b"w0rd" not in two and b"w0rd" not in one


def test_placeholders_depend_on_the_key() -> None:
    data = orjson.dumps("token sk-proj-Q2x9LmN4pR7sT1vW3yZ5bC8dF0gH2")
    assert Redactor(key=b"a").redact(data) == Redactor(key=b"a").redact(data)
    assert Redactor(key=b"a").redact(data) != Redactor(key=b"b").redact(data)
    assert Redactor().redact(data) != Redactor().redact(data)  # a random key per redactor


def test_counts_by_kind() -> None:
    r = redactor()
    r.redact(orjson.dumps(["AKIAZ7QW3RTY5UIOP2AS", {"password": "x1"}, {"api_key": "k"}]))
    r.redact(b'{"a":"AKIAZ7QW3RTY5UIOP2AS"}\n{"b":"ok"}\n', lines=True)
    assert r.counts == {"aws_access_key_id": 2, "password": 1, "api_key": 1}


def test_disabled_writes_everything_as_it_is() -> None:
    r = redactor(enabled=False)
    data = orjson.dumps({"password": "hunter2", "k": "AKIAZ7QW3RTY5UIOP2AS"})
    assert r.redact(data) is data
    assert not r.enabled and r.counts == {}


def test_extra_patterns_keys_and_hook() -> None:
    seen: list[bytes] = []

    def hook(data: bytes) -> list[tuple[int, int, str]]:
        seen.append(data)
        at = data.find(b"hook-me")
        return [(at, at + 7, "My Hook!")] if at >= 0 else []

    r = redactor(
        extra_patterns=[
            ("internal", rb"INT-[0-9]{6}"),
            ("employee", r"emp=(?P<secret>[a-z]+)"),
            ("compiled", re.compile(rb"zz[0-9]+")),
        ],
        keys=["session"],
        hook=hook,
    )
    doc = {"a": "ticket INT-123456 emp=alice zz42 hook-me", "user_session": "abc"}
    out = r.redact(orjson.dumps(doc)).decode()
    assert "INT-123456" not in out and "alice" not in out and "emp=[REDACTED:employee:" in out
    assert "zz42" not in out and "hook-me" not in out and "[REDACTED:my_hook:" in out
    assert "abc" not in out and "[REDACTED:session:" in out
    assert seen
    assert set(r.counts) == {"internal", "employee", "compiled", "my_hook", "session"}


def test_a_compiled_text_pattern_runs_over_bytes_with_its_flags() -> None:
    """A pattern compiled from ``str`` (``re.compile(r"...", re.I)``, as users write them)
    cannot run over the bytes the writer redacts: it is recompiled as bytes, keeping its
    flags (found by mutation audit mut48: no test gave one, so swapping the recompile's
    arguments, which raises for every such pattern, went unseen)."""
    r = redactor(extra_patterns=[("ticket", re.compile(r"tick-[a-z]+", re.IGNORECASE))])
    out = r.redact(orjson.dumps({"a": "see TICK-ABC and tick-def"})).decode()
    assert "TICK-ABC" not in out and "tick-def" not in out
    assert r.counts == {"ticket": 2}


def test_a_failing_hook_is_counted_and_ignored() -> None:
    def hook(data: bytes) -> list[tuple[int, int, str]]:
        raise RuntimeError("boom")

    r = redactor(hook=hook)
    data = orjson.dumps({"password": "x1y2"})
    assert b"x1y2" not in r.redact(data)
    assert r.counts["hook_error"] == 1


def test_a_pattern_that_would_break_the_json_is_redacted_value_by_value() -> None:
    # the user's pattern swallows a quote: replacing it as text would break the document
    r = redactor(extra_patterns=[("greedy", rb"secret[^,]*")])
    value = {"a": "x secret1", "b": "y"}
    pretty = r.redact(orjson.dumps(value, option=PRETTY))
    assert b"secret1" not in pretty
    assert orjson.loads(pretty)["b"] == "y"
    lines = orjson.dumps(value) + b"\n" + orjson.dumps({"c": "fine"}) + b"\n"
    out = r.redact(lines, lines=True)
    first, second, rest = out.split(b"\n")
    assert orjson.loads(first)["b"] == "y" and b"secret1" not in first
    assert orjson.loads(second) == {"c": "fine"} and rest == b""


def test_counts_are_the_placeholders_written_when_a_pattern_breaks_the_json() -> None:
    # found by review20: a user's pattern running past a string's end (`\\S+`) was counted
    # once in the discarded text pass and again in the value-by-value pass (3 for 1)
    r = redactor(extra_patterns=[("pw", rb"pass=\S+")], hook=lambda data: [(0, 3, "hooked")])
    doc = orjson.dumps({"cmd": "login pass=abc123", "n": 1})
    lines = orjson.dumps({"a": "pass=abc"}) + b"\n" + orjson.dumps({"b": "pass=def"}) + b"\n"
    written = r.redact(doc) + r.redact(lines, lines=True) + r.redact(doc, lines=True)
    kinds = [kind for kind, _ in PLACEHOLDER.findall(written.decode())]
    assert r.counts == {kind: kinds.count(kind) for kind in set(kinds)}, written


def test_lines_mode_keeps_every_line() -> None:
    r = redactor()
    lines = [orjson.dumps({"seq": i, "p": f"AKIAZ7QW3RTY5UIOP2A{i}"}) for i in range(5)]
    data = b"\n".join(lines) + b"\n"
    out = r.redact(data, lines=True)
    assert out.count(b"\n") == 5
    assert [orjson.loads(x)["seq"] for x in out.splitlines()] == list(range(5))


def test_big_integers_survive() -> None:
    r = redactor()
    data = b'{"n": ' + b"9" * 40 + b', "password": "hunter2"}'
    out = r.redact(data)
    assert json.loads(out)["n"] == int("9" * 40) and b"hunter2" not in out


def test_redact_text() -> None:
    r = redactor()
    assert r.redact_text("no secrets here") == "no secrets here"
    assert "AKIA" not in r.redact_text('say "AKIAZ7QW3RTY5UIOP2AS"\n')


def test_a_bug_in_the_rules_falls_back_to_value_by_value() -> None:
    class Broken(Redactor):
        calls = 0

        def _find(self, data: bytes) -> Any:
            Broken.calls += 1
            if Broken.calls == 1:
                raise IndexError("a bug")
            return super()._find(data)

    r = Broken(key=b"k")
    out = r.redact(orjson.dumps({"password": "hunter2", "note": "AKIAZ7QW3RTY5UIOP2AS"}))
    assert b"hunter2" not in out and b"AKIAZ7QW3RTY5UIOP2AS" not in out
    assert r.counts["redaction_error"] == 1
    assert set(orjson.loads(out)) == {"password", "note"}


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "inference_failed", "error": "401: Authorization: Bearer abcDEF0123456789xyz"},
        {
            "type": "code_cell_started",
            "source": 'const key = "sk-proj-Q2x9LmN4pR7sT1vW3yZ5bC8dF0gH2";\nfetch(url)',
        },
        {
            "type": "tool_call_started",
            "summary": {
                "input_preview": '{"cmd": "curl -b \\"session=q8Lx2Zp0\\" -H \\"X-Api-Key: 5f8e2c1d9b7a4e3f\\"'
            },
        },
        {"type": "agent_message", "text": "Use AKIAZ7QW3RTY5UIOP2AS and password=hunter2!"},
    ],
    ids=["error", "code_cell", "preview", "message"],
)
def test_event_line_fields(payload: dict[str, Any]) -> None:
    """Secrets in the free-text fields of log lines (error texts, code-cell source, previews,
    agent messages) go, and each line stays one valid line."""
    line = {"schema_version": 2, "seq": 7, "thread_id": None, "payload": payload}
    data = orjson.dumps(line) + b"\n" + orjson.dumps({"seq": 8}) + b"\n"
    out = redactor().redact(data, lines=True)
    first, second, _ = out.split(b"\n")
    assert orjson.loads(first)["seq"] == 7 and second == b'{"seq":8}'
    for secret in (b"abcDEF0123456789xyz", b"sk-proj-Q2x9", b"5f8e2c1d9b7a4e3f", b"AKIAZ7"):
        assert secret not in out
    assert b"hunter2" not in out
    assert b"[REDACTED:" in out


@pytest.mark.parametrize(("kind", "text", "secret"), PLANTED)
def test_a_document_that_is_not_json_loses_its_secrets_as_text(
    kind: str, text: str, secret: str
) -> None:
    """A payload file a crash cut mid-write is no JSON: its secrets are replaced as text (a
    value-by-value pass has no value to walk there), not written as they were."""
    r = redactor()
    cut = orjson.dumps({"output": f"ran it: {text} and then"}, option=PRETTY)[:-12]
    out = r.redact(cut)
    assert secret.encode() not in out, out
    assert r.counts.get(kind, 0) >= 1 and "redaction_error" not in r.counts, r.counts
    assert out.startswith(b'{\n  "output": "ran it: ')


def test_an_empty_span_from_the_hook_changes_nothing() -> None:
    """A hook's pattern that matches nothing (start == end) names no secret: the document
    is written as it was, nothing counted (it became a document of placeholders, its keys
    included)."""
    r = redactor(hook=lambda data: [(3, 3, "empty"), (0, 0, "empty")])
    data = orjson.dumps({"a": "hello", "n": 1})
    assert r.redact(data) == data
    assert r.counts == {}
