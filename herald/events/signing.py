"""The `Herald-Signature` header: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.

Stripe's scheme, which receivers already know how to check: the timestamp is signed with
the body, so a captured delivery cannot be replayed later than the receiver's tolerance.
While a rotated secret is still honoured, a second `v1=` is signed with the old one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "Herald-Signature"
SECRET_PREFIX = "whsec_"
#: Receivers should refuse a signature older than this (verify's default).
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of "<timestamp>.<body>" with `secret`."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header(secrets_: Sequence[str], timestamp: int, body: bytes) -> str:
    """The header value, one `v1=` per secret (the current one first)."""
    return ",".join([f"t={timestamp}"] + [f"v1={signature(s, timestamp, body)}"
                                           for s in secrets_])


def verify(secret: str, body: bytes, value: str, *, tolerance: float = TOLERANCE_SECONDS,
           now: float | None = None) -> bool:
    """Whether `value` (a Herald-Signature header) signs `body` with `secret`, recently.

    What a receiver does; the same code is in docs/webhooks.md.
    """
    parts = [p.split("=", 1) for p in value.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, v) for k, v in parts if k == "v1")
