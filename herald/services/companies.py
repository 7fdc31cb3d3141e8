"""Companies (tenants) and their API tokens."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from herald.crypto import hash_api_token, new_api_token
from herald.errors import Invalid, NotFound, Unauthorized
from herald.models import ApiToken, Company, new_id, utcnow


def create_company(session: Session, *, name: str, timezone: str = "UTC") -> tuple[Company, str]:
    name = name.strip()
    if not name:
        raise Invalid("A company needs a name.")
    company = Company(id=new_id(), name=name, timezone=timezone, created_at=utcnow())
    session.add(company)
    session.flush()
    token = create_api_token(session, company_id=company.id, name="default")
    return company, token


def create_api_token(session: Session, *, company_id: str, name: str = "") -> str:
    if session.get(Company, company_id) is None:
        raise NotFound(f"No company with id {company_id!r}.")
    token = new_api_token()
    session.add(ApiToken(id=new_id(), company_id=company_id, name=name,
                         token_hash=hash_api_token(token), prefix=token[:12],
                         created_at=utcnow()))
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


def list_api_tokens(session: Session, *, company_id: str) -> list[ApiToken]:
    """A company's API tokens, newest first, revoked ones too (never the secrets)."""
    return list(session.scalars(
        select(ApiToken).where(ApiToken.company_id == company_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id)))


def revoke_api_token(session: Session, *, token: str) -> ApiToken:
    """Revoke by the token itself, its id or its printed prefix."""
    row = session.scalars(
        select(ApiToken).where(or_(ApiToken.token_hash == hash_api_token(token),
                                   ApiToken.id == token, ApiToken.prefix == token))
    ).first()
    if row is None:
        raise NotFound("No such API token.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def authenticate(session: Session, token: str | None) -> str:
    """The company id a bearer token belongs to."""
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
    return row.company_id
