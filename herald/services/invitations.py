"""Invitations: a secret link, sent by e-mail, that makes its holder a member of a company.

A link is good once, until it expires (default 7 days) or is revoked. Whoever holds it
either signs in as the invited address (an agency's person joining another company) or,
when no one has that address yet, chooses a password and becomes a new user. The e-mail
is sent after the transaction commits (herald.notifications.channels.send_email): a
network call never runs inside one.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from herald.crypto import hash_api_token
from herald.errors import Conflict, Forbidden, Invalid, NotFound
from herald.models import Company, User, new_id
from herald.notifications.channels import SendError, Smtp, send_email
from herald.permissions import Permission, Role, parse_role, require_grant
from herald.services import audit, memberships
from herald.services.context import Context
from herald.services.members import account_ids_of
from herald.team_models import Invitation

DEFAULT_DAYS = 7
MAX_DAYS = 30
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvitationStatus(StrEnum):
    """Where an invitation stands (**contract**: the API shows these)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    EXPIRED = "expired"
    REVOKED = "revoked"


def status(row: Invitation, now: datetime) -> InvitationStatus:
    if row.accepted_at is not None:
        return InvitationStatus.ACCEPTED
    if row.revoked_at is not None:
        return InvitationStatus.REVOKED
    return InvitationStatus.EXPIRED if row.expires_at <= now else InvitationStatus.PENDING


@dataclass(frozen=True)
class NewInvitation:
    invitation: Invitation
    #: The link's secret: shown once (in the answer and the e-mail), stored hashed.
    token: str


def invitation_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/invitations/{token}"


def invite(session: Session, ctx: Context, *, email: str, role: Role | str = Role.EDITOR,
           account_ids: Sequence[str] | None = None, days: int = DEFAULT_DAYS
           ) -> NewInvitation:
    """An invitation to the caller's company, with a role no stronger than the caller's."""
    ctx.require(Permission.MANAGE_MEMBERS)
    chosen = parse_role(role)
    require_grant(ctx.role, chosen)
    address = email.strip().lower()
    if len(address) > 320 or not _EMAIL.match(address):
        raise Invalid(f"{email!r} is not an e-mail address (e.g. ada@example.com).")
    if not 1 <= days <= MAX_DAYS:
        raise Invalid(f"An invitation lasts 1 to {MAX_DAYS} days, not {days}.")
    limited = None if account_ids is None else account_ids_of(session, ctx.company_id,
                                                              account_ids)
    user = session.scalars(select(User).where(User.email == address)).first()
    if user is not None and memberships.find(session, user_id=user.id,
                                             company_id=ctx.company_id):
        raise Conflict(f"{address} is a member already; change their role instead.")
    token = "inv_" + secrets.token_urlsafe(32)
    now = ctx.now()
    row = Invitation(id=new_id(), company_id=ctx.company_id, email=address, role=chosen.value,
                     account_ids=limited, token_hash=hash_api_token(token),
                     invited_by=(ctx.actor or "cli")[:100], created_at=now,
                     expires_at=now + timedelta(days=days))
    session.add(row)
    session.flush()
    audit.record(session, ctx, audit.Action.MEMBER_INVITED, after=_described(row))
    return NewInvitation(row, token)


def _described(row: Invitation) -> dict[str, object]:
    return {"invitation_id": row.id, "email": row.email, "role": row.role,
            "account_ids": row.account_ids, "expires_at": row.expires_at.isoformat()}


def list_invitations(session: Session, ctx: Context) -> list[Invitation]:
    ctx.require(Permission.MANAGE_MEMBERS)
    return list(session.scalars(select(Invitation).where(
        Invitation.company_id == ctx.company_id)
        .order_by(Invitation.created_at.desc(), Invitation.id)))


def revoke(session: Session, ctx: Context, invitation_id: str) -> Invitation:
    """The link stops working at once (a Conflict once it has been accepted)."""
    ctx.require(Permission.MANAGE_MEMBERS)
    row = session.get(Invitation, invitation_id)
    if row is None or row.company_id != ctx.company_id:
        raise NotFound("No such invitation.")
    if row.accepted_at is not None:
        raise Conflict("This invitation has been accepted; remove the member instead.")
    if row.revoked_at is None:
        row.revoked_at = ctx.now()
        audit.record(session, ctx, audit.Action.MEMBER_INVITATION_REVOKED,
                     before=_described(row), after={"revoked_at": row.revoked_at.isoformat()})
    return row


def find(session: Session, token: str, now: datetime) -> Invitation:
    """The pending invitation of this link, or an error that says why it does not work."""
    row = session.scalars(select(Invitation).where(
        Invitation.token_hash == hash_api_token(token))).first()
    if row is None:
        raise NotFound("This invitation link is not valid; ask for a new one.")
    state = status(row, now)
    if state is not InvitationStatus.PENDING:
        raise Conflict(f"This invitation has been {state.value}; ask for a new one."
                       if state is not InvitationStatus.EXPIRED else
                       "This invitation has expired; ask for a new one.")
    return row


def company_name(session: Session, row: Invitation) -> str:
    company = session.get(Company, row.company_id)
    return company.name if company is not None else ""


def accept(session: Session, ctx: Context, token: str, *, user: User) -> Invitation:
    """Make `user` (whose address the invitation names) a member, once.

    `ctx` is the invitation's company's, acting as the user who accepts."""
    row = find(session, token, ctx.now())
    if user.email != row.email:
        raise Forbidden(f"This invitation is for {row.email}; sign in with that address to "
                        "accept it.", permission="invitation")
    # Conditional: two acceptances of one link at once, or one racing a revocation, and
    # only one of them wins.
    won = session.connection().execute(update(Invitation).where(
        Invitation.id == row.id, Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None), Invitation.expires_at > ctx.now())
        .values(accepted_at=ctx.now())).rowcount
    if won != 1:
        raise Conflict("This invitation was just used or revoked; ask for a new one.")
    memberships.join(session, user=user, company_id=row.company_id, role=row.role,
                     account_ids=row.account_ids)
    member = memberships.member(session, user_id=user.id, company_id=row.company_id)
    assert member is not None
    audit.record(session, ctx, audit.Action.MEMBER_ADDED,
                 after={"id": user.id, "email": user.email, "role": member.role,
                        "account_ids": member.account_ids, "invitation_id": row.id})
    return row


def message(company: str, url: str, role: str, expires_at: datetime) -> tuple[str, str]:
    """The e-mail's title and body."""
    return (f"You are invited to {company} on Herald",
            f"You are invited to join {company} on Herald as {role}.\n\n"
            f"Open this link to accept (it works once, until "
            f"{expires_at:%Y-%m-%d %H:%M} UTC):\n\n{url}\n\n"
            "If you did not expect this, ignore this message.")


def send(smtp: Smtp, new: NewInvitation, *, company: str, public_url: str) -> str | None:
    """Mail the link (after the commit); None when sent, else what went wrong."""
    row = new.invitation
    title, body = message(company, invitation_url(public_url, new.token), row.role,
                          row.expires_at)
    try:
        send_email(smtp, row.email, title, body)
    except SendError as exc:
        return str(exc)
    return None
