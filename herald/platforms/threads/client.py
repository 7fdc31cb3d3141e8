"""Threads through Meta's Threads API (graph.threads.net).

prepare: create the media container (`POST /{user}/threads`; a carousel's items first,
with `is_carousel_item`); read: poll its `status` until FINISHED; commit:
`POST /{user}/threads_publish` with `creation_id`. As on Instagram, the container id is
journaled before the commit, and a container can be published only once: an attempt
after an unknown outcome reads the container's status, and PUBLISHED means the post is
out (its media id is then found among the account's threads), so it is never published
twice.

The 250-posts-per-24-hours limit is read from `threads_publishing_limit` before each
commit (one reading serves an account's burst for QUOTA_TTL seconds), and a full quota
waits until the oldest post of the window leaves it.

A first comment is a reply: a TEXT container with `reply_to_id`, then threads_publish.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx

from herald.platforms.base import (
    AccountRef,
    MediaItem,
    OutcomeUnknownError,
    PermanentError,
    PublishError,
    PublishJob,
    PublishResult,
    TransientError,
)
from herald.platforms.graph import (
    ContainerNotReady,
    GraphSession,
    NeedsNewContainer,
    attach_usage,
    recent,
)
from herald.platforms.http import dict_at, find_recent, list_at, parse_time, poll_delays, utcnow
from herald.platforms.threads.errors import (
    PLATFORM,
    container_failure,
    quota_used_up,
    threads_error,
)

log = logging.getLogger(__name__)

_NOT_OUT = frozenset({"FINISHED", "IN_PROGRESS", "EXPIRED", "ERROR"})
QUOTA_TTL = 10.0  # seconds a quota reading serves the account's next posts
QUOTA_TOTAL, QUOTA_WINDOW = 250, 86_400  # documented; the reading's config wins
LOOKBACK = 50  # threads per page read when looking for a published post's id
MAX_PAGES = 10
#: Replies read back when looking for our first comment: a fresh post has few.
REPLIES_LOOKBACK = 100
#: Where a full quota's wait cannot be worked out: look again in an hour.
QUOTA_RETRY = 3600.0
_THREAD_FIELDS = "id,text,timestamp,permalink"


@dataclass(frozen=True)
class QuotaReading:
    """threads_publishing_limit: posts published in the rolling window, and the limit."""

    usage: int
    total: int
    window_seconds: int

    def as_dict(self) -> dict[str, int]:
        return {"usage": self.usage, "total": self.total, "window_seconds": self.window_seconds}


def _kind(job: PublishJob) -> str:
    """The container's media_type; refuse shapes Threads cannot take before any call."""
    media, post_type = job.media, job.post_type
    if any(m.type not in ("image", "video") for m in media):
        raise PermanentError("Threads takes only images and videos.", code="media_type")
    if post_type == "text" or (post_type == "feed" and not media):
        if media:
            raise PermanentError("A Threads text post has no media.", code="media_type")
        return "TEXT"
    if post_type == "carousel" or (post_type == "feed" and len(media) > 1):
        if not 2 <= len(media) <= 20:
            raise PermanentError(f"A Threads carousel needs 2 to 20 items, not {len(media)}.",
                                 code="carousel_size")
        return "CAROUSEL"
    if post_type not in ("feed", "video") or len(media) != 1:
        raise PermanentError(f"Threads cannot publish a {post_type!r} post with "
                             f"{len(media)} media items.", code="unsupported_post_type")
    if post_type == "video" and media[0].type != "video":
        raise PermanentError("A Threads video post needs a video.", code="media_type")
    return "VIDEO" if media[0].type == "video" else "IMAGE"


