"""A company's identity provider settings: set, read, remove (manage_company), and the
claim → role mapping applied at each sign-in."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.errors import Invalid, NotFound
from herald.models import User, utcnow
from herald.permissions import PERMISSIONS, Permission, Role, parse_role
from herald.services import audit, memberships
from herald.services.context import Context
from herald.team_models import OidcProvider


@dataclass(frozen=True)
class Provider:
    """What a sign-in needs, the client secret decrypted (never shown by the API)."""

    company_id: str
    issuer: str
    client_id: str
    client_secret: str
    role_claim: str
    role_map: dict[str, str]
    default_role: str | None


def _check_issuer(issuer: str) -> str:
    issuer = issuer.strip().rstrip("/")
    if not issuer.startswith(("https://", "http://")):
        raise Invalid(f"The issuer {issuer!r} must be the provider's https URL, e.g. "
                      "https://login.example.com/realms/acme.")
    return issuer


def configure(session: Session, ctx: Context, *, issuer: str, client_id: str,
              client_secret: str | None, role_claim: str = "",
              role_map: Mapping[str, str] | None = None,
              default_role: str | None = None) -> OidcProvider:
    """Set the company's provider; without a secret, the stored one is kept."""
    ctx.require(Permission.MANAGE_COMPANY)
    mapping = {str(k): parse_role(v).value for k, v in (role_map or {}).items()}
    default = parse_role(default_role).value if default_role else None
    if not mapping and default is None:
        raise Invalid("Give a role_map (claim value → role) or a default_role: otherwise "
                      "no one could sign in.")
    row = session.get(OidcProvider, ctx.company_id)
    if row is None:
        if not client_secret:
            raise Invalid("A new provider needs its client_secret.")
        row = OidcProvider(company_id=ctx.company_id, created_at=utcnow())
        session.add(row)
    row.issuer, row.client_id = _check_issuer(issuer), client_id.strip()
    if client_secret:
        row.client_secret = ctx.cipher.encrypt(client_secret)
    row.role_claim, row.role_map, row.default_role = role_claim.strip(), mapping, default
    session.flush()
    audit.record(session, ctx, audit.Action.COMPANY_SETTINGS, after={"sso": described(row)})
    return row


def described(row: OidcProvider) -> dict[str, Any]:
    """The settings as the API shows them: never the secret."""
    return {"issuer": row.issuer, "client_id": row.client_id, "role_claim": row.role_claim,
            "role_map": row.role_map, "default_role": row.default_role}


def settings_of(session: Session, ctx: Context) -> OidcProvider:
    ctx.require(Permission.MANAGE_COMPANY)
    row = session.get(OidcProvider, ctx.company_id)
    if row is None:
        raise NotFound("This company has no single sign-on provider.")
    return row


def remove(session: Session, ctx: Context) -> None:
    row = settings_of(session, ctx)
    audit.record(session, ctx, audit.Action.COMPANY_SETTINGS,
                 before={"sso": described(row)}, after={"sso": None})
    session.delete(row)


def for_sign_in(session: Session, ctx: Context) -> Provider | None:
    """The provider of `ctx`'s company with its secret, for the sign-in flow."""
    row = session.get(OidcProvider, ctx.company_id)
    if row is None:
        return None
    return Provider(row.company_id, row.issuer, row.client_id,
                    ctx.cipher.decrypt(row.client_secret), row.role_claim,
                    dict(row.role_map or {}), row.default_role)


def role_from(provider: Provider, claims: Mapping[str, Any]) -> Role | None:
    """The strongest role the claim's value(s) map to, else the default (None: refused)."""
    value = claims.get(provider.role_claim) if provider.role_claim else None
    values = value if isinstance(value, list) else [value] if value is not None else []
    roles = [Role(provider.role_map[v]) for v in values
             if isinstance(v, str) and v in provider.role_map]
    if roles:
        return max(roles, key=lambda r: len(PERMISSIONS[r]))
    return Role(provider.default_role) if provider.default_role else None


def provision(session: Session, ctx: Context, claims: Mapping[str, Any], role: Role
              ) -> tuple[str, int]:
    """The member the provider vouched for, in `ctx`'s company with the mapped role: a new
    user (with a password no one knows) or a new or updated membership. Returns their id
    and session generation."""
    from herald.web import users

    email = users.normalize_email(str(claims["email"]))
    user = session.scalars(select(User).where(User.email == email)).first()
    if user is None:
        user = users.create_user(session, company_id=ctx.company_id, email=email,
                                 password=secrets.token_urlsafe(32),
                                 name=str(claims.get("name") or "")[:200], role=role)
        was: str | None = None
    else:
        row = memberships.find(session, user_id=user.id, company_id=ctx.company_id)
        was = row.role if row is not None else None
        memberships.join(session, user=user, company_id=ctx.company_id, role=role,
                         account_ids=row.account_ids if row is not None else None)
    after = {"id": user.id, "email": user.email, "role": role.value, "via": "sso"}
    if was is None:
        audit.record(session, ctx, audit.Action.MEMBER_ADDED, after=after)
    elif was != role.value:
        audit.record(session, ctx, audit.Action.MEMBER_ROLE_CHANGED,
                     before={"id": user.id, "email": user.email, "role": was}, after=after)
    user.last_login_at = ctx.now()
    return user.id, user.session_generation
