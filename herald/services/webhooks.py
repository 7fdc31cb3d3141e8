"""Webhooks: add, list, change, remove, rotate the secret, ping, the delivery log, redeliver.

The URL is checked (and its host resolved) before the transaction: `check_url` first,
then the use case, as media URLs are.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.errors import Conflict, Invalid, NotFound
from herald.events import EventType
from herald.events.schemas import WebhookCreate, WebhookPatch
from herald.events.sender import check_url as _check_url
from herald.events.signing import new_secret
from herald.media.fetch import MediaURLError
from herald.models import Event, Webhook, WebhookDelivery, new_id
from herald.permissions import Permission
from herald.queue import deliveries as dq
from herald.services.context import Context
from herald.statuses import DeliveryStatus

#: After a rotation deliveries are signed with both secrets this long.
ROTATION_OVERLAP = timedelta(hours=24)
MAX_WEBHOOKS = 100
DELIVERY_PAGE = 100


def check_url(url: str, *, allow_private: bool) -> str:
    """The webhook URL, or Invalid (422) saying why not (blocking: resolves the host)."""
    url = url.strip()
    try:
        _check_url(url, allow_private=allow_private)
    except MediaURLError as exc:
        hint = ("" if allow_private else
                " (HERALD_ALLOW_PRIVATE_WEBHOOK_URLS=1 allows private addresses, for "
                "receivers on your own network)")
        raise Invalid(f"url: {exc}{hint if 'public' in str(exc) else ''}") from None
    return url


def create_webhook(session: Session, ctx: Context, data: WebhookCreate
                   ) -> tuple[Webhook, str]:
    """A new webhook and its secret (shown once). `data.url` must have passed check_url."""
    ctx.require(Permission.MANAGE_TOKENS)
    count = len(session.scalars(select(Webhook.id).where(
        Webhook.company_id == ctx.company_id)).all())
    if count >= MAX_WEBHOOKS:
        raise Conflict(f"This company has {MAX_WEBHOOKS} webhooks, the most Herald keeps; "
                       "delete one first.")
    secret = data.secret or new_secret()
    now = ctx.now()
    webhook = Webhook(id=new_id(), company_id=ctx.company_id, url=data.url.strip(),
                      description=data.description, events=list(data.events),
                      secret_enc=ctx.cipher.encrypt(secret), enabled=True,
                      created_at=now, updated_at=now)
    session.add(webhook)
    session.flush()
    return webhook, secret


def list_webhooks(session: Session, ctx: Context) -> list[Webhook]:
    ctx.require(Permission.MANAGE_TOKENS)
    return list(session.scalars(select(Webhook).where(Webhook.company_id == ctx.company_id)
                                .order_by(Webhook.created_at, Webhook.id)))


def get_webhook(session: Session, ctx: Context, webhook_id: str) -> Webhook:
    # Every use of one webhook goes through here: its URL, events and deliveries are
    # machine access, like API tokens.
    ctx.require(Permission.MANAGE_TOKENS)
    webhook = session.get(Webhook, webhook_id)
    if webhook is None or webhook.company_id != ctx.company_id:
        raise NotFound(f"No webhook {webhook_id!r} in this company.")
    return webhook


def update_webhook(session: Session, ctx: Context, webhook_id: str, data: WebhookPatch
                   ) -> Webhook:
    """Change it; `data.url`, if given, must have passed check_url."""
    webhook = get_webhook(session, ctx, webhook_id)
    now = ctx.now()
    if data.url is not None:
        webhook.url = data.url.strip()
    if data.events is not None:
        webhook.events = list(data.events)
    if data.description is not None:
        webhook.description = data.description
    if data.enabled is not None and data.enabled != webhook.enabled:
        webhook.enabled = data.enabled
        if data.enabled:
            webhook.disabled_reason = None
            webhook.failing_since = None
            session.flush()
            dq.requeue_webhook(session.connection(), webhook.id, now=now)
        else:
            webhook.disabled_reason = "Turned off by a person."
    webhook.updated_at = now
    return webhook


def delete_webhook(session: Session, ctx: Context, webhook_id: str) -> None:
    session.delete(get_webhook(session, ctx, webhook_id))


def rotate_secret(session: Session, ctx: Context, webhook_id: str) -> tuple[str, Webhook]:
    """A new secret; the old one still signs (a second v1=) for ROTATION_OVERLAP."""
    webhook = get_webhook(session, ctx, webhook_id)
    secret = new_secret()
    webhook.previous_secret_enc = webhook.secret_enc
    webhook.previous_secret_until = ctx.now() + ROTATION_OVERLAP
    webhook.secret_enc = ctx.cipher.encrypt(secret)
    webhook.updated_at = ctx.now()
    return secret, webhook


def ping(session: Session, ctx: Context, webhook_id: str, *, max_attempts: int
         ) -> WebhookDelivery:
    """A `webhook.ping` event to this webhook alone, delivered like any other."""
    webhook = get_webhook(session, ctx, webhook_id)
    if not webhook.enabled:
        raise Conflict("The webhook is disabled; enable it first (PATCH enabled=true).")
    now = ctx.now()
    event = Event(id=new_id(), type=EventType.WEBHOOK_PING, subject_id=webhook.id,
                  company_id=ctx.company_id, created_at=now, dispatched_at=now,
                  data={"webhook_id": webhook.id, "message": "Herald says hello."})
    session.add(event)
    session.flush()
    return _enqueue(session, webhook.id, event, max_attempts=max_attempts, ctx=ctx)


def list_deliveries(session: Session, ctx: Context, webhook_id: str, *,
                    status: str | None = None, limit: int = DELIVERY_PAGE
                    ) -> list[WebhookDelivery]:
    """The newest deliveries first."""
    get_webhook(session, ctx, webhook_id)
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if status is not None:
        if status not in tuple(DeliveryStatus):
            raise Invalid(f"status must be one of {', '.join(DeliveryStatus)}, not "
                          f"{status!r}")
        query = query.where(WebhookDelivery.status == status)
    return list(session.scalars(query.order_by(WebhookDelivery.created_at.desc(),
                                               WebhookDelivery.id.desc()).limit(limit)))


def redeliver(session: Session, ctx: Context, webhook_id: str, delivery_id: str, *,
              max_attempts: int) -> WebhookDelivery:
    """The delivery's event once more, as a new delivery with the same event id."""
    webhook = get_webhook(session, ctx, webhook_id)
    original = session.get(WebhookDelivery, delivery_id)
    if original is None or original.webhook_id != webhook.id:
        raise NotFound(f"No delivery {delivery_id!r} for this webhook.")
    if original.status in (DeliveryStatus.PENDING, DeliveryStatus.PROCESSING):
        raise Conflict(f"The delivery is {original.status}: it will be sent anyway.")
    event = session.scalars(select(Event).where(Event.id == original.event_id)).one()
    return _enqueue(session, webhook.id, event, max_attempts=max_attempts, ctx=ctx,
                    redelivery_of=original.id)


def _enqueue(session: Session, webhook_id: str, event: Event, *, max_attempts: int,
             ctx: Context, redelivery_of: str | None = None) -> WebhookDelivery:
    now = ctx.now()
    delivery_id = new_id()
    dq.enqueue(session.connection(), dq.deliveries_t, [{
        "id": delivery_id, "webhook_id": webhook_id, "event_id": event.id,
        "event_seq": event.seq, "event_type": event.type, "subject_id": event.subject_id,
        "run_at": now, "max_attempts": max_attempts, "redelivery_of": redelivery_of,
        "created_at": now, "updated_at": now}])
    delivery = session.get(WebhookDelivery, delivery_id)
    assert delivery is not None
    return delivery

