"""Mastodon through its REST API: media uploads (v2, polled), one status post, replies.

Exactly once: every status post carries an `Idempotency-Key` chosen before the first call
(`herald-<post id>`, kept in the journal) and the same key on every resend. Mastodon
remembers a key for one hour per account (PostStatusService keeps
`idempotency:status:<account id>:<key>` in Redis for 3,600 s, docs.joinmastodon.org/
methods/statuses/#create) and answers a second post under it with the status the first one
made, so a resend within the hour cannot duplicate. Mastodon stores the key only once a
status is made, so a refused post may be sent again under the same key.

After an unknown outcome, reconcile() looks for the status among the account's own
(its source text, `/api/v1/statuses/:id/source`, is ours); not found, publishing sends it
again under the same key, which settles it even if the list missed it within the hour.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from herald.media.fetch import SafeFetcher
from herald.platforms.base import (
    NeedsReauthError,
    OutcomeUnknownError,
    PermanentError,
    PublishError,
    PublishJob,
    PublishResult,
    RateLimitedError,
    TransientError,
)
from herald.platforms.http import (
    Step,
    download,
    list_at,
    parse_json,
    parse_time,
    poll_delays,
    transport_error,
)
from herald.platforms.http import utcnow as _utcnow
from herald.platforms.mastodon import NAME, instance, rules
from herald.platforms.mastodon.errors import MediaNotReady, NotFound, mastodon_error
from herald.platforms.mastodon.instance import InstanceLimits
from herald.platforms.servers import ServerURLError, check_server_url_async

log = logging.getLogger(__name__)

#: Mastodon keeps an Idempotency-Key for an hour; Herald trusts it for a little less.
KEY_WINDOW = timedelta(minutes=55)
#: Own statuses read back when looking for one after an unknown outcome (the API's most).
LOOKUP_LIMIT = 40
#: A status made this long before its commit was journaled is not ours (clock skew).
LOOKUP_SLACK = timedelta(minutes=5)
#: A status post answered "media not finished processing" is sent again this many times.
NOT_READY_TRIES = 5
#: A server URL checked (https, public) is trusted this long before it is checked again.
SERVER_CHECK_SECONDS = 3600.0

Sleep = Callable[[float], Awaitable[None]]


def idempotency_key(job: PublishJob) -> str:
    """The key on record from an earlier attempt, else the post's own (the same for every
    attempt at this post, so even an attempt that died before journaling reuses it)."""
    kept = job.history.ids.get("idempotency_key")
    return kept if isinstance(kept, str) and kept else f"herald-{job.post_id}"


def comment_key(job: PublishJob) -> str:
    return f"{idempotency_key(job)}-comment"


class MastodonPublisher:
    """Publishes to an account's instance (its server URL, else `base_url`)."""

    platform = NAME

    def __init__(self, client: httpx.AsyncClient, *, fetcher: SafeFetcher, base_url: str,
                 allow_private_servers: bool = False, quick: bool = False,
                 now: Callable[[], datetime] = _utcnow, sleep: Sleep = asyncio.sleep,
                 max_media_wait: float = 600.0) -> None:
        self._client, self._fetcher = client, fetcher
        self._base = base_url.rstrip("/")
        self._allow_private = allow_private_servers
        self._now, self._sleep = now, sleep
        # Images are ready at once on most instances; videos take seconds to minutes.
        self._poll = (0.05, 1.5, 0.5) if quick else (1.0, 1.5, 10.0)
        self._max_media_wait = max_media_wait
        self._checked: dict[str, float] = {}
        self._accounts: dict[tuple[str, str], dict[str, Any]] = {}

    # --- calls -------------------------------------------------------------------------

    async def _call(self, job: PublishJob, method: str, path: str, *, step: Step,
                    **kwargs: Any) -> tuple[int, Any]:
        """One call to the account's instance; every error is mapped here."""
        server = await self._server(job)
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Authorization"] = f"Bearer {job.account.access_token}"
        try:
            resp = await self._client.request(method, f"{server}{path}", headers=headers,
                                              **kwargs)
        except httpx.TransportError as exc:
            raise transport_error(exc, platform="Mastodon", commit=step == "commit") from exc
        body = parse_json(resp.text)
        if resp.status_code >= 400:
            found = body if isinstance(body, dict) else {}
            message = str(found.get("error") or "").replace(job.account.access_token,
                                                            "[secret]")
            raise mastodon_error(resp.status_code, {**found, "error": message}, step=step,
                                 headers=resp.headers, now=self._now())
        return resp.status_code, body

    async def _json(self, job: PublishJob, method: str, path: str, *, step: Step,
                    **kwargs: Any) -> dict[str, Any]:
        _, body = await self._call(job, method, path, step=step, **kwargs)
        if not isinstance(body, dict):
            raise TransientError(f"The Mastodon instance answered {path} without a JSON "
                                 "object.", code="not_json")
        return body

    async def _server(self, job: PublishJob) -> str:
        server = (job.account.server_url or self._base).rstrip("/")
        if job.account.sandbox or self._checked.get(server, 0.0) > time.monotonic():
            return server
        try:
            await check_server_url_async(server, allow_private=self._allow_private)
        except ServerURLError as exc:
            raise PermanentError(str(exc), code="server_url") from None
        self._checked[server] = time.monotonic() + SERVER_CHECK_SECONDS
        return server

    async def _me(self, job: PublishJob) -> dict[str, Any]:
        """The account the token belongs to (verify_credentials), once per token."""
        server = await self._server(job)
        key = (server, hashlib.sha256(job.account.access_token.encode()).hexdigest())
        found = self._accounts.get(key)
        if found is None:
            found = await self._json(job, "GET", "/api/v1/accounts/verify_credentials",
                                     step="read")
            self._accounts[key] = found
        return found

    async def _limits(self, job: PublishJob) -> InstanceLimits:
        return await instance.fetch(self._client, await self._server(job))

    # --- publishing --------------------------------------------------------------------

    async def publish(self, job: PublishJob) -> PublishResult:
        _check(job, await self._limits(job))
        media_ids = await self._media(job)
        key = idempotency_key(job)
        body: dict[str, Any] = {"status": job.caption, **_status_options(job.options)}
        if media_ids:
            body["media_ids"] = media_ids
        await job.journal.committing(at=self._now(), idempotency_key=key,
                                     media_ids=media_ids)
        status = await self._post_status(job, body, key)
        return await self._done(job, status, key, {})

    async def reconcile(self, job: PublishJob) -> PublishResult | None:
        """After an unknown outcome: the status if the account has it, None if provably not
        (publishing then sends it again under the same Idempotency-Key).

        When the account cannot be read (a 5xx, too many newer statuses) but the key still
        holds, the status is sent again under it now: Mastodon answers the status the key
        made if it is out, and makes it once if not. Never while a cut-off commit may still
        be on the wire: Mastodon's key check and store are two steps, so two overlapping
        posts under one key could both be made.
        """
        since = job.history.committing_at or (self._now() - KEY_WINDOW)
        try:
            found = await self._find_own(job, job.caption, since=since - LOOKUP_SLACK)
        except (NeedsReauthError, RateLimitedError):
            raise
        except (TransientError, OutcomeUnknownError):
            if not self._key_holds(job):
                raise
            log.info("mastodon: post %s: its statuses could not be read; resending under "
                     "its Idempotency-Key", job.post_id)
            return await self.publish(job)
        if found is None:
            return None
        return await self._done(job, found, idempotency_key(job), {"reconciled": True})

    def _key_holds(self, job: PublishJob) -> bool:
        """Whether a resend under the post's key is answered by Mastodon's memory of it."""
        from herald.platforms.registry import REQUEST_TIMEOUT

        at = job.history.committing_at
        if at is None:
            return False
        age = self._now() - at
        in_flight = job.history.commit_cut_off and age < timedelta(seconds=REQUEST_TIMEOUT)
        return age < KEY_WINDOW and not in_flight

    async def _post_status(self, job: PublishJob, body: dict[str, Any],
                           key: str) -> dict[str, Any]:
        """POST /api/v1/statuses under `key`; media still processing is waited for."""
        for attempt in range(NOT_READY_TRIES):
            try:
                return await self._json(job, "POST", "/api/v1/statuses", step="commit",
                                        json=body, headers={"Idempotency-Key": key})
            except MediaNotReady as exc:
                # Refused before anything was made (the key is not stored): wait, resend.
                if attempt == NOT_READY_TRIES - 1:
                    raise
                await self._sleep(min(exc.retry_after or 5.0, self._poll[2] * 10))
        raise AssertionError("unreachable")

    async def _done(self, job: PublishJob, status: dict[str, Any], key: str,
                    extra: dict[str, Any]) -> PublishResult:
        status_id = str(status.get("id") or "")
        if not status_id:
            raise OutcomeUnknownError("The Mastodon instance accepted the status but sent no "
                                      "id.", code="no_id")
        await job.journal.committed(status_id, idempotency_key=key)
        log.info("mastodon: post %s published as status %s", job.post_id, status_id)
        permalink = status.get("url") or status.get("uri")
        return PublishResult(status_id, str(permalink) if permalink else None,
                             extra={"idempotency_key": key, **extra})

    async def _find_own(self, job: PublishJob, text: str, *, since: datetime,
                        in_reply_to: str | None = None) -> dict[str, Any] | None:
        """Our status with this text made since `since`, from the account's newest."""
        params: dict[str, Any] = {"limit": LOOKUP_LIMIT, "exclude_reblogs": "true"}
        if in_reply_to is None:
            params["exclude_replies"] = "true"
        try:
            me = await self._me(job)
            _, listed = await self._call(job, "GET", f"/api/v1/accounts/{me['id']}/statuses",
                                         step="read", params=params)
        except (NeedsReauthError, RateLimitedError):
            raise
        except PublishError as exc:
            raise OutcomeUnknownError(f"Mastodon could not be asked whether the status went "
                                      f"out: {exc.message}", code=exc.code) from None
        statuses = [s for s in (listed if isinstance(listed, list) else [])
                    if isinstance(s, dict)]
        return await self._match(job, statuses, text, since=since, in_reply_to=in_reply_to,
                                 complete=len(statuses) < LOOKUP_LIMIT)

    async def _match(self, job: PublishJob, statuses: list[dict[str, Any]], text: str, *,
                     since: datetime | None, in_reply_to: str | None,
                     complete: bool) -> dict[str, Any] | None:
        reached_back = complete
        for status in statuses:
            made = parse_time(status.get("created_at"))
            if since is not None and made is not None and made < since:
                reached_back = True
                continue
            if in_reply_to is not None and str(status.get("in_reply_to_id")) != in_reply_to:
                continue
            try:
                source = await self._json(job, "GET",
                                          f"/api/v1/statuses/{status.get('id')}/source",
                                          step="read")
            except NotFound:
                continue  # deleted since
            if _same(source.get("text"), text):
                return status
        if not reached_back:
            raise OutcomeUnknownError("The account has posted more statuses since than "
                                      "Herald can read back; check the account for this "
                                      "post.", code="lookup_incomplete")
        return None

    # --- media -------------------------------------------------------------------------

    async def _media(self, job: PublishJob) -> list[str]:
        """Each item uploaded and processed; an earlier attempt's attachments reused when
        the instance still holds them unattached (GET /api/v1/media/:id answers only those:
        an id Mastodon no longer has would be dropped from the status without a word)."""
        kept = job.history.ids.get("media_ids")
        kept_ids = [str(i) for i in kept] if isinstance(kept, list) else []
        if len(kept_ids) != len(job.media):
            kept_ids = []
        ids: list[str] = []
        for index, item in enumerate(job.media):
            if kept_ids and await self._still_there(job, kept_ids[index]):
                ids.append(kept_ids[index])
                continue
            ids.append(await self._upload(job, item.url, item.alt_text or "",
                                          await self._limits(job)))
        if ids:
            await job.journal.prepared(media_ids=ids)
        return ids

    async def _still_there(self, job: PublishJob, media_id: str) -> bool:
        try:
            await self._wait_processed(job, media_id)
        except NotFound:
            return False
        return True

    async def _upload(self, job: PublishJob, url: str, alt: str,
                      limits: InstanceLimits) -> str:
        with await download(self._fetcher, url) as spool:
            most = max(limits.image_size_limit, limits.video_size_limit)
            data = spool.read(most + 1)
        mime = _sniff(data)
        size_limit = limits.video_size_limit if mime.startswith("video/") \
            else limits.image_size_limit
        if len(data) > size_limit:
            raise PermanentError(f"The file at {url} is over the instance's limit of "
                                 f"{size_limit:,} bytes.", code="media_too_large")
        name = url.rsplit("/", 1)[-1].split("?", 1)[0] or "upload"
        status, body = await self._call(
            job, "POST", "/api/v2/media", step="prepare",
            files={"file": (name, data, mime)}, data={"description": alt} if alt else {})
        if not isinstance(body, dict) or not body.get("id"):
            raise TransientError("The Mastodon instance answered the upload without an "
                                 "attachment id.", code="no_media_id")
        media_id = str(body["id"])
        if status == 202 or not body.get("url"):
            await self._wait_processed(job, media_id)
        return media_id

    async def _wait_processed(self, job: PublishJob, media_id: str) -> None:
        """Poll GET /api/v1/media/:id: 206 while processing, 200 (with a url) when done; a
        503 while the instance is busy is polled through too."""
        loop = asyncio.get_running_loop()
        deadline, delays = loop.time() + self._max_media_wait, poll_delays(*self._poll)
        while True:
            try:
                status, body = await self._call(job, "GET", f"/api/v1/media/{media_id}",
                                                step="read")
                if status == 200 and isinstance(body, dict) and body.get("url"):
                    return
            except TransientError as exc:
                if isinstance(exc, RateLimitedError):
                    raise
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TransientError(f"The Mastodon instance is still processing attachment "
                                     f"{media_id}; Herald tries again later.",
                                     code="media_processing")
            await self._sleep(min(next(delays), remaining))

    # --- the first comment (herald.first_comment runs it as its own journaled step) ---------

    async def comment(self, job: PublishJob, post: PublishResult, text: str) -> str:
        """A reply to the status, under a key of its own: a resend within the hour answers
        the reply the first send made."""
        body: dict[str, Any] = {"status": text, "in_reply_to_id": post.external_id,
                                **_status_options(job.options, reply=True)}
        status = await self._post_status(job, body, comment_key(job))
        reply_id = str(status.get("id") or "")
        if not reply_id:
            raise OutcomeUnknownError("The Mastodon instance accepted the reply but sent no "
                                      "id.", code="no_id")
        return reply_id

    async def find_comment(self, job: PublishJob, post: PublishResult,
                           text: str) -> str | None:
        """Our reply under the status, from its thread (GET /api/v1/statuses/:id/context)."""
        me = await self._me(job)
        try:
            context = await self._json(job, "GET",
                                       f"/api/v1/statuses/{post.external_id}/context",
                                       step="read")
        except (NeedsReauthError, RateLimitedError):
            raise
        except PublishError as exc:
            raise OutcomeUnknownError(f"Mastodon could not be asked whether the comment went "
                                      f"out: {exc.message}", code=exc.code) from None
        ours = [s for s in list_at(context, "descendants") if isinstance(s, dict)
                and str((s.get("account") or {}).get("id")) == str(me.get("id"))]
        found = await self._match(job, ours, text, since=None, in_reply_to=post.external_id,
                                  complete=True)
        return str(found["id"]) if found else None


