"""The sandbox: Herald's own platform fake, mounted in-app under `herald run`.

A new user can add sandbox accounts of every platform with no credentials,
schedule posts and watch them "published" at /sandbox/ — the whole path (real clients,
real HTTP, the worker) runs, only the far end is ours. Nothing else ever talks to it.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from starlette.types import ASGIApp

from herald.crypto import TokenCipher
from herald.db import Database
from herald.models import SocialAccount, SocialToken
from herald.platforms.registry import spec


def sandbox_identity(platform: str) -> tuple[str, str]:
    """A fresh external id and token for a new sandbox account."""
    number = str(secrets.randbelow(10**10)).zfill(10)
    return spec(platform).sandbox_id(number), f"sandbox-{secrets.token_urlsafe(24)}"


class Sandbox:
    """The fake's state and app, and the sandbox accounts it knows."""

    def __init__(self) -> None:
        # Imported here: only `herald run` has a sandbox, and the fake is a large import.
        from herald.platforms.fake import FakeState, create_fake_app

        self.state = FakeState()
        # No admin API: the sandbox page is for users; faults are for tests.
        self.app: ASGIApp = create_fake_app(self.state, admin=False)

    def register(self, platform: str, external_id: str, token: str, name: str) -> None:
        self.state.add_account(platform, external_id, token, name=name)

    def load(self, db: Database, cipher: TokenCipher) -> int:
        """Re-register the sandbox accounts kept in the database (the fake forgets on exit)."""
        with db.session() as session:
            rows = session.execute(
                select(SocialAccount, SocialToken)
                .join(SocialToken, SocialToken.account_id == SocialAccount.id)
                .where(SocialAccount.sandbox.is_(True))
            ).all()
        for account, token in rows:
            self.register(account.platform, account.external_id,
                          cipher.decrypt(token.access_token_enc), account.name)
        return len(rows)
