"""Idempotency keys: a retried POST gets the first answer instead of running twice.

A key's row is inserted (pending) and committed *before* the request runs; the unique
(company_id, idempotency_key) lets exactly one of two racing requests insert it. The
other reads the row: the stored answer once the first finishes, or "still running".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from herald.db import Database
from herald.models import IdempotencyKey

#: How long a key is remembered (the contract: 24 hours).
KEEP = timedelta(hours=24)
#: Longest key accepted (the column's width); Stripe's are 255 too.
MAX_KEY_LENGTH = 255

_keys = cast(Table, IdempotencyKey.__table__)


class Verdict(StrEnum):
    RUN = "run"              # this request owns the key: run it, then `finish`
    REPLAY = "replay"        # answered before: send the stored answer
    MISMATCH = "mismatch"    # the key was used for another request
    IN_PROGRESS = "in_progress"  # the first request with this key is still running


@dataclass(frozen=True)
class Claim:
    verdict: Verdict
    status: int | None = None
    content_type: str | None = None
    body: str | None = None


def fingerprint(path: str, query: str, body: bytes) -> str:
    """What makes two requests "the same": route, query (dry_run!) and the raw body."""
    digest = hashlib.sha256(f"POST {path}?{query}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def key_problem(key: str) -> str | None:
    if not key.strip():
        return "The Idempotency-Key header is empty; send a unique value, e.g. a UUID."
    if len(key) > MAX_KEY_LENGTH:
        return (f"The Idempotency-Key header is {len(key)} characters long; Herald takes "
                f"at most {MAX_KEY_LENGTH}.")
    return None


def claim(db: Database, *, company_id: str, key: str, fingerprint: str,
          now: datetime) -> Claim:
    """Take the key for this request, or say what the earlier request with it left."""
    for _ in range(3):
        try:
            with db.engine.begin() as conn:
                conn.execute(insert(_keys).values(
                    company_id=company_id, idempotency_key=key, fingerprint=fingerprint,
                    state="pending", created_at=now))
            return Claim(Verdict.RUN)
        except IntegrityError:
            pass  # the key exists (or a racing request just inserted it): read it
        found = peek(db, company_id=company_id, key=key, fingerprint=fingerprint, now=now)
        if found is not None:
            return found
    return Claim(Verdict.IN_PROGRESS)


def peek(db: Database, *, company_id: str, key: str, fingerprint: str,
         now: datetime) -> Claim | None:
    """What the request that holds the key left (None: the key is free), read only."""
    found = _read(db, company_id, key)
    if found is None:
        return None
    if found.created_at < now - KEEP:
        _forget_if_expired(db, found.id, now)
        return None
    if found.fingerprint != fingerprint:
        return Claim(Verdict.MISMATCH)
    if found.state != "done":
        return Claim(Verdict.IN_PROGRESS)
    return Claim(Verdict.REPLAY, found.response_status, found.response_type,
                 found.response_body)


def _read(db: Database, company_id: str, key: str) -> IdempotencyKey | None:
    with db.session() as session:
        return session.scalars(select(IdempotencyKey).where(
            IdempotencyKey.company_id == company_id,
            IdempotencyKey.idempotency_key == key)).first()


def _forget_if_expired(db: Database, row_id: int, now: datetime) -> None:
    with db.engine.begin() as conn:
        conn.execute(delete(_keys).where(_keys.c.id == row_id,
                                         _keys.c.created_at < now - KEEP))


def finish(db: Database, *, company_id: str, key: str, status: int, content_type: str,
           body: str) -> None:
    """Keep the first request's answer for the retries."""
    with db.engine.begin() as conn:
        conn.execute(update(_keys).where(
            _keys.c.company_id == company_id, _keys.c.idempotency_key == key,
            _keys.c.state == "pending").values(
            state="done", response_status=status, response_type=content_type,
            response_body=body))


def abandon(db: Database, *, company_id: str, key: str) -> None:
    """The request failed on Herald's side (5xx): free the key so a retry runs again."""
    with db.engine.begin() as conn:
        conn.execute(delete(_keys).where(
            _keys.c.company_id == company_id, _keys.c.idempotency_key == key,
            _keys.c.state == "pending"))


def purge(db: Database, *, now: datetime) -> int:
    """Forget keys older than `KEEP`; returns how many."""
    with db.engine.begin() as conn:
        return conn.execute(delete(_keys).where(_keys.c.created_at < now - KEEP)).rowcount
