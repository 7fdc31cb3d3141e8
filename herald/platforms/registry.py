"""Which publisher serves which platform in a running Herald."""

from __future__ import annotations

from herald.config import Settings
from herald.platforms.base import PublisherRegistry


def build_registry(settings: Settings) -> PublisherRegistry:
    """The real platform clients (wired in with the platform clients)."""
    return PublisherRegistry()
