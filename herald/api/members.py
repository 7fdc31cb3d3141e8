"""Members of the company (people who sign in to the web UI) and their roles."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from herald import services
from herald.api.deps import ContextDep, HeraldDep
from herald.api.errors import documented
from herald.permissions import Role
from herald.schemas import Strict

router = APIRouter(prefix="/members", tags=["members"], responses=documented(401, 403, 422))


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    name: str
    role: str
    #: The accounts they may use, when limited to some (null: every account).
    account_ids: list[str] | None = None
    created_at: datetime
    last_login_at: datetime | None = None


class MemberCreate(Strict):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    name: str = Field(default="", max_length=200)
    #: Default: owner for the company's first member, editor after.
    role: Role | None = None
    account_ids: list[str] | None = Field(default=None, max_length=100)


class MemberPatch(Strict):
    role: Role


@router.get("")
def list_members(herald: HeraldDep, ctx: ContextDep) -> list[MemberOut]:
    with herald.db.session() as session:
        return [MemberOut.model_validate(u) for u in services.list_members(session, ctx)]


@router.post("", status_code=201, responses=documented(400, 404, 413))
def add_member(data: MemberCreate, herald: HeraldDep, ctx: ContextDep) -> MemberOut:
    with herald.unit_of_work() as session:
        user = services.add_member(session, ctx, email=data.email, password=data.password,
                                   name=data.name, role=data.role,
                                   account_ids=data.account_ids)
        return MemberOut.model_validate(user)


@router.patch("/{member_id}", responses=documented(400, 404, 409, 413))
def set_role(member_id: str, data: MemberPatch, herald: HeraldDep,
             ctx: ContextDep) -> MemberOut:
    with herald.unit_of_work() as session:
        return MemberOut.model_validate(services.set_role(session, ctx, member_id, data.role))


@router.delete("/{member_id}", status_code=204, responses=documented(404, 409))
def remove_member(member_id: str, herald: HeraldDep, ctx: ContextDep) -> Response:
    """Remove a member; every web session of theirs ends."""
    with herald.unit_of_work() as session:
        services.remove_member(session, ctx, member_id)
    return Response(status_code=204)
