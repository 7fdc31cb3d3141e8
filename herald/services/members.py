"""Members of a company (web users): add, change their role, remove, each by permission.

The password and session work is herald.web.users' (imported when called: it loads
argon2, which the worker never needs); this module decides who may do it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.errors import Conflict, NotFound
from herald.models import SocialAccount, User
from herald.permissions import Permission, Role, parse_role, require_grant
from herald.services import audit
from herald.services.context import Context


def add_member(session: Session, ctx: Context, *, email: str, password: str, name: str = "",
               role: Role | str | None = None, timezone: str | None = None,
               account_ids: Sequence[str] | None = None) -> User:
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
    audit.record(session, ctx, audit.Action.MEMBER_ADDED, after=_described(user))
    return user


def _described(user: User) -> dict[str, object]:
    return {"id": user.id, "email": user.email, "role": user.role,
            "account_ids": user.account_ids}


def account_ids_of(session: Session, company_id: str, ids: Sequence[str]) -> list[str]:
    """The ids, each checked to be one of the company's accounts (NotFound otherwise)."""
    wanted = list(dict.fromkeys(i.strip() for i in ids if i.strip()))
    found = set(session.scalars(select(SocialAccount.id).where(
        SocialAccount.company_id == company_id, SocialAccount.id.in_(wanted))))
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(f"No account with id {missing[0]!r}.")
    return wanted


def _member(session: Session, ctx: Context, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None or user.company_id != ctx.company_id:
        raise NotFound("No such member.")
    return user


def set_role(session: Session, ctx: Context, user_id: str, role: Role | str) -> User:
    """Change a member's role: one may neither give nor take away more than one holds."""
    ctx.require(Permission.MANAGE_MEMBERS)
    user = _member(session, ctx, user_id)
    chosen = parse_role(role)
    require_grant(ctx.role, user.role)
    require_grant(ctx.role, chosen)
    if user.role == Role.OWNER and chosen != Role.OWNER:
        _keep_an_owner(session, ctx, user)
    before = _described(user)
    user.role = chosen.value
    audit.record(session, ctx, audit.Action.MEMBER_ROLE_CHANGED, before=before,
                 after=_described(user))
    return user


def remove_member(session: Session, ctx: Context, user_id: str) -> User:
    """Remove a member; their sessions end with the row."""
    ctx.require(Permission.MANAGE_MEMBERS)
    user = _member(session, ctx, user_id)
    require_grant(ctx.role, user.role)
    if user.role == Role.OWNER:
        _keep_an_owner(session, ctx, user)
    audit.record(session, ctx, audit.Action.MEMBER_REMOVED, before=_described(user))
    session.delete(user)
    return user


def _keep_an_owner(session: Session, ctx: Context, leaving: User) -> None:
    others = session.scalars(select(User.id).where(
        User.company_id == ctx.company_id, User.role == Role.OWNER, User.id != leaving.id)
    ).first()
    if others is None:
        raise Conflict("A company needs an owner: make someone else owner first.")


def list_members(session: Session, ctx: Context) -> list[User]:
    ctx.require(Permission.VIEW)
    return list(session.scalars(select(User).where(User.company_id == ctx.company_id)
                                .order_by(User.created_at, User.id)))
