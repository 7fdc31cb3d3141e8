"""Page Reels and Stories: upload sessions, the one commit each, and settling a lost answer.

A reel goes through `/{page}/video_reels` [FB-REELS]: `upload_phase=start` (an invisible
session: its video id and an upload URL), the bytes fetched by Meta from our `file_url`
(rupload.facebook.com, `Authorization: OAuth`), then `upload_phase=finish` with
`video_state=PUBLISHED`, the commit. Posting a reel's file to `/videos` instead is what
leaves Postiz's reels as drafts; Herald never does. A video story is the same session on
`/video_stories`; a photo story an unpublished photo and `/photo_stories` [FB-STORIES].

The session's video id is journaled before the commit, so a lost answer is settled by the
video's own status (its publishing phase starts only once `finish` was taken) and a resend
finishes the same session: there is no second upload that could become a second reel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from herald.platforms.base import (
    NeedsReauthError,
    PermanentError,
    PublishJob,
    TransientError,
)
from herald.platforms.facebook.errors import facebook_error
from herald.platforms.graph import GraphSession
from herald.platforms.http import (
    dict_at,
    json_object,
    list_at,
    parse_time,
    poll_delays,
    transport_error,
)

log = logging.getLogger(__name__)

#: ✅ "Reels API is limited to 30 API-published posts within a 24-hour moving period";
#: Meta asks apps to enforce it too, so Herald counts before it starts a session.
REELS_PER_DAY = 30
DAY = timedelta(hours=24)
#: The edges of the upload sessions, as kept in the journal ("session").
REEL, VIDEO_STORY = "video_reels", "video_stories"


@dataclass(frozen=True)
class Polls:
    """How long to wait for Meta to process a finished reel: first delay, factor, cap, total."""

    first: float = 2.0
    factor: float = 2.0
    cap: float = 30.0
    max_wait: float = 300.0


@dataclass(frozen=True)
class Session:
    """An upload session: its video id and the edge it was started on."""

    video_id: str
    edge: str


def previous_session(job: PublishJob, edge: str) -> Session | None:
    """The session an earlier attempt uploaded (journaled), to finish rather than redo."""
    ids = job.history.ids
    if ids.get("session") == edge and ids.get("video_id"):
        return Session(str(ids["video_id"]), edge)
    return None


async def reels_room(g: GraphSession, page: str, now: datetime) -> None:
    """Refuse for now (retry later) when the Page published 30 reels in the last 24 hours.

    The Page's reel list counts every reel, also those posted in Facebook's own apps
    (which Meta's limit does not): a stricter count that delays, never a refusal at finish.
    """
    try:
        data = await g.get(f"{page}/video_reels", {"fields": "id,created_time",
                                                   "limit": REELS_PER_DAY + 1})
    except PermanentError as exc:
        if isinstance(exc, NeedsReauthError):
            raise
        # The count is Herald's own care; Meta's refusal at finish still guards the limit.
        log.warning("facebook: cannot count the reels of Page %s (%s)", page, exc.code)
        return
    since = now - DAY
    times = sorted(t for item in list_at(data, "data") if isinstance(item, dict)
                   if (t := parse_time(item.get("created_time"))) is not None and t > since)
    if len(times) < REELS_PER_DAY:
        return
    wait = max(60.0, (times[-REELS_PER_DAY] + DAY - now).total_seconds())
    raise TransientError(f"Facebook lets a Page publish {REELS_PER_DAY} reels through the "
                         f"API in 24 hours, and this Page has published {len(times)}; "
                         f"Herald tries again in about {_hours(wait)}, when one frees "
                         f"(code reels_limit).", code="reels_limit", retry_after=wait)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


async def start(client: httpx.AsyncClient, g: GraphSession, job: PublishJob, edge: str,
                token: str) -> Session:
    """A new session on `edge`, its file handed to Meta by URL; journaled as prepared."""
    page = job.account.external_id
    data = await g.post(f"{page}/{edge}", {"upload_phase": "start"}, step="prepare")
    video_id, upload_url = data.get("video_id"), data.get("upload_url")
    if not video_id or not isinstance(upload_url, str) or not upload_url:
        raise TransientError("Facebook started an upload session without a video id or an "
                             "upload URL.", code="upload_start")
    await upload(client, str(upload_url), token=token, file_url=job.media[0].url)
    session = Session(str(video_id), edge)
    await job.journal.prepared(video_id=session.video_id, session=edge)
    return session


async def upload(client: httpx.AsyncClient, url: str, *, token: str, file_url: str) -> None:
    """Hand Meta the file's URL at rupload.facebook.com; Meta fetches it itself."""
    headers = {"Authorization": f"OAuth {token}", "file_url": file_url}
    try:
        resp = await client.post(url, headers=headers)
    except httpx.TransportError as exc:
        raise transport_error(exc, platform="Facebook", commit=False) from exc
    body = json_object(resp.text.replace(token, "[token]") if token else resp.text)
    if resp.status_code < 400 and body.get("success") is True:
        return
    if isinstance(body.get("error"), dict):  # a Graph envelope (codes 390, 6000…)
        raise facebook_error(body["error"], step="prepare", status=resp.status_code)
    info = dict_at(body, "debug_info")
    said = str(info.get("message") or f"HTTP {resp.status_code}").rstrip(".")
    if resp.status_code == 401 or info.get("type") == "OAuthException":
        raise NeedsReauthError(f"Facebook's upload service refused the account's token "
                               f"({said}). Reconnect the account.", code="rupload_auth")
    if info.get("retriable") is True or resp.status_code >= 500 or resp.status_code == 429:
        raise TransientError(f"Facebook's upload service had a problem ({said}); the "
                             "video is sent again shortly.", code="rupload",
                             unreachable=resp.status_code >= 500)
    raise PermanentError(f"Facebook's upload service refused the video ({said}). Check that "
                         "its URL is public and the file is an MP4, then retry the post.",
                         code="rupload")


def finish_body(job: PublishJob, session: Session) -> dict[str, Any]:
    body: dict[str, Any] = {"upload_phase": "finish", "video_id": session.video_id}
    if session.edge == REEL:
        # PUBLISHED, not the default draft: the reel goes out when processing ends.
        body.update(video_state="PUBLISHED", description=job.caption)
        if job.options.get("title"):
            body["title"] = str(job.options["title"])
    return body


def phases(data: dict[str, Any]) -> tuple[str, str, str]:
    """(video_status, processing phase, publishing phase) of a video's `status`."""
    status = dict_at(data, "status")
    return (str(status.get("video_status", "")),
            str(dict_at(status, "processing_phase").get("status", "")),
            str(dict_at(status, "publishing_phase").get("status", "")))


def processing_failure(data: dict[str, Any]) -> PermanentError | None:
    """The video's processing failed (after finish): what Meta said, once."""
    video_status, processing, _ = phases(data)
    if video_status != "error" and processing != "error":
        return None
    found = list_at(dict_at(dict_at(data, "status"), "processing_phase"), "errors")
    said = "; ".join(str(e.get("message")) for e in found if isinstance(e, dict)
                     and e.get("message"))
    why = f" ({said})" if said else ""
    return PermanentError(f"Facebook could not process the video{why}. Check that it is an "
                          "MP4 (H.264, AAC) within the length and size limits, then retry.",
                          code="video_processing")


async def await_published(g: GraphSession, video_id: str, polls: Polls,
                          clock: Callable[[], float]) -> bool:
    """Poll the video's status until it is published (True) or the wait is over (False)."""
    deadline, delays = clock() + polls.max_wait, poll_delays(polls.first, polls.factor,
                                                             polls.cap)
    while True:
        try:
            data = await g.get(video_id, {"fields": "status"})
        except TransientError:
            data = {}  # a read blip must not end the wait
        failed = processing_failure(data)
        if failed is not None:
            raise failed
        video_status, _, publishing = phases(data)
        if publishing == "complete" or video_status == "ready":
            return True
        remaining = deadline - clock()
        if remaining <= 0:
            return False
        await asyncio.sleep(min(next(delays), remaining))


async def finished(g: GraphSession, video_id: str) -> bool | None:
    """After a lost answer to finish: True if Meta took it (the publishing phase began),
    False if it did not, None if the video cannot be read."""
    try:
        data = await g.get(video_id, {"fields": "status"})
    except TransientError:
        return None
    failed = processing_failure(data)
    _, _, publishing = phases(data)
    if failed is not None and publishing in ("", "not_started"):
        # Processing failed before finish took: nothing can go out; a resend says why.
        return False
    if publishing in ("in_progress", "complete"):
        return True
    return False if publishing == "not_started" else None


async def find_story(g: GraphSession, page: str, media_id: str) -> tuple[str | None, bool]:
    """(the story's post id, whether the list can be trusted) for our photo or video.

    Meta lists a Page's stories only with its story archive on: an empty list proves
    nothing, while a list that holds stories and not ours shows ours is not out.
    """
    data = await g.get(f"{page}/stories", {"limit": 100})
    items = [i for i in list_at(data, "data") if isinstance(i, dict)]
    for item in items:
        if str(item.get("media_id", "")) == media_id:
            return str(item.get("post_id") or item.get("id")), True
    return None, bool(items)
