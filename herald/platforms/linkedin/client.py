"""LinkedIn Posts API for members and organizations: text, article, images, video, document,
poll.

prepare: initializeUpload + PUT (+ finalizeUpload for video), then poll the video; commit:
POST /rest/posts. LinkedIn has no idempotency key and member posts cannot be read back, so
an unknown outcome is settled by sending the identical post again: LinkedIn refuses it with
422 DUPLICATE_POST naming the original, which proves the first one went out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

import httpx

from herald.media.fetch import SafeFetcher
from herald.platforms.base import (
    OutcomeUnknownError,
    PermanentError,
    PublishJob,
    PublishResult,
    RateLimitedError,
    TransientError,
)
from herald.platforms.http import (
    Step,
    dict_at,
    download,
    json_object,
    list_at,
    poll_delays,
    to_int,
    transport_error,
    utcnow,
)
from herald.platforms.linkedin.errors import DuplicatePostError, linkedin_error, refresh_error
from herald.platforms.linkedin.ltf import escape_commentary

log = logging.getLogger(__name__)

FINDER_COUNT = 10
class LinkedInPublisher:
    """Publishes for a member or organization; job.account.external_id is the author URN."""

    platform = "linkedin"

    def __init__(self, client: httpx.AsyncClient, *, fetcher: SafeFetcher, base_url: str,
                 version: str, poll_interval: float = 2.0, poll_backoff: float = 2.0,
                 max_poll_interval: float = 30.0, max_wait: float = 600.0,
                 now: Callable[[], datetime] = utcnow) -> None:
        self._client, self._rest, self._version = client, f"{base_url.rstrip('/')}/rest", version
        self._fetcher = fetcher
        self._poll = (poll_interval, poll_backoff, max_poll_interval)
        self._max_wait, self._now = max_wait, now

    async def _send(self, job: PublishJob, method: str, url: str, *, step: Step,
                    headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        """One call with the Rest.li headers and this job's token; errors mapped here."""
        token = job.account.access_token
        # A /rest path ("posts") or an absolute upload URL handed out by initializeUpload.
        url = url if url.startswith(("http://", "https://")) else f"{self._rest}/{url}"
        sent = {"Authorization": f"Bearer {token}", "LinkedIn-Version": self._version,
                "X-Restli-Protocol-Version": "2.0.0", **(headers or {})}
        try:
            resp = await self._client.request(method, url, headers=sent, **kwargs)
        except httpx.TransportError as exc:
            raise transport_error(exc, platform="LinkedIn", commit=step == "commit") from exc
        if resp.status_code >= 400:
            body = json_object(resp.text)
            if isinstance(body.get("message"), str):
                body["message"] = body["message"].replace(token, "[token]")
            raise linkedin_error(resp.status_code, body, step=step, author=job.account.external_id,
                                 version=self._version, now=self._now())
        return resp

    async def publish(self, job: PublishJob) -> PublishResult:
        _check(job)
        urns = _previous_urns(job)
        if urns is None:
            urns = [await self._upload(job, item.type, item.url) for item in job.media]
            await job.journal.prepared(media_urns=urns)
        for urn, item in zip(urns, job.media, strict=True):
            if item.type == "video":  # also for reused uploads: processing may be unfinished
                await self._wait_video(job, urn)
        return await self._commit(job, _post_body(job, urns), proving=False)

    async def reconcile(self, job: PublishJob) -> PublishResult | None:
        """After an unknown outcome: the result if the post is out, None if it is not.

        Organizations: read recent posts. Members cannot be read (r_member_social is
        restricted), and None would mean a second post, so the identical post is sent
        again: 422 DUPLICATE_POST names the original; a 201 means the first never landed
        and this one is now the only one. Either way exactly one post is out.
        """
        at = job.history.committing_at
        if at is None:
            return None
        _check(job)
        if job.account.external_id.startswith("urn:li:organization:"):
            found, settled = await self._find_org_post(job, at)
            if found is not None or settled:
                return found
        urns = _previous_urns(job)
        if not job.caption.strip() or urns is None:
            raise OutcomeUnknownError("LinkedIn cannot be asked whether this post went out "
                                      "(no text to match, or its uploads were not recorded); "
                                      "check the account before retrying.", code="unsettled")
        return await self._commit(job, _post_body(job, urns), proving=True)

    async def _commit(self, job: PublishJob, body: dict[str, Any], *,
                      proving: bool) -> PublishResult:
        await job.journal.committing(at=self._now())
        extra: dict[str, Any] = {"reconciled": True} if proving else {}
        try:
            resp = await self._send(job, "POST", "posts", step="commit", json=body)
        except DuplicatePostError as dup:
            if not proving:
                # Nothing of ours was committed before: the original is an older post (the
                # same text posted earlier), and LinkedIn published nothing now.
                raise _duplicate_refusal(dup) from None
            if dup.original_urn is None:
                raise OutcomeUnknownError(dup.message, code=dup.code) from None
            # Resent after an unknown outcome: the original is our own first send.
            extra.update(duplicate=True, duplicate_of=dup.original_urn)
            return await self._done(job, dup.original_urn, extra)
        urn = unquote(resp.headers.get("x-restli-id", ""))
        if not urn:
            raise OutcomeUnknownError(f"LinkedIn accepted the post (HTTP {resp.status_code}) "
                                      "but sent no id.", code="no_post_id")
        return await self._done(job, urn, extra)

    async def _done(self, job: PublishJob, urn: str, extra: dict[str, Any]) -> PublishResult:
        await job.journal.committed(urn)
        log.info("linkedin: post %s published as %s", job.post_id, urn)
        return PublishResult(urn, f"https://www.linkedin.com/feed/update/{urn}/", extra=extra)

    async def comment(self, job: PublishJob, post: PublishResult, text: str) -> str:
        """The first comment, as the organization (socialActions comments, the versioned
        /rest endpoint: the unversioned /v2 one is deprecated)."""
        body = {"actor": job.account.external_id, "object": post.external_id,
                "message": {"text": text}}
        resp = await self._send(job, "POST", _comments_path(post.external_id),
                                step="commit", json=body)
        answer = json_object(resp.text)
        urn = str(answer.get("$URN") or unquote(resp.headers.get("x-restli-id", ""))
                  or answer.get("id") or "")
        if not urn:
            raise OutcomeUnknownError(f"LinkedIn accepted the comment (HTTP "
                                      f"{resp.status_code}) but sent no id.",
                                      code="no_comment_id")
        return urn

    async def find_comment(self, job: PublishJob, post: PublishResult,
                           text: str) -> str | None:
        """Our first comment among the post's (newest first), by author and text."""
        resp = await self._send(job, "GET", _comments_path(post.external_id), step="read",
                                params={"count": 100})
        for element in list_at(json_object(resp.text), "elements"):
            if not isinstance(element, dict) or element.get("actor") != job.account.external_id:
                continue
            if str(dict_at(element, "message").get("text", "")).strip() == text.strip():
                return str(element.get("$URN") or element.get("id") or "")
        return None

    async def _find_org_post(self, job: PublishJob,
                             at: datetime) -> tuple[PublishResult | None, bool]:
        """(result, settled): settled with no result means the post proves not out."""
        author = job.account.external_id
        try:
            resp = await self._send(
                job, "GET", "posts", step="read", headers={"X-RestLi-Method": "FINDER"},
                params={"q": "author", "author": author, "count": FINDER_COUNT,
                        "sortBy": "LAST_MODIFIED"})
        except PermanentError as exc:  # e.g. 403 without r_organization_social: resend instead
            log.warning("linkedin: cannot read %s's posts (%s)", author, exc.code)
            return None, False
        elements = [e for e in list_at(json_object(resp.text), "elements") if isinstance(e, dict)]
        since = at - timedelta(minutes=10)
        wanted = {job.caption.strip(), escape_commentary(job.caption).strip()}
        for element in elements:
            created = _ms(element.get("createdAt") or element.get("publishedAt"))
            text = str(element.get("commentary", "")).strip()
            if created and created >= since and text in wanted:
                return await self._done(job, str(element["id"]), {"reconciled": True}), True
        # Sorted by last modification, which is never before creation: once the page ends
        # before `since`, a post made after it would have been listed.
        oldest = min((m for e in elements if (m := _ms(e.get("lastModifiedAt")))), default=None)
        return None, len(elements) < FINDER_COUNT or (oldest is not None and oldest < since)

    async def _upload(self, job: PublishJob, kind: str, url: str) -> str:
        what = kind if kind in ("video", "document") else "image"
        with await download(self._fetcher, url) as data:
            size = data.seek(0, 2)
            request: dict[str, Any] = {"owner": job.account.external_id}
            if what == "video":
                request.update(fileSizeBytes=size, uploadCaptions=False, uploadThumbnail=False)
            init = await self._send(job, "POST", f"{what}s?action=initializeUpload",
                                    step="prepare", json={"initializeUploadRequest": request})
            value = dict_at(json_object(init.text), "value")
            # Images and documents get one uploadUrl; videos one byte range per 4 MiB part.
            parts = list_at(value, "uploadInstructions") or [
                {"uploadUrl": value.get("uploadUrl"), "firstByte": 0, "lastByte": size - 1}]
            if not value.get(what) or not all(p.get("uploadUrl") for p in parts):
                raise TransientError("LinkedIn's initializeUpload answer had no upload URL.",
                                     code="upload_init")
            etags = []
            for part in parts:
                first, last = int(part["firstByte"]), int(part["lastByte"])
                data.seek(first)
                resp = await self._send(job, "PUT", str(part["uploadUrl"]), step="prepare",
                                        content=data.read(last - first + 1),
                                        headers={"Content-Type": "application/octet-stream"})
                etags.append(resp.headers.get("etag", ""))
        if what == "video":
            if not all(etags):  # finalizeUpload needs every part's ETag
                raise TransientError("LinkedIn sent no ETag for an uploaded video part.",
                                     code="upload_etag")
            await self._send(job, "POST", "videos?action=finalizeUpload", step="prepare", json={
                "finalizeUploadRequest": {"video": value["video"], "uploadedPartIds": etags,
                                          "uploadToken": value.get("uploadToken", "")}})
        return str(value[what])

    async def _wait_video(self, job: PublishJob, urn: str) -> None:
        loop = asyncio.get_running_loop()
        deadline, delays = loop.time() + self._max_wait, poll_delays(*self._poll)
        while True:
            try:
                resp = await self._send(job, "GET", f"videos/{quote(urn, safe='')}", step="read")
                body = json_object(resp.text)
            except PermanentError as exc:  # some tokens cannot read media status; LinkedIn
                if not (exc.code or "").startswith("403"):  # still processes the video
                    raise
                return
            except TransientError as exc:
                if isinstance(exc, RateLimitedError):
                    raise
                body = {}  # a read blip must not end the wait
            status = str(body.get("status", ""))
            if status == "AVAILABLE":
                return
            if status == "PROCESSING_FAILED":
                reason = body.get("processingFailureReason") or "no reason given"
                raise PermanentError(f"LinkedIn could not process the video: {reason}.",
                                     code="PROCESSING_FAILED")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TransientError(f"LinkedIn was still processing the video after "
                                     f"{self._max_wait:g} s ({status or 'no status'}).",
                                     code="video_processing", retry_after=60)
            await asyncio.sleep(min(next(delays), remaining))


