"""Who belongs to which company, with which role: the memberships table's one owner.

A user is a person (an e-mail, a password, their sessions); a membership puts them in a
company with a role and, maybe, a list of accounts. An agency's people have several.
`users.company_id`, `role` and `account_ids` mirror the membership of their home company
(the one they land in after signing in), kept equal here, so older readers stay right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from herald.models import Company, User, new_id, utcnow
from herald.permissions import Role
from herald.team_models import Membership


@dataclass(frozen=True)
class Member:
    """A user as a member of one company (what the members API and pages show)."""

    id: str
    company_id: str
    email: str
    name: str
    role: str
    account_ids: list[str] | None
    created_at: datetime
    last_login_at: datetime | None


def _member(user: User, row: Membership) -> Member:
    return Member(id=user.id, company_id=row.company_id, email=user.email, name=user.name,
                  role=row.role, account_ids=row.account_ids, created_at=row.created_at,
                  last_login_at=user.last_login_at)


def find(session: Session, *, user_id: str, company_id: str) -> Membership | None:
    return session.scalars(select(Membership).where(
        Membership.user_id == user_id, Membership.company_id == company_id)).first()


def member(session: Session, *, user_id: str, company_id: str) -> Member | None:
    user = session.get(User, user_id)
    row = find(session, user_id=user_id, company_id=company_id)
    return _member(user, row) if user is not None and row is not None else None


def join(session: Session, *, user: User, company_id: str, role: Role | str,
         account_ids: Sequence[str] | None = None) -> Membership:
    """Put the user in the company (their role there updated if they are in it already)."""
    row = find(session, user_id=user.id, company_id=company_id)
    if row is None:
        row = Membership(id=new_id(), user_id=user.id, company_id=company_id,
                         created_at=utcnow(), role=Role(role).value)
        session.add(row)
    row.role = Role(role).value
    row.account_ids = list(account_ids) if account_ids is not None else None
    _mirror(user, row)
    session.flush()
    return row


def set_role(session: Session, *, user: User, company_id: str, role: Role) -> Membership:
    row = find(session, user_id=user.id, company_id=company_id)
    assert row is not None, "set_role is called for members only"
    row.role = role.value
    _mirror(user, row)
    return row


def _mirror(user: User, row: Membership) -> None:
    if user.company_id == row.company_id:
        user.role, user.account_ids = row.role, row.account_ids


def leave(session: Session, *, user: User, company_id: str) -> bool:
    """Take the user out of the company and end their sessions at once, on every server.

    A user left in no company is deleted (as removing a member always did); one in others
    gets another home. Returns whether the user is gone."""
    row = find(session, user_id=user.id, company_id=company_id)
    if row is not None:
        session.delete(row)
        session.flush()
    others = session.scalars(select(Membership).where(Membership.user_id == user.id)
                             .order_by(Membership.created_at, Membership.id)).first()
    if others is None:
        session.delete(user)
        session.flush()
        return True
    if user.company_id == company_id:
        user.company_id = others.company_id
        _mirror(user, others)
    # Their sessions began with the old generation: every one of them is over now, not at
    # the next page load that would happen to check the company.
    session.execute(update(User).where(User.id == user.id)
                    .values(session_generation=User.session_generation + 1))
    return False


def members_of(session: Session, company_id: str) -> list[Member]:
    rows = session.execute(
        select(User, Membership).join(Membership, Membership.user_id == User.id)
        .where(Membership.company_id == company_id)
        .order_by(Membership.created_at, User.id)).all()
    return [_member(u, m) for u, m in rows]


def has_members(session: Session, company_id: str) -> bool:
    return session.scalars(select(Membership.id).where(Membership.company_id == company_id)
                           .limit(1)).first() is not None


def other_owner(session: Session, *, company_id: str, user_id: str) -> bool:
    """Whether the company has an owner besides this user."""
    return session.scalars(select(Membership.id).where(
        Membership.company_id == company_id, Membership.role == Role.OWNER,
        Membership.user_id != user_id).limit(1)).first() is not None


def companies_of(session: Session, user_id: str) -> list[tuple[str, str]]:
    """(id, name) of every company the user belongs to, by name."""
    rows = session.execute(
        select(Company.id, Company.name).join(Membership, Membership.company_id == Company.id)
        .where(Membership.user_id == user_id).order_by(Company.name, Company.id)).all()
    return [(r[0], r[1]) for r in rows]
