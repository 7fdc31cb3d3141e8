"""A worker paused past its lease sends nothing when it wakes (herald.queue.deadline): the
transport refuses a request after the task's SEND_BY time, before any connection."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from herald.platforms.transport import SEND_BY, PlatformTransport
from herald.queue import deadline


async def test_a_request_after_its_send_by_time_is_never_sent() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.2)
        port = listener.getsockname()[1]
        token = SEND_BY.set(time.monotonic() - 0.1)  # woke up after it
        try:
            async with httpx.AsyncClient(transport=PlatformTransport(1, 1.0)) as client:
                with pytest.raises(httpx.ConnectError, match="not sent"):
                    await client.post(f"http://127.0.0.1:{port}/feed", content=b"x")
        finally:
            SEND_BY.reset(token)
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing connected, let alone sent


def test_the_send_by_time_leaves_a_margin_inside_the_lease() -> None:
    assert deadline.send_by(100.0, 60.0) == 155.0  # 5 s margin
    assert deadline.send_by(100.0, 4.0) == 103.0  # a quarter of a short lease
