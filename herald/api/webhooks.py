"""Webhooks: add, list, change, delete, rotate the secret, ping; the delivery log, redeliver."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from herald.api.deps import ContextDep, HeraldDep
from herald.api.errors import documented
from herald.events.schemas import (
    DeliveryOut,
    DeliveryPage,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookPatch,
)
from herald.permissions import Permission
from herald.runtime import Herald
from herald.services import webhooks as service

router = APIRouter(prefix="/webhooks", tags=["webhooks"], responses=documented(401, 422))


async def _checked(herald: Herald, url: str) -> str:
    # Resolving the host blocks, and happens before any transaction.
    return await run_in_threadpool(service.check_url, url,
                                   allow_private=herald.settings.allow_private_webhook_urls)


@router.post("", status_code=201, responses=documented(400, 409, 413))
async def create_webhook(data: WebhookCreate, herald: HeraldDep,
                         ctx: ContextDep) -> WebhookCreated:
    """Add a webhook. The answer holds its signing secret: the only time it is shown."""
    # Refused before the URL is resolved: a role that may not add webhooks learns nothing
    # about which hosts resolve (the service checks again in its transaction).
    ctx.require(Permission.MANAGE_TOKENS)
    data = data.model_copy(update={"url": await _checked(herald, data.url)})

    def create() -> WebhookCreated:
        with herald.unit_of_work() as session:
            webhook, secret = service.create_webhook(session, ctx, data)
            out = WebhookOut.model_validate(webhook)
            return WebhookCreated(**out.model_dump(), secret=secret)

    return await run_in_threadpool(create)


@router.get("")
def list_webhooks(herald: HeraldDep, ctx: ContextDep) -> list[WebhookOut]:
    with herald.db.session() as session:
        return [WebhookOut.model_validate(w) for w in service.list_webhooks(session, ctx)]


@router.get("/{webhook_id}", responses=documented(404))
def get_webhook(webhook_id: str, herald: HeraldDep, ctx: ContextDep) -> WebhookOut:
    with herald.db.session() as session:
        return WebhookOut.model_validate(service.get_webhook(session, ctx, webhook_id))


@router.patch("/{webhook_id}", responses=documented(400, 404, 413))
async def update_webhook(webhook_id: str, data: WebhookPatch, herald: HeraldDep,
                         ctx: ContextDep) -> WebhookOut:
    """Change the URL, the events or the description; `enabled: true` turns it back on."""
    if data.url is not None:
        data = data.model_copy(update={"url": await _checked(herald, data.url)})

    def update() -> WebhookOut:
        with herald.unit_of_work() as session:
            return WebhookOut.model_validate(
                service.update_webhook(session, ctx, webhook_id, data))

    return await run_in_threadpool(update)


@router.delete("/{webhook_id}", status_code=204, responses=documented(404))
def delete_webhook(webhook_id: str, herald: HeraldDep, ctx: ContextDep) -> Response:
    with herald.unit_of_work() as session:
        service.delete_webhook(session, ctx, webhook_id)
    return Response(status_code=204)


@router.post("/{webhook_id}/rotate-secret", responses=documented(404))
def rotate_secret(webhook_id: str, herald: HeraldDep, ctx: ContextDep) -> SecretRotated:
    """A new signing secret (shown once); the old one also signs for 24 hours."""
    with herald.unit_of_work() as session:
        secret, webhook = service.rotate_secret(session, ctx, webhook_id)
        assert webhook.previous_secret_until is not None
        return SecretRotated(secret=secret,
                             previous_secret_valid_until=webhook.previous_secret_until)


@router.post("/{webhook_id}/ping", status_code=202, responses=documented(404, 409))
def ping(webhook_id: str, herald: HeraldDep, ctx: ContextDep) -> DeliveryOut:
    """Send a `webhook.ping` event to this webhook now; the delivery says how it went."""
    with herald.unit_of_work() as session:
        delivery = service.ping(session, ctx, webhook_id,
                                max_attempts=herald.settings.webhook_max_attempts)
        return DeliveryOut.model_validate(delivery)


@router.get("/{webhook_id}/deliveries", responses=documented(404))
def list_deliveries(
    webhook_id: str, herald: HeraldDep, ctx: ContextDep,
    status: Annotated[str | None, Query(description="pending, processing, delivered or "
                                                    "failed")] = None,
    limit: Annotated[int, Query(ge=1, le=service.DELIVERY_PAGE)] = service.DELIVERY_PAGE,
) -> DeliveryPage:
    """The newest deliveries first, with each one's last answer."""
    with herald.db.session() as session:
        items = service.list_deliveries(session, ctx, webhook_id, status=status, limit=limit)
        return DeliveryPage(items=[DeliveryOut.model_validate(d) for d in items])


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=202,
             responses=documented(404, 409))
def redeliver(webhook_id: str, delivery_id: str, herald: HeraldDep,
              ctx: ContextDep) -> DeliveryOut:
    """Send the delivery's event again (a new delivery, the same event id)."""
    with herald.unit_of_work() as session:
        delivery = service.redeliver(session, ctx, webhook_id, delivery_id,
                                     max_attempts=herald.settings.webhook_max_attempts)
        return DeliveryOut.model_validate(delivery)
