"""Tables of teams across companies: memberships, invitations, sign-in providers.

Apart from herald.models to keep that module small; herald.models imports this one at its
end, so `Base.metadata` always holds these tables too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from herald.models import Base, UTCDateTime, new_id, utcnow


class Membership(Base):
    """One user in one company, with their role there (an agency's user has several)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "company_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    company_id: Mapped[str] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    #: The accounts they may use in this company, when limited to some (None: every one).
    account_ids: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Invitation(Base):
    """A link, sent by e-mail, that makes its holder a member of the company."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    company_id: Mapped[str] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    account_ids: Mapped[list[str] | None] = mapped_column(JSON)
    #: SHA-256 of the link's secret: the link itself is shown (and mailed) once.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OidcProvider(Base):
    """A company's OpenID Connect identity provider (single sign-on)."""

    __tablename__ = "oidc_providers"

    company_id: Mapped[str] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(2048))
    client_id: Mapped[str] = mapped_column(String(255))
    #: The client secret, encrypted like the platform tokens (herald.crypto.TokenCipher).
    client_secret: Mapped[str] = mapped_column(Text)
    #: The id_token claim whose value picks the role (e.g. "groups" or "herald_role").
    role_claim: Mapped[str] = mapped_column(String(100), default="")
    #: Claim value → role; a list claim uses its strongest match.
    role_map: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    #: The role of a person whose claim maps to none (None: they are refused).
    default_role: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
