"""Invitations to the company by e-mail link: create, list, revoke."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from herald.api.deps import ContextDep, HeraldDep
from herald.api.errors import documented
from herald.notifications.channels import Smtp
from herald.permissions import Role
from herald.schemas import Strict
from herald.services import invitations
from herald.team_models import Invitation

router = APIRouter(prefix="/invitations", tags=["members"],
                   responses=documented(401, 403, 422))


class InvitationOut(BaseModel):
    id: str
    email: str
    role: str
    account_ids: list[str] | None = None
    status: str
    invited_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None
    revoked_at: datetime | None = None


class NewInvitationOut(InvitationOut):
    #: The link to accept it: shown in this answer only (and in the e-mail).
    url: str
    #: Whether the e-mail went out; when not, `email_error` says why (hand the link over).
    email_sent: bool
    email_error: str | None = None


class InvitationCreate(Strict):
    email: str = Field(max_length=320)
    #: Default: editor.
    role: Role = Role.EDITOR
    account_ids: list[str] | None = Field(default=None, max_length=100)
    #: How long the link works.
    expires_in_days: int = Field(default=invitations.DEFAULT_DAYS, ge=1,
                                 le=invitations.MAX_DAYS)


def _out(row: Invitation, now: datetime) -> dict[str, object]:
    return {"id": row.id, "email": row.email, "role": row.role,
            "account_ids": row.account_ids, "status": invitations.status(row, now).value,
            "invited_by": row.invited_by, "created_at": row.created_at,
            "expires_at": row.expires_at, "accepted_at": row.accepted_at,
            "revoked_at": row.revoked_at}


@router.get("")
def list_invitations(herald: HeraldDep, ctx: ContextDep) -> list[InvitationOut]:
    with herald.db.session() as session:
        now = ctx.now()
        return [InvitationOut.model_validate(_out(r, now))
                for r in invitations.list_invitations(session, ctx)]


@router.post("", status_code=201, responses=documented(400, 404, 409, 413))
def create_invitation(data: InvitationCreate, herald: HeraldDep, ctx: ContextDep
                      ) -> NewInvitationOut:
    """Invite someone by e-mail; the link is mailed (HERALD_SMTP_HOST) and answered once."""
    with herald.unit_of_work() as session:
        new = invitations.invite(session, ctx, email=data.email, role=data.role,
                                 account_ids=data.account_ids, days=data.expires_in_days)
        out = _out(new.invitation, ctx.now())
        company = invitations.company_name(session, new.invitation)
    # After the commit: the e-mail is a network call, and must not hold the transaction.
    error = invitations.send(Smtp.from_settings(herald.settings), new, company=company,
                             public_url=herald.settings.public_url)
    return NewInvitationOut.model_validate({
        **out, "url": invitations.invitation_url(herald.settings.public_url, new.token),
        "email_sent": error is None, "email_error": error})


@router.delete("/{invitation_id}", status_code=204, responses=documented(404, 409))
def revoke_invitation(invitation_id: str, herald: HeraldDep, ctx: ContextDep) -> Response:
    """The link stops working at once."""
    with herald.unit_of_work() as session:
        invitations.revoke(session, ctx, invitation_id)
    return Response(status_code=204)
