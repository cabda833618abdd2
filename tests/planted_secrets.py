"""The twelve secrets an independent test planted in tool arguments, results and headers
(issue 6's defect list), as they would reach a bundle: one table for the recorder's
redaction tests and ``rollout-trace redact``'s."""

from __future__ import annotations

AWS_ID = "AKIAZ7QW3RTY5UIOP2AS"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9EXAMPLE"
TWELVE = {
    "bearer": "eyJraWQiOiJrMSJ9abcdef0123456789XYZ",
    "api_key_field": "ak-live-5f8e2c1d9b7a4e3f",
    "api_key_arg": "zq-91aa7b3c4d5e6f708192",
    "session_cookie": "s%3AqL0r3mIpsum.8c1f2e",
    "csrf_cookie": "Hq8fZ2pLk1x9Vw3",
    "set_cookie": "31d4d96e407aad42",
    "sk_proj": "sk-proj-Q2x9LmN4pR7sT1vW3yZ5bC8dF0gH2jK4mN6pQ8rS",
    "sk_ant": "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "aws_id": AWS_ID,
    "aws_secret": AWS_SECRET,
    "password": "hunter2-Correct!",
    "github": "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
}
