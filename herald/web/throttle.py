"""Sign-in throttling: after too many failed sign-ins for one email, or from one client
address, further attempts are refused for a while.

The failures live in the database (signin_failures), so every `herald serve --workers`
process and every host counts the same ones. Failures within the last window count; once an
email has HERALD_SIGNIN_MAX_FAILURES of them (an address HERALD_SIGNIN_MAX_FAILURES_PER_IP,
set higher since offices share one), attempts are refused with 429 until the oldest counted
failure ages out. A refused attempt checks no password and is not counted itself, and the
refusal reads the same whether or not the email has an account, so it tells nothing.
A successful sign-in clears its email's count, not its address's: otherwise one valid
account would let a guesser reset their address's count between guesses.

Limits: attempts in flight at the same moment may each pass the check before any failure is
recorded, so a burst can overshoot by the requests in flight; behind a reverse proxy not
named in HERALD_TRUSTED_PROXIES all clients share the proxy's address count (herald/proxies.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from herald.config import Settings
from herald.models import SigninFailure
from herald.web.users import normalize_email


@dataclass(frozen=True)
class Limits:
    per_email: int = 5
    per_address: int = 50
    window: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.signin_max_failures, settings.signin_max_failures_per_ip,
                   timedelta(seconds=settings.signin_failure_window_seconds))


def _key(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


def _keys(limits: Limits, email: str, address: str | None) -> dict[str, int]:
    """Each counted key and its limit."""
    keys = {_key("email", normalize_email(email)): limits.per_email}
    if address:
        keys[_key("ip", address)] = limits.per_address
    return keys


def wait_seconds(session: Session, limits: Limits, *, email: str, address: str | None,
                 now: datetime) -> float | None:
    """Seconds until an attempt is allowed again, or None when one is allowed now."""
    keys = _keys(limits, email, address)
    rows = session.execute(
        select(SigninFailure.key, func.count(), func.min(SigninFailure.failed_at))
        .where(SigninFailure.key.in_(list(keys)), SigninFailure.failed_at > now - limits.window)
        .group_by(SigninFailure.key))
    waits = [(oldest + limits.window - now).total_seconds()
             for key, count, oldest in rows if count >= keys[key]]
    return max(1.0, max(waits)) if waits else None


def record_failure(session: Session, limits: Limits, *, email: str, address: str | None,
                   now: datetime) -> None:
    session.execute(insert(SigninFailure), [{"key": key, "failed_at": now}
                                            for key in _keys(limits, email, address)])
    # Keep the table as small as the window: old failures count for nothing.
    session.execute(delete(SigninFailure).where(SigninFailure.failed_at <= now - limits.window))


def reset(session: Session, *, email: str) -> None:
    """A successful sign-in: this email starts counting from zero."""
    session.execute(delete(SigninFailure).where(
        SigninFailure.key == _key("email", normalize_email(email))))
