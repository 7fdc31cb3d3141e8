"""Facebook Pages through the Graph API: text/link posts, photos, several photos, video.

prepare: unpublished photos (`/photos?published=false`, invisible, safe to repeat);
commit: `/feed`, published `/photos` or `/videos`. Facebook has no idempotency key, so an
unknown outcome is settled by looking for the post among the Page's recent ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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
from herald.platforms.facebook.errors import facebook_error
from herald.platforms.graph import GraphSession, attach_usage, comments, recent
from herald.platforms.http import find_recent, utcnow

log = logging.getLogger(__name__)

LOOKBACK = 100  # posts per page read when reconciling (Graph's maximum)
MAX_PAGES = 10  # pages read back at most


def _plan(job: PublishJob) -> tuple[str, tuple[MediaItem, ...]]:
    """feed (text/link), photo, photos or video; refuse what a Page post cannot carry."""
    kind, media = job.post_type, job.media
    if kind in ("story", "feed_story"):
        raise PermanentError("Herald does not publish Facebook Page stories.",
                             code="unsupported_post_type")
    if any(m.type not in ("image", "video") for m in media):
        raise PermanentError("Facebook Page posts take only images and videos.",
                             code="media_type")
    videos = [m for m in media if m.type == "video"]
    if kind == "article" or not media:
        if not (job.caption or job.options.get("link")):
            raise PermanentError("A Facebook post needs a message or a link.", code="empty_post")
        return "feed", ()
    if videos:
        if len(media) > 1:
            raise PermanentError("A Facebook post takes one video, alone.", code="media_mix")
        return "video", media
    return ("photo" if len(media) == 1 else "photos"), media


class FacebookPublisher:
    """Publishes to a Facebook Page; job.account.external_id is the page id."""

    platform = "facebook"

    def __init__(self, client: httpx.AsyncClient, *, base_url: str, version: str,
                 now: Callable[[], datetime] = utcnow) -> None:
        self._client, self._base_url, self._version = client, base_url, version
        self._now = now

    def _session(self, account: AccountRef) -> GraphSession:
        return GraphSession(self._client, base_url=self._base_url, version=self._version,
                            token=account.access_token, platform="Facebook",
                            errors=facebook_error)

    async def publish(self, job: PublishJob) -> PublishResult:
        kind, media = _plan(job)
        g = self._session(job.account)
        try:
            return await self._publish(job, kind, media, g)
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
        page = job.account.external_id
        return await comments.find_comment(self._session(job.account), post.external_id,
                                           text, text_field="message", author=page)

    async def reconcile(self, job: PublishJob) -> PublishResult | None:
        """After an unknown outcome: the result if the post is out, None if it is not."""
        at = job.history.committing_at
        if at is None:  # the commit was never attempted
            return None
        g = self._session(job.account)
        try:
            return await self._reconcile(job, at, g)
        except PublishError as exc:
            attach_usage(exc, g.usage)
            raise

    async def _publish(self, job: PublishJob, kind: str, media: tuple[MediaItem, ...],
                       g: GraphSession) -> PublishResult:
        page, caption = job.account.external_id, job.caption
        extra: dict[str, Any] = {}
        if kind == "photos":
            photo_ids = await self._unpublished_photos(g, job, media)
            extra["photo_ids"] = photo_ids
            body: dict[str, Any] = {"message": caption,
                                    "attached_media": [{"media_fbid": p} for p in photo_ids]}
            post_id = await self._commit(g, job, f"{page}/feed", body, "id")
        elif kind == "photo":
            body = {"url": media[0].url, "caption": caption, **_alt(media[0])}
            # /photos answers the photo id and the feed post id; the post is what we want.
            post_id = await self._commit(g, job, f"{page}/photos", body, "post_id")
        elif kind == "video":
            body = {"file_url": media[0].url, "description": caption}
            if job.options.get("title"):
                body["title"] = str(job.options["title"])
            # /videos answers only the video id; Facebook builds the post after processing.
            post_id = await self._commit(g, job, f"{page}/videos", body, "id")
        else:
            body = {"message": caption}
            if job.options.get("link"):
                body["link"] = str(job.options["link"])
            post_id = await self._commit(g, job, f"{page}/feed", body, "id")
        permalink = await self._permalink(g, post_id)
        log.info("facebook: post %s published as %s", job.post_id, post_id)
        return PublishResult(post_id, permalink, extra={**extra, "usage": g.usage.as_dict()},
                             pause=g.usage.pause())

    async def _unpublished_photos(self, g: GraphSession, job: PublishJob,
                                  media: tuple[MediaItem, ...]) -> list[str]:
        previous = job.history.ids.get("photo_ids")
        if isinstance(previous, list) and len(previous) == len(media):
            return [str(p) for p in previous]  # uploaded by an earlier attempt
        photo_ids = []
        for item in media:
            body = {"url": item.url, "published": False, **_alt(item)}
            data = await g.post(f"{job.account.external_id}/photos", body, step="prepare")
            if not data.get("id"):
                raise TransientError("Facebook stored a photo without an id.", code="no_id")
            photo_ids.append(str(data["id"]))
        await job.journal.prepared(photo_ids=photo_ids)
        return photo_ids

    async def _commit(self, g: GraphSession, job: PublishJob, path: str,
                      body: dict[str, Any], id_key: str) -> str:
        await job.journal.committing(at=self._now(), endpoint=path.rsplit("/", 1)[-1])
        data = await g.post(path, body, step="commit")
        post_id = data.get(id_key) or data.get("id")
        if not post_id:
            raise OutcomeUnknownError("Facebook accepted the publishing call but sent no id; "
                                      "the post may be out.", code="no_post_id")
        await job.journal.committed(str(post_id))
        return str(post_id)

    async def _reconcile(self, job: PublishJob, at: datetime,
                         g: GraphSession) -> PublishResult | None:
        page = job.account.external_id
        # A video becomes a feed post only once processed; its upload is listed at once.
        video = job.history.ids.get("endpoint") == "videos"
        edge, text_key = ("videos", "description") if video else ("published_posts", "message")
        since = at - timedelta(minutes=10)
        items, complete = await recent(g, f"{page}/{edge}", fields=f"id,{text_key},created_time",
                                       time_key="created_time", since=since, limit=LOOKBACK,
                                       max_pages=MAX_PAGES)
        item = find_recent(items, text_key=text_key, time_key="created_time", text=job.caption,
                           since=since, until=self._now() + timedelta(minutes=5), near=at)
        if item is not None:
            post_id = str(item["id"])
            await job.journal.committed(post_id)
            return PublishResult(post_id, await self._permalink(g, post_id),
                                 extra={"reconciled": True, "usage": g.usage.as_dict()},
                                 pause=g.usage.pause())
        if complete:
            return None
        raise OutcomeUnknownError(f"Facebook's {LOOKBACK * MAX_PAGES} most recent Page posts "
                                  "do not reach back to the publishing time; check the Page "
                                  "before retrying.", code="reconcile_window")

    async def _permalink(self, g: GraphSession, post_id: str) -> str | None:
        try:
            data = await g.get(post_id, {"fields": "permalink_url"})
        except PublishError as exc:  # the post is out; a missing link must not fail it
            log.warning("facebook: no permalink for %s (%s)", post_id, exc.code)
            return None
        link = data.get("permalink_url")
        if not isinstance(link, str) or not link:
            return None
        # Video permalinks come back relative ("/{page}/videos/{id}/").
        return f"https://www.facebook.com{link}" if link.startswith("/") else link


def _alt(item: MediaItem) -> dict[str, str]:
    return {"alt_text_custom": item.alt_text} if item.alt_text else {}