async def verify_credentials(client: httpx.AsyncClient, server: str,
                             token: str) -> dict[str, Any]:
    """The account a token belongs to (GET /api/v1/accounts/verify_credentials)."""
    url = f"{server.rstrip('/')}/api/v1/accounts/verify_credentials"
    try:
        resp = await client.get(url, headers={"Authorization": f"Bearer {token}"})
    except httpx.TransportError as exc:
        raise transport_error(exc, platform="Mastodon", commit=False) from exc
    body = parse_json(resp.text)
    if resp.status_code >= 400:
        found = body if isinstance(body, dict) else {}
        if resp.status_code == 404:
            raise PermanentError(f"{server} has no Mastodon API (verify_credentials answered "
                                 "404); is it a Mastodon instance?", code="not_mastodon")
        raise mastodon_error(resp.status_code, found, step="read", headers=resp.headers,
                             now=_utcnow())
    if not isinstance(body, dict) or not body.get("id"):
        raise PermanentError(f"{server} answered verify_credentials without an account; is "
                             "it a Mastodon instance?", code="not_mastodon")
    return body


def names_of(account: dict[str, Any], server: str) -> set[str]:
    """What a person may call the account: its id, acct, username, @username@host."""
    host = httpx.URL(server).host
    username = str(account.get("username") or "")
    acct = str(account.get("acct") or username)
    names = {str(account.get("id")), acct, username, f"{username}@{host}"}
    return {n.lower() for n in names | {f"@{n}" for n in names} if n}


