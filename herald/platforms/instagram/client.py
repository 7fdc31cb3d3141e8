"""Instagram professional accounts through either of Meta's Instagram APIs.

One code path for both: the Instagram API with Facebook Login (graph.facebook.com, a Page
token) and with Instagram Login (graph.instagram.com, an Instagram user token) take the
same containers, status walk, media_publish, publishing limit and comments; an `IgApi`
says which host's name, platform and error mapping a publisher speaks for.

prepare: create the media container(s); wait: poll `status_code`; commit: `media_publish`.
The container id is journaled before the commit so that a later attempt reuses it: a
container can be published only once, so reusing it (rather than making a new one) is
what keeps a retried publish from posting twice.
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
    GraphErrors,
    GraphSession,
    NeedsNewContainer,
    attach_usage,
    comments,
    recent,
)
from herald.platforms.http import dict_at, find_recent, list_at, poll_delays, utcnow
from herald.platforms.instagram.errors import container_failure, instagram_error, quota_used_up
from herald.platforms.instagram.options import child_options, container_options

log = logging.getLogger(__name__)

_NOT_OUT = frozenset({"FINISHED", "IN_PROGRESS", "EXPIRED", "ERROR"})
_PROBE_HOURS = (1, 4, 12)
QUOTA_TTL = 10.0  # seconds a quota reading serves the account's next posts
LOOKBACK = 50  # media per page read when looking for a published post's id
MAX_PAGES = 10


@dataclass(frozen=True)
class QuotaReading:
    """content_publishing_limit: posts published in the rolling window, and the limit."""

    usage: int
    total: int
    window_seconds: int

    def as_dict(self) -> dict[str, int]:
        return {"usage": self.usage, "total": self.total, "window_seconds": self.window_seconds}


@dataclass(frozen=True)
class IgApi:
    """Which Instagram API a publisher speaks: its platform name and error mapping."""

    platform: str = "instagram"
    errors: GraphErrors = instagram_error


FACEBOOK_LOGIN = IgApi()


@dataclass(frozen=True)
class _Plan:
    kind: str  # image | reels | stories | carousel
    media: tuple[MediaItem, ...]


def _plan(job: PublishJob) -> _Plan:
    """Decide the container kind; refuse shapes Instagram cannot take before any call."""
    media, kind = job.media, job.post_type
    if any(m.type not in ("image", "video") for m in media):
        raise PermanentError("Instagram takes only images and videos.", code="media_type")
    if kind == "feed_story":
        # One job commits one post: feed + story in one job could not be retried safely.
        raise PermanentError("A feed_story post must be split into a feed post and a story "
                             "before publishing.", code="unsupported_post_type")
    if kind == "carousel" or (kind == "feed" and len(media) > 1):
        if not 2 <= len(media) <= 10:
            raise PermanentError(f"An Instagram carousel needs 2 to 10 items, not "
                                 f"{len(media)}.", code="carousel_size")
        return _Plan("carousel", media)
    if kind not in ("feed", "reel", "video", "story") or len(media) != 1:
        raise PermanentError(f"Instagram cannot publish a {kind!r} post with {len(media)} "
                             "media items.", code="unsupported_post_type")
    if kind == "story":
        return _Plan("stories", media)
    if media[0].type == "video":  # single feed videos are published as reels since 2023
        return _Plan("reels", media)
    if kind in ("reel", "video"):
        raise PermanentError("An Instagram reel needs a video.", code="media_type")
    return _Plan("image", media)


class InstagramPublisher:
    """Publishes to an Instagram professional account; job.account.external_id is its id."""

    platform = "instagram"

    def __init__(self, client: httpx.AsyncClient, *, base_url: str, version: str,
                 poll_interval: float = 3.0, poll_backoff: float = 2.0,
                 max_poll_interval: float = 30.0, max_wait: float = 300.0,
                 now: Callable[[], datetime] = utcnow, api: IgApi = FACEBOOK_LOGIN) -> None:
        self._client, self._base_url, self._version = client, base_url, version
        self.platform, self._api = api.platform, api
        self._poll = (poll_interval, poll_backoff, max_poll_interval)
        self._max_wait, self._now = max_wait, now
        #: Instagram account id -> (quota reading, when it was read, monotonic seconds).
        self._quotas: dict[str, tuple[QuotaReading, float]] = {}
        #: Instagram account id -> the quota read in flight for it (see _check_quota).
        self._reading: dict[str, asyncio.Future[QuotaReading]] = {}

    def _session(self, account: AccountRef) -> GraphSession:
        return GraphSession(self._client, base_url=self._base_url, version=self._version,
                            token=account.access_token, platform="Instagram",
                            errors=self._api.errors)

    async def publish(self, job: PublishJob) -> PublishResult:
        plan = _plan(job)
        g = self._session(job.account)
        try:
            return await self._publish(job, plan, g)
        except PublishError as exc:
            attach_usage(exc, g.usage)
            raise

    async def comment(self, job: PublishJob, post: PublishResult, text: str) -> str:
        """The first comment on the published post (`/{object-id}/comments`)."""
        g = self._session(job.account)
        try:
            return await comments.post_comment(g, post.external_id, text)
        except PublishError as exc:
            attach_usage(exc, g.usage)
            raise

    async def find_comment(self, job: PublishJob, post: PublishResult,
                           text: str) -> str | None:
        """Our first comment among the post's, after an answer was lost."""
        return await comments.find_comment(self._session(job.account), post.external_id,
                                           text, text_field="text")

    async def reconcile(self, job: PublishJob) -> PublishResult | None:
        """After an unknown outcome: the result if the post is out, None if it is not."""
        container = _previous_container(job)
        if container is None:  # the commit needs a container, journaled before it
            return None
        g = self._session(job.account)
        try:
            code, _ = await self._status(g, container)
            if code == "PUBLISHED":
                return await self._already_published(g, job, container)
        except PublishError as exc:
            attach_usage(exc, g.usage)
            raise
        if code in _NOT_OUT:
            return None
        raise OutcomeUnknownError(f"Instagram reported an unknown container status {code!r}; "
                                  "check the account before retrying.", code="container_status")

    async def read_quota(self, account: AccountRef) -> QuotaReading:
        """The account's publishing quota, for the worker to store and share."""
        return await self._quota(self._session(account), account.external_id)

    async def _publish(self, job: PublishJob, plan: _Plan, g: GraphSession) -> PublishResult:
        container = _previous_container(job)
        quota: QuotaReading | None = None
        fresh_left = not_ready_left = 1
        # Image containers are ready at once: publish without a status read, and if
        # Instagram says "not ready" (9007/2207027) poll and publish again. Videos and
        # containers from an earlier attempt (PUBLISHED means it went out) are polled first.
        has_video = any(m.type == "video" for m in plan.media)
        while True:
            try:
                fresh = container is None
                if container is None:
                    quota = quota or await self._check_quota(g, job)
                    container = await self._create(g, job, plan)
                if (not fresh or has_video) and await self._wait(g, container) == "PUBLISHED":
                    # An earlier attempt's publish went through: never publish again.
                    return await self._already_published(g, job, container)
                quota = quota or await self._check_quota(g, job)
                media_id = await self._commit(g, job, container)
                break
            except NeedsNewContainer:
                if not fresh_left:
                    raise
                fresh_left, container = 0, None
            except ContainerNotReady:  # 2207027 on media_publish: poll again, then retry
                if not not_ready_left:
                    raise
                not_ready_left = 0
        assert quota is not None  # read before every commit
        permalink = await self._permalink(g, media_id)
        log.info("%s: post %s published as media %s", self.platform, job.post_id, media_id)
        return PublishResult(media_id, permalink, extra={
            "container_id": container, "quota": quota.as_dict(), "usage": g.usage.as_dict()},
            pause=g.usage.pause())

    async def _create(self, g: GraphSession, job: PublishJob, plan: _Plan) -> str:
        ig, caption = job.account.external_id, job.caption
        children: list[str] = []
        if plan.kind == "carousel":
            for index, item in enumerate(plan.media, start=1):
                child = await self._container(
                    g, ig, {**_child_body(item), **child_options(index, job.options)})
                children.append(child)
                if item.type == "video":  # video children must finish before the parent
                    await self._wait(g, child)
            body: dict[str, Any] = {"media_type": "CAROUSEL", "children": ",".join(children)}
        else:
            body = _single_body(plan, job)
        if caption and plan.kind != "stories":  # the caption goes on the parent only
            body["caption"] = caption
        body.update(container_options(plan.kind, job.options))
        container = await self._container(g, ig, body)
        await job.journal.prepared(container_id=container, children=children)
        return container

    async def _container(self, g: GraphSession, ig: str, body: dict[str, Any]) -> str:
        data = await g.post(f"{ig}/media", body, step="prepare")
        if not data.get("id"):
            raise TransientError("Instagram created a media container without an id.",
                                 code="no_container_id")
        return str(data["id"])

    async def _status(self, g: GraphSession, container: str) -> tuple[str, str]:
        data = await g.get(container, {"fields": "status_code,status"})
        return str(data.get("status_code") or ""), str(data.get("status") or "")

    async def _wait(self, g: GraphSession, container: str) -> str:
        """Poll until FINISHED or PUBLISHED (returned); ERROR/EXPIRED raise; bounded wait."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_wait
        delays = poll_delays(*self._poll)
        last: TransientError | None = None
        while True:
            try:
                code, status = await self._status(g, container)
            except TransientError as exc:
                if type(exc) is not TransientError:  # throttling, spoiled container
                    raise
                code, status, last = "", "", exc  # a read blip must not end a long wait
            if code in ("FINISHED", "PUBLISHED"):
                return code
            failed = container_failure(code, status)
            if failed is not None:
                raise failed
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise last or TransientError(
                    f"Instagram was still processing the media after {self._max_wait:g} s; "
                    "it will be checked again.", code="IN_PROGRESS", retry_after=60)
            await asyncio.sleep(min(next(delays), remaining))

    async def _commit(self, g: GraphSession, job: PublishJob, container: str) -> str:
        await job.journal.committing(at=self._now(), container_id=container)
        data = await g.post(f"{job.account.external_id}/media_publish",
                            {"creation_id": container}, step="commit")
        if not data.get("id"):
            raise OutcomeUnknownError("Instagram accepted the publishing call but sent no "
                                      "media id; the post may be out.", code="no_media_id")
        media_id = str(data["id"])
        cached = self._quotas.get(job.account.external_id)
        if cached is not None:  # one more post counted in the rolling window
            reading = cached[0]
            self._quotas[job.account.external_id] = (
                replace(reading, usage=reading.usage + 1), cached[1])
        await job.journal.committed(media_id, container_id=container)
        return media_id

    async def _check_quota(self, g: GraphSession, job: PublishJob) -> QuotaReading:
        ig = job.account.external_id
        # A burst publishes many posts per account within seconds: one reading serves
        # them for QUOTA_TTL, counting this worker's own posts since. Other workers' posts
        # may make it stale; Instagram then refuses the publish (9/2207042), which waits
        # like a full quota does, so a stale reading costs a refused call, never a post.
        cached = self._quotas.get(ig)
        now = time.monotonic()
        if cached is not None and now - cached[1] < QUOTA_TTL and \
                cached[0].usage < cached[0].total:
            return cached[0]
        reading = await self._shared_quota(g, ig)
        self._quotas[ig] = (reading, now)
        if reading.usage < reading.total:
            return reading
        raise quota_used_up(reading, await self._slot_wait(g, ig, reading))

    async def _shared_quota(self, g: GraphSession, ig: str) -> QuotaReading:
        """The account's quota, one read for every post of it that asks meanwhile.

        When a burst starts, hundreds of an account's posts find no reading at once: each
        made its own read, one more call per post and 1.2 s more of its chain in the burst
        benchmark. They share the one in flight instead (shielded: one post cancelled must
        not cancel the others' reading). A read that fails is its reader's error alone:
        the posts that waited on it read for themselves.
        """
        failed: asyncio.Future[QuotaReading] | None = None
        while (pending := self._reading.get(ig)) is not None and pending is not failed:
            try:
                return await asyncio.shield(pending)
            except (PublishError, httpx.HTTPError):
                failed = pending  # the next waiter to get here reads; the rest share it
        task = asyncio.ensure_future(self._quota(g, ig))
        self._reading[ig] = task

        def forget(done: asyncio.Future[QuotaReading]) -> None:
            if self._reading.get(ig) is done:
                del self._reading[ig]
            if not done.cancelled():
                done.exception()  # retrieved: an error nobody awaits is not logged as lost

        task.add_done_callback(forget)
        return await asyncio.shield(task)

    async def _quota(self, g: GraphSession, ig: str, since: int | None = None) -> QuotaReading:
        params: dict[str, Any] = {"fields": "quota_usage,config"}
        if since is not None:
            params["since"] = since
        data = await g.get(f"{ig}/content_publishing_limit", params)
        rows = list_at(data, "data")
        row: dict[str, Any] = rows[0] if rows and isinstance(rows[0], dict) else {}
        config = dict_at(row, "config")
        return QuotaReading(int(row.get("quota_usage") or 0), int(config.get("quota_total") or 50),
                            int(config.get("quota_duration") or 86400))

    async def _slot_wait(self, g: GraphSession, ig: str, full: QuotaReading) -> float:
        """When the oldest counted post leaves the rolling window, at hour resolution.

        Usage counted since (now - window + h) below the limit means a slot frees within
        h. Where `since` is ignored or a probe fails, wait the whole window (conservative).
        """
        start = int(self._now().timestamp()) - full.window_seconds
        for hours in _PROBE_HOURS:
            try:
                later = await self._quota(g, ig, since=start + hours * 3600)
            except TransientError:
                break
            if later.usage < full.total:
                return hours * 3600.0
        return float(full.window_seconds)

    async def _already_published(self, g: GraphSession, job: PublishJob,
                                 container: str) -> PublishResult:
        """The container is PUBLISHED: find its media id by caption and time, never data[0]."""
        item = await self._find_media(g, job)
        extra: dict[str, Any] = {"container_id": container, "reconciled": True,
                                 "usage": g.usage.as_dict()}
        if item is None:
            # It is out for sure; only the media id is missing. Keep the container id.
            log.warning("%s: post %s is out but its media id was not found", self.platform,
                        job.post_id)
            extra["media_id_unknown"] = True
            await job.journal.committed(container, container_id=container)
            return PublishResult(container, None, extra=extra, pause=g.usage.pause())
        await job.journal.committed(str(item["id"]), container_id=container)
        return PublishResult(str(item["id"]), item.get("permalink"), extra=extra,
                             pause=g.usage.pause())

    async def _find_media(self, g: GraphSession, job: PublishJob) -> dict[str, Any] | None:
        edge = "stories" if job.post_type == "story" else "media"
        at = job.history.committing_at or job.run_at
        since = min(at, job.run_at) - timedelta(minutes=10)
        # Paged back past the commit: a busy account may have posted more than a page since.
        items, _ = await recent(g, f"{job.account.external_id}/{edge}",
                                fields="id,caption,timestamp,permalink", time_key="timestamp",
                                since=since, limit=LOOKBACK, max_pages=MAX_PAGES)
        return find_recent(items, text_key="caption", time_key="timestamp",
                           text=None if edge == "stories" else job.caption,
                           since=since, until=self._now() + timedelta(minutes=5), near=at)

    async def _permalink(self, g: GraphSession, media_id: str) -> str | None:
        try:
            data = await g.get(media_id, {"fields": "permalink"})
        except PublishError as exc:  # the post is out; a missing link must not fail it
            log.warning("instagram: no permalink for media %s (%s)", media_id, exc.code)
            return None
        return str(data["permalink"]) if data.get("permalink") else None


def _previous_container(job: PublishJob) -> str | None:
    value = job.history.ids.get("container_id")
    return str(value) if value else None


def _child_body(item: MediaItem) -> dict[str, Any]:
    if item.type == "video":
        return {"media_type": "VIDEO", "video_url": item.url, "is_carousel_item": True}
    body: dict[str, Any] = {"image_url": item.url, "is_carousel_item": True}
    if item.alt_text:
        body["alt_text"] = item.alt_text
    return body


def _single_body(plan: _Plan, job: PublishJob) -> dict[str, Any]:
    item, options = plan.media[0], job.options
    if plan.kind == "stories":
        key = "video_url" if item.type == "video" else "image_url"
        return {"media_type": "STORIES", key: item.url}
    if plan.kind == "reels":
        body: dict[str, Any] = {"media_type": "REELS", "video_url": item.url,
                                "share_to_feed": bool(options.get("share_to_feed", True))
                                if job.post_type == "reel" else True}
        for key in ("thumb_offset", "cover_url"):
            if options.get(key) is not None:
                body[key] = options[key]
        return body
    body = {"image_url": item.url}
    if item.alt_text:
        body["alt_text"] = item.alt_text
    return body
