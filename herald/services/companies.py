"""Companies (tenants) and their API tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from herald.crypto import hash_api_token, new_api_token
from herald.errors import Conflict, Invalid, NotFound, Unauthorized
from herald.models import ApiToken, Company, Post, new_id, utcnow
from herald.permissions import Permission, Role, parse_role, require_grant
from herald.services import audit, gates
from herald.services.context import Context


@dataclass(frozen=True)
class ApiCaller:
    """Who an API token speaks for: its company, its role, and the actor audits name."""

    company_id: str
    role: Role
    actor: str


def create_company(session: Session, *, name: str, timezone: str = "UTC") -> tuple[Company, str]:
    name = name.strip()
    if not name:
        raise Invalid("A company needs a name.")
    company = Company(id=new_id(), name=name, timezone=timezone, created_at=utcnow())
    session.add(company)
    session.flush()
    token = create_api_token(session, company_id=company.id, name="default", role=Role.OWNER)
    return company, token


def create_api_token(session: Session, *, company_id: str, name: str = "",
                     role: Role | str = Role.OWNER) -> str:
    """A new token (shown once; stored hashed) acting with `role` in the company."""
    role = parse_role(role)
    if session.get(Company, company_id) is None:
        raise NotFound(f"No company with id {company_id!r}.")
    token = new_api_token()
    session.add(ApiToken(id=new_id(), company_id=company_id, name=name,
                         token_hash=hash_api_token(token), prefix=token[:12],
                         created_at=utcnow(), role=role.value))
    session.flush()
    return token


def list_companies(session: Session) -> list[Company]:
    """Every company, oldest first (the one `herald run` made on a fresh install leads)."""
    return list(session.scalars(select(Company).order_by(Company.created_at, Company.id)))


def find_company(session: Session, ref: str) -> Company:
    """The company `ref` names: its id, its name (any case) or the start of its id."""
    ref = ref.strip()
    exact = session.get(Company, ref)
    if exact is not None:
        return exact
    companies = list_companies(session)
    matches = ([c for c in companies if c.name.casefold() == ref.casefold()]
               or [c for c in companies if ref and c.id.startswith(ref)])
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFound(f"No company has the id, name or id prefix {ref!r}; "
                       "`herald company list` shows them.")
    names = ", ".join(f"{c.name!r} ({c.id})" for c in matches)
    raise Invalid(f"{ref!r} could be any of {len(matches)} companies: {names}; "
                  "give more of the id.")


def company_api_tokens(session: Session, *, company_id: str) -> list[ApiToken]:
    """A company's API tokens, newest first, revoked ones too (never the secrets)."""
    return list(session.scalars(
        select(ApiToken).where(ApiToken.company_id == company_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id)))


def find_api_token(session: Session, *, token: str) -> ApiToken:
    """A token by the token itself, its id or its printed prefix."""
    row = session.scalars(
        select(ApiToken).where(or_(ApiToken.token_hash == hash_api_token(token),
                                   ApiToken.id == token, ApiToken.prefix == token))
    ).first()
    if row is None:
        raise NotFound("No such API token.")
    return row


def revoke_api_token(session: Session, *, token: str) -> ApiToken:
    """Revoke by the token itself, its id or its printed prefix."""
    row = find_api_token(session, token=token)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def authenticate(session: Session, token: str | None) -> ApiCaller:
    """The company, role and actor a bearer token stands for."""
    if not token:
        raise Unauthorized()
    # Joined to its company: the schema's ON DELETE CASCADE removes a deleted company's
    # tokens, but only where foreign keys are enforced, and SQLite's own shell (sqlite3)
    # does not enforce them, so a company deleted there would leave its tokens working.
    row = session.scalars(
        select(ApiToken).join(Company, Company.id == ApiToken.company_id)
        .where(ApiToken.token_hash == hash_api_token(token))
    ).first()
    if row is None:
        raise Unauthorized("This API token is not valid.")
    if row.revoked_at is not None:
        raise Unauthorized("This API token has been revoked; create a new one.")
    return ApiCaller(company_id=row.company_id, role=Role(row.role),
                     actor=f"token:{row.prefix}")


def get_company(session: Session, ctx: Context) -> Company:
    ctx.require(Permission.VIEW)
    company = session.get(Company, ctx.company_id)
    if company is None:
        raise NotFound(f"No company with id {ctx.company_id!r}.")
    return company


#: A PATCH that leaves a setting as it is (None is a value: "keep the log for good").
UNCHANGED: Any = object()


