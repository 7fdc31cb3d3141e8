"""Accounts: list, add (sandbox, or with a token), reconnect with a new token, remove, and
connect through the platform's own sign-in.

Connecting (when the app id and secret are set): GET /accounts/connect/{flow} sends the
browser to the platform's dialog; its callback checks the state, redeems the code
(herald.connect) and shows the accounts found; the pick form's POST saves the ticked ones.
Whatever goes wrong on the way lands back on the Accounts page with one message, and
nothing is saved before the POST.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from herald import connect, services
from herald.errors import AppError, Forbidden, NotFound
from herald.models import PLATFORMS
from herald.permissions import Permission
from herald.platforms import registry
from herald.platforms.servers import ServerURLError, check_server_url_async
from herald.runtime import Herald
from herald.schemas import AccountCreate, AccountTokenUpdate
from herald.web import connecting, queries, sessions
from herald.web.deps import ContextDep, HeraldDep, UserDep, WebUser, web_context
from herald.web.render import PLATFORM_NAMES, page
from herald.web.routes import see_other, web_router

router = web_router()

FLOWS = tuple(spec.name for spec in registry.connectable())
SETTINGS_NAMES = {spec.name: spec.connect.settings_names
                  for spec in registry.connectable() if spec.connect is not None}


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
        ctx = web_context(herald, user)
        accounts = services.list_accounts(session, ctx)
        counts = queries.post_counts(session, user.company_id)
    configured = connecting.flows(herald.settings)
    oauth = {name: name in configured for name in FLOWS}
    # A flow that registers itself with each server (Mastodon) has no URI to register.
    callbacks = {name: connecting.callback_url(request, herald.settings, name)
                 for name, flow in configured.items() if flow.per_server is None}
    context: dict[str, Any] = {"values": {}, "errors": {}, "open": ""}
    context.update(values)
    return page(request, "accounts.html", user, title="Accounts", active="accounts",
                accounts=accounts, counts=counts, sandbox=herald.sandbox is not None,
                oauth=oauth, callbacks=callbacks, platforms=PLATFORMS,
                connect_flows=list(configured.values()),
                status_code=status_code, **context)


@router.get("/accounts")
def accounts_page(request: Request, herald: HeraldDep, user: UserDep) -> Response:
    return _page(request, herald, user)


@router.post("/accounts/sandbox")
def add_sandbox(request: Request, herald: HeraldDep, user: UserDep, ctx: ContextDep,
                platform: Annotated[str, Form()] = "", name: Annotated[str, Form()] = ""
                ) -> Response:
    return _add(request, herald, user, ctx, form="sandbox",
                values={"sb_platform": platform, "sb_name": name},
                fields={"platform": platform, "name": name.strip(), "sandbox": True},
                done=f"Added the sandbox {PLATFORM_NAMES.get(platform)} account {name}.")


@router.post("/accounts")
def add_account(request: Request, herald: HeraldDep, user: UserDep, ctx: ContextDep,
                platform: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
                external_id: Annotated[str, Form()] = "",
                access_token: Annotated[str, Form()] = "",
                refresh_token: Annotated[str, Form()] = "",
                server_url: Annotated[str, Form()] = "") -> Response:
    # Tokens are never echoed back into the page, even on a refused form.
    return _add(request, herald, user, ctx, form="token",
                values={"platform": platform, "name": name, "external_id": external_id,
                        "server_url": server_url},
                fields={"platform": platform, "name": name.strip(),
                        "external_id": external_id.strip(),
                        "access_token": access_token.strip() or None,
                        "refresh_token": refresh_token.strip() or None,
                        "server_url": server_url.strip() or None},
                done=f"Added the {PLATFORM_NAMES.get(platform)} account {name}.")


def _add(request: Request, herald: Herald, user: WebUser, ctx: services.Context, *,
         form: str, values: dict[str, str], fields: dict[str, Any], done: str) -> Response:
    """Create an account from one of the add forms; a refusal re-renders that form."""
    try:
        data = AccountCreate.model_validate(fields)
        services.check_account(ctx, data)
        with herald.unit_of_work() as session:
            services.create_account(session, ctx, data)
    except ValidationError as exc:
        return _page(request, herald, user, status_code=422, values=values,
                     errors={form: _pydantic_message(exc)}, open=form)
    except AppError as exc:
        return _page(request, herald, user, status_code=exc.status, values=values,
                     errors={form: exc.message}, open=form)
    sessions.flash(request, done)
    return see_other("/accounts")


@router.post("/accounts/{account_id}/token")
def reconnect(request: Request, account_id: str, herald: HeraldDep, user: UserDep,
              ctx: ContextDep, access_token: Annotated[str, Form()] = "",
              refresh_token: Annotated[str, Form()] = "") -> Response:
    try:
        data = AccountTokenUpdate.model_validate({
            "access_token": access_token.strip(),
            "refresh_token": refresh_token.strip() or None})
        with herald.unit_of_work() as session:
            account = services.update_account_token(session, ctx, account_id, data)
            name = account.name
    except ValidationError:
        _exists(herald, ctx, account_id)
        return _page(request, herald, user, status_code=422, open=account_id,
                     errors={account_id: "Paste the new access token."})
    sessions.flash(request, f"{name} is reconnected.")
    return see_other("/accounts")


@router.post("/accounts/{account_id}/approval")
def set_approval(request: Request, account_id: str, herald: HeraldDep, ctx: ContextDep,
                 requires_approval: Annotated[str, Form()] = "") -> Response:
    on = requires_approval == "on"
    with herald.unit_of_work() as session:
        name = services.update_account_settings(session, ctx, account_id,
                                                requires_approval=on).name
    sessions.flash(request, f"Contributors' posts to {name} now need approval." if on else
                   f"Contributors' posts to {name} no longer need approval.")
    return see_other("/accounts")


def _exists(herald: Herald, ctx: services.Context, account_id: str) -> None:
    with herald.db.session() as session:
        services.get_account(session, ctx, account_id)


@router.post("/accounts/{account_id}/remove")
def remove(request: Request, account_id: str, herald: HeraldDep, user: UserDep,
           ctx: ContextDep) -> Response:
    try:
        with herald.unit_of_work() as session:
            name = services.get_account(session, ctx, account_id).name
            services.delete_account(session, ctx, account_id)
    except (NotFound, Forbidden):
        raise
    except AppError as exc:
        sessions.flash(request, exc.message, "error")
        return see_other("/accounts")
    sessions.flash(request, f"Removed {name} and its posts.")
    return see_other("/accounts")




# --- connecting through the platform's sign-in -----------------------------------------------


def _flow(herald: Herald, name: str) -> connect.Flow | None:
    if name not in FLOWS:
        raise NotFound()
    return connecting.flows(herald.settings).get(name)


def _back(request: Request, message: str, kind: str = "error") -> Response:
    sessions.flash(request, message, kind)
    return see_other("/accounts")


def _not_set_up(request: Request, name: str) -> Response:
    return _back(request, f"Connecting {PLATFORM_NAMES[name]} accounts is not set up on this "
                          f"server: set {SETTINGS_NAMES[name]}.")


def _sealer(request: Request, herald: Herald) -> connecting.Sealer:
    # One per app: an in-memory SQLite install makes up a new secret on every call.
    sealer: connecting.Sealer | None = getattr(request.app.state, "connect_sealer", None)
    if sealer is None:
        sealer = connecting.Sealer(herald.settings.resolved_secret_key())
        request.app.state.connect_sealer = sealer
    return sealer


@router.get("/accounts/connect/{name}")
async def connect_start(request: Request, name: str, herald: HeraldDep, user: UserDep,
                        ctx: ContextDep, server: str = "") -> Response:
    """Off to the platform's dialog, with a fresh state bound to this session (for a
    platform whose servers are each their own provider, once the person named theirs)."""
    # Refused before the dialog, not after it: saving would be refused anyway.
    ctx.require(Permission.MANAGE_ACCOUNTS)
    flow = _flow(herald, name)
    if flow is None:
        return _not_set_up(request, name)
    if flow.per_server is not None:
        if not server.strip():
            return await run_in_threadpool(page, request, "connect_server.html", user,
                                           title=f"Connect {flow.title}", active="accounts",
                                           flow=flow, server="")
        bound = await _bound(request, herald, flow, server)
        if isinstance(bound, Response):
            return bound
        flow = bound
    state = connecting.begin(request.session, flow.name)
    target = flow.authorize(connecting.callback_url(request, herald.settings, flow.name), state)
    return RedirectResponse(target, status_code=303)


async def _bound(request: Request, herald: Herald, flow: connect.Flow,
                 server: str) -> connect.Flow | Response:
    """The flow on the named server (Herald registered there), remembered in the session."""
    assert flow.per_server is not None
    try:
        normal = await check_server_url_async(
            server, allow_private=herald.settings.allow_private_server_urls)
    except ServerURLError as exc:
        return _back(request, f"{exc} Nothing was connected.")
    try:
        async with connecting.http_client() as client:
            bound = await flow.per_server(client, connecting.server_apps(herald), normal,
                                          connecting.callback_url(request, herald.settings,
                                                                  flow.name))
    except connect.ConnectError as exc:
        return _back(request, exc.message)
    connecting.remember_server(request.session, flow.name, normal)
    return bound


@router.get("/accounts/connect/{name}/callback")
async def connect_callback(request: Request, name: str, herald: HeraldDep, user: UserDep
                           ) -> Response:
    """The platform sends the browser back here with a code (or an error) and our state."""
    flow = _flow(herald, name)
    if flow is None:
        return _not_set_up(request, name)
    params = dict(request.query_params)
    # The state first, even before an error: a forged callback must not even get its
    # error_description shown on the Accounts page.
    if not connecting.take_state(request.session, flow.name, params.get("state")):
        return _back(request, f"That {flow.platform_label} answer could not be matched to a "
                              "sign-in started here (it expired, was already used, or came "
                              "from elsewhere), so nothing was connected. Start again with "
                              "the Connect button.")
    problem = flow.problem(params)
    if problem is not None:
        return _back(request, problem)
    redirect_uri = connecting.callback_url(request, herald.settings, flow.name)
    if flow.per_server is not None:
        server = connecting.server_of(request.session, flow.name)
        if server is None:
            return _back(request, f"Herald lost which {flow.platform_label} server this "
                                  "sign-in was for; nothing was connected. Start again with "
                                  "the Connect button.")
        bound = await _bound(request, herald, flow, server)
        if isinstance(bound, Response):
            return bound
        flow = bound
    try:
        async with connecting.http_client() as client:
            offer = await flow.fetch(client, params["code"], redirect_uri)
    except connect.ConnectError as exc:
        return _back(request, exc.message)
    if not offer.candidates:
        return _back(request, " ".join((f"{flow.platform_label} found no account you can "
                                        "publish to, so nothing was connected.",
                                        *offer.notes)))
    sealed = _sealer(request, herald).seal(request.session, offer, user_id=user.id,
                                           company_id=user.company_id)
    return await run_in_threadpool(_pick_page, request, herald, user, flow, offer, sealed)


def _pick_page(request: Request, herald: Herald, user: WebUser, flow: connect.Flow,
               offer: connect.Offer, sealed: str, *, error: str = "",
               picked: frozenset[str] | None = None) -> Response:
    with herald.db.session() as session:
        known = connect.existing_ids(session, web_context(herald, user))
    existing = {c.key for c in offer.candidates if (c.platform, c.external_id) in known}
    response = page(request, "connect.html", user, title=f"Connect {flow.title}",
                    active="accounts", flow=flow, offer=offer, sealed=sealed,
                    existing=existing, picked=existing if picked is None else picked,
                    errors={"pick": error} if error else {},
                    status_code=422 if error else 200)
    # The page carries sealed tokens: keep it out of caches and the back-forward history.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/accounts/connect/{name}")
def connect_pick(request: Request, name: str, herald: HeraldDep, user: UserDep,
                 ctx: ContextDep, offer: Annotated[str, Form()] = "",
                 pick: Annotated[list[str] | None, Form()] = None) -> Response:
    """Save the ticked accounts: new ones are added, known ones get the new token."""
    flow = _flow(herald, name)
    if flow is None:
        return _not_set_up(request, name)
    sealer = _sealer(request, herald)
    opened = sealer.open(request.session, flow.name, offer, user_id=user.id,
                         company_id=user.company_id)
    if opened is None:
        return _back(request, "That list of accounts has expired or was already used, so "
                              "nothing was connected. Start again with the Connect button.")
    picked = opened.pick(pick or [])
    if not picked:
        return _pick_page(request, herald, user, flow, opened, offer, picked=frozenset(),
                          error="Tick at least one account to connect.")
    try:
        with herald.unit_of_work() as session:
            saved = connect.save(session, ctx, picked)
    except IntegrityError:
        # Two tabs saving the same new account at once: the unique key let one through.
        return _back(request, "These accounts were being saved by another request at the "
                              "same moment; nothing more was connected. Check the list below.")
    sealer.used(request.session, flow.name)
    _flash_saved(request, saved)
    return see_other("/accounts")


def _flash_saved(request: Request, saved: list[connect.Saved]) -> None:
    def names(items: list[connect.Saved]) -> str:
        return ", ".join(f"{PLATFORM_NAMES[s.candidate.platform]} {s.candidate.name}"
                         for s in items)

    added = [s for s in saved if not s.reconnected]
    again = [s for s in saved if s.reconnected]
    parts = []
    if added:
        parts.append(f"Connected {names(added)}.")
    if again:
        parts.append(f"Reconnected {names(again)} with a new token.")
    sessions.flash(request, " ".join(parts))
    for s in saved:
        if s.candidate.note:
            sessions.flash(request, f"{s.candidate.name}: {s.candidate.note}", "warn")
