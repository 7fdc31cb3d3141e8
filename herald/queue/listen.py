"""Waking workers the moment a post becomes due: PostgreSQL LISTEN on the queue channel."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from herald.db import PG_NETWORK

#: The channel `notify` and the post_schedule insert trigger (migration 0005) send on.
NOTIFY_CHANNEL = "herald_queue"


async def listen(url: Any, on_notify: Callable[[], None], *, health_every: float = 30.0,
                 on_listening: Callable[[], None] = lambda: None) -> None:
    """Call `on_notify` for every NOTIFY on the queue channel until cancelled (PostgreSQL).

    `on_listening` is called once the LISTEN is in place: only from then on may a worker
    sleep on the strength of it (before, a NOTIFY would not reach it).

    Returns (rather than raising) when the connection dies, so the caller decides how
    to reconnect. A silent TCP death would block `notifies()` forever, so every
    `health_every` seconds without traffic the connection is probed.
    """
    import psycopg

    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    options = {k: v for k, v in PG_NETWORK.items() if k not in url.query}
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True,
                                                     **options) as conn:
        await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        on_listening()
        on_notify()  # anything enqueued while we were not listening
        while True:
            async for _ in conn.notifies(timeout=health_every):
                on_notify()
            # A silent network would hold the probe forever too. A NOTIFY that arrives
            # during the probe is kept for the next notifies() (psycopg >= 3.2.4; before,
            # it was dropped: a missed wake-up until the worker's backstop poll).
            await asyncio.wait_for(conn.execute("SELECT 1"), health_every)
