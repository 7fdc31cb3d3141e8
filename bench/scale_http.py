"""bench.scale's HTTP half: the API and the web pages of a real `herald serve`.

Lists and pages are timed by Herald's own Server-Timing header (the server's time, not
the client's); creates by the clients, 8 at once, as bench.api does.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from bench import api as api_bench
from bench.common import settings_for
from bench.platform import free_port, worker_env
from bench.scale_fill import Tenant
from herald.models import User, utcnow
from herald.runtime import Herald
from herald.web import users

REPEAT = 9
EMAIL, PASSWORD = "scale@example.com", "scale benchmark password"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _server_ms(response: httpx.Response) -> float:
    assert response.status_code == 200, (response.request.url, response.text[:300])
    timing = response.headers.get("server-timing")
    # The API has no Server-Timing header: its round trip on the loopback instead.
    return (float(timing.split("dur=")[1]) if timing
            else response.elapsed.total_seconds() * 1000)


def timed_get(client: httpx.Client, url: str, repeat: int = REPEAT) -> dict[str, Any]:
    """The first request's server time, then the median of `repeat` more, with the spread."""
    first = _server_ms(client.get(url))
    runs = [_server_ms(client.get(url)) for _ in range(repeat)]
    return {"ms": round(statistics.median(runs), 1), "min": round(min(runs), 1),
            "max": round(max(runs), 1), "first_ms": round(first, 1)}


def _member(url: str, company_id: str) -> None:
    herald = Herald.build(settings_for(url))
    try:
        with herald.db.session() as session:
            if session.scalars(select(User).where(User.email == EMAIL)).first() is None:
                users.create_user(session, company_id=company_id, email=EMAIL,
                                  password=PASSWORD, name="Scale")
    finally:
        herald.db.dispose()


def _sign_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
    token = _CSRF.search(client.get("/signin").text)
    assert token, "no CSRF field on the sign-in page"
    response = client.post("/signin", data={"email": EMAIL, "password": PASSWORD,
                                            "csrf_token": token.group(1)})
    assert response.status_code == 303, response.text[:300]
    return client


def _deep_cursor(api: Any, pages: int, headers: dict[str, str] | None = None) -> str:
    """The cursor of page `pages` of the list (newest first)."""
    cursor = ""
    for _ in range(pages - 1):
        body = api.get("/api/v1/posts", params={"limit": 50, "cursor": cursor} if cursor
                       else {"limit": 50}, headers=headers).json()
        cursor = body["next_cursor"] or ""
    return cursor


def _list_urls(tenant: Tenant, cursor: str) -> dict[str, str]:
    week = (utcnow() + timedelta(days=90)).replace(hour=0, minute=0, second=0, microsecond=0)
    week_q = (f"status=pending&from={week.isoformat().replace('+00:00', 'Z')}"
              f"&to={(week + timedelta(days=7)).isoformat().replace('+00:00', 'Z')}")
    return {
        "api_first_page": "/api/v1/posts?limit=50",
        "api_by_account": f"/api/v1/posts?limit=50&account_id={tenant.account_ids[0]}",
        "api_status_week": f"/api/v1/posts?limit=50&{week_q}",
        "api_page_50": f"/api/v1/posts?limit=50&cursor={cursor}",
    }


def _page_urls() -> dict[str, str]:
    month = (utcnow() + timedelta(days=90)).date().isoformat()
    return {"page_calendar_month": f"/calendar?view=month&date={month}",
            "page_posts": "/posts", "page_dashboard": "/", "page_accounts": "/accounts"}


def api_lists(api: httpx.Client, tenant: Tenant) -> dict[str, Any]:
    urls = _list_urls(tenant, _deep_cursor(api, 50))
    return {name: timed_get(api, path) for name, path in urls.items()}


def pages(web: httpx.Client) -> dict[str, Any]:
    return {name: timed_get(web, path) for name, path in _page_urls().items()}


def creates(base: str, tenant: Tenant, seconds: float = 5, clients: int = 8
            ) -> dict[str, Any]:
    account = tenant.account_ids[0]

    async def create(c: Any, n: int, i: int) -> int:
        body = json.dumps({"account_id": account, "post_type": "text",
                           "caption": f"scale {n}-{i}",
                           "run_at": "2099-01-01T09:00:00Z"}).encode()
        status: int = await c.request("POST", "/api/v1/posts", body)
        return status

    def load(warm_up: float) -> dict[str, Any]:
        return asyncio.run(api_bench._load(base, tenant.token, clients, warm_up or seconds,
                                           create, "raw"))

    load(1.0)
    return load(0)


def measure(url: str, tenant: Tenant, tmpdir: str) -> dict[str, Any]:
    """Start a server on the database, then time lists, pages and creates."""
    _member(url, tenant.company_id)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "herald", "serve", "--port", str(port)],
        env=worker_env(url, None, media_dir=f"{tmpdir}/media"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        api_bench._wait_up(base, timeout=180)  # a loaded machine starts it slowly
        steps: list[Callable[[], dict[str, Any]]] = []
        web = _sign_in(base)
        api = httpx.Client(base_url=base, timeout=60,
                           headers={"Authorization": f"Bearer {tenant.token}"})
        steps = [lambda: pages(web), lambda: api_lists(api, tenant)]
        out: dict[str, Any] = {}
        for step in steps:
            out.update(step())
        post = creates(base, tenant)
        out["api_create_p50"] = post["p50_ms"]
        out["api_create_p99"] = post["p99_ms"]
        out["api_create_per_s"] = post["per_second"]
        out["api_create_errors"] = post["errors"]
        web.close()
        api.close()
        return out
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def database_ms(url: str, tenant: Tenant) -> dict[str, Any]:
    """The database's own time for each page and list (PostgreSQL): every statement one
    request sends, run again under EXPLAIN ANALYZE, summed. Unlike server time it leaves
    out Python and the machine's other load: what grows with the tables shows here."""
    from fastapi.testclient import TestClient

    from bench.scale import captured, explain
    from herald.app import create_app

    _member(url, tenant.company_id)
    herald = Herald.build(settings_for(url))
    urls = {**_page_urls(), **_list_urls(tenant, "")}
    out: dict[str, Any] = {}
    try:
        with TestClient(create_app(herald), follow_redirects=False) as client:
            token = _CSRF.search(client.get("/signin").text)
            assert token, "no CSRF field on the sign-in page"
            client.post("/signin", data={"email": EMAIL, "password": PASSWORD,
                                         "csrf_token": token.group(1)})
            headers = {"Authorization": f"Bearer {tenant.token}"}
            urls["api_page_50"] = _list_urls(tenant, _deep_cursor(client, 50, headers))[
                "api_page_50"]
            for name, path in urls.items():
                client.get(path, headers=headers)  # warm: statement caches, templates
                with captured(herald.db.engine) as sent:
                    assert client.get(path, headers=headers).status_code == 200, path
                reads = [(s, p) for s, p, _ in sent if s.lstrip().upper().startswith("SELECT")]
                times = [statistics.median(explain(herald.db.engine, s, p)["execution_ms"]
                                           or 0.0 for _ in range(3)) for s, p in reads]
                out[name] = {"db_ms": round(sum(times), 2), "statements": len(reads),
                             "slowest_ms": round(max(times, default=0.0), 2)}
    finally:
        herald.db.dispose()
    return out