def _comments_path(urn: str) -> str:
    return f"socialActions/{quote(urn, safe='')}/comments"


def _duplicate_refusal(dup: DuplicatePostError) -> PermanentError:
    of = f" ({dup.original_urn})" if dup.original_urn else ""
    return PermanentError(f"LinkedIn refused this post as a duplicate of an earlier post{of} "
                          "and published nothing. It refuses the same text from the same "
                          "author within a while: change the text (or wait), then retry.",
                          code=dup.code)


def _check(job: PublishJob) -> None:
    """Refuse what a LinkedIn post cannot carry, before any call."""
    kinds, article = [m.type for m in job.media], job.post_type == "article"
    problems = {
        "author_urn": (not job.account.external_id.startswith(("urn:li:person:", "urn:li:"
                       "organization:")), "The account id is not a LinkedIn member or "
                       "organization URN."),
        "unsupported_post_type": (job.post_type in ("story", "feed_story"), "LinkedIn has no "
                                  "stories."),
        "article": (article and (not job.options.get("link") or kinds not in ([], ["image"])),
                    "A LinkedIn article needs a link and at most one image (its thumbnail)."),
        "media_mix": (len(kinds) > 1 and set(kinds) != {"image"}, "LinkedIn takes several "
                      "images, or one video, or one document."),
        "too_many_images": (len(kinds) > 20, "LinkedIn takes at most 20 images."),
        "poll": (job.post_type == "poll" and (bool(kinds) or not isinstance(
                 job.options.get("poll"), dict)), "A LinkedIn poll needs options.poll and no "
                 "media."),
        "empty_post": (not (kinds or job.caption.strip() or article or job.post_type == "poll"),
                       "A LinkedIn post needs text or media.")}
    for code, (wrong, message) in problems.items():
        if wrong:
            raise PermanentError(message, code=code)


