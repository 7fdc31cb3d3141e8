"""Webhooks end to end: the API, the outbox, signed deliveries to a real HTTP receiver,
retries, redirects refused, redelivery, disabling a receiver that keeps failing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from herald.config import Settings
from herald.events import signing
from herald.events.schemas import WebhookCreate
from herald.models import Event, Webhook, WebhookDelivery
from herald.platforms.base import NeedsReauthError, PermanentError
from herald.runtime import Herald
from herald.services import webhooks as service
from tests.conftest import make_settings
from tests.helpers import add_account, add_posts
from tests.receivers import Receiver, receiver


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Receivers here are on loopback; quick retries, quick polls.
    return make_settings(database_url, media_dir=tmp_path / "media",
                         public_url="http://testserver", allow_private_webhook_urls=True,
                         webhook_retry_base_seconds=0.05, webhook_retry_max_seconds=0.2,
                         outbox_poll_seconds=0.05, webhook_timeout_seconds=2.0)


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def _webhook(herald: Herald, company_id: str, url: str, events: list[str],
             secret: str = "s" * 8 + "-webhook-secret") -> str:
    with herald.unit_of_work() as session:
        webhook, _ = service.create_webhook(session, herald.context(company_id),
                                            WebhookCreate(url=url, events=events,
                                                          secret=secret))
        return webhook.id


def _deliveries(herald: Herald, webhook_id: str) -> list[WebhookDelivery]:
    with herald.db.session() as session:
        return list(session.scalars(select(WebhookDelivery).where(
            WebhookDelivery.webhook_id == webhook_id).order_by(WebhookDelivery.created_at)))


async def _until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := await asyncio.to_thread(check)):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
    return value


@contextlib.asynccontextmanager
async def running(herald: Herald) -> AsyncIterator[None]:
    """A worker (and so its event runner) running for the block's length."""
    worker = herald.build_worker(worker_id="w1")
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        worker.stop()
        await task


# --- the API -------------------------------------------------------------------------------


def test_a_webhook_is_made_its_secret_shown_once_and_stored_encrypted(client, auth, herald,
                                                                      hook):
    answer = client.post("/api/v1/webhooks", headers=auth, json={
        "url": hook.url, "events": ["post.failed", "post.published"],
        "description": "ops"})
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert made["secret"].startswith("whsec_") and made["enabled"] is True
    assert made["events"] == ["post.failed", "post.published"]
    listed = client.get("/api/v1/webhooks", headers=auth).json()
    assert [w["id"] for w in listed] == [made["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in client.get(f"/api/v1/webhooks/{made['id']}", headers=auth).json()
    with herald.db.session() as session:
        row = session.get(Webhook, made["id"])
        assert row is not None and made["secret"] not in row.secret_enc
        assert herald.cipher.decrypt(row.secret_enc) == made["secret"]

    changed = client.patch(f"/api/v1/webhooks/{made['id']}", headers=auth,
                           json={"events": ["post.unconfirmed"]})
    assert changed.status_code == 200 and changed.json()["events"] == ["post.unconfirmed"]
    rotated = client.post(f"/api/v1/webhooks/{made['id']}/rotate-secret", headers=auth).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != made["secret"]
    assert client.delete(f"/api/v1/webhooks/{made['id']}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/webhooks/{made['id']}", headers=auth).status_code == 404


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://localhost/hook",
                                 "http://10.1.2.3/hook", "http://[::1]/hook",
                                 "http://169.254.169.254/latest"])
def test_a_webhook_url_on_a_private_or_loopback_address_is_refused(client, auth, herald,
                                                                   url):
    herald.settings.allow_private_webhook_urls = False
    answer = client.post("/api/v1/webhooks", headers=auth,
                         json={"url": url, "events": ["post.failed"]})
    assert answer.status_code == 422, answer.text
    message = answer.json()["error"]["message"]
    assert "Webhook URLs must point to the public internet" in message, message
    assert "HERALD_ALLOW_PRIVATE_WEBHOOK_URLS=1" in message
    assert client.get("/api/v1/webhooks", headers=auth).json() == []


