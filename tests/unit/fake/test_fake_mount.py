"""The fake mounted inside a parent FastAPI app under /sandbox, as Herald's sandbox does."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from herald.platforms.fake import FakeServer, FakeState, create_fake_app


@pytest.fixture(scope="module")
def mounted():
    state = FakeState()
    parent = FastAPI()

    @parent.get("/health")
    def health() -> dict[str, str]:
        return {"ok": "yes"}

    parent.mount("/sandbox", create_fake_app(state, admin=False))
    with FakeServer(state, app=parent, prefix="/sandbox") as server:
        yield server


@pytest.fixture
def sandbox(mounted):
    mounted.state.reset()
    state = mounted.state
    state.configure(fetch_media=False)
    state.add_linkedin_organization("urn:li:organization:1", "li")
    state.add_instagram_account("1784", "ig")
    return mounted


def test_urls_include_the_prefix(sandbox):
    assert sandbox.graph_url.endswith("/sandbox/graph")
    assert sandbox.linkedin_url.endswith("/sandbox/linkedin")
    assert httpx.get(sandbox.url.removesuffix("/sandbox") + "/health").json() == {"ok": "yes"}


def test_linkedin_upload_urls_carry_the_prefix(sandbox):
    headers = {"Authorization": "Bearer li", "LinkedIn-Version": "202609",
               "X-Restli-Protocol-Version": "2.0.0"}
    with httpx.Client(base_url=sandbox.linkedin_url, headers=headers) as li:
        value = li.post("/rest/images", params={"action": "initializeUpload"},
                        json={"initializeUploadRequest": {"owner": "urn:li:organization:1"}}
                        ).json()["value"]
        assert value["uploadUrl"].startswith(f"{sandbox.linkedin_url}/dms-uploads/")
        assert li.put(value["uploadUrl"], content=b"\xff\xd8 bytes").status_code == 201
        video = li.post("/rest/videos", params={"action": "initializeUpload"}, json={
            "initializeUploadRequest": {"owner": "urn:li:organization:1", "fileSizeBytes": 9}}
        ).json()["value"]
        assert video["uploadInstructions"][0]["uploadUrl"].startswith(sandbox.linkedin_url)


def test_instagram_permalink_and_page_under_the_prefix(sandbox):
    graph = f"{sandbox.graph_url}/v25.0"
    params = {"access_token": "ig"}
    container = httpx.post(f"{graph}/1784/media", params=params,
                           data={"image_url": "https://cdn.example/a.jpg", "caption": "<b>hi"})
    media = httpx.post(f"{graph}/1784/media_publish", params=params,
                       data={"creation_id": container.json()["id"]}).json()["id"]
    permalink = httpx.get(f"{graph}/{media}", params={**params, "fields": "permalink"}
                          ).json()["permalink"]
    assert permalink == f"{sandbox.url}/?id={media}"
    page = httpx.get(permalink)
    assert page.status_code == 200 and media in page.text and "&lt;b&gt;hi" in page.text


def test_admin_can_be_left_out(sandbox):
    assert httpx.get(f"{sandbox.url}/_fake/").status_code == 404


def test_media_transport_is_injectable():
    """Media fetches go through one seam, so a test needs no image server."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(404)

    state = FakeState()
    state.add_instagram_account("1784", "ig")
    app = create_fake_app(state, media_transport=httpx.MockTransport(handler))
    with FakeServer(state, app=app) as server:
        response = httpx.post(f"{server.graph_url}/v25.0/1784/media",
                              data={"image_url": "https://cdn.example/x.jpg",
                                    "access_token": "ig"})
    assert response.json()["error"]["code"] == 9004
    assert calls == ["https://cdn.example/x.jpg"]


def test_any_asgi_parent_works():
    state = FakeState()

    async def root(request):
        return Response("parent")

    parent = Starlette(routes=[Route("/", root)])
    parent.mount("/deep/er", create_fake_app(state))
    with FakeServer(state, app=parent, prefix="/deep/er") as server:
        assert httpx.get(f"{server.url}/").status_code == 200
        assert httpx.get(f"{server.url}/_fake/").json()["published"] == 0
