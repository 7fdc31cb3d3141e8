"""The API and a worker in one process, as `herald run` wires them."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from herald.app import create_app
from herald.models import utcnow


@pytest.mark.all_engines
def test_a_post_created_through_the_api_is_published_on_time(herald, auth, image_url):
    publisher = herald.registry.get("instagram")
    with TestClient(create_app(herald, run_worker=True, worker_id="e2e")) as client:
        account = client.post("/api/v1/accounts", headers=auth, json={
            "platform": "instagram", "external_id": "17841400000", "name": "Acme IG",
            "access_token": "IGQV-secret"}).json()
        run_at = (utcnow() + timedelta(seconds=1.5)).isoformat()
        created = client.post("/api/v1/posts", headers=auth, json={
            "account_id": account["id"], "caption": "Hello from Herald", "run_at": run_at,
            "media": [{"url": image_url}]})
        assert created.status_code == 201, created.text
        post_id = created.json()["items"][0]["id"]
        deadline = time.monotonic() + 15
        while True:
            detail = client.get(f"/api/v1/posts/{post_id}", headers=auth).json()
            if detail["status"] == "published" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert detail["status"] == "published", detail
    assert detail["external_post_id"].startswith("instagram-")
    assert detail["permalink"]
    [attempt] = detail["attempt_log"]
    assert (attempt["worker_id"], attempt["outcome"]) == ("e2e", "published")
    [(job, called_at)] = publisher.calls
    assert job.caption == "Hello from Herald"
    assert job.account.access_token == "IGQV-secret"
    assert called_at >= job.run_at  # never early; how late is bench/ontime.py's figure