@pytest.mark.parametrize("url, words", [("ftp://example.com/x", "must start with http"),
                                        ("not a url", "http"),
                                        ("http:///nohost", "host")])
def test_a_webhook_url_that_is_not_http_is_refused(client, auth, url, words):
    answer = client.post("/api/v1/webhooks", headers=auth,
                         json={"url": url, "events": ["post.failed"]})
    assert answer.status_code == 422, answer.text
    assert words in answer.json()["error"]["message"]


@pytest.mark.parametrize("events, words", [
    (["post.exploded"], "unknown event 'post.exploded'"),
    (["webhook.ping"], "unknown event 'webhook.ping'"),
    ([], "at least 1"),
])
def test_bad_event_names_are_refused_with_the_list_of_events(client, auth, hook, events,
                                                             words):
    answer = client.post("/api/v1/webhooks", headers=auth,
                         json={"url": hook.url, "events": events})
    assert answer.status_code == 422, answer.text
    message = json.dumps(answer.json())
    assert words in message, message
    if events and events != []:
        assert "post.published" in message  # the valid names are listed


def test_a_short_secret_and_unknown_fields_are_refused(client, auth, hook):
    short = client.post("/api/v1/webhooks", headers=auth,
                        json={"url": hook.url, "events": ["post.failed"], "secret": "abc"})
    assert short.status_code == 422
    extra = client.post("/api/v1/webhooks", headers=auth,
                        json={"url": hook.url, "events": ["post.failed"], "sekret": "x"})
    assert extra.status_code == 422


def test_another_companys_webhook_is_not_found(client, auth, herald, hook):
    from herald import services

    with herald.db.session() as session:
        other, _ = services.create_company(session, name="Other")
        other_id = other.id
    theirs = _webhook(herald, other_id, hook.url, ["post.failed"])
    for method, path in [("get", ""), ("delete", ""), ("get", "/deliveries"),
                         ("post", "/ping"), ("post", "/rotate-secret")]:
        answer = client.request(method, f"/api/v1/webhooks/{theirs}{path}", headers=auth)
        assert answer.status_code == 404, (method, path, answer.text)


# --- delivery ------------------------------------------------------------------------------


async def test_a_failed_post_makes_a_signed_webhook_the_receiver_verifies(herald, company,
                                                                        hook):
    secret = "whsec_test-secret-for-signing"
    webhook_id = _webhook(herald, company[0], hook.url, ["post.failed"], secret=secret)
    account = add_account(herald, company[0])
    [post_id] = add_posts(herald, company[0], account, 1)
    herald.registry.get("facebook").fail(post_id, PermanentError("Caption refused."))
    async with running(herald):
        [got] = await asyncio.to_thread(hook.wait_for, 1)
    assert signing.verify(secret, got.body, got.headers["herald-signature"])
    assert not signing.verify("whsec_another-secret", got.body,
                              got.headers["herald-signature"])
    body = got.json
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["type"] == "post.failed" == got.headers["herald-event-type"]
    assert body["id"] == got.headers["herald-event-id"]
    assert body["data"]["id"] == post_id and body["data"]["status"] == "failed"
    assert body["data"]["error_message"] == "Caption refused."
    assert got.headers["content-type"] == "application/json"
    # t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">, as documented.
    stamp, v1 = got.headers["herald-signature"].split(",")
    assert stamp.startswith("t=") and abs(int(stamp[2:]) - time.time()) < 60
    assert v1 == "v1=" + signing.signature(secret, int(stamp[2:]), got.body)
    [delivery] = _deliveries(herald, webhook_id)
    assert delivery.status == "delivered" and delivery.attempts == 1
    assert delivery.response_status == 200 and delivery.event_id == body["id"]