def _check(job: PublishJob, limits: InstanceLimits) -> None:
    """Refuse what the instance cannot take, before any call (the rules said it first)."""
    problems = rules.text_problems(job.caption, str(job.options.get("spoiler_text") or ""),
                                   limits)
    if problems:
        raise PermanentError(problems[0], code="text_too_long")
    if len(job.media) > limits.max_media:
        raise PermanentError(f"The instance takes at most {limits.max_media} media in a "
                             "status.", code="too_many_media")
    if not job.caption.strip() and not job.media:
        raise PermanentError("A Mastodon status needs text or media.", code="empty_post")


def _status_options(options: dict[str, Any], *, reply: bool = False) -> dict[str, Any]:
    """visibility, spoiler_text (the content warning; sensitive with it), language."""
    out: dict[str, Any] = {}
    visibility = options.get("visibility")
    if isinstance(visibility, str) and visibility in rules.VISIBILITIES:
        out["visibility"] = visibility
    language = options.get("language")
    if isinstance(language, str) and language:
        out["language"] = language
    warning = options.get("spoiler_text")
    if not reply and isinstance(warning, str) and warning:
        out["spoiler_text"] = warning
        out["sensitive"] = True
    elif not reply and options.get("sensitive") is True:
        out["sensitive"] = True
    return out


def _same(a: object, b: str) -> bool:
    return str(a or "").replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


def _sniff(data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        return "video/quicktime" if data[8:10] == b"qt" else "video/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return "application/octet-stream"
