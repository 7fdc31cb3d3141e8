"""/metrics, /healthz and /readyz in process; the worker's own metrics port."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from herald import metrics, metrics_http
from herald.app import build_worker, create_app
from herald.models import PostSchedule, utcnow
from herald.platforms.base import PermanentError, TransientError
from herald.runtime import Herald
from tests.conftest import make_settings
from tests.helpers import add_account, add_posts

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(body: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def read(client: TestClient, **headers: str) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return scrape(response.text)


async def _run_until_settled(herald: Herald, ids: list[str], worker_id: str = "w1") -> None:
    from tests.app.test_worker import _all_status, _run_until

    worker = build_worker(herald, worker_id=worker_id)
    await _run_until(worker, _all_status(herald, ids, "published", "failed"))


@pytest.mark.all_engines
async def test_metrics_count_outcomes_errors_lateness_and_queue_depth(herald, company, client):
    before = read(client)
    account = add_account(herald, company[0])
    ok = add_posts(herald, company[0], account, 3)
    [flaky] = add_posts(herald, company[0], account)
    [bad] = add_posts(herald, company[0], account)
    later = add_posts(herald, company[0], account, 2, run_at=utcnow() + timedelta(hours=1))
    publisher = herald.registry.get("facebook")
    publisher.fail(flaky, TransientError("Facebook had a hiccup (code 2).", code="2"))
    publisher.fail(bad, PermanentError("The image is too large.", code="324"))

    pending = read(client)
    assert value(pending, "herald_queue_posts", status="pending") == 7
    assert value(pending, "herald_queue_due") == 5
    assert value(pending, "herald_database_up") == 1

    await _run_until_settled(herald, [*ok, flaky, bad])
    after = read(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("herald_publish_outcomes_total", platform="facebook", outcome="published") == 4
    assert grew("herald_publish_outcomes_total", platform="facebook", outcome="retry") == 1
    assert grew("herald_publish_outcomes_total", platform="facebook", outcome="failed") == 1
    assert grew("herald_publish_errors_total", platform="facebook", code="2") == 1
    assert grew("herald_publish_errors_total", platform="facebook", code="324") == 1
    assert grew("herald_publish_attempts_total", platform="facebook") == 6
    # One lateness per post (its first attempt), one duration per attempt.
    assert grew("herald_publish_lateness_seconds_count", platform="facebook") == 5
    assert grew("herald_publish_duration_seconds_count", platform="facebook") == 6
    assert value(after, "herald_queue_posts", status="pending") == len(later)
    assert value(after, "herald_queue_posts", status="processing") == 0
    assert value(after, "herald_queue_due") == 0
    # The API's own requests are counted too: the scrapes above.
    assert grew("herald_http_requests_total", method="GET", status="200") >= 2


async def test_an_outcome_decided_before_publishing_counts_under_its_platform(
        herald, company, client):
    before = read(client)
    account = add_account(herald, company[0], "linkedin", "urn:li:person:x")
    [pid] = add_posts(herald, company[0], account, post_type="text")
    with herald.db.engine.begin() as conn:
        conn.execute(text("UPDATE social_accounts SET state = 'needs_reauth' WHERE id = :id"),
                     {"id": account})
    await _run_until_settled(herald, [pid])
    after = read(client)
    key = {"platform": "linkedin", "outcome": "failed"}
    assert (value(after, "herald_publish_outcomes_total", **key)
            - value(before, "herald_publish_outcomes_total", **key)) == 1
    code = {"platform": "linkedin", "code": "needs_reauth"}
    assert (value(after, "herald_publish_errors_total", **code)
            - value(before, "herald_publish_errors_total", **code)) == 1


@pytest.mark.all_engines
async def test_a_rescued_lease_is_counted(herald, company, client):
    before = value(read(client), "herald_lease_rescues_total")
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    [_claim] = herald.queue().claim(worker_id="dead", limit=1, now=utcnow())
    with herald.db.engine.begin() as conn:
        conn.execute(PostSchedule.__table__.update().values(
            lease_expires_at=utcnow() - timedelta(seconds=1)))
    expired = read(client)
    assert value(expired, "herald_queue_expired_leases") == 1
    assert value(expired, "herald_queue_posts", status="processing") == 1
    await _run_until_settled(herald, [pid])
    assert value(read(client), "herald_lease_rescues_total") - before == 1


def test_metrics_token_is_required_when_set(database_url, tmp_path):
    settings = make_settings(database_url, media_dir=tmp_path / "media",
                             metrics_token="scrape-token-1234")
    herald = Herald.build(settings)
    with TestClient(create_app(herald)) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={
            "Authorization": "Bearer wrong"}).status_code == 401
        assert "herald_queue_due" in client.get("/metrics", headers={
            "Authorization": "Bearer scrape-token-1234"}).text
        # Health and readiness stay open: probes carry no token.
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
    herald.db.dispose()


def test_healthz_and_readyz_on_a_current_database(client):
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["ok"] is True
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["ok"] is True


def test_readyz_is_503_when_the_schema_is_behind(herald, client):
    with herald.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "herald db upgrade" in ready.json()["problem"]
    assert client.get("/healthz").status_code == 200  # the process itself is fine


def test_an_unreachable_database_is_not_ready_but_the_process_is_healthy(tmp_path):
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    settings = make_settings("postgresql://postgres@127.0.0.1:1/herald",
                             media_dir=tmp_path / "media")
    herald = Herald.build(settings)
    with TestClient(create_app(herald)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "cannot be reached" in ready.json()["problem"]
        # The scrape still answers, and says the database is down.
        samples = read(client)
        assert value(samples, "herald_database_up") == 0
    herald.db.dispose()


async def test_the_workers_metrics_port(herald, company):
    server = metrics_http.serve("127.0.0.1", 0, token="worker-token-1234",
                                queue=metrics.queue_registry(herald.db.engine))
    base = f"http://127.0.0.1:{server.port}"
    try:
        account = add_account(herald, company[0])
        add_posts(herald, company[0], account, 2, run_at=utcnow() + timedelta(hours=1))
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/metrics")).status_code == 401
            answer = await http.get("/metrics",
                                    headers={"Authorization": "Bearer worker-token-1234"})
            assert answer.status_code == 200
            samples = scrape(answer.text)
            assert value(samples, "herald_queue_posts", status="pending") == 2
            assert "# TYPE herald_publish_outcomes_total counter" in answer.text
            assert (await http.get("/healthz")).json()["ok"] is True
            assert (await http.get("/nothing")).status_code == 404
    finally:
        await asyncio.to_thread(server.stop)


def test_authorized_compares_the_bearer_token():
    assert metrics.authorized(None, None)
    assert metrics.authorized("Bearer x", "")
    assert metrics.authorized("Bearer  tok ", "tok")
    assert metrics.authorized("bearer tok", "tok")
    assert not metrics.authorized("Basic tok", "tok")
    assert not metrics.authorized(None, "tok")
    assert not metrics.authorized("Bearer tok2", "tok")