def update_company_settings(session: Session, ctx: Context, *,
                            requires_approval: bool | None = None,
                            approval_steps: Sequence[str] | None = None,
                            audit_retention_days: int | None = UNCHANGED) -> Company:
    """The company's own settings: approval for every account's posts, its approval
    steps, how long its audit log keeps entries (None: for good)."""
    ctx.require(Permission.MANAGE_COMPANY)
    company = get_company(session, ctx)
    before = _settings(company)
    if requires_approval is not None:
        company.requires_approval = requires_approval
    if approval_steps is not None:
        steps = gates.parse_steps(approval_steps)
        company.approval_steps = None if steps == [gates.INTERNAL] else steps
    if audit_retention_days is not UNCHANGED:
        if audit_retention_days is not None and not 1 <= audit_retention_days <= 36500:
            raise Invalid("audit_retention_days is a number of days from 1 to 36500, or "
                          "null to keep the audit log for good.")
        company.audit_retention_days = audit_retention_days
    old, new = audit.changed(before, _settings(company))
    audit.record(session, ctx, audit.Action.COMPANY_SETTINGS, before=old, after=new)
    return company


def _settings(company: Company) -> dict[str, Any]:
    return {"requires_approval": company.requires_approval,
            "approval_steps": list(company.approval_steps or [gates.INTERNAL]),
            "audit_retention_days": company.audit_retention_days}


def issue_api_token(session: Session, ctx: Context, *, name: str,
                    role: Role | str = Role.OWNER) -> str:
    """A token for the caller's company, with a role no stronger than the caller's."""
    ctx.require(Permission.MANAGE_TOKENS)
    role = parse_role(role)
    require_grant(ctx.role, role)
    token = create_api_token(session, company_id=ctx.company_id, name=name, role=role)
    audit.record(session, ctx, audit.Action.TOKEN_CREATED,
                 after={"name": name, "role": role.value, "prefix": token[:12]})
    return token


def list_api_tokens(session: Session, ctx: Context) -> list[ApiToken]:
    ctx.require(Permission.MANAGE_TOKENS)
    return list(session.scalars(select(ApiToken).where(ApiToken.company_id == ctx.company_id)
                                .order_by(ApiToken.created_at, ApiToken.id)))


def revoke_company_token(session: Session, ctx: Context, token_id: str) -> ApiToken:
    """Revoke one of the company's tokens by its id (NotFound for another company's)."""
    ctx.require(Permission.MANAGE_TOKENS)
    row = session.get(ApiToken, token_id)
    if row is None or row.company_id != ctx.company_id:
        raise NotFound("No such API token.")
    was = row.revoked_at
    revoke_api_token(session, token=row.id)
    record_revoked(session, ctx, row, was)
    return row


def record_revoked(session: Session, ctx: Context, row: ApiToken,
                   was: datetime | None) -> None:
    """The audit entry of a token's revocation (none when it was revoked already)."""
    if was is None and row.revoked_at is not None:
        audit.record(session, ctx, audit.Action.TOKEN_REVOKED,
                     before={"name": row.name, "prefix": row.prefix, "revoked_at": None},
                     after={"revoked_at": row.revoked_at.isoformat()})


#: Posts that would still go out: a company with any of them is removed only when forced.
LIVE_STATUSES = ("pending", "awaiting_approval")


def remove_company(session: Session, company: Company, *, force: bool = False
                   ) -> dict[str, int]:
    """Delete a company and everything it holds; the number of its posts by status.

    Its tokens, members (and so their sessions), accounts, posts, queue rows, webhooks
    and audit log go with it (ON DELETE CASCADE). Refused while a post is being
    published (its worker would publish it for nobody), and while posts are still to go
    out unless `force`: they are then never sent.
    """
    counts = {status: n for status, n in session.execute(
        select(Post.status, func.count()).where(Post.company_id == company.id)
        .group_by(Post.status))}
    if counts.get("processing"):
        raise Conflict(f"{counts['processing']} posts of {company.name!r} are being published "
                       "right now; wait until they finish, then remove it.")
    live = sum(counts.get(s, 0) for s in LIVE_STATUSES)
    if live and not force:
        raise Conflict(f"{company.name!r} has {live} posts still to go out (pending or "
                       "awaiting approval); cancel them, or remove it with --force and they "
                       "are never sent.")
    session.execute(delete(Company).where(Company.id == company.id))
    return counts
