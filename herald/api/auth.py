"""API token authentication, remembering recent successes for a few seconds.

Every API request carries a bearer token; looking it up costs a pool checkout and a
transaction of its own, about a third of a post create's server time. A token that was
valid a moment ago almost always still is, so a success is remembered for
`TOKEN_CACHE_SECONDS`. The price: a token revoked (from the CLI, the web UI or another
process) can still be used for at most that long by a process that accepted it just
before. Failures are never remembered, so a new token works at once and a wrong one is
refused by the database every time.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from herald import services
from herald.crypto import hash_api_token
from herald.db import Database

#: How long a process keeps trusting a token the database accepted (the revocation delay).
TOKEN_CACHE_SECONDS = 2.0
#: Tokens remembered at most; the least recently used go first.
TOKEN_CACHE_SIZE = 1024


T = TypeVar("T")


class TokenCache(Generic[T]):
    """Token hash -> (the token's caller, trusted until); used from the event loop's thread
    only. The API remembers an `ApiCaller` (company, role, actor) per token."""

    def __init__(self, ttl: float = TOKEN_CACHE_SECONDS, size: int = TOKEN_CACHE_SIZE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._entries: OrderedDict[str, tuple[T, float]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[T]] = {}

    async def company_id(self, token: str, lookup: Callable[[str], Awaitable[T]]) -> T:
        """The token's caller, remembered or looked up (raises what `lookup` raises)."""
        key = cache_key(token)
        found = self.get(key)
        if found is not None:
            return found
        # When an entry expires, every request in flight with that token misses at once:
        # they share one lookup instead of each taking a thread and a connection.
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(lookup(token))
            self._pending[key] = pending
            pending.add_done_callback(lambda done: self._settle(key, done))
        # Shielded: a caller that goes away must not cancel the others' lookup.
        return await asyncio.shield(pending)

    def _settle(self, key: str, done: asyncio.Future[T]) -> None:
        self._pending.pop(key, None)
        if not done.cancelled() and done.exception() is None:
            self.put(key, done.result())

    def get(self, token_hash: str) -> T | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            del self._entries[token_hash]
            return None
        self._entries.move_to_end(token_hash)
        return entry[0]

    def put(self, token_hash: str, caller: T) -> None:
        self._entries[token_hash] = (caller, self.clock() + self.ttl)
        self._entries.move_to_end(token_hash)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


def lookup(db: Database, token: str) -> services.ApiCaller:
    """Who a bearer token speaks for, from the database (raises Unauthorized)."""
    with db.session() as session:
        return services.authenticate(session, token)


def cache_key(token: str) -> str:
    # Keyed by the hash the database stores, so the cache holds no usable secret.
    return hash_api_token(token)
