"""Slow media URLs cannot take every API thread: other tenants' requests still answer.

A media URL is fetched while its create request waits, in one of the API's threads. A
server that dribbles a byte at a time holds that thread for the whole fetch deadline;
before, eight such creates filled the pool (herald.app.API_THREADS) and every other
request waited behind them. Now schedule-time fetches take a slot (herald/media/
fetch_slots.py): at most HERALD_MEDIA_FETCH_PER_COMPANY per company (then 429) and
HERALD_MEDIA_FETCH_CONCURRENCY in all (then 503), both with Retry-After.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from herald import services
from herald.app import create_app
from herald.media.fetch_slots import FetchSlots
from herald.models import utcnow
from tests.helpers import add_account


class Dribbler:
    """An HTTP server that answers 200 and then one byte every 0.2 s, until stopped."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = 0
        self.most_open = 0
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.port}/slow-{n}.jpg"

    def stop(self) -> None:
        self.stopped.set()
        self.listener.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._dribble, args=(conn,), daemon=True).start()

    def _dribble(self, conn: socket.socket) -> None:
        with self._lock:
            self.open += 1
            self.most_open = max(self.most_open, self.open)
        try:
            with conn, contextlib.suppress(OSError):
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n"
                             b"Content-Length: 100000\r\n\r\n")
                while not self.stopped.wait(0.2):
                    conn.sendall(b"\xff")
        finally:
            with self._lock:
                self.open -= 1


@pytest.fixture
def dribbler() -> Iterator[Dribbler]:
    server = Dribbler()
    yield server
    server.stop()


def _tenant(herald, name: str) -> tuple[str, dict[str, str]]:
    with herald.db.session() as session:
        company, token = services.create_company(session, name=name)
        company_id = company.id
    account = add_account(herald, company_id, platform="instagram", external_id=name)
    return account, {"Authorization": f"Bearer {token}"}


def _create(client: TestClient, account: str, auth: dict[str, str],
            url: str | None = None) -> object:
    body = {"account_id": account, "caption": "Hello", "post_type": "feed",
            "run_at": (utcnow() + timedelta(hours=1)).isoformat(),
            "media": [{"url": url, "type": "image"}] if url else []}
    return client.post("/api/v1/posts", json=body, headers=auth)


def test_slow_media_urls_leave_threads_for_other_tenants(herald, dribbler) -> None:
    herald.settings.media_fetch_timeout = 60.0
    tenants = [_tenant(herald, f"slow{i}") for i in range(4)]
    other_account, other_auth = _tenant(herald, "other")
    answers: list[object] = []
    with TestClient(create_app(herald)) as client:
        # Three creates from each of four companies, each with a dribbling media URL.
        threads = [threading.Thread(target=lambda n=n: answers.append(
            _create(client, *tenants[n % 4], url=dribbler.url(n)))) for n in range(12)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30  # before the 60 s fetch deadline
        while len(answers) < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(answers) == 8, "the creates over the caps were not refused at once"
        for answer in answers:
            assert answer.status_code in (429, 503), answer.text
            assert answer.headers["retry-after"] == "5"
            assert answer.json()["error"]["code"] == "media_fetch_busy"
        while dribbler.open < 4 and time.monotonic() < deadline:
            time.sleep(0.05)  # the four that hold a slot connect (a loaded machine is slow)
        assert dribbler.open == 4

        # Another tenant is served while those four are still downloading.
        assert client.get("/api/v1/posts", headers=other_auth).status_code == 200
        image = _create(client, other_account, other_auth, url=None)
        assert image.status_code == 422  # an Instagram feed post needs media: answered
        assert len(answers) == 8 and dribbler.open == 4

        dribbler.stop()
        for thread in threads:
            thread.join(timeout=60)
    assert len(answers) == 12
    assert dribbler.most_open == 4
    assert sorted(a.status_code for a in answers[8:]) == [422] * 4  # the fetch failed


def test_slots_are_per_company_and_in_all_and_are_given_back() -> None:
    from herald.media.fetch_slots import CompanyFetchesBusy, FetchesBusy

    slots = FetchSlots(total=3, per_company=2)
    with slots.take("a"), slots.take("a"):
        with pytest.raises(CompanyFetchesBusy) as company:
            slots.take("a").__enter__()
        assert company.value.status == 429
        with slots.take("b"):
            with pytest.raises(FetchesBusy) as total:
                slots.take("c").__enter__()
            assert total.value.status == 503
        with slots.take(None):  # no company: the total alone
            pass
    assert slots.running == 0
    with slots.take("a"), slots.take("a"):
        pass
