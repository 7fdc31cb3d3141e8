"""Settings > Webhooks: add one (its secret shown once), ping, turn off and on, rotate the
secret, delete; each webhook's recent deliveries, with redeliver."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from herald.errors import AppError
from herald.events import SUBSCRIBABLE
from herald.events.schemas import WebhookCreate, WebhookPatch
from herald.runtime import Herald
from herald.services import webhooks as service
from herald.web import sessions
from herald.web.deps import ContextDep, HeraldDep, UserDep, WebUser
from herald.web.render import page
from herald.web.routes import see_other, web_router

router = web_router()
#: Deliveries shown per webhook.
RECENT = 10
HOME = "/settings/webhooks"


def _page(request: Request, herald: Herald, user: WebUser, *, status_code: int = 200,
          **values: Any) -> Response:
    ctx = herald.context(user.company_id)
    with herald.db.session() as session:
        hooks = [(w, service.list_deliveries(session, ctx, w.id, limit=RECENT))
                 for w in service.list_webhooks(session, ctx)]
    context: dict[str, Any] = {"values": {"events": ["post.failed", "post.unconfirmed"]},
                               "errors": {}, "new_secret": None}
    context.update(values)
    response = page(request, "webhooks.html", user, title="Webhooks", active="settings",
                    hooks=hooks, event_types=SUBSCRIBABLE, status_code=status_code,
                    **context)
    if context["new_secret"]:
        response.headers["Cache-Control"] = "no-store"  # the secret is in this page only
    return response


@router.get(HOME)
def webhooks_page(request: Request, herald: HeraldDep, user: UserDep) -> Response:
    return _page(request, herald, user)


@router.post(HOME)
async def add_webhook(request: Request, herald: HeraldDep, user: UserDep, ctx: ContextDep,
                      url: Annotated[str, Form()] = "",
                      events: Annotated[list[str] | None, Form()] = None,
                      description: Annotated[str, Form()] = "") -> Response:
    values = {"url": url, "events": events or [], "description": description}
    try:
        data = WebhookCreate(url=url, events=events or [], description=description)
        data = data.model_copy(update={"url": await run_in_threadpool(
            service.check_url, url,
            allow_private=herald.settings.allow_private_webhook_urls)})

        def create() -> tuple[str, str]:
            with herald.unit_of_work() as session:
                webhook, secret = service.create_webhook(session, ctx, data)
                return webhook.url, secret

        made_url, secret = await run_in_threadpool(create)
    except ValidationError as exc:
        message = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        return await run_in_threadpool(_page, request, herald, user, status_code=422,
                                       values=values, errors={"add": message})
    except AppError as exc:
        return await run_in_threadpool(_page, request, herald, user, status_code=exc.status,
                                       values=values, errors={"add": exc.message})
    return await run_in_threadpool(_page, request, herald, user,
                                   new_secret={"url": made_url, "secret": secret})


@router.post(HOME + "/{webhook_id}/ping")
def ping(request: Request, webhook_id: str, herald: HeraldDep, ctx: ContextDep) -> Response:
    with herald.unit_of_work() as session:
        service.ping(session, ctx, webhook_id,
                     max_attempts=herald.settings.webhook_max_attempts)
    sessions.flash(request, "A test event is on its way; its delivery shows below within "
                            "a few seconds.")
    return see_other(HOME)


@router.post(HOME + "/{webhook_id}/enabled")
def set_enabled(request: Request, webhook_id: str, herald: HeraldDep, ctx: ContextDep,
                enabled: Annotated[str, Form()] = "") -> Response:
    on = enabled == "true"
    with herald.unit_of_work() as session:
        service.update_webhook(session, ctx, webhook_id, WebhookPatch(enabled=on))
    sessions.flash(request, "The webhook is on; waiting deliveries go out now." if on
                   else "The webhook is off; its deliveries wait until it is on again.")
    return see_other(HOME)


@router.post(HOME + "/{webhook_id}/rotate")
def rotate(request: Request, webhook_id: str, herald: HeraldDep, user: UserDep,
           ctx: ContextDep) -> Response:
    with herald.unit_of_work() as session:
        secret, webhook = service.rotate_secret(session, ctx, webhook_id)
        url = webhook.url
    return _page(request, herald, user, new_secret={"url": url, "secret": secret,
                                                    "rotated": True})


@router.post(HOME + "/{webhook_id}/delete")
def delete(request: Request, webhook_id: str, herald: HeraldDep, ctx: ContextDep) -> Response:
    with herald.unit_of_work() as session:
        url = service.get_webhook(session, ctx, webhook_id).url
        service.delete_webhook(session, ctx, webhook_id)
    sessions.flash(request, f"The webhook to {url} is deleted.")
    return see_other(HOME)


@router.post(HOME + "/{webhook_id}/deliveries/{delivery_id}/redeliver")
def redeliver(request: Request, webhook_id: str, delivery_id: str, herald: HeraldDep,
              ctx: ContextDep) -> Response:
    with herald.unit_of_work() as session:
        service.redeliver(session, ctx, webhook_id, delivery_id,
                          max_attempts=herald.settings.webhook_max_attempts)
    sessions.flash(request, "The event is on its way again, with the same event id.")
    return see_other(HOME)
