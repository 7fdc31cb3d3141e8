"""API tokens: a success is remembered for a few seconds, a revocation ends it after them."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest

from herald import services
from herald.api.auth import TOKEN_CACHE_SECONDS, TokenCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _cached_app(client) -> Clock:
    clock = Clock()
    client.app.state.token_cache = TokenCache(clock=clock)
    return clock


def test_a_revoked_token_stops_working_once_the_cache_expires(client, herald, company):
    clock = _cached_app(client)
    auth = {"Authorization": f"Bearer {company[1]}"}
    assert client.get("/api/v1/posts", headers=auth).status_code == 200
    with herald.db.session() as s:
        services.revoke_api_token(s, token=company[1])
    # Within the cache's lifetime the process still trusts the token it just accepted…
    clock.now += TOKEN_CACHE_SECONDS / 2
    assert client.get("/api/v1/posts", headers=auth).status_code == 200
    # …and no longer after it: the database says revoked.
    clock.now += TOKEN_CACHE_SECONDS
    response = client.get("/api/v1/posts", headers=auth)
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
    assert client.post("/api/v1/posts", headers=auth,
                       json={"account_id": "x", "run_at": "now"}).status_code == 401


def test_failures_are_not_remembered(client, herald, company):
    _cached_app(client)
    wrong = {"Authorization": "Bearer hld_wrong"}
    assert client.get("/api/v1/posts", headers=wrong).status_code == 401
    assert client.get("/api/v1/posts", headers=wrong).status_code == 401
    # A token made after a refused attempt works at once.
    with herald.db.session() as s:
        token = services.create_api_token(s, company_id=company[0], name="new")
    response = client.get("/api/v1/posts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_each_token_maps_to_its_own_company(client, herald, company):
    _cached_app(client)
    with herald.db.session() as s:
        _, other_token = services.create_company(s, name="Other")
    mine = client.get("/api/v1/accounts", headers={"Authorization": f"Bearer {company[1]}"})
    theirs = client.post("/api/v1/accounts", headers={"Authorization": f"Bearer {other_token}"},
                         json={"platform": "facebook", "external_id": "p", "name": "Theirs",
                               "access_token": "t"})
    assert mine.json() == [] and theirs.status_code == 201
    again = client.get("/api/v1/accounts", headers={"Authorization": f"Bearer {company[1]}"})
    assert again.json() == []


def test_the_cache_forgets_the_least_recently_used_past_its_size():
    clock = Clock()
    cache = TokenCache(ttl=5, size=2, clock=clock)
    cache.put("a", "company-a")
    cache.put("b", "company-b")
    assert cache.get("a") == "company-a"
    cache.put("c", "company-c")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("company-a", None, "company-c")
    clock.now += 5
    assert cache.get("a") is None


async def test_requests_missing_the_cache_at_once_share_one_lookup():
    import asyncio

    calls: list[str] = []
    release = asyncio.Event()

    async def lookup(token: str) -> str:
        calls.append(token)
        await release.wait()
        return "company-a"

    cache = TokenCache(clock=Clock())
    waiters = [asyncio.ensure_future(cache.company_id("hld_x", lookup)) for _ in range(5)]
    await asyncio.sleep(0)
    waiters[0].cancel()  # one caller going away does not cancel the others' lookup
    release.set()
    results = await asyncio.gather(*waiters[1:])
    assert results == ["company-a"] * 4 and calls == ["hld_x"]
    assert await cache.company_id("hld_x", lookup) == "company-a" and len(calls) == 1


def test_a_deleted_companys_token_stops_working_once_the_cache_expires(client, herald,
                                                                        company):
    if herald.db.dialect != "sqlite":
        pytest.skip("PostgreSQL and MariaDB always enforce the cascade")
    clock = _cached_app(client)
    auth = {"Authorization": f"Bearer {company[1]}"}
    assert client.get("/api/v1/posts", headers=auth).status_code == 200
    # Deleted the way SQLite's own shell (sqlite3) does it: foreign keys not enforced, so
    # the schema's ON DELETE CASCADE leaves the company's tokens behind.
    with contextlib.closing(sqlite3.connect(herald.db.engine.url.database)) as conn:
        conn.execute("DELETE FROM companies")
        conn.commit()
        assert conn.execute("SELECT count(*) FROM api_tokens").fetchone() == (1,)
    clock.now += TOKEN_CACHE_SECONDS * 1.5
    response = client.get("/api/v1/posts", headers=auth)
    assert response.status_code == 401
    assert "not valid" in response.json()["error"]["message"]
