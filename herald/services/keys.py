"""Key rotation: every encrypted column re-encrypted with the current HERALD_SECRET_KEY:
account tokens, webhook signing secrets and notification channel targets.

The order of a rotation: set the new key as HERALD_SECRET_KEY and the old one in
HERALD_OLD_SECRET_KEYS on every process (both decrypt from then on; only the new one
encrypts), then run `herald keys rotate` while Herald keeps running. It goes through each
table in small batches, each its own short transaction, and writes a value only if it is
still the one it read, so a token refreshed meanwhile is not overwritten. Interrupted, it
leaves some values under each key, all still readable; run it again to finish. When it
reports nothing left under an old key, that key can be dropped.

Other features that keep encrypted columns add them with `register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Column, Table, and_, select, update

from herald.crypto import TokenCipher
from herald.db import Database
from herald.models import NotificationChannel, SocialToken, Webhook

BATCH = 200


@dataclass(frozen=True)
class Encrypted:
    """A table's encrypted columns, and the primary key that names each row."""

    table: Table
    key: Column[str]
    columns: tuple[Column[str], ...]


#: Every encrypted column in Herald's schema.
ENCRYPTED: list[Encrypted] = []


def register(table: Table, key: str, *columns: str) -> None:
    """Add a table's encrypted columns to what `rotate` re-encrypts."""
    ENCRYPTED.append(Encrypted(table, table.c[key], tuple(table.c[c] for c in columns)))


register(cast(Table, SocialToken.__table__), "account_id", "access_token_enc",
         "refresh_token_enc")
# A webhook's signing secret (and the one still signing after a secret rotation), and a
# notification channel's target (an e-mail address or an apprise URL holding a chat token).
register(cast(Table, Webhook.__table__), "id", "secret_enc", "previous_secret_enc")
register(cast(Table, NotificationChannel.__table__), "id", "target_enc")


@dataclass
class Rotation:
    """What a rotation did: values re-encrypted, and already under the current key."""

    rotated: int = 0
    current: int = 0
    #: table.column -> values re-encrypted
    by_column: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"rotated": self.rotated, "already_current": self.current,
                "by_column": self.by_column}


def rotate(db: Database, cipher: TokenCipher, *, batch: int = BATCH,
           after_batch: Callable[[Rotation], None] | None = None) -> Rotation:
    """Re-encrypt every value not under the current key; `after_batch` sees each batch."""
    done = Rotation()
    for spec in ENCRYPTED:
        for column in spec.columns:
            _rotate_column(db, cipher, spec, column, batch, done, after_batch)
    return done


def _rotate_column(db: Database, cipher: TokenCipher, spec: Encrypted, column: Column[str],
                   batch: int, done: Rotation,
                   after_batch: Callable[[Rotation], None] | None) -> None:
    name = f"{spec.table.name}.{column.name}"
    last: str | None = None
    while True:
        query = select(spec.key, column).where(column.is_not(None)).order_by(spec.key)
        if last is not None:
            query = query.where(spec.key > last)
        with db.session() as session:  # one short transaction a batch, committed at its end
            conn = session.connection()
            rows = conn.execute(query.limit(batch)).all()
            if not rows:
                return
            for row_key, value in rows:
                if cipher.is_current(value):
                    done.current += 1
                    continue
                # Only if unchanged since read: a token refreshed meanwhile is already
                # under the current key, and is not put back.
                try:
                    rotated = cipher.rotate(value)
                except ValueError as exc:
                    raise ValueError(f"{name} of {row_key}: {exc}") from None
                changed = conn.execute(
                    update(spec.table).where(and_(spec.key == row_key, column == value))
                    .values({column.name: rotated}))
                if changed.rowcount:
                    done.rotated += 1
                    done.by_column[name] = done.by_column.get(name, 0) + 1
        last = rows[-1][0]
        if after_batch is not None:
            after_batch(done)


def under_old_keys(db: Database, cipher: TokenCipher) -> int:
    """How many stored values the current key did not encrypt (0: a rotation is done)."""
    left = 0
    with db.session() as session:
        conn = session.connection()
        for spec in ENCRYPTED:
            for column in spec.columns:
                values = conn.execute(select(column).where(column.is_not(None))).scalars()
                left += sum(not cipher.is_current(v) for v in values)
    return left
