"""memberships (one user in several companies), invitations, OIDC providers

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-04 20:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from herald.models import UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _company_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["company_id"], ["companies.id"],
                                   name=op.f(f"fk_{table}_company_id_companies"),
                                   ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "memberships",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("company_id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("account_ids", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _company_fk("memberships"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_memberships_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint("user_id", "company_id",
                            name=op.f("uq_memberships_user_id_company_id")),
    )
    op.create_index(op.f("ix_memberships_company_id"), "memberships", ["company_id"])
    # Every existing user keeps their company, role and accounts as their first membership;
    # the user's id doubles as the membership's (unique, and needs no id function per engine).
    op.execute("INSERT INTO memberships (id, user_id, company_id, role, account_ids, created_at)"
               " SELECT id, id, company_id, role, account_ids, created_at FROM users")
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("company_id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("account_ids", sa.JSON(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("accepted_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        _company_fk("invitations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    op.create_index(op.f("ix_invitations_company_id"), "invitations", ["company_id"])
    op.create_table(
        "oidc_providers",
        sa.Column("company_id", sa.String(length=36), nullable=False),
        sa.Column("issuer", sa.String(length=2048), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret", sa.Text(), nullable=False),
        sa.Column("role_claim", sa.String(length=100), nullable=False),
        sa.Column("role_map", sa.JSON(), nullable=False),
        sa.Column("default_role", sa.String(length=20), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _company_fk("oidc_providers"),
        sa.PrimaryKeyConstraint("company_id", name=op.f("pk_oidc_providers")),
    )


def downgrade() -> None:
    # Each table's indexes go with it (MariaDB refuses to drop one a foreign key needs).
    # The users' own columns kept their home company's role: nothing else to put back.
    op.drop_table("oidc_providers")
    op.drop_table("invitations")
    op.drop_table("memberships")
