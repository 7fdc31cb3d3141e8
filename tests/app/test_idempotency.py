"""Idempotency-Key on the create routes, and GET /posts/{id} returning what the create took."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from herald import services
from herald.models import IdempotencyKey, Post, SocialAccount, utcnow
from herald.services import idempotency
from tests.helpers import add_account


def _count(herald, model=Post) -> int:
    with herald.db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def _body(account_id: str, caption: str = "Hello") -> dict:
    return {"account_id": account_id, "caption": caption,
            "run_at": (utcnow() + timedelta(hours=1)).isoformat()}


def test_same_key_same_body_returns_the_first_answer(client, auth, herald, company):
    account = add_account(herald, company[0])
    headers = {**auth, "Idempotency-Key": "k-1"}
    first = client.post("/api/v1/posts", json=_body(account), headers=headers)
    second = client.post("/api/v1/posts", content=first.request.content, headers={
        **headers, "content-type": "application/json"})
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert _count(herald) == 1


def test_same_key_other_body_is_422_and_stores_nothing(client, auth, herald, company):
    account = add_account(herald, company[0])
    headers = {**auth, "Idempotency-Key": "k-2"}
    assert client.post("/api/v1/posts", json=_body(account), headers=headers).status_code == 201
    again = client.post("/api/v1/posts", json=_body(account, "Other"), headers=headers)
    assert again.status_code == 422, again.text
    assert "Idempotency-Key 'k-2' was used before with a different request" in (
        again.json()["error"]["message"])
    assert _count(herald) == 1


def test_without_a_key_each_request_creates(client, auth, herald, company):
    account = add_account(herald, company[0])
    for _ in range(2):
        assert client.post("/api/v1/posts", json=_body(account), headers=auth).status_code == 201
    assert _count(herald) == 2


def test_keys_are_per_company(client, auth, herald, company):
    with herald.db.session() as session:
        other, token = services.create_company(session, name="Other")
    mine, theirs = add_account(herald, company[0]), add_account(herald, other.id)
    for account, token_ in ((mine, auth), (theirs, {"Authorization": f"Bearer {token}"})):
        response = client.post("/api/v1/posts", json=_body(account),
                               headers={**token_, "Idempotency-Key": "shared"})
        assert response.status_code == 201, response.text
    assert _count(herald) == 2


def test_accounts_route_takes_the_key(client, auth, herald):
    body = {"platform": "facebook", "external_id": "p-9", "name": "Page", "access_token": "t"}
    headers = {**auth, "Idempotency-Key": "acct-1"}
    first = client.post("/api/v1/accounts", json=body, headers=headers)
    second = client.post("/api/v1/accounts", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    other = client.post("/api/v1/accounts", json={**body, "external_id": "p-10"},
                        headers=headers)
    assert other.status_code == 422
    assert "Idempotency-Key 'acct-1' was used before with a different request" in (
        other.json()["error"]["message"])
    with herald.db.session() as session:
        assert session.scalars(select(SocialAccount.external_id)).all() == ["p-9"]


def test_a_refused_request_is_replayed_too(client, auth, herald, company):
    headers = {**auth, "Idempotency-Key": "bad-1"}
    body = {"account_id": "nope", "run_at": "now"}
    first = client.post("/api/v1/posts", json=body, headers=headers)
    assert first.status_code == 404
    assert client.post("/api/v1/posts", json=body, headers=headers).json() == first.json()


def test_an_overlong_key_is_refused(client, auth, herald, company):
    account = add_account(herald, company[0])
    response = client.post("/api/v1/posts", json=_body(account),
                           headers={**auth, "Idempotency-Key": "x" * 256})
    assert response.status_code == 422
    assert "at most 255" in response.json()["error"]["message"]
    assert _count(herald) == 0


def test_keys_are_kept_24_hours_then_forgotten(herald, company):
    now = utcnow()
    args = dict(company_id=company[0], key="old", fingerprint="a" * 64)
    assert idempotency.claim(herald.db, now=now, **args).verdict == "run"
    idempotency.finish(herald.db, company_id=company[0], key="old", status=201,
                       content_type="application/json", body="{}")
    later = now + timedelta(hours=23)
    assert idempotency.claim(herald.db, now=later, **args).verdict == "replay"
    # After 24 hours the key is free again, purged or not.
    assert idempotency.claim(herald.db, now=now + timedelta(hours=25), **args).verdict == "run"
    assert idempotency.purge(herald.db, now=now + timedelta(hours=50)) == 1
    assert _count(herald, IdempotencyKey) == 0


def test_a_failed_request_frees_its_key(herald, company):
    args = dict(company_id=company[0], key="k", fingerprint="b" * 64, now=utcnow())
    assert idempotency.claim(herald.db, **args).verdict == "run"
    assert idempotency.claim(herald.db, **args).verdict == "in_progress"
    idempotency.abandon(herald.db, company_id=company[0], key="k")
    assert idempotency.claim(herald.db, **args).verdict == "run"


@pytest.mark.all_engines
def test_racing_claims_let_exactly_one_run(herald, company):
    verdicts: list[str] = []
    barrier = threading.Barrier(6)

    def race() -> None:
        barrier.wait()
        verdicts.append(idempotency.claim(herald.db, company_id=company[0], key="race",
                                          fingerprint="c" * 64, now=utcnow()).verdict)

    threads = [threading.Thread(target=race) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(verdicts) == ["in_progress"] * 5 + ["run"]


@pytest.mark.all_engines
def test_two_concurrent_creates_with_one_key_make_one_post(client, auth, herald, company):
    account = add_account(herald, company[0])
    body = _body(account)
    barrier = threading.Barrier(4)
    answers = []

    def send() -> None:
        barrier.wait()
        answers.append(client.post("/api/v1/posts", json=body,
                                   headers={**auth, "Idempotency-Key": "same"}))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _count(herald) == 1
    assert {a.status_code for a in answers} == {201}
    assert len({a.text for a in answers}) == 1


def test_get_post_returns_everything_the_create_took(client, auth, herald, company, image_url):
    first = add_account(herald, company[0], "instagram")
    second = add_account(herald, company[0], "instagram", external_id="page-2")
    body = {"account_ids": [first, second], "post_type": "feed_story", "caption": "All of it",
            "media": [{"url": image_url, "type": "image", "alt_text": "a square"}],
            "options": {"location_id": "123"},
            "run_at": (utcnow() + timedelta(hours=3)).replace(microsecond=0).isoformat()}
    created = client.post("/api/v1/posts", json=body, headers=auth)
    assert created.status_code == 201, created.text
    post_id = created.json()["items"][0]["id"]
    got = client.get(f"/api/v1/posts/{post_id}", headers=auth).json()
    assert set(got["account_ids"]) == set(body["account_ids"])
    assert got["account_id"] in body["account_ids"]
    for name in ("caption", "media", "options"):
        assert got[name] == body[name], name
    assert got["requested_post_type"] == "feed_story"
    assert got["post_type"] in ("feed", "story")
    from datetime import datetime
    assert datetime.fromisoformat(got["run_at"]) == datetime.fromisoformat(body["run_at"])


def test_a_server_error_frees_the_key_for_the_retry(client, auth, herald, company, monkeypatch):
    from herald.api import posts as posts_api

    account = add_account(herald, company[0])
    body, headers = _body(account), {**auth, "Idempotency-Key": "crash-1"}
    real = posts_api.services.create_posts

    def crash(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(posts_api.services, "create_posts", crash)
    with pytest.raises(RuntimeError):
        client.post("/api/v1/posts", json=body, headers=headers)
    monkeypatch.setattr(posts_api.services, "create_posts", real)
    retried = client.post("/api/v1/posts", json=body, headers=headers)
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert _count(herald) == 1


def test_a_key_still_running_is_409_after_the_wait(client, auth, herald, company, monkeypatch):
    from herald.api import idempotency as layer

    account = add_account(herald, company[0])
    response = client.post("/api/v1/posts", json=_body(account), headers=auth)  # warm up
    body = response.request.content
    mark = idempotency.fingerprint("/api/v1/posts", "", body)
    assert idempotency.claim(herald.db, company_id=company[0], key="slow", fingerprint=mark,
                             now=utcnow()).verdict == "run"
    monkeypatch.setattr(layer, "WAIT_SECONDS", 0.3)
    again = client.post("/api/v1/posts", content=body, headers={
        **auth, "Idempotency-Key": "slow", "content-type": "application/json"})
    assert again.status_code == 409
    assert "still being processed" in again.json()["error"]["message"]
    assert _count(herald) == 1  # only the warm-up