async def test_deliveries_are_retried_after_5xx_and_honour_retry_after(herald, company,
                                                                     hook):
    hook.answers = [(500, {}), (503, {"Retry-After": "1"}), (200, {})]
    webhook_id = _webhook(herald, company[0], hook.url, ["post.published"])
    account = add_account(herald, company[0])
    add_posts(herald, company[0], account, 1)
    async with running(herald):
        got = await asyncio.to_thread(hook.wait_for, 3)
        [delivery] = await _until(lambda: [d for d in _deliveries(herald, webhook_id)
                                           if d.status == "delivered"])
    assert len({r.json["id"] for r in got}) == 1  # one event, sent three times
    assert delivery.attempts == 3 and delivery.response_status == 200
    # Retry-After: 1 held the third try back a second after the second.
    assert len(hook.received) == 3


async def test_each_delivery_attempt_is_counted_on_metrics(herald, company, hook, client):
    from tests.app.test_metrics import read, value

    def counted(outcome: str) -> float:
        return value(read(client), "herald_webhook_deliveries_total", outcome=outcome)

    before = {o: counted(o) for o in ("delivered", "retry")}
    hook.answers = [(500, {}), (200, {})]
    webhook_id = _webhook(herald, company[0], hook.url, ["post.published"])
    account = add_account(herald, company[0])
    add_posts(herald, company[0], account, 1)
    async with running(herald):
        await _until(lambda: [d for d in _deliveries(herald, webhook_id)
                              if d.status == "delivered"])
    assert counted("retry") - before["retry"] == 1
    assert counted("delivered") - before["delivered"] == 1


@pytest.mark.parametrize("days", [30, 0])
async def test_the_worker_deletes_deliveries_past_the_retention(herald, company, hook, days):
    from datetime import timedelta

    from herald.models import utcnow

    herald.settings.event_retention_days = days
    webhook_id = _webhook(herald, company[0], hook.url, ["post.published"])
    account = add_account(herald, company[0])
    add_posts(herald, company[0], account, 1)
    async with running(herald):
        await _until(lambda: [d for d in _deliveries(herald, webhook_id)
                              if d.status == "delivered"])
    then = utcnow() - timedelta(days=31)
    with herald.db.engine.begin() as conn:
        conn.execute(WebhookDelivery.__table__.update().values(updated_at=then))
        conn.execute(Event.__table__.update().values(created_at=then))
    add_posts(herald, company[0], account, 1)  # a fresh one, kept either way
    async with running(herald):  # a worker's housekeeping runs as it starts
        await _until(lambda: [d for d in _deliveries(herald, webhook_id)
                              if d.status == "delivered" and d.updated_at > then])
        if days:
            await _until(lambda: len(_deliveries(herald, webhook_id)) == 1)
    with herald.db.session() as session:  # 0 keeps everything
        assert len(session.scalars(select(Event)).all()) == (1 if days else 2)
    assert len(_deliveries(herald, webhook_id)) == (1 if days else 2)


async def test_a_redirect_is_not_followed_and_says_so(herald, company, hook):
    with receiver() as target:
        hook.answers = [(302, {"Location": target.url})]
        webhook_id = _webhook(herald, company[0], hook.url, ["post.published"])
        account = add_account(herald, company[0])
        add_posts(herald, company[0], account, 1)
        async with running(herald):
            await asyncio.to_thread(hook.wait_for, 1)
            [delivery] = await _until(lambda: [d for d in _deliveries(herald, webhook_id)
                                               if d.error_message])
        assert target.received == []
    assert delivery.response_status == 302
    assert "does not follow webhook redirects" in (delivery.error_message or "")
    assert delivery.status in ("pending", "processing", "failed")


