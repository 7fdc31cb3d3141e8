"""Settings > Webhooks: add (secret shown once), bad URLs and events explained, ping and the
delivery log, redeliver, off and on, rotate, delete."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from herald.events import signing
from herald.models import Webhook
from tests.receivers import Receiver, receiver


@pytest.fixture
def hook(herald) -> Iterator[Receiver]:
    herald.settings.allow_private_webhook_urls = True
    with receiver() as r:
        yield r


def _secret(html: str) -> str:
    found = re.search(r'id="new-secret">(whsec_[^<]+)<', html)
    assert found, html
    return found.group(1)


def _only_webhook(herald) -> Webhook:
    with herald.db.session() as session:
        [row] = session.scalars(select(Webhook)).all()
        return row


def test_a_webhook_added_on_the_page_shows_its_secret_once(signed_in, herald, hook):
    page = signed_in.post("/settings/webhooks", data={
        "url": hook.url, "events": ["post.failed", "account.needs_reauth"],
        "description": "pager"})
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    secret = _secret(page.text)
    row = _only_webhook(herald)
    assert row.events == ["post.failed", "account.needs_reauth"]
    assert herald.cipher.decrypt(row.secret_enc) == secret
    again = signed_in.get("/settings/webhooks").text
    assert secret not in again and hook.url in again and "pager" in again
    assert "/settings/webhooks" in signed_in.get("/settings").text  # linked from Settings


def test_a_private_url_and_no_events_are_explained_on_the_page(signed_in, herald):
    herald.settings.allow_private_webhook_urls = False
    page = signed_in.post("/settings/webhooks", data={
        "url": "http://127.0.0.1:9/hook", "events": ["post.failed"]})
    assert page.status_code == 422
    assert "Webhook URLs must point to the public internet" in page.text
    assert 'value="http://127.0.0.1:9/hook"' in page.text  # what was typed stays
    page = signed_in.post("/settings/webhooks", data={"url": "https://example.com/h"})
    assert page.status_code == 422 and "at least 1" in page.text
    with herald.db.session() as session:
        assert session.scalars(select(Webhook)).all() == []


def test_ping_shows_in_the_log_and_can_be_redelivered(signed_in, herald, hook):
    secret = _secret(signed_in.post("/settings/webhooks", data={
        "url": hook.url, "events": ["post.failed"]}).text)
    webhook_id = _only_webhook(herald).id
    assert signed_in.post(f"/settings/webhooks/{webhook_id}/ping").status_code == 303
    asyncio.run(herald.build_worker(worker_id="cron").run(until_idle=True))
    [got] = hook.wait_for(1)
    assert signing.verify(secret, got.body, got.headers["herald-signature"])
    page = signed_in.get("/settings/webhooks").text
    assert "webhook.ping" in page and "Delivered" in page and "HTTP 200" in page
    delivery = re.search(r'/deliveries/([0-9a-f-]+)/redeliver', page).group(1)
    assert signed_in.post(f"/settings/webhooks/{webhook_id}/deliveries/{delivery}"
                          "/redeliver").status_code == 303
    asyncio.run(herald.build_worker(worker_id="cron").run(until_idle=True))
    assert hook.wait_for(2)[1].json["id"] == got.json["id"]


def test_off_on_rotate_and_delete(signed_in, herald, hook):
    first = _secret(signed_in.post("/settings/webhooks", data={
        "url": hook.url, "events": ["post.failed"]}).text)
    webhook_id = _only_webhook(herald).id
    signed_in.post(f"/settings/webhooks/{webhook_id}/enabled", data={"enabled": "false"})
    assert _only_webhook(herald).enabled is False
    assert "Turn on" in signed_in.get("/settings/webhooks").text
    signed_in.post(f"/settings/webhooks/{webhook_id}/enabled", data={"enabled": "true"})
    assert _only_webhook(herald).enabled is True
    rotated = signed_in.post(f"/settings/webhooks/{webhook_id}/rotate")
    second = _secret(rotated.text)
    assert second != first and "old secret too" in rotated.text
    assert signed_in.post(f"/settings/webhooks/{webhook_id}/delete").status_code == 303
    with herald.db.session() as session:
        assert session.scalars(select(Webhook)).all() == []


def test_another_companys_webhook_is_not_found_on_the_page(signed_in, herald, hook):
    from herald import services
    from herald.events.schemas import WebhookCreate
    from herald.services import webhooks as service

    with herald.unit_of_work() as session:
        other, _ = services.create_company(session, name="Other")
        theirs, _ = service.create_webhook(session, herald.context(other.id),
                                           WebhookCreate(url=hook.url, events=["post.failed"]))
        theirs_id = theirs.id
    for path in ("ping", "rotate", "delete"):
        assert signed_in.post(f"/settings/webhooks/{theirs_id}/{path}").status_code == 404
