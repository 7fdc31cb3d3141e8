"""The sandbox: Herald's own platform fake, mounted in-app under `herald run`.

A new user can add sandbox accounts of every platform with no credentials,
schedule posts and watch them "published" at /sandbox/ — the whole path (real clients,
real HTTP, the worker) runs, only the far end is ours. Nothing else ever talks to it.

Sandbox identities are Herald's to assign: an account's id and token are random, never
taken from a request, and each belongs to one company. A tenant who could pick them could
post into another company's sandbox feed, or hold a token for the fake's API and make it
fetch any URL; the page shows each company its own posts only.
"""

from __future__ import annotations

import logging
import secrets
import threading

from sqlalchemy import select
from starlette.types import ASGIApp

from herald.crypto import TokenCipher
from herald.db import Database
from herald.media.fetch import FetchRules
from herald.models import SocialAccount, SocialToken
from herald.platforms.registry import spec

log = logging.getLogger(__name__)


def sandbox_identity(platform: str) -> tuple[str, str]:
    """A fresh external id and token for a new sandbox account."""
    number = str(secrets.randbelow(10**10)).zfill(10)
    return spec(platform).sandbox_id(number), f"sandbox-{secrets.token_urlsafe(24)}"


class Sandbox:
    """The fake's state and app, and which company owns each sandbox account."""

    def __init__(self, rules: FetchRules | None = None) -> None:
        # Imported here: only `herald run` has a sandbox, and the fake is a large import.
        from herald.platforms.fake import FakeState, create_fake_app

        self.state = FakeState()
        # The fake fetches the media URLs it is given, as Meta does: by Herald's rules
        # (by default the strictest: public addresses only).
        # No admin API: faults are for tests. No page: Herald serves one per company.
        self.app: ASGIApp = create_fake_app(self.state, admin=False, page=False,
                                            media_rules=rules or FetchRules())
        self._owners: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def new_identity(self, platform: str) -> tuple[str, str]:
        """An external id no sandbox account has yet, and a fresh token."""
        while True:
            external_id, token = sandbox_identity(platform)
            with self._lock:
                if (platform, external_id) not in self._owners:
                    return external_id, token

    def register(self, platform: str, external_id: str, token: str, name: str, *,
                 company_id: str) -> bool:
        """Give the fake this account, unless another company's account has its id."""
        with self._lock:
            owner = self._owners.setdefault((platform, external_id), company_id)
        if owner != company_id:
            return False
        self.state.add_account(platform, external_id, token, name=name)
        return True

    def accounts_of(self, company_id: str) -> set[str]:
        """The external ids of a company's sandbox accounts."""
        with self._lock:
            return {external for (_, external), owner in self._owners.items()
                    if owner == company_id}

    def table(self, company_id: str, focus: str | None) -> str:
        """The page's note and table only, for Herald's own page around it."""
        from herald.platforms.fake.page import render_table

        return render_table(self.state, focus, accounts=self.accounts_of(company_id))

    def load(self, db: Database, cipher: TokenCipher) -> int:
        """Re-register the sandbox accounts kept in the database (the fake forgets on exit)."""
        with db.session() as session:
            rows = session.execute(
                select(SocialAccount, SocialToken)
                .join(SocialToken, SocialToken.account_id == SocialAccount.id)
                .where(SocialAccount.sandbox.is_(True))
                .order_by(SocialAccount.created_at, SocialAccount.id)
            ).all()
        loaded = 0
        for account, token in rows:
            # Older Herald took ids from the request: the first company to use one keeps it.
            if self.register(account.platform, account.external_id,
                             cipher.decrypt(token.access_token_enc), account.name,
                             company_id=account.company_id):
                loaded += 1
            else:
                log.warning("sandbox: account %s has the id of another company's sandbox "
                            "account; its posts will fail until it is added again",
                            account.id)
        return loaded