async def test_a_receiver_that_keeps_failing_is_disabled_with_a_notice(herald, company,
                                                                     hook):
    herald.settings.webhook_disable_after_seconds = 0.3
    hook.answers = [(500, {})]
    webhook_id = _webhook(herald, company[0], hook.url, ["post.published"])
    account = add_account(herald, company[0])
    add_posts(herald, company[0], account, 1)
    async with running(herald):
        await _until(lambda: _webhook_row(herald, webhook_id).enabled is False)
    row = _webhook_row(herald, webhook_id)
    assert "turned this webhook off" in (row.disabled_reason or "")
    with herald.db.session() as session:
        notices = session.scalars(select(Event).where(Event.type == "webhook.disabled")).all()
        assert [e.subject_id for e in notices] == [webhook_id]
    # Disabled: nothing more is sent; enabled again, the waiting delivery goes out.
    sent = len(hook.received)
    await asyncio.sleep(0.5)
    assert len(hook.received) == sent


def _webhook_row(herald: Herald, webhook_id: str) -> Webhook:
    with herald.db.session() as session:
        row = session.get(Webhook, webhook_id)
        assert row is not None
        return row


def test_ping_deliveries_list_and_redeliver_through_the_api(client, auth, herald, hook):
    made = client.post("/api/v1/webhooks", headers=auth,
                       json={"url": hook.url, "events": ["post.failed"]}).json()
    ping = client.post(f"/api/v1/webhooks/{made['id']}/ping", headers=auth)
    assert ping.status_code == 202, ping.text
    assert ping.json()["event_type"] == "webhook.ping"
    assert ping.json()["status"] == "pending"
    # Not yet sent: redelivering a pending delivery is a 409.
    again = client.post(f"/api/v1/webhooks/{made['id']}/deliveries/{ping.json()['id']}"
                        "/redeliver", headers=auth)
    assert again.status_code == 409
    asyncio.run(herald.build_worker(worker_id="cron").run(until_idle=True))
    [got] = hook.wait_for(1)
    assert got.json["type"] == "webhook.ping"
    assert signing.verify(made["secret"], got.body, got.headers["herald-signature"])
    log = client.get(f"/api/v1/webhooks/{made['id']}/deliveries", headers=auth).json()
    [first] = log["items"]
    assert first["status"] == "delivered" and first["response_status"] == 200
    assert first["response_body"] == '{"ok": true}'
    redelivered = client.post(f"/api/v1/webhooks/{made['id']}/deliveries/{first['id']}"
                              "/redeliver", headers=auth)
    assert redelivered.status_code == 202
    assert redelivered.json()["redelivery_of"] == first["id"]
    assert redelivered.json()["event_id"] == first["event_id"]
    asyncio.run(herald.build_worker(worker_id="cron").run(until_idle=True))
    second = hook.wait_for(2)[1]
    assert second.json["id"] == got.json["id"]  # the same event id: receivers de-duplicate
    assert second.headers["herald-delivery-id"] != got.headers["herald-delivery-id"]
    only_delivered = client.get(f"/api/v1/webhooks/{made['id']}/deliveries?status=delivered",
                                headers=auth).json()["items"]
    assert len(only_delivered) == 2
    bad = client.get(f"/api/v1/webhooks/{made['id']}/deliveries?status=lost", headers=auth)
    assert bad.status_code == 422


async def test_an_account_needing_reconnection_and_a_cancel_make_events(herald, company,
                                                                      hook):
    from datetime import timedelta

    from herald import services
    from herald.models import utcnow

    _webhook(herald, company[0], hook.url, ["account.needs_reauth", "post.cancelled"])
    account = add_account(herald, company[0])
    [post_id] = add_posts(herald, company[0], account, 1)
    [later] = add_posts(herald, company[0], account, 1, run_at=utcnow() + timedelta(hours=1))
    with herald.unit_of_work() as session:
        services.cancel_post(session, herald.context(company[0]), later)
    herald.registry.get("facebook").fail(post_id, NeedsReauthError("Token revoked."))
    async with running(herald):
        got = await asyncio.to_thread(hook.wait_for, 2)
    by_type = {r.json["type"]: r.json for r in got}
    assert set(by_type) == {"account.needs_reauth", "post.cancelled"}
    reauth = by_type["account.needs_reauth"]
    assert reauth["data"]["id"] == account and reauth["data"]["state"] == "needs_reauth"
    assert "secret-token" not in json.dumps(reauth)  # the API's view: no token in it
    assert by_type["post.cancelled"]["data"]["id"] == later
    assert by_type["post.cancelled"]["data"]["status"] == "cancelled"


