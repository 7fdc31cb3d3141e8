"""Fixtures for the platform clients: a routed httpx.MockTransport and a job factory."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from herald.media.fetch import FetchRules, IPAddress, SafeFetcher
from herald.platforms.base import AccountRef, History, MediaItem, PublishJob
from herald.platforms.base import Journal as JobJournal

TOKEN = "EAAB-secret-token-123"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PUBLIC_IP = "93.184.215.14"

Reply = httpx.Response | dict[str, Any] | Exception | Callable[[httpx.Request], Any]


class Api:
    """Routes requests by method and path regex; replies are used in order, the last kept.

    A later `on` for the same route overrides an earlier one.
    """

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], list[Reply]]] = []
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *replies: Reply) -> None:
        self.routes.insert(0, (method, re.compile(path), list(replies)))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for method, pattern, replies in self.routes:
            if method == request.method and pattern.fullmatch(request.url.path):
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                if callable(reply) and not isinstance(reply, httpx.Response):
                    reply = reply(request)
                if isinstance(reply, Exception):
                    raise reply
                if isinstance(reply, httpx.Response):
                    return reply
                return httpx.Response(200, json=reply)
        return httpx.Response(404, json={"error": {"message": f"no route {request.url.path}",
                                                   "code": 803}})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def fetcher(self, **rules: Any) -> SafeFetcher:
        """The safe fetcher on this transport; test host names resolve to a public IP."""
        return SafeFetcher(self.client(), FetchRules(resolve=public_dns, **rules))


    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests
                if r.method == method and re.fullmatch(path, r.url.path)]

    @staticmethod
    def body(request: httpx.Request) -> Any:
        return json.loads(request.content) if request.content else None

    @staticmethod
    def graph_error(code: int, sub: int | None = None, message: str = "Something failed",
                    status: int = 400, headers: dict[str, str] | None = None,
                    **more: Any) -> httpx.Response:
        error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code,
                                 "fbtrace_id": "Axyz", **more}
        if sub is not None:
            error["error_subcode"] = sub
        return httpx.Response(status, json={"error": error}, headers=headers)


class Journal:
    def __init__(self) -> None:
        self.entries: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, phase: str, ids: dict[str, Any]) -> None:
        self.entries.append((phase, dict(ids)))

    @property
    def phases(self) -> list[str]:
        return [p for p, _ in self.entries]


@pytest.fixture
def api() -> Api:
    return Api()


JobFactory = Callable[..., tuple[PublishJob, Journal]]


@pytest.fixture
def make_job() -> JobFactory:
    def make(platform: str = "instagram", post_type: str = "feed", caption: str = "Hi #tag",
             media: list[tuple[str, str]] | None = None, external_id: str = "1784",
             history: History | None = None, options: dict[str, Any] | None = None,
             alt: str | None = None) -> tuple[PublishJob, Journal]:
        journal = Journal()
        items = tuple(MediaItem(url=u, type=t, alt_text=alt) for u, t in (media or []))
        account = AccountRef(id="acc1", platform=platform, external_id=external_id,
                             name="Acme", access_token=TOKEN)
        job = PublishJob(post_id="post1", attempt=1, platform=platform, post_type=post_type,
                         caption=caption, media=items, account=account, run_at=NOW,
                         options=options or {}, history=history or History(),
                         journal=JobJournal(journal))
        return job, journal

    return make


def public_dns(host: str, port: int) -> tuple[IPAddress, ...]:
    """A resolver for hosts like cdn.test: IP literals are themselves, names are public."""
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        return (ipaddress.ip_address(PUBLIC_IP),)
