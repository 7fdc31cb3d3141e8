"""Fixtures for the web UI: the app with the UI installed, a member, a signed-in client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from herald.app import create_app
from herald.runtime import Herald
from herald.sandbox import Sandbox
from herald.web import users

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Member:
    id: str
    company_id: str
    email: str
    password: str = PASSWORD


@pytest.fixture(autouse=True)
def _quick_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Argon2's defaults cost ~50 ms a hash on purpose; the tests hash hundreds of times.
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024,
                                                         parallelism=1))


def build_app(herald: Herald) -> FastAPI:
    return create_app(herald)  # create_app installs the web UI


@pytest.fixture
def web_app(herald: Herald) -> FastAPI:
    return build_app(replace(herald, sandbox=herald.sandbox or Sandbox()))


@pytest.fixture
def web(web_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(web_app, follow_redirects=False) as client:
        yield client


def add_member(herald: Herald, company_id: str, email: str = "ada@example.com",
               timezone: str | None = None) -> Member:
    with herald.db.session() as session:
        user = users.create_user(session, company_id=company_id, email=email,
                                 password=PASSWORD, name=email.split("@")[0].title(),
                                 timezone=timezone)
        return Member(user.id, company_id, user.email)


@pytest.fixture
def member(herald: Herald, company: tuple[str, str]) -> Member:
    return add_member(herald, company[0])


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@dataclass
class Browser:
    """A signed-in TestClient that sends this session's CSRF token with each form."""

    client: TestClient
    csrf: str

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any
             ) -> httpx.Response:
        return self.client.post(url, data={**(data or {}), "csrf_token": self.csrf}, **kwargs)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> Browser:
    token = csrf_of(client.get("/signin").text)
    response = client.post("/signin", data={"email": email, "password": password,
                                            "csrf_token": token})
    assert response.status_code == 303, response.text
    # Signing in starts a new session, with a new token.
    return Browser(client, csrf_of(client.get("/settings").text))


@pytest.fixture
def signed_in(web: TestClient, member: Member) -> Browser:
    return sign_in(web, member.email)