class ThreadsPublisher:
    """Publishes to a Threads profile; job.account.external_id is its Threads user id."""

    platform = "threads"

    def __init__(self, client: httpx.AsyncClient, *, base_url: str, version: str,
                 poll_interval: float = 3.0, poll_backoff: float = 2.0,
                 max_poll_interval: float = 30.0, max_wait: float = 300.0,
                 now: Callable[[], datetime] = utcnow) -> None:
        self._client, self._base_url, self._version = client, base_url, version
        self._poll = (poll_interval, poll_backoff, max_poll_interval)
        self._max_wait, self._now = max_wait, now
        #: Threads user id -> (quota reading, when it was read, monotonic seconds).
        self._quotas: dict[str, tuple[QuotaReading, float]] = {}

    def _session(self, account: AccountRef) -> GraphSession:
        return GraphSession(self._client, base_url=self._base_url, version=self._version,
                            token=account.access_token, platform=PLATFORM,
                            errors=threads_error)

    async def publish(self, job: PublishJob) -> PublishResult:
        kind = _kind(job)
        g = self._session(job.account)
        try:
            return await self._publish(job, kind, g)
        except PublishError as exc:
            attach_usage(exc, g.usage)
            raise

    async def _publish(self, job: PublishJob, kind: str, g: GraphSession) -> PublishResult:
        container = _previous_container(job)
        quota: QuotaReading | None = None
        fresh_left = not_ready_left = 1
        while True:
            try:
                if container is None:
                    quota = quota or await self._check_quota(g, job)
                    container = await self._create(g, job, kind)
                # Every container is polled first: Meta asks to wait until it is FINISHED,
                # and an earlier attempt's container that is PUBLISHED went out.
                if await self._wait(g, container) == "PUBLISHED":
                    return await self._already_published(g, job, container)
                quota = quota or await self._check_quota(g, job)
                media_id = await self._commit(g, job, container)
                break
            except NeedsNewContainer:
                if not fresh_left:
                    raise
                fresh_left, container = 0, None
            except ContainerNotReady:  # "not ready" on threads_publish: poll, then again
                if not not_ready_left:
                    raise
                not_ready_left = 0
        assert quota is not None  # read before every commit
        permalink = await self._permalink(g, media_id)
        log.info("threads: post %s published as media %s", job.post_id, media_id)
        return PublishResult(media_id, permalink, extra={
            "container_id": container, "quota": quota.as_dict(), "usage": g.usage.as_dict()},
            pause=g.usage.pause())

    async def _create(self, g: GraphSession, job: PublishJob, kind: str) -> str:
        user = job.account.external_id
        children: list[str] = []
        body: dict[str, Any] = {"media_type": kind}
        if kind == "CAROUSEL":
            for item in job.media:
                child = await self._container(g, user, {**_media_body(item),
                                                        "is_carousel_item": True})
                children.append(child)
            for child in children:  # the items must be FINISHED before the carousel
                await self._wait(g, child)
            body["children"] = ",".join(children)
        elif kind != "TEXT":
            body.update(_media_body(job.media[0]))
        if job.caption:
            body["text"] = job.caption
        container = await self._container(g, user, body)
        await job.journal.prepared(container_id=container, children=children)
        return container

    async def _container(self, g: GraphSession, user: str, body: dict[str, Any]) -> str:
        data = await g.post(f"{user}/threads", body, step="prepare")
        if not data.get("id"):
            raise TransientError("Threads created a media container without an id.",
                                 code="no_container_id")
        return str(data["id"])

    async def _status(self, g: GraphSession, container: str) -> tuple[str, str]:
        data = await g.get(container, {"fields": "status,error_message"})
        return str(data.get("status") or ""), str(data.get("error_message") or "")

    async def _wait(self, g: GraphSession, container: str) -> str:
        """Poll until FINISHED or PUBLISHED (returned); ERROR/EXPIRED raise; bounded wait."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_wait
        delays = poll_delays(*self._poll)
        last: TransientError | None = None
        while True:
            try:
                status, message = await self._status(g, container)
            except TransientError as exc:
                if type(exc) is not TransientError:  # throttling, spoiled container
                    raise
                status, message, last = "", "", exc  # a read blip must not end a long wait
            if status in ("FINISHED", "PUBLISHED"):
                return status
            failed = container_failure(status, message)
            if failed is not None:
                raise failed
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise last or TransientError(
                    f"Threads was still processing the media after {self._max_wait:g} s; "
                    "it will be checked again.", code="IN_PROGRESS", retry_after=60)
            await asyncio.sleep(min(next(delays), remaining))

    async def _commit(self, g: GraphSession, job: PublishJob, container: str) -> str:
        await job.journal.committing(at=self._now(), container_id=container)
        data = await g.post(f"{job.account.external_id}/threads_publish",
                            {"creation_id": container}, step="commit")
        if not data.get("id"):
            raise OutcomeUnknownError("Threads accepted the publishing call but sent no "
                                      "media id; the post may be out.", code="no_media_id")
        media_id = str(data["id"])
        cached = self._quotas.get(job.account.external_id)
        if cached is not None:  # one more post counted in the rolling window
            reading = cached[0]
            self._quotas[job.account.external_id] = (
                replace(reading, usage=reading.usage + 1), cached[1])
        await job.journal.committed(media_id, container_id=container)
        return media_id

    # --- the publishing limit -------------------------------------------------------------

    async def _check_quota(self, g: GraphSession, job: PublishJob) -> QuotaReading:
        user = job.account.external_id
        # As on Instagram: one reading serves a burst for QUOTA_TTL, counting this
        # worker's own posts since; a stale one costs a refused publish, never a post.
        cached = self._quotas.get(user)
        now = time.monotonic()
        if cached is not None and now - cached[1] < QUOTA_TTL and \
                cached[0].usage < cached[0].total:
            return cached[0]
        reading = await self._quota(g, user)
        self._quotas[user] = (reading, now)
        if reading.usage < reading.total:
            return reading
        raise quota_used_up(reading, await self._slot_wait(g, user, reading))

    async def _quota(self, g: GraphSession, user: str) -> QuotaReading:
        data = await g.get(f"{user}/threads_publishing_limit", {"fields": "quota_usage,config"})
        rows = list_at(data, "data")
        row: dict[str, Any] = rows[0] if rows and isinstance(rows[0], dict) else {}
        config = dict_at(row, "config")
        return QuotaReading(int(row.get("quota_usage") or 0),
                            int(config.get("quota_total") or QUOTA_TOTAL),
                            int(config.get("quota_duration") or QUOTA_WINDOW))

    async def _slot_wait(self, g: GraphSession, user: str, full: QuotaReading) -> float:
        """When the oldest post of the rolling window leaves it: from the account's own
        threads of the window (the limit endpoint takes no `since`). Posts made in the app
        count there but not in the limit, so this may be early: the next attempt reads the
        limit again and waits again, never publishing over it."""
        now = self._now()
        since = now - timedelta(seconds=full.window_seconds)
        try:
            items, _ = await recent(g, f"{user}/threads", fields="id,timestamp",
                                    time_key="timestamp", since=since, limit=LOOKBACK,
                                    max_pages=MAX_PAGES)
        except TransientError:
            return QUOTA_RETRY
        times = [t for i in items if isinstance(i, dict)
                 and (t := parse_time(i.get("timestamp"))) is not None and t >= since]
        if not times:
            return QUOTA_RETRY
        return max(60.0, (min(times) - since).total_seconds())

    async def read_quota(self, account: AccountRef) -> QuotaReading:
        """The account's publishing quota (what `threads_publishing_limit` says now)."""
        return await self._quota(self._session(account), account.external_id)

    # --- after an unknown outcome ---------------------------------------------------------

    async def reconcile(self, job: PublishJob) -> PublishResult | None:
        """After an unknown outcome: the result if the post is out, None if it is not."""
        container = _previous_container(job)
        if container is None:  # the commit needs a container, journaled before it
            return None
        g = self._session(job.account)
        try:
            status, _ = await self._status(g, container)
            if status == "PUBLISHED":
                return await self._already_published(g, job, container)
        except PublishError as exc:
            attach_usage(exc, g.usage)
            raise
        if status in _NOT_OUT:
            return None
        raise OutcomeUnknownError(f"Threads reported an unknown container status {status!r}; "
                                  "check the account before retrying.", code="container_status")

    async def _already_published(self, g: GraphSession, job: PublishJob,
                                 container: str) -> PublishResult:
        """The container is PUBLISHED: find its media id by text and time, never data[0]."""
        item = await self._find_thread(g, job)
        extra: dict[str, Any] = {"container_id": container, "reconciled": True,
                                 "usage": g.usage.as_dict()}
        if item is None:
            # It is out for sure; only the media id is missing. Keep the container id.
            log.warning("threads: post %s is out but its media id was not found", job.post_id)
            extra["media_id_unknown"] = True
            await job.journal.committed(container, container_id=container)
            return PublishResult(container, None, extra=extra, pause=g.usage.pause())
        await job.journal.committed(str(item["id"]), container_id=container)
        return PublishResult(str(item["id"]), item.get("permalink"), extra=extra,
                             pause=g.usage.pause())

    async def _find_thread(self, g: GraphSession, job: PublishJob) -> dict[str, Any] | None:
        at = job.history.committing_at or job.run_at
        since = min(at, job.run_at) - timedelta(minutes=10)
        # Paged back past the commit: a busy account may have posted more than a page since.
        items, _ = await recent(g, f"{job.account.external_id}/threads", fields=_THREAD_FIELDS,
                                time_key="timestamp", since=since, limit=LOOKBACK,
                                max_pages=MAX_PAGES)
        return find_recent(items, text_key="text", time_key="timestamp",
                           text=job.caption if job.caption else None,
                           since=since, until=self._now() + timedelta(minutes=5), near=at)

    async def _permalink(self, g: GraphSession, media_id: str) -> str | None:
        try:
            data = await g.get(media_id, {"fields": "permalink"})
        except PublishError as exc:  # the post is out; a missing link must not fail it
            log.warning("threads: no permalink for media %s (%s)", media_id, exc.code)
            return None
        return str(data["permalink"]) if data.get("permalink") else None

    # --- first comments (replies) ---------------------------------------------------------

    async def comment(self, job: PublishJob, post: PublishResult, text: str) -> str:
        """The first comment: a reply to the published post (reply_to_id), published."""
        g = self._session(job.account)
        user = job.account.external_id
        try:
            reply = await self._container(g, user, {"media_type": "TEXT", "text": text,
                                                    "reply_to_id": post.external_id})
            await self._wait(g, reply)
            data = await g.post(f"{user}/threads_publish", {"creation_id": reply},
                                step="commit")
        except PublishError as exc:
            attach_usage(exc, g.usage)
            raise
        if not data.get("id"):
            raise OutcomeUnknownError("Threads accepted the reply but sent no id.",
                                      code="no_comment_id")
        return str(data["id"])

    async def find_comment(self, job: PublishJob, post: PublishResult,
                           text: str) -> str | None:
        """Our reply among the post's, by its text and owner, after an answer was lost."""
        g = self._session(job.account)
        data = await g.get(f"{post.external_id}/replies", {
            "fields": "id,text,timestamp,is_reply_owned_by_me", "limit": REPLIES_LOOKBACK})
        for item in list_at(data, "data"):
            if not isinstance(item, dict) or str(item.get("text", "")).strip() != text.strip():
                continue
            if item.get("is_reply_owned_by_me") is False:  # someone else said the same
                continue
            return str(item["id"])
        return None


def _previous_container(job: PublishJob) -> str | None:
    value = job.history.ids.get("container_id")
    return str(value) if value else None


def _media_body(item: MediaItem) -> dict[str, Any]:
    if item.type == "video":
        return {"media_type": "VIDEO", "video_url": item.url}
    body: dict[str, Any] = {"media_type": "IMAGE", "image_url": item.url}
    if item.alt_text:
        body["alt_text"] = item.alt_text
    return body
