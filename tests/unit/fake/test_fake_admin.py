"""The /_fake admin API, as a benchmark in another process would drive it."""

from __future__ import annotations

import pytest


@pytest.fixture
def admin(server, make_client):
    return make_client(base_url=f"{server.url}/_fake")


def test_accounts_faults_published_and_reset(admin, server, make_client, state):
    assert admin.post("/accounts", json={"platform": "facebook", "id": "555",
                                         "token": "t", "name": "P"}).status_code == 201
    assert admin.post("/accounts", json={"platform": "linkedin", "id": "urn:li:organization:9",
                                         "token": "lt"}).status_code == 201
    graph = make_client(base_url=f"{server.graph_url}/v25.0")

    fault = admin.post("/faults", json={"kind": "error", "endpoint": "commit", "count": 1})
    assert fault.status_code == 201 and fault.json()["count"] == 1
    assert graph.post("/555/feed", data={"message": "a", "access_token": "t"}).status_code == 503
    assert admin.get("/faults").json()["data"] == []  # used up
    assert graph.post("/555/feed", data={"message": "a", "access_token": "t"}).status_code == 200

    published = admin.get("/published", params={"platform": "facebook"}).json()["data"]
    assert [(p["account"], p["caption"], p["kind"]) for p in published] == [("555", "a", "text")]
    commits = admin.get("/commits").json()["data"]
    assert [c["outcome"] for c in commits] == ["fault", "ok"]
    summary = admin.get("/").json()
    assert summary["published"] == 1 and len(summary["accounts"]) == 2

    assert admin.post("/reset").status_code == 200
    assert state.published() == [] and state.accounts() == []


def test_config_clock_seed_and_usage(admin, state):
    config = admin.put("/config", json={"latency": 0.0, "ig_quota_total": 25,
                                        "li_active_versions": ["202601"]}).json()
    assert config["ig_quota_total"] == 25 and config["li_active_versions"] == ["202601"]
    assert state.config.li_active_versions == frozenset({"202601"})
    before = state.now()
    assert admin.post("/clock", json={"advance": 3600}).json()["now"] >= before + 3600
    assert admin.post("/seed", json={"seed": 4}).status_code == 200
    admin.post("/accounts", json={"platform": "instagram", "id": "1784", "token": "t"})
    assert admin.post("/usage", json={"account": "1784", "percent": 90}).status_code == 200
    assert state.account("1784").usage_percent == 90


def test_tokens(admin, state):
    admin.post("/accounts", json={"platform": "facebook", "id": "555", "token": "t"})
    assert admin.post("/tokens/revoke", json={"token": "t", "reason": "app_removed"}
                      ).status_code == 200
    assert state.token("graph", "t").revoked_subcode == 458
    assert admin.post("/tokens/expire", json={"token": "t"}).status_code == 200
    assert admin.post("/tokens/expire", json={"token": "unknown"}).status_code == 400


def test_bad_input_is_a_400(admin):
    assert admin.put("/config", json={"no_such_knob": 1}).status_code == 400
    assert admin.post("/faults", json={"kind": "explode"}).status_code == 400
    assert admin.post("/accounts", json={"platform": "myspace", "id": "1", "token": "t"}
                      ).status_code == 400


def test_file_hosting(admin, make_image):
    data = make_image()
    assert admin.put("/files/img/a.jpg", content=data,
                     headers={"Content-Type": "image/jpeg"}).status_code == 201
    served = admin.get("/files/img/a.jpg")
    assert served.content == data and served.headers["content-type"] == "image/jpeg"
    assert admin.get("/files/nothing").status_code == 404
