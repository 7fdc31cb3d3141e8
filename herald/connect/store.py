"""Saving what a person picked: new accounts are created and accounts the company already
has are reconnected (new token, needs_reauth cleared), through the API's own services."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald import services
from herald.connect.base import Candidate
from herald.models import SocialAccount
from herald.schemas import AccountCreate, AccountTokenUpdate


@dataclass(frozen=True)
class Saved:
    """One account written: its id, and whether it existed already."""

    account_id: str
    candidate: Candidate
    reconnected: bool


def existing_ids(session: Session, ctx: services.Context) -> set[tuple[str, str]]:
    """(platform, external id) of every account the company has."""
    rows = session.execute(select(SocialAccount.platform, SocialAccount.external_id)
                           .where(SocialAccount.company_id == ctx.company_id))
    return {(platform, external_id) for platform, external_id in rows}


def save(session: Session, ctx: services.Context, picked: Sequence[Candidate]) -> list[Saved]:
    """Create or reconnect each picked account, all in the caller's one transaction."""
    saved: list[Saved] = []
    for candidate in picked:
        existing = session.scalars(
            select(SocialAccount).where(SocialAccount.company_id == ctx.company_id,
                                        SocialAccount.platform == candidate.platform,
                                        SocialAccount.external_id == candidate.external_id)
        ).first()
        if existing is None:
            account = services.create_account(session, ctx, AccountCreate(
                platform=candidate.platform, external_id=candidate.external_id,
                name=candidate.name, access_token=candidate.access_token,
                refresh_token=candidate.refresh_token,
                token_expires_at=candidate.token_expires_at,
                refresh_token_expires_at=candidate.refresh_token_expires_at,
                server_url=candidate.server_url))
            saved.append(Saved(account.id, candidate, reconnected=False))
            continue
        account = services.update_account_token(session, ctx, existing.id, AccountTokenUpdate(
            access_token=candidate.access_token, refresh_token=candidate.refresh_token,
            token_expires_at=candidate.token_expires_at,
            refresh_token_expires_at=candidate.refresh_token_expires_at))
        # The platform's name is the truth: a Page renamed since is shown by its new name.
        account.name = candidate.name
        saved.append(Saved(account.id, candidate, reconnected=True))
    session.flush()
    return saved
