"""Members of a company (web users): add, change their role, remove, each by permission.

The password and session work is herald.web.users' (imported when called: it loads
argon2, which the worker never needs); this module decides who may do it. A person may
belong to several companies (herald.services.memberships): everything here is about their
membership of the caller's company only.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.errors import Conflict, NotFound
from herald.models import SocialAccount, User
from herald.permissions import Permission, Role, parse_role, require_grant
from herald.services import audit, memberships
from herald.services.context import Context
from herald.services.memberships import Member


def add_member(session: Session, ctx: Context, *, email: str, password: str, name: str = "",
               role: Role | str | None = None, timezone: str | None = None,
               account_ids: Sequence[str] | None = None) -> Member:
    """A new member, with a role no stronger than the caller's (default: see default_role)."""
    from herald.web import users

    ctx.require(Permission.MANAGE_MEMBERS)
    chosen = parse_role(role) if role else users.default_role(session, ctx.company_id)
    require_grant(ctx.role, chosen)
    limited = None if account_ids is None else account_ids_of(session, ctx.company_id,
                                                              account_ids)
    user = users.create_user(session, company_id=ctx.company_id, email=email,
                             password=password, name=name, timezone=timezone, role=chosen,
                             account_ids=limited)
    member = _member(session, ctx, user.id)
    audit.record(session, ctx, audit.Action.MEMBER_ADDED, after=described(member))
    return member


def described(member: Member) -> dict[str, object]:
    """What an audit entry keeps of a membership."""
    return {"id": member.id, "email": member.email, "role": member.role,
            "account_ids": member.account_ids}


def account_ids_of(session: Session, company_id: str, ids: Sequence[str]) -> list[str]:
    """The ids, each checked to be one of the company's accounts (NotFound otherwise)."""
    wanted = list(dict.fromkeys(i.strip() for i in ids if i.strip()))
    found = set(session.scalars(select(SocialAccount.id).where(
        SocialAccount.company_id == company_id, SocialAccount.id.in_(wanted))))
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(f"No account with id {missing[0]!r}.")
    return wanted


def _member(session: Session, ctx: Context, user_id: str) -> Member:
    found = memberships.member(session, user_id=user_id, company_id=ctx.company_id)
    if found is None:
        raise NotFound("No such member.")
    return found


def _user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    assert user is not None, "a member is a user"
    return user


def set_role(session: Session, ctx: Context, user_id: str, role: Role | str) -> Member:
    """Change a member's role: one may neither give nor take away more than one holds."""
    ctx.require(Permission.MANAGE_MEMBERS)
    before = _member(session, ctx, user_id)
    chosen = parse_role(role)
    require_grant(ctx.role, before.role)
    require_grant(ctx.role, chosen)
    if before.role == Role.OWNER and chosen != Role.OWNER:
        _keep_an_owner(session, ctx, user_id)
    memberships.set_role(session, user=_user(session, user_id), company_id=ctx.company_id,
                         role=chosen)
    after = _member(session, ctx, user_id)
    audit.record(session, ctx, audit.Action.MEMBER_ROLE_CHANGED, before=described(before),
                 after=described(after))
    return after


def remove_member(session: Session, ctx: Context, user_id: str) -> Member:
    """Remove a member from the company; every session of theirs ends at once."""
    ctx.require(Permission.MANAGE_MEMBERS)
    member = _member(session, ctx, user_id)
    require_grant(ctx.role, member.role)
    if member.role == Role.OWNER:
        _keep_an_owner(session, ctx, user_id)
    audit.record(session, ctx, audit.Action.MEMBER_REMOVED, before=described(member))
    memberships.leave(session, user=_user(session, user_id), company_id=ctx.company_id)
    return member


def _keep_an_owner(session: Session, ctx: Context, user_id: str) -> None:
    if not memberships.other_owner(session, company_id=ctx.company_id, user_id=user_id):
        raise Conflict("A company needs an owner: make someone else owner first.")


def list_members(session: Session, ctx: Context) -> list[Member]:
    ctx.require(Permission.VIEW)
    return memberships.members_of(session, ctx.company_id)