def _post_body(job: PublishJob, urns: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "author": job.account.external_id, "commentary": escape_commentary(job.caption),
        "visibility": str(job.options.get("visibility") or "PUBLIC").upper(),
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                         "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False}
    options, media = job.options, job.media
    if job.post_type == "poll":
        body["content"] = {"poll": _poll(options["poll"])}
    elif job.post_type == "article":
        body["content"] = {"article": {
            "source": str(options["link"]), "title": str(options.get("title") or options["link"]),
            **({"description": str(options["description"])} if options.get("description") else {}),
            **({"thumbnail": urns[0]} if urns else {})}}
    elif len(urns) == 1:
        item: dict[str, Any] = {"id": urns[0]}
        if media[0].alt_text and media[0].type == "image":
            item["altText"] = media[0].alt_text
        if media[0].type != "image":  # documents need a title; videos may have one
            item["title"] = str(options.get("title") or media[0].url.rsplit("/", 1)[-1])
        body["content"] = {"media": item}
    elif urns:
        body["content"] = {"multiImage": {"images": [
            {"id": u, **({"altText": m.alt_text} if m.alt_text else {})}
            for u, m in zip(urns, media, strict=True)]}}
    return body


def _poll(poll: dict[str, Any]) -> dict[str, Any]:
    """content.poll as the Poll API takes it: the question, 2 to 4 {"text"}, the duration."""
    from herald.platforms.linkedin.rules import POLL_DEFAULT_DURATION

    return {"question": str(poll["question"]),
            "options": [{"text": str(text)} for text in poll["options"]],
            "settings": {"duration": str(poll.get("duration") or POLL_DEFAULT_DURATION)}}


def _previous_urns(job: PublishJob) -> list[str] | None:
    """Uploads of an earlier attempt; reusing them keeps a resend identical (duplicate check)."""
    urns = job.history.ids.get("media_urns") if job.media else []
    if isinstance(urns, list) and len(urns) == len(job.media):
        return [str(u) for u in urns]
    return None


@dataclass(frozen=True)
class TokenSet:
    """A refreshed LinkedIn token; tokens stay out of repr."""

    access_token: str = field(repr=False)
    expires_at: datetime | None
    refresh_token: str | None = field(repr=False)
    refresh_token_expires_at: datetime | None = None


async def refresh_access_token(client: httpx.AsyncClient, *, token_url: str, client_id: str,
                               client_secret: str, refresh_token: str,
                               now: Callable[[], datetime] = utcnow) -> TokenSet:
    """Exchange a refresh token; a response without one keeps the old one (never empty)."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token,
            "client_id": client_id, "client_secret": client_secret}
    try:
        resp = await client.post(token_url, data=form)
    except httpx.TransportError as exc:
        raise transport_error(exc, platform="LinkedIn", commit=False) from exc
    body = json_object(resp.text)
    refused = refresh_error(resp.status_code, body, secrets=(refresh_token, client_secret))
    if refused is not None:
        raise refused
    at = now()
    expiry = {key: at + timedelta(seconds=seconds) if (seconds := to_int(body.get(key)))
              else None for key in ("expires_in", "refresh_token_expires_in")}
    return TokenSet(str(body["access_token"]), expiry["expires_in"],
                    str(body.get("refresh_token") or "") or refresh_token,
                    expiry["refresh_token_expires_in"])


def _ms(value: object) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, UTC) if isinstance(value, int | float) else None