async def test_a_receiver_that_times_out_is_retried_and_said(herald, company, hook):
    herald.settings.webhook_timeout_seconds = 0.5
    hook.delays = {0: 3.0}  # the first answer comes too late; the second at once
    webhook_id = _webhook(herald, company[0], hook.url, ["post.published"])
    account = add_account(herald, company[0])
    add_posts(herald, company[0], account, 1)
    async with running(herald):
        [delivery] = await _until(lambda: [d for d in _deliveries(herald, webhook_id)
                                           if d.status == "delivered"])
    assert delivery.attempts == 2
    got = hook.wait_for(2)
    assert got[0].json["id"] == got[1].json["id"]


async def test_a_slow_receiver_does_not_hold_up_the_posts(herald, company, hook):
    import threading

    herald.settings.webhook_timeout_seconds = 30.0
    release = threading.Event()
    hook.on_request = lambda _: release.wait(30)  # every answer waits for the test
    webhook_id = _webhook(herald, company[0], hook.url, ["post.published"])
    account = add_account(herald, company[0])
    first = add_posts(herald, company[0], account, 1)
    async with running(herald):
        await asyncio.to_thread(hook.wait_for, 1)  # its delivery hangs at the receiver
        more = add_posts(herald, company[0], account, 5)
        await _until(lambda: _all_published(herald, first + more))
        # Published while the receiver still sat on the deliveries.
        assert not [d for d in _deliveries(herald, webhook_id) if d.status == "delivered"]
        release.set()
        await _until(lambda: len([d for d in _deliveries(herald, webhook_id)
                                  if d.status == "delivered"]) == 6)


def _all_published(herald: Herald, post_ids: list[str]) -> bool:
    from herald.models import Post

    with herald.db.session() as session:
        return all(session.get(Post, pid).status == "published" for pid in post_ids)


def test_approvals_requested_and_decided_are_events(client, auth, herald, company, hook):
    from herald import services
    from herald.permissions import Role

    account_id = add_account(herald, company[0])
    with herald.db.session() as session:
        contributor = {"Authorization": "Bearer " + services.create_api_token(
            session, company_id=company[0], name="c", role=Role.CONTRIBUTOR)}
    client.post("/api/v1/webhooks", headers=auth, json={
        "url": hook.url, "events": ["approval.requested", "approval.decided"]})
    assert client.patch(f"/api/v1/accounts/{account_id}", headers=auth,
                        json={"requires_approval": True}).status_code == 200
    [first, second] = [client.post("/api/v1/posts", headers=contributor, json={
        "account_id": account_id, "caption": "For approval", "post_type": "text",
        "run_at": "2030-01-01T09:00:00Z"}).json()["items"][0] for _ in range(2)]
    assert client.post(f"/api/v1/posts/{first['id']}/approve",
                       headers=auth).status_code == 200
    assert client.post(f"/api/v1/posts/{second['id']}/reject", headers=auth,
                       json={"reason": "Too many hashtags"}).status_code == 200
    asyncio.run(herald.build_worker(worker_id="cron").run(until_idle=True))
    got = [(r.json["type"], r.json["data"]["id"], r.json["data"]["status"])
           for r in hook.wait_for(4)]
    assert sorted(got) == sorted([
        ("approval.requested", first["id"], "pending"),  # the data is read at dispatch
        ("approval.requested", second["id"], "draft"),
        ("approval.decided", first["id"], "pending"),
        ("approval.decided", second["id"], "draft")])
    rejected = next(r.json for r in hook.received if r.json["type"] == "approval.decided"
                    and r.json["data"]["id"] == second["id"])
    assert rejected["data"]["review_note"] == "Too many hashtags"
