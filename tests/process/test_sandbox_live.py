"""`herald run`'s sandbox at the default media rules (no private addresses): Herald's own
media store is on loopback and must stay fetchable, by the sandbox (Instagram fetches the
URL itself) and by Herald at publish time (LinkedIn uploads the file) — issue 13, #4/#5."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from herald.runtime import Herald
from tests.media_files import image_bytes
from tests.process.browser.live import LiveHerald, start_live


@pytest.fixture
def live(herald: Herald, settings: Any) -> Iterator[LiveHerald]:
    if herald.db.dialect != "sqlite":
        pytest.skip("the in-app sandbox test runs on SQLite only")
    server = start_live(settings.model_copy(update={"allow_private_media_urls": False}))
    yield server
    server.stop()


def test_sandbox_posts_with_heralds_own_media_publish(live: LiveHerald, company):
    headers = {"Authorization": f"Bearer {company[1]}"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=30) as api:
        upload = api.post("/api/v1/media", files={
            "file": ("cat.jpg", image_bytes(size=(1080, 1080)), "image/jpeg")})
        assert upload.status_code == 201, upload.text
        url = upload.json()["url"]
        assert url.startswith("http://127.0.0.1:")  # loopback: refused for anyone else's
        ids = []
        for platform in ("instagram", "linkedin"):
            account = api.post("/api/v1/accounts", json={
                "platform": platform, "name": f"{platform} sandbox", "sandbox": True})
            assert account.status_code == 201, account.text
            ids.append(account.json()["id"])
        created = api.post("/api/v1/posts", json={
            "account_ids": ids, "caption": "Own media", "run_at": "now",
            "media": [{"url": url}]})
        assert created.status_code == 201, created.text
        deadline = time.monotonic() + 60
        while True:
            posts = api.get("/api/v1/posts").json()["items"]
            if all(p["status"] not in ("pending", "processing") for p in posts):
                break
            assert time.monotonic() < deadline, posts
            time.sleep(0.2)
        assert {(p["platform"], p["status"]) for p in posts} == {
            ("instagram", "published"), ("linkedin", "published")}, posts
        refused = api.post("/api/v1/posts", json={
            "account_ids": ids[:1], "caption": "Not ours", "run_at": "now",
            "media": [{"url": f"{live.url}/api/v1/posts"}]})
        assert refused.status_code == 422 and "loopback" in refused.text
