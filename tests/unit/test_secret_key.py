"""HERALD_SECRET_KEY: weak values are refused, every documented strong form accepted."""

from __future__ import annotations

import secrets

import pytest

from herald.config import ConfigError, Settings
from tests.conftest import SECRET

POSTGRES = "postgresql://herald@db/herald"


def _resolve(key: str) -> str:
    return Settings(database_url=POSTGRES, secret_key=key).resolved_secret_key()


@pytest.mark.parametrize("key", [
    "a" * 16, "a" * 64, "0" * 32, "ab" * 8, "abcd" * 8, "a" * 63 + "b", "changeme",
    "short-but-mixed",
])
def test_weak_keys_are_refused(key):
    with pytest.raises(ConfigError, match="too weak"):
        _resolve(key)


@pytest.mark.parametrize("key", [
    secrets.token_hex(32),  # what `openssl rand -hex 32` prints
    secrets.token_hex(16),
    secrets.token_urlsafe(32),  # `openssl rand -base64 32` is as varied
    SECRET,
])
def test_strong_keys_are_accepted(key):
    assert _resolve(key) == key
