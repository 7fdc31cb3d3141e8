"""The caller's company: its settings."""

from __future__ import annotations

from fastapi import APIRouter

from herald import services
from herald.api.deps import ContextDep, HeraldDep
from herald.api.errors import documented
from herald.schemas import CompanyOut, CompanyPatch
from herald.services.companies import UNCHANGED

router = APIRouter(prefix="/company", tags=["company"], responses=documented(401, 403, 422))


@router.get("")
def get_company(herald: HeraldDep, ctx: ContextDep) -> CompanyOut:
    with herald.db.session() as session:
        return CompanyOut.model_validate(services.get_company(session, ctx))


@router.patch("", responses=documented(400, 413))
def update_company(data: CompanyPatch, herald: HeraldDep, ctx: ContextDep) -> CompanyOut:
    """`{"requires_approval": true}`: every account's posts by roles that may not schedule
    go to approval first; `{"approval_steps": ["internal", "client"]}`: the team approves,
    then the client; `{"audit_retention_days": 365}` (null: for good)."""
    retention = (data.audit_retention_days if "audit_retention_days" in data.model_fields_set
                 else UNCHANGED)
    with herald.unit_of_work() as session:
        company = services.update_company_settings(
            session, ctx, requires_approval=data.requires_approval,
            approval_steps=data.approval_steps, audit_retention_days=retention)
        session.flush()
        return CompanyOut.model_validate(company)
