"""Accounts: list, add (sandbox, or with a token), reconnect with a new token, remove.

"Connect with Facebook / LinkedIn" (OAuth) buttons appear when the app ids are set; the
flows themselves are not built yet and say so.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from herald import services
from herald.errors import AppError, NotFound
from herald.models import PLATFORMS
from herald.schemas import AccountCreate, AccountTokenUpdate
from herald.state import Herald
from herald.web import queries, sessions
from herald.web.deps import ContextDep, HeraldDep, UserDep, WebUser
from herald.web.render import PLATFORM_NAMES, page
from herald.web.routes import see_other, web_router

router = web_router()


def _pydantic_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{field.replace('_', ' ')}: {message}" if field else message)
    return "; ".join(parts)


def _page(request: Request, herald: Herald, user: WebUser, *, status_code: int = 200,
          **values: Any) -> Response:
    with herald.db.session() as session:
        ctx = herald.context(user.company_id)
        accounts = services.list_accounts(session, ctx)
        counts = queries.post_counts(session, user.company_id)
    settings = herald.settings
    oauth = {"facebook": bool(settings.facebook_app_id),
             "linkedin": bool(settings.linkedin_client_id)}
    context: dict[str, Any] = {"values": {}, "errors": {}, "open": ""}
    context.update(values)
    return page(request, "accounts.html", user, title="Accounts", active="accounts",
                accounts=accounts, counts=counts, sandbox=herald.sandbox is not None,
                oauth=oauth, platforms=PLATFORMS, status_code=status_code, **context)


@router.get("/accounts")
def accounts_page(request: Request, herald: HeraldDep, user: UserDep) -> Response:
    return _page(request, herald, user)


@router.post("/accounts/sandbox")
def add_sandbox(request: Request, herald: HeraldDep, user: UserDep, ctx: ContextDep,
                platform: Annotated[str, Form()] = "", name: Annotated[str, Form()] = ""
                ) -> Response:
    values = {"sb_platform": platform, "sb_name": name}
    try:
        data = AccountCreate.model_validate({"platform": platform, "name": name.strip(),
                                             "sandbox": True})
        with herald.db.session() as session:
            services.create_account(session, ctx, data)
    except ValidationError as exc:
        return _page(request, herald, user, status_code=422, values=values,
                     errors={"sandbox": _pydantic_message(exc)}, open="sandbox")
    except AppError as exc:
        return _page(request, herald, user, status_code=exc.status, values=values,
                     errors={"sandbox": exc.message}, open="sandbox")
    sessions.flash(request, f"Added the sandbox {PLATFORM_NAMES[platform]} account {name}.")
    return see_other("/accounts")


@router.post("/accounts")
def add_account(request: Request, herald: HeraldDep, user: UserDep, ctx: ContextDep,
                platform: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
                external_id: Annotated[str, Form()] = "",
                access_token: Annotated[str, Form()] = "",
                refresh_token: Annotated[str, Form()] = "") -> Response:
    # Tokens are never echoed back into the page, even on a refused form.
    values = {"platform": platform, "name": name, "external_id": external_id}
    try:
        data = AccountCreate.model_validate({
            "platform": platform, "name": name.strip(), "external_id": external_id.strip(),
            "access_token": access_token.strip() or None,
            "refresh_token": refresh_token.strip() or None})
        with herald.db.session() as session:
            services.create_account(session, ctx, data)
    except ValidationError as exc:
        return _page(request, herald, user, status_code=422, values=values,
                     errors={"token": _pydantic_message(exc)}, open="token")
    except AppError as exc:
        return _page(request, herald, user, status_code=exc.status, values=values,
                     errors={"token": exc.message}, open="token")
    sessions.flash(request, f"Added the {PLATFORM_NAMES[platform]} account {name}.")
    return see_other("/accounts")


@router.post("/accounts/{account_id}/token")
def reconnect(request: Request, account_id: str, herald: HeraldDep, user: UserDep,
              ctx: ContextDep, access_token: Annotated[str, Form()] = "",
              refresh_token: Annotated[str, Form()] = "") -> Response:
    try:
        data = AccountTokenUpdate.model_validate({
            "access_token": access_token.strip(),
            "refresh_token": refresh_token.strip() or None})
        with herald.db.session() as session:
            account = services.update_account_token(session, ctx, account_id, data)
            name = account.name
    except ValidationError:
        _exists(herald, ctx, account_id)
        return _page(request, herald, user, status_code=422, open=account_id,
                     errors={account_id: "Paste the new access token."})
    sessions.flash(request, f"{name} is reconnected.")
    return see_other("/accounts")


def _exists(herald: Herald, ctx: services.Context, account_id: str) -> None:
    with herald.db.session() as session:
        services.get_account(session, ctx, account_id)


@router.post("/accounts/{account_id}/remove")
def remove(request: Request, account_id: str, herald: HeraldDep, user: UserDep,
           ctx: ContextDep) -> Response:
    try:
        with herald.db.session() as session:
            name = services.get_account(session, ctx, account_id).name
            services.delete_account(session, ctx, account_id)
    except NotFound:
        raise
    except AppError as exc:
        sessions.flash(request, exc.message, "error")
        return see_other("/accounts")
    sessions.flash(request, f"Removed {name} and its posts.")
    return see_other("/accounts")


@router.get("/accounts/connect/{platform}")
def connect(request: Request, platform: str, herald: HeraldDep, user: UserDep) -> Response:
    """Placeholder for the OAuth flows (Facebook Login, LinkedIn): not built yet."""
    if platform not in ("facebook", "linkedin"):
        raise NotFound()
    return page(request, "connect.html", user, title="Connect", active="accounts",
                platform=platform, status_code=501)
