"""Sandbox identities are Herald's to assign, and the sandbox's media fetches obey the
media URL rules (issue 13, #4)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from fastapi.testclient import TestClient

from herald import services
from herald.app import create_app
from herald.models import SocialAccount
from herald.runtime import Herald
from herald.sandbox import Sandbox
from tests.media_files import image_bytes

DOCUMENTED = {"platform": "instagram", "name": "My sandbox IG", "sandbox": True}


@pytest.fixture
def sandboxed(herald: Herald) -> Iterator[tuple[Herald, TestClient]]:
    with_sandbox = replace(herald, sandbox=Sandbox())
    with TestClient(create_app(with_sandbox)) as client:
        yield with_sandbox, client


@pytest.fixture
def other_company(herald: Herald) -> tuple[str, str]:
    with herald.db.session() as session:
        created, token = services.create_company(session, name="Globex")
        return created.id, token


def bearer(company: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {company[1]}"}


def test_the_documented_create_gets_an_id_and_token_from_herald(sandboxed, company):
    herald, client = sandboxed
    first = client.post("/api/v1/accounts", json=DOCUMENTED, headers=bearer(company))
    second = client.post("/api/v1/accounts", json=DOCUMENTED, headers=bearer(company))
    assert first.status_code == second.status_code == 201, first.text
    ids = {first.json()["external_id"], second.json()["external_id"]}
    assert len(ids) == 2 and all(i.startswith("17841") for i in ids)
    assert herald.sandbox is not None
    assert herald.sandbox.accounts_of(company[0]) == ids


@pytest.mark.parametrize("chosen", [{"external_id": "OTHER"}, {"access_token": "mine"},
                                    {"external_id": "OTHER", "access_token": "mine"}])
def test_another_tenants_external_id_or_a_chosen_token_is_refused(sandboxed, company,
                                                                 other_company, chosen):
    herald, client = sandboxed
    theirs = client.post("/api/v1/accounts", json=DOCUMENTED, headers=bearer(other_company))
    assert theirs.status_code == 201
    if chosen.get("external_id") == "OTHER":
        chosen = {**chosen, "external_id": theirs.json()["external_id"]}
    response = client.post("/api/v1/accounts", json={**DOCUMENTED, **chosen},
                           headers=bearer(company))
    assert response.status_code == 422, response.text
    assert "gets its id and token from Herald" in response.text
    with herald.db.session() as session:
        assert session.query(SocialAccount).filter_by(company_id=company[0]).count() == 0
    assert herald.sandbox is not None and herald.sandbox.accounts_of(company[0]) == set()


def test_an_id_another_company_holds_is_not_handed_to_the_fake(herald):
    sandbox = Sandbox()
    assert sandbox.register("instagram", "178410", "their-token", "Theirs", company_id="A")
    assert not sandbox.register("instagram", "178410", "my-token", "Mine", company_id="B")
    assert sandbox.state.token("graph", "my-token") is None
    assert sandbox.accounts_of("B") == set()


# --- the fake's media fetches ---------------------------------------------------------


class _Counting(http.server.BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = image_bytes(size=(1080, 1080))
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 that is not Herald's, and the paths it was asked for."""
    hits: list[str] = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             type("Handler", (_Counting,), {"hits": hits}))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


async def _create_container(sandbox: Sandbox, herald: Herald, url: str) -> httpx.Response:
    sandbox.state.add_account("instagram", "17841000009", "sandbox-token", name="IG")
    version = herald.settings.graph_api_version
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app),
                                 base_url="http://herald.test") as client:
        return await client.post(f"/graph/{version}/17841000009/media", data={
            "image_url": url, "caption": "hi", "access_token": "sandbox-token"})


async def test_the_sandbox_does_not_fetch_a_loopback_url_of_another_server(herald,
                                                                        local_server):
    base, hits = local_server
    # A sandbox built with no rules gets the strict ones: no private addresses.
    response = await _create_container(Sandbox(), herald, f"{base}/x.jpg")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["error_subcode"] == 2207052  # "media could not be fetched"
    assert hits == []


async def test_the_sandbox_fetches_heralds_own_media_on_loopback(herald, local_server):
    from herald.media.fetch import FetchRules  # here: the other tests run on older code

    base, hits = local_server
    # Herald's public URL is this loopback server: its /media/ is Herald's own store.
    sandbox = Sandbox(FetchRules(allow_private=False, own=(f"{base}/media/",)))
    response = await _create_container(sandbox, herald, f"{base}/media/cat.jpg")
    assert response.status_code == 200, response.text
    assert hits == ["/media/cat.jpg"]
