"""Fixtures for the fake-platform tests: one server per session, reset before each test,
and thin httpx helpers per API (deliberately not Herald's clients)."""

from __future__ import annotations

import io
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from herald.platforms.fake import FakeServer, FakeState

IG_USER = "17841400000000001"
IG_TOKEN = "ig-token"
PAGE = "100000000000001"
PAGE_TOKEN = "page-token"
MEMBER = "urn:li:person:abc123"
ORG = "urn:li:organization:1000001"
LI_TOKEN = "li-token"
LI_VERSION = "202609"

#: One TLS context for every client: building one per httpx.Client costs ~50 ms.
TLS = ssl.create_default_context()


def image_bytes(width: int = 100, height: int = 100, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def session_server() -> Iterator[FakeServer]:
    with FakeServer(FakeState(seed=1)) as server:
        yield server


@pytest.fixture
def server(session_server: FakeServer) -> FakeServer:
    session_server.state.reset()
    return session_server


@pytest.fixture
def state(server: FakeServer) -> FakeState:
    return server.state


@pytest.fixture
def make_client():
    """httpx.Client(**options) sharing one TLS context, closed after the test."""
    clients: list[httpx.Client] = []

    def make(**options: Any) -> httpx.Client:
        options.setdefault("timeout", 5)
        client = httpx.Client(verify=TLS, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def host_file(server: FakeServer):
    """Serve bytes from the fake's own /_fake/files and return their URL."""

    def host(name: str, content: bytes, content_type: str = "image/jpeg") -> str:
        server.state.add_file(name, content, content_type)
        return f"{server.url}/_fake/files/{name}"

    return host


@pytest.fixture
def image_url(host_file) -> str:
    return host_file("square.jpg", image_bytes())


@pytest.fixture
def make_image():
    """image_bytes(width=100, height=100, fmt="JPEG") → encoded image bytes."""
    return image_bytes


class Graph:
    """A bare Graph API client for one token."""

    page = PAGE

    def __init__(self, server: FakeServer, token: str, version: str = "v25.0") -> None:
        self.http = httpx.Client(base_url=f"{server.graph_url}/{version}", timeout=5, verify=TLS,
                                 headers={"Authorization": f"Bearer {token}"})

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params)

    def post(self, path: str, **data: Any) -> httpx.Response:
        return self.http.post(path, data=data)

    def post_json(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(path, json=body)


class Instagram(Graph):
    user = IG_USER

    def create(self, **data: Any) -> httpx.Response:
        return self.post(f"/{IG_USER}/media", **data)

    def container(self, **data: Any) -> str:
        response = self.create(**data)
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    def status(self, container_id: str) -> str:
        response = self.get(f"/{container_id}", fields="status_code,status")
        assert response.status_code == 200, response.text
        return str(response.json()["status_code"])

    def publish(self, container_id: str) -> httpx.Response:
        return self.post(f"/{IG_USER}/media_publish", creation_id=container_id)


@pytest.fixture
def ig(server: FakeServer) -> Iterator[Instagram]:
    server.state.add_instagram_account(IG_USER, IG_TOKEN, username="herald", page_id=PAGE)
    client = Instagram(server, IG_TOKEN)
    yield client
    client.http.close()


@pytest.fixture
def fb(server: FakeServer) -> Iterator[Graph]:
    server.state.add_facebook_page(PAGE, PAGE_TOKEN, name="Herald Page")
    client = Graph(server, PAGE_TOKEN)
    yield client
    client.http.close()


class LinkedIn:
    """A bare LinkedIn REST client with the headers LinkedIn requires."""

    member, org, version = MEMBER, ORG, LI_VERSION

    def __init__(self, server: FakeServer, token: str) -> None:
        self.http = httpx.Client(base_url=server.linkedin_url, timeout=5, verify=TLS, headers={
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": LI_VERSION,
            "X-Restli-Protocol-Version": "2.0.0",
        })

    def post(self, author: str = ORG, commentary: str = "Hello", **extra: Any) -> httpx.Response:
        body = {
            "author": author, "commentary": commentary, "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                             "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False,
        }
        body.update(extra)
        return self.http.post("/rest/posts", json=body)

    def upload_image(self, owner: str = ORG, content: bytes | None = None) -> str:
        init = self.http.post("/rest/images", params={"action": "initializeUpload"},
                              json={"initializeUploadRequest": {"owner": owner}})
        assert init.status_code == 200, init.text
        value = init.json()["value"]
        put = self.http.put(value["uploadUrl"], content=content or image_bytes())
        assert put.status_code == 201, put.text
        return str(value["image"])


@pytest.fixture
def li(server: FakeServer) -> Iterator[LinkedIn]:
    server.state.add_linkedin_member(MEMBER, LI_TOKEN)
    server.state.add_linkedin_organization(ORG, LI_TOKEN)
    client = LinkedIn(server, LI_TOKEN)
    yield client
    client.http.close()
