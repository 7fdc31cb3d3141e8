"""Prometheus metrics: what Herald counts, and the text a scrape of /metrics gets.

Other modules call the small functions here (`attempt_started`, `attempt_finished`,
`leases_rescued`, `webhook_delivered`, `request_served`) and never touch prometheus_client
themselves, so a metric's name and labels are decided in one place.

Counters live in the process that counts. `herald serve --workers N` runs N processes:
prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, which `serve` sets from
HERALD_METRICS_DIR or a temporary folder) has each write its counts to a memory-mapped file
in that folder, and whichever process answers a scrape adds them all up. Queue depth is
not counted anywhere: it is read from the database at scrape time (`QueueCollector`), so
every process reports the same numbers and a restart loses none.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from herald.models import utcnow
from herald.queue.stats import depth
from herald.statuses import QueueStatus

log = logging.getLogger(__name__)

#: The environment variable prometheus_client reads, at import, for multiprocess mode.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: The classic text format generate_latest writes, understood by every Prometheus.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Lateness: "within a second of its time" is the promise, a minute the seed's limit.
_LATENESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
                     3600.0)
# One attempt: a text post takes well under a second, a video minutes of polling.
_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 180.0, 600.0)
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

#: Herald's own metrics, apart from prometheus_client's default registry (the process
#: and Python collectors): a module imported twice (tests do) makes a registry of its own,
#: not a clash of names in the shared one.
HERALD = CollectorRegistry()

ATTEMPTS = Counter("herald_publish_attempts", "Publishing attempts begun, by platform.",
                   ["platform"], registry=HERALD)
OUTCOMES = Counter("herald_publish_outcomes",
                   "Publishing attempts by how they ended: published, retry, failed, "
                   "unconfirmed or cancelled.", ["platform", "outcome"], registry=HERALD)
ERRORS = Counter("herald_publish_errors",
                 "Attempts that did not publish, by platform and Herald's error code "
                 "(timeout, network, needs_reauth …) or the platform's own.",
                 ["platform", "code"], registry=HERALD)
LATENESS = Histogram("herald_publish_lateness_seconds",
                     "How long after its scheduled time a post's first attempt began.",
                     ["platform"], buckets=_LATENESS_BUCKETS, registry=HERALD)
DURATION = Histogram("herald_publish_duration_seconds",
                     "How long one publishing attempt took, platform calls included.",
                     ["platform"], buckets=_DURATION_BUCKETS, registry=HERALD)
RESCUES = Counter("herald_lease_rescues",
                  "Posts whose worker stopped renewing its lease, returned to the queue.",
                  registry=HERALD)
WEBHOOKS = Counter("herald_webhook_deliveries", "Webhook deliveries by outcome.", ["outcome"],
                   registry=HERALD)
REQUESTS = Counter("herald_http_requests", "HTTP requests answered, by method and status.",
                   ["method", "status"], registry=HERALD)
REQUEST_SECONDS = Histogram("herald_http_request_duration_seconds",
                            "Time to answer an HTTP request, by method.", ["method"],
                            buckets=_REQUEST_BUCKETS, registry=HERALD)


def attempt_started(platform: str, *, attempt: int, run_at: datetime,
                    now: datetime | None = None) -> None:
    """A worker begins publishing a post; its first attempt's lateness is observed."""
    ATTEMPTS.labels(platform).inc()
    if attempt == 1:
        late = ((now or utcnow()) - run_at).total_seconds()
        LATENESS.labels(platform).observe(max(0.0, late))


def attempt_finished(platform: str, outcome: str, *, error_code: str | None,
                     seconds: float | None) -> None:
    OUTCOMES.labels(platform, outcome).inc()
    if error_code:
        ERRORS.labels(platform, error_code).inc()
    if seconds is not None:
        DURATION.labels(platform).observe(seconds)


def leases_rescued(count: int) -> None:
    RESCUES.inc(count)


def webhook_delivered(outcome: str) -> None:
    """One webhook delivery attempt ended: `delivered`, `retry`, `failed`, `disabled`…"""
    WEBHOOKS.labels(outcome).inc()


def request_served(method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, str(status)).inc()
    REQUEST_SECONDS.labels(method).observe(seconds)


_UP = "1 when the database answered this scrape's queue counts, else 0."


class QueueCollector(Collector):
    """Queue depth read from the database at each scrape (a few index range counts)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        try:
            with self.engine.connect() as conn:
                now = depth(conn, now=utcnow())
        except DBAPIError as exc:
            # The rest of the scrape still counts; the alert is on herald_database_up.
            log.warning("queue metrics: the database cannot be reached (%s)",
                        str(exc.orig or exc).strip().splitlines()[0])
            yield GaugeMetricFamily("herald_database_up", _UP, value=0)
            return
        yield GaugeMetricFamily("herald_database_up", _UP, value=1)
        by_status = GaugeMetricFamily("herald_queue_posts",
                                      "Posts in the queue by status (pending, processing).",
                                      labels=["status"])
        for status in (QueueStatus.PENDING, QueueStatus.PROCESSING):
            by_status.add_metric([status.value], now.by_status.get(status, 0))
        yield by_status
        yield GaugeMetricFamily("herald_queue_due", "Pending posts whose time has come.",
                                value=now.due)
        yield GaugeMetricFamily("herald_queue_expired_leases",
                                "Posts in processing whose lease ran out (a rescue is due).",
                                value=now.expired_leases)


def multiprocess_dir() -> str | None:
    """The multiprocess folder, if this process's metrics live there.

    Judged by how prometheus_client stores values, which it chose when it was imported:
    the variable set later (as `serve` does for the processes it starts) does not count.
    """
    if values.ValueClass.__name__ != "MmapedValue":
        return None
    return os.environ.get(MULTIPROC_ENV) or None


def exposition(queue: CollectorRegistry | None = None) -> bytes:
    """This process's metrics (every server process's, in multiprocess mode), then the
    queue's, in Prometheus' text format."""
    folder = multiprocess_dir()
    if folder:
        from prometheus_client.multiprocess import MultiProcessCollector

        counted = CollectorRegistry()
        MultiProcessCollector(counted, path=folder)  # type: ignore[no-untyped-call]
        text = generate_latest(counted)
    else:
        text = generate_latest(REGISTRY) + generate_latest(HERALD)
    return text + generate_latest(queue) if queue is not None else text


def queue_registry(engine: Engine) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(QueueCollector(engine))
    return registry


def authorized(header: str | None, token: str | None) -> bool:
    """Whether an Authorization header may read the metrics (any, when no token is set)."""
    if not token:
        return True
    scheme, _, value = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(),
                                                               token.encode())


def prepare_multiprocess(folder: Path) -> None:
    """Make `folder` the multiprocess folder of the processes started from now on, emptied
    of an earlier run's files (their counts would be added to this run's)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(folder)


def process_exited(pid: int) -> None:
    """Forget a dead server process's live gauges (its counters stay counted)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
