"""The company's single sign-on provider (OpenID Connect): read, set, remove."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from herald.api.deps import ContextDep, HeraldDep
from herald.api.errors import documented
from herald.permissions import Role
from herald.schemas import Strict
from herald.sso import providers

router = APIRouter(prefix="/company/sso", tags=["company"],
                   responses=documented(401, 403, 422))


class SsoOut(BaseModel):
    issuer: str
    client_id: str
    role_claim: str
    role_map: dict[str, str]
    default_role: str | None = None
    #: Where the provider sends people back: register it as the client's redirect URI.
    redirect_uri: str


class SsoIn(Strict):
    issuer: str = Field(max_length=2048)
    client_id: str = Field(max_length=255)
    #: Stored encrypted; leave out to keep the stored one.
    client_secret: str | None = Field(default=None, max_length=4096)
    #: The id_token claim whose value picks the role, e.g. "groups".
    role_claim: str = Field(default="", max_length=100)
    role_map: dict[str, Role] = Field(default_factory=dict, max_length=100)
    #: The role of someone whose claim maps to none (null: refused).
    default_role: Role | None = None


def _out(herald: HeraldDep, described: dict[str, object]) -> SsoOut:
    return SsoOut.model_validate({**described, "redirect_uri":
                                  f"{herald.settings.public_url.rstrip('/')}"
                                  "/signin/sso/callback"})


@router.get("", responses=documented(404))
def get_sso(herald: HeraldDep, ctx: ContextDep) -> SsoOut:
    with herald.db.session() as session:
        return _out(herald, providers.described(providers.settings_of(session, ctx)))


@router.put("", responses=documented(400, 413))
def set_sso(data: SsoIn, herald: HeraldDep, ctx: ContextDep) -> SsoOut:
    """Set the provider; people sign in at /signin/sso?company=<id or name>."""
    with herald.unit_of_work() as session:
        row = providers.configure(
            session, ctx, issuer=data.issuer, client_id=data.client_id,
            client_secret=data.client_secret, role_claim=data.role_claim,
            role_map={k: v.value for k, v in data.role_map.items()},
            default_role=data.default_role.value if data.default_role else None)
        return _out(herald, providers.described(row))


@router.delete("", status_code=204, responses=documented(404))
def remove_sso(herald: HeraldDep, ctx: ContextDep) -> Response:
    with herald.unit_of_work() as session:
        providers.remove(session, ctx)
    return Response(status_code=204)
