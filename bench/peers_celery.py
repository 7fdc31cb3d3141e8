"""The Celery app of bench/peers.py: Redis as broker, no result backend, two tasks.

    python -m celery -A bench.peers_celery worker --pool threads --concurrency 300

Environment: PEERS_REDIS_URL (the broker), PEERS_VISIBILITY_TIMEOUT (seconds; Celery's
default is an hour), PEERS_CONCURRENCY (the HTTP pool's size), and those of peers_tasks.
Each task that finishes counts itself in Redis (INCR) and notes when (SET), so the
benchmark sees completions without a result backend.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import httpx
import redis
from celery import Celery
from celery.signals import worker_ready

from bench.peers_tasks import client_limits, publish_sync

REDIS_URL = os.environ.get("PEERS_REDIS_URL", "redis://127.0.0.1:6379/9")
DONE, FAILED, LAST, READY = "peers:done", "peers:failed", "peers:last", "peers:ready"

app = Celery("peers", broker=REDIS_URL)
app.conf.update(
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)
if os.environ.get("PEERS_VISIBILITY_TIMEOUT"):
    # A short visibility timeout shows what an hour's does to an ETA more than an hour
    # ahead. kombu sweeps unacked messages back every interval x throttle seconds
    # (10 x 10 by default); 1 x 1 lets the sweep run as a long-lived worker's would have.
    app.conf.broker_transport_options = {
        "visibility_timeout": float(os.environ["PEERS_VISIBILITY_TIMEOUT"]),
        "unacked_restore_interval": 1, "unacked_restore_throttle": 1}

_redis = redis.Redis.from_url(REDIS_URL)
_local = threading.local()
_client_lock = threading.Lock()
_shared: dict[str, httpx.Client] = {}


def _client() -> httpx.Client:
    # One pool per process, shared by the pool's threads (httpx.Client is thread-safe).
    with _client_lock:
        if "client" not in _shared:
            _shared["client"] = httpx.Client(
                **client_limits(int(os.environ.get("PEERS_CONCURRENCY", "100"))))
        return _shared["client"]


def _finished(failed: bool = False) -> None:
    pipe = _redis.pipeline()
    pipe.incr(DONE)
    if failed:
        pipe.incr(FAILED)
    pipe.set(LAST, repr(time.time()))
    pipe.execute()


@app.task(name="peers.noop")
def noop(n: int) -> None:
    _finished()


@app.task(name="peers.publish")
def publish(page: str, token: str, caption: str) -> None:
    # A failed task counts too (and as failed): no retry is configured, as none is by
    # default, so the benchmark must not wait for it.
    try:
        publish_sync(_client(), page, token, caption)
    except Exception:
        _finished(failed=True)
        raise
    _finished()


@worker_ready.connect
def _ready(**_: Any) -> None:
    _redis.rpush(READY, repr(time.time()))
