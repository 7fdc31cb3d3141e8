"""X-Forwarded-For is believed only from HERALD_TRUSTED_PROXIES (default: no one)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from herald.config import ConfigError, load_settings
from herald.models import SigninFailure
from herald.web import throttle
from tests.app.web.conftest import build_app, csrf_of
from tests.conftest import SECRET


def _counted_addresses(herald, candidates: list[str]) -> set[str]:
    """Which of these addresses the throttle counted a failure for (its keys are hashes)."""
    with herald.db.session() as session:
        keys = set(session.scalars(select(SigninFailure.key)))
    return {a for a in candidates if throttle._key("ip", a) in keys}


def _fail_once(herald, peer: str, forwarded: str | None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    with TestClient(build_app(herald), follow_redirects=False, client=(peer, 40000)) as c:
        token = csrf_of(c.get("/signin").text)
        return c.post("/signin", headers=headers, data={
            "email": "guess@example.com", "password": "wrong password",
            "csrf_token": token}).status_code


ADDRESSES = ["203.0.113.9", "198.51.100.7", "10.0.0.2", "10.0.0.7"]


def test_by_default_the_peer_is_the_client_whatever_it_forwards(herald):
    assert _fail_once(herald, "203.0.113.9", "198.51.100.7") == 401
    assert _counted_addresses(herald, ADDRESSES) == {"203.0.113.9"}


def test_a_trusted_proxy_names_the_client(herald):
    herald.settings.trusted_proxies = ["10.0.0.0/8"]
    # The right-most hop no trusted proxy is: the left ones a client may have written.
    assert _fail_once(herald, "10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.7") == 401
    assert _counted_addresses(herald, [*ADDRESSES, "6.6.6.6"]) == {"198.51.100.7"}


def test_an_untrusted_peer_is_counted_even_with_proxies_set(herald):
    herald.settings.trusted_proxies = ["10.0.0.0/8"]
    assert _fail_once(herald, "203.0.113.9", "198.51.100.7") == 401
    assert _counted_addresses(herald, ADDRESSES) == {"203.0.113.9"}


def test_trusted_proxies_are_read_as_a_list_of_addresses_and_networks(monkeypatch):
    assert load_settings(secret_key=SECRET).trusted_proxies == []
    monkeypatch.setenv("HERALD_TRUSTED_PROXIES", "10.0.0.5, 192.168.0.0/16,")
    assert load_settings(secret_key=SECRET).trusted_proxies == ["10.0.0.5", "192.168.0.0/16"]
    monkeypatch.setenv("HERALD_TRUSTED_PROXIES", "proxy.local")
    with pytest.raises(ConfigError, match=r"'proxy\.local' is not an IP address or CIDR"):
        load_settings(secret_key=SECRET)
