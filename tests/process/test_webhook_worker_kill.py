"""Webhook deliveries survive a worker SIGKILLed mid-delivery, and two workers never send
one delivery twice: real `herald worker` processes, a real HTTP receiver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from herald.events.schemas import WebhookCreate
from herald.models import WebhookDelivery
from herald.runtime import Herald
from herald.services import webhooks as service
from tests.conftest import SECRET
from tests.receivers import Receiver, receiver

HERALD = [sys.executable, "-m", "herald"]
#: Seconds a delivery may take; a lease is twice that plus 5 s (herald.events.runner).
TIMEOUT = 3


@pytest.fixture
def worker_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update(HERALD_DATABASE_URL=database_url, HERALD_SECRET_KEY=SECRET,
               HERALD_MEDIA_DIR=str(tmp_path / "media"),
               HERALD_ALLOW_PRIVATE_WEBHOOK_URLS="1",
               HERALD_WEBHOOK_TIMEOUT_SECONDS=str(TIMEOUT),
               HERALD_OUTBOX_POLL_SECONDS="0.1", HERALD_LOG_LEVEL="INFO")
    return env


def _worker(env: dict[str, str], cwd: Path, worker_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*HERALD, "worker", "--id", worker_id], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _pings(herald: Herald, company_id: str, hook: Receiver, count: int) -> str:
    with herald.unit_of_work() as session:
        ctx = herald.context(company_id)
        webhook, _ = service.create_webhook(session, ctx, WebhookCreate(
            url=hook.url, events=["post.failed"], secret="whsec_process-test-secret"))
        for _ in range(count):
            service.ping(session, ctx, webhook.id, max_attempts=5)
        return webhook.id


def _deliveries(herald: Herald) -> list[WebhookDelivery]:
    with herald.db.session() as session:
        return list(session.scalars(select(WebhookDelivery)))


def _stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        output, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate(timeout=10)
        raise AssertionError(f"the worker did not stop on SIGTERM:\n{output}") from None
    return output


def test_a_delivery_in_flight_when_its_worker_is_killed_is_sent_again(herald, company,
                                                                    worker_env, tmp_path):
    with receiver() as hook:
        hook.delays = {0: 30.0}  # the first request hangs: the worker is killed meanwhile
        _pings(herald, company[0], hook, 1)
        first = _worker(worker_env, tmp_path, "doomed")
        try:
            hook.wait_for(1, timeout=60)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
            first.communicate(timeout=10)
        [held] = _deliveries(herald)
        assert held.status == "processing" and held.worker_id == "doomed"
        second = _worker(worker_env, tmp_path, "rescuer")
        try:
            got = hook.wait_for(2, timeout=60)  # after the lease ran out (2·3 s + 5 s)
            deadline = time.monotonic() + 30
            while _deliveries(herald)[0].status != "delivered":
                assert time.monotonic() < deadline, _deliveries(herald)[0].status
                time.sleep(0.1)
        finally:
            output = _stop(second)
    # The same event, the same bytes: the receiver de-duplicates by the event id.
    assert got[0].json["id"] == got[1].json["id"]
    assert got[0].body == got[1].body
    [done] = _deliveries(herald)
    assert done.attempts == 2 and done.worker_id is None, output


def test_two_workers_send_each_delivery_once(herald, company, worker_env, tmp_path):
    with receiver() as hook:
        _pings(herald, company[0], hook, 40)
        workers = [_worker(worker_env, tmp_path, f"w{n}") for n in (1, 2)]
        try:
            got = hook.wait_for(40, timeout=90)
            deadline = time.monotonic() + 30
            while any(d.status != "delivered" for d in _deliveries(herald)):
                assert time.monotonic() < deadline
                time.sleep(0.1)
            time.sleep(1.0)  # room for a duplicate to arrive, if there were one
        finally:
            outputs = [_stop(w) for w in workers]
    counts = Counter(r.json["id"] for r in hook.received)
    assert len(counts) == 40 and set(counts.values()) == {1}, (counts, outputs)
    assert len(got) == 40
