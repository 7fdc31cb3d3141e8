"""Facebook Pages through the Graph API: text/link posts, photos, several photos, video,
reels and stories.

prepare: unpublished photos (`/photos?published=false`, invisible, safe to repeat) and
upload sessions (reels, video stories: sessions.py); commit: `/feed`, published `/photos`,
`/videos`, a session's `finish` or `/photo_stories`. Facebook has no idempotency key, so an
unknown outcome is settled by looking for the post among the Page's recent ones, or, for
reels and stories, by the uploaded video's status and the Page's stories.
"""

from __future__ import annotations

import logging
import time
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
from herald.platforms.facebook import sessions
from herald.platforms.facebook.errors import facebook_error
from herald.platforms.facebook.sessions import REEL, VIDEO_STORY, Polls, Session
from herald.platforms.graph import GraphSession, attach_usage, comments, recent
from herald.platforms.http import find_recent, utcnow

log = logging.getLogger(__name__)

LOOKBACK = 100  # posts per page read when reconciling (Graph's maximum)
MAX_PAGES = 10  # pages read back at most


def _plan(job: PublishJob) -> tuple[str, tuple[MediaItem, ...]]:
    """feed (text/link), photo, photos, video, reel or a photo/video story; refuse what a
    Page post cannot carry."""
    kind, media = job.post_type, job.media
    if kind == "feed_story":
        raise PermanentError("Herald publishes Facebook feed posts and stories separately.",
                             code="unsupported_post_type")
    if any(m.type not in ("image", "video") for m in media):
        raise PermanentError("Facebook Page posts take only images and videos.",
                             code="media_type")
    videos = [m for m in media if m.type == "video"]
    if kind in ("reel", "story"):
        if len(media) != 1 or (kind == "reel" and not videos):
            raise PermanentError(f"A Facebook {kind} takes one "
                                 f"{'video' if kind == 'reel' else 'photo or video'}.",
                                 code="media_count")
        return ("reel" if kind == "reel" else "video_story" if videos else "photo_story"), media
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
                 now: Callable[[], datetime] = utcnow, polls: Polls | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client, self._base_url, self._version = client, base_url, version
        self._now, self._polls, self._clock = now, polls or Polls(), clock

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
            if job.post_type in ("reel", "story"):
                return await self._reconcile_session(job, g)
            return await self._reconcile(job, at, g)
        except PublishError as exc:
            attach_usage(exc, g.usage)
            raise

    async def _publish(self, job: PublishJob, kind: str, media: tuple[MediaItem, ...],
                       g: GraphSession) -> PublishResult:
        page, caption = job.account.external_id, job.caption
        extra: dict[str, Any] = {}
        if kind in ("reel", "video_story", "photo_story"):
            return await self._publish_session(job, kind, g)
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

    # --- reels and stories ---------------------------------------------------------------

    async def _publish_session(self, job: PublishJob, kind: str,
                               g: GraphSession) -> PublishResult:
        page = job.account.external_id
        extra: dict[str, Any] = {}
        if kind == "photo_story":
            [photo_id] = await self._unpublished_photos(g, job, job.media)
            await job.journal.committing(at=self._now(), endpoint="photo_stories")
            data = await g.post(f"{page}/photo_stories", {"photo_id": photo_id},
                                step="commit")
            post_id = self._story_id(data)
            await job.journal.committed(post_id)
            extra["photo_ids"] = [photo_id]
        else:
            edge = REEL if kind == "reel" else VIDEO_STORY
            session = sessions.previous_session(job, edge)
            if session is None:
                if kind == "reel":
                    await sessions.reels_room(g, page, self._now())
                session = await sessions.start(self._client, g, job, edge,
                                               job.account.access_token)
            post_id = await self._finish(g, job, session)
            extra.update(video_id=session.video_id)
            if not await sessions.await_published(g, session.video_id, self._polls,
                                                  self._clock):
                # finish took PUBLISHED: Meta publishes it when processing ends.
                log.info("facebook: %s %s still processing", kind, session.video_id)
                extra["processing"] = True
        permalink = await self._permalink(g, post_id)
        log.info("facebook: %s %s published as %s", kind, job.post_id, post_id)
        return PublishResult(post_id, permalink, extra={**extra, "usage": g.usage.as_dict()},
                             pause=g.usage.pause())

    async def _finish(self, g: GraphSession, job: PublishJob, session: Session) -> str:
        """The session's commit; a reel is known by its video id, a story by its post id."""
        await job.journal.committing(at=self._now(), endpoint=session.edge)
        data = await g.post(f"{job.account.external_id}/{session.edge}",
                            sessions.finish_body(job, session), step="commit")
        if session.edge == REEL:
            if data.get("success") is not True:
                raise OutcomeUnknownError("Facebook answered the reel's finish without "
                                          "success; the reel may be out.", code="no_success")
            post_id = session.video_id
        else:
            post_id = self._story_id(data)
        await job.journal.committed(post_id)
        return post_id

    @staticmethod
    def _story_id(data: dict[str, Any]) -> str:
        post_id = data.get("post_id")
        if data.get("success") is not True or not post_id:
            raise OutcomeUnknownError("Facebook accepted the story but sent no post id; the "
                                      "story may be out.", code="no_post_id")
        return str(post_id)

    async def _reconcile_session(self, job: PublishJob,
                                 g: GraphSession) -> PublishResult | None:
        """A reel is out iff its session's publishing began; a story iff the Page lists it."""
        page, ids = job.account.external_id, job.history.ids
        video_id = str(ids.get("video_id") or "")
        photo_ids = ids.get("photo_ids")
        media_id = video_id or (str(photo_ids[0]) if isinstance(photo_ids, list)
                                and photo_ids else "")
        if not media_id:
            return None  # nothing was uploaded, so nothing can have been published
        post_id: str | None = None
        if job.post_type == "story":
            post_id, trusted = await sessions.find_story(g, page, media_id)
            if post_id is None and not video_id:
                if trusted:
                    return None
                raise OutcomeUnknownError(
                    "Facebook lists no stories for this Page, so Herald cannot tell whether "
                    "the story went out (the Page's story archive must be on for Meta to "
                    "list them); check the Page before retrying.", code="stories_unlisted")
        if post_id is None:
            took = await sessions.finished(g, video_id)
            if took is False:
                return None  # finish never took: finishing the same session is safe
            if took is None or job.post_type == "story":
                raise OutcomeUnknownError(
                    "Facebook took the video but Herald cannot read whether it was "
                    "published; check the Page before retrying.", code="reconcile_session")
            post_id = video_id
        await job.journal.committed(post_id)
        return PublishResult(post_id, await self._permalink(g, post_id),
                             extra={"reconciled": True, "usage": g.usage.as_dict()},
                             pause=g.usage.pause())

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
