"""Social accounts: tokens go in, never out."""

from __future__ import annotations

from fastapi import APIRouter, Response

from herald import services
from herald.api.deps import ContextDep, HeraldDep
from herald.api.errors import documented
from herald.models import SocialAccount, SocialToken
from herald.schemas import AccountCreate, AccountOut, AccountPatch, AccountTokenUpdate

router = APIRouter(prefix="/accounts", tags=["accounts"], responses=documented(401, 403, 422))


def account_out(account: SocialAccount, token: SocialToken | None) -> AccountOut:
    out = AccountOut.model_validate(account)
    out.token_expires_at = token.expires_at if token else None
    return out


@router.post("", status_code=201, responses=documented(400, 409, 413))
def create_account(data: AccountCreate, herald: HeraldDep, ctx: ContextDep) -> AccountOut:
    with herald.unit_of_work() as session:
        account = services.create_account(session, ctx, data)
        return account_out(account, services.account_token(session, account.id))


@router.get("")
def list_accounts(herald: HeraldDep, ctx: ContextDep) -> list[AccountOut]:
    with herald.db.session() as session:
        return [account_out(a, t) for a, t in services.list_accounts(session, ctx)]


@router.get("/{account_id}", responses=documented(404))
def get_account(account_id: str, herald: HeraldDep, ctx: ContextDep) -> AccountOut:
    with herald.db.session() as session:
        account = services.get_account(session, ctx, account_id)
        return account_out(account, services.account_token(session, account.id))


@router.patch("/{account_id}", responses=documented(400, 404, 413))
def update_account(account_id: str, data: AccountPatch, herald: HeraldDep,
                   ctx: ContextDep) -> AccountOut:
    """The account's settings: `{"requires_approval": true}` sends posts by roles that may
    not schedule to approval first."""
    with herald.unit_of_work() as session:
        account = services.update_account_settings(
            session, ctx, account_id, requires_approval=data.requires_approval)
        session.flush()
        return account_out(account, services.account_token(session, account.id))


@router.put("/{account_id}/token", responses=documented(400, 404, 413))
def update_token(account_id: str, data: AccountTokenUpdate, herald: HeraldDep,
                 ctx: ContextDep) -> AccountOut:
    with herald.unit_of_work() as session:
        account = services.update_account_token(session, ctx, account_id, data)
        session.flush()
        return account_out(account, services.account_token(session, account.id))


@router.delete("/{account_id}", status_code=204, responses=documented(404, 409))
def delete_account(account_id: str, herald: HeraldDep, ctx: ContextDep) -> Response:
    with herald.unit_of_work() as session:
        services.delete_account(session, ctx, account_id)
    return Response(status_code=204)
