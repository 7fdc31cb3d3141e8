"""Bluesky through the AT Protocol: an app-password session, blobs, one createRecord.

Exactly once by construction: the record key (rkey) is chosen before the first call
(tid.post_rkey, kept in the journal) and every resend writes the same key, so the PDS
itself refuses a second copy. A real PDS answers a createRecord under a key it already
holds with HTTP 500 InternalServerError (measured, docs/platforms/bluesky.md): any failed
or unanswered commit is therefore settled by reading the key back (getRecord), never by
guessing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
from herald.platforms.bluesky import NAME, facets, rules, tid
from herald.platforms.bluesky.errors import NotFound, SessionExpired, bluesky_error
from herald.platforms.http import Step, dict_at, download, json_object, list_at, transport_error
from herald.platforms.http import utcnow as _utcnow
from herald.platforms.servers import ServerURLError, check_server_url_async

log = logging.getLogger(__name__)

POST = "app.bsky.feed.post"
#: Bluesky's default PDS (its entryway): an account without a server URL lives there.
DEFAULT_SERVER = "https://bsky.social"
#: Pauses before a read, sign-in or upload is sent again within one attempt after a plain
#: transient error (a 5xx, a dropped connection), as the Graph toolkit does for Meta.
QUICK_RETRIES = (0.2, 1.0)


@dataclass
class Session:
    """An app-password session: the account's DID, its PDS and the session's tokens."""

    did: str
    handle: str
    pds: str
    access: str = field(repr=False)
    refresh: str = field(repr=False)


def _pds_endpoint(did_doc: object) -> str | None:
    """The #atproto_pds service endpoint of a DID document (where the repository lives)."""
    if not isinstance(did_doc, dict):
        return None
    for service in list_at(did_doc, "service"):
        if isinstance(service, dict) and str(service.get("id", "")).endswith("#atproto_pds"):
            endpoint = service.get("serviceEndpoint")
            return str(endpoint).rstrip("/") if isinstance(endpoint, str) else None
    return None


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class BlueskyPublisher:
    """Publishes to an account's PDS (its server URL, else `base_url`)."""

    platform = NAME

    def __init__(self, client: httpx.AsyncClient, *, fetcher: SafeFetcher,
                 base_url: str = DEFAULT_SERVER, allow_private_servers: bool = False,
                 now: Callable[[], datetime] = _utcnow) -> None:
        self._client, self._fetcher = client, fetcher
        self._base = base_url.rstrip("/")
        self._allow_private = allow_private_servers
        self._now = now
        # Sessions by (server, identifier, password hash): createSession is rate-limited
        # (30 per 5 minutes per account on bsky.social), so one session serves many posts.
        self._sessions: dict[tuple[str, str, str], Session] = {}
        self._signing_in: dict[tuple[str, str, str], asyncio.Lock] = {}

    # --- calls -------------------------------------------------------------------------

    async def _call(self, method: str, url: str, *, step: Step, token: str | None = None,
                    signing_in: bool = False, secrets: tuple[str, ...] = (),
                    **kwargs: Any) -> dict[str, Any]:
        """One XRPC call, a passing blip on a read or upload sent again at once."""
        delays = iter(QUICK_RETRIES if step != "commit" else ())
        while True:
            try:
                return await self._call_once(method, url, step=step, token=token,
                                             signing_in=signing_in, secrets=secrets,
                                             **kwargs)
            except TransientError as exc:
                # Only a plain 5xx or dropped connection; never the commit (its error may
                # come after the record was written: the record key settles that), never
                # a throttle or an ended session. Reading the key back after an unknown
                # outcome must survive one blip, or a post that went out is unconfirmed.
                delay = next(delays, None) if type(exc) is TransientError \
                    and exc.retry_after is None else None
                if delay is None:
                    raise
            await asyncio.sleep(delay)

    async def _call_once(self, method: str, url: str, *, step: Step,
                         token: str | None = None, signing_in: bool = False,
                         secrets: tuple[str, ...] = (), **kwargs: Any) -> dict[str, Any]:
        """One XRPC call; every error is mapped here."""
        headers = dict(kwargs.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            resp = await self._client.request(method, url, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise transport_error(exc, platform="Bluesky", commit=step == "commit") from exc
        body = json_object(resp.text)
        if resp.status_code >= 400:
            message = str(body.get("message") or "")
            for secret in (*secrets, token or ""):
                message = message.replace(secret, "[secret]") if secret else message
            body["message"] = message
            raise bluesky_error(resp.status_code, body, step=step, signing_in=signing_in,
                                headers=resp.headers, now=self._now())
        return body

    async def _xrpc(self, job: PublishJob, method: str, nsid: str, *, step: Step,
                    **kwargs: Any) -> dict[str, Any]:
        """A call to the account's PDS with its session; an ended session is renewed once."""
        session = await self._session(job)
        try:
            return await self._call(method, f"{session.pds}/xrpc/{nsid}", step=step,
                                    token=session.access, **kwargs)
        except SessionExpired:
            session = await self._session(job, renew=session)
            return await self._call(method, f"{session.pds}/xrpc/{nsid}", step=step,
                                    token=session.access, **kwargs)

    # --- sessions ----------------------------------------------------------------------

    def _server(self, job: PublishJob) -> str:
        return (job.account.server_url or self._base).rstrip("/")

    async def _session(self, job: PublishJob, *, renew: Session | None = None) -> Session:
        account = job.account
        server = self._server(job)
        key = (server, account.external_id,
               hashlib.sha256(account.access_token.encode()).hexdigest())
        lock = self._signing_in.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._sessions.get(key)
            if cached is not None and (renew is None or cached.access != renew.access):
                return cached
            session = None
            if cached is not None:
                session = await self._refresh(cached)
            if session is None:
                if not job.account.sandbox:
                    await self._checked(server)
                session = await create_session(self._client, server, account.external_id,
                                               account.access_token, now=self._now)
                if session.pds != server and not job.account.sandbox:
                    await self._checked(session.pds)
            self._sessions[key] = session
            return session

    async def _checked(self, url: str) -> None:
        try:
            await check_server_url_async(url, allow_private=self._allow_private)
        except ServerURLError as exc:
            raise PermanentError(str(exc), code="server_url") from None

    async def _refresh(self, session: Session) -> Session | None:
        """A renewed session (refreshSession), or None: sign in again with the app password."""
        try:
            body = await self._call("POST", f"{session.pds}/xrpc/com.atproto.server."
                                    "refreshSession", step="read", token=session.refresh,
                                    signing_in=True)
        except (NeedsReauthError, SessionExpired):
            return None
        return Session(did=str(body.get("did") or session.did),
                       handle=str(body.get("handle") or session.handle), pds=session.pds,
                       access=str(body["accessJwt"]), refresh=str(body["refreshJwt"]))

    # --- publishing --------------------------------------------------------------------

    async def publish(self, job: PublishJob) -> PublishResult:
        _check(job)
        session = await self._session(job)
        rkey = _rkey(job)
        embed = await self._embed(job)
        record: dict[str, Any] = {"$type": POST, "text": job.caption,
                  "createdAt": str(job.history.ids.get("created_at") or _iso(self._now()))}
        found = await self._facets(job, job.caption)
        if found:
            record["facets"] = found
        if embed:
            record["embed"] = embed
        langs = job.options.get("langs")
        if isinstance(langs, list) and langs:
            record["langs"] = [str(lang) for lang in langs[:3]]
        return await self._commit(job, session, rkey, record)

    async def reconcile(self, job: PublishJob) -> PublishResult | None:
        """After an unknown outcome: the post if its record key holds it; else send it again
        under the same key, which cannot make a second post (the PDS refuses the key)."""
        _check(job)
        session = await self._session(job)
        found = await self._read(job, session, _rkey(job))
        if found is not None:
            return found
        return await self.publish(job)

    async def _commit(self, job: PublishJob, session: Session, rkey: str,
                      record: dict[str, Any]) -> PublishResult:
        await job.journal.committing(at=self._now(), rkey=rkey, created_at=record["createdAt"])
        body = {"repo": session.did, "collection": POST, "rkey": rkey, "record": record}
        try:
            answer = await self._xrpc(job, "POST", "com.atproto.repo.createRecord",
                                      step="commit", json=body)
        except (NeedsReauthError, RateLimitedError):
            raise
        except PublishError as exc:
            # A record already under this key (a PDS answers 500), a lost answer, a refusal:
            # the key says which. Found: it is out, once. Not found: the error stands.
            try:
                found = await self._read(job, session, rkey)
            except PublishError:
                raise exc from None
            if found is None:
                raise
            return found
        uri = str(answer.get("uri") or "")
        if not uri:
            raise OutcomeUnknownError("Bluesky accepted the post but sent no record URI.",
                                      code="no_uri")
        return await self._done(job, session, uri, str(answer.get("cid") or ""), {})

    async def _read(self, job: PublishJob, session: Session,
                    rkey: str) -> PublishResult | None:
        """The post under `rkey`, if the repository holds it."""
        try:
            answer = await self._xrpc(job, "GET", "com.atproto.repo.getRecord", step="read",
                                      params={"repo": session.did, "collection": POST,
                                              "rkey": rkey})
        except NotFound:
            return None
        except PermanentError as exc:
            if "RecordNotFound" in (exc.code or "") or "not found" in exc.message.lower():
                return None
            raise OutcomeUnknownError(f"Bluesky could not be asked whether the post went out: "
                                      f"{exc.message}", code=exc.code) from None
        value = dict_at(answer, "value")
        if value.get("text") != job.caption:
            raise PermanentError(f"The record key {rkey} of this post holds another post on "
                                 "Bluesky; retry the post to send it under a new key.",
                                 code="rkey_taken")
        return await self._done(job, session, str(answer.get("uri") or ""),
                                str(answer.get("cid") or ""), {"reconciled": True})

    async def _done(self, job: PublishJob, session: Session, uri: str, cid: str,
                    extra: dict[str, Any]) -> PublishResult:
        await job.journal.committed(uri, cid=cid)
        log.info("bluesky: post %s published as %s", job.post_id, uri)
        rkey = uri.rsplit("/", 1)[-1]
        return PublishResult(uri, f"https://bsky.app/profile/{session.did}/post/{rkey}",
                             extra={"cid": cid, **extra})

    # --- the first comment (herald.first_comment runs it as its own journaled step) ---------

    async def comment(self, job: PublishJob, post: PublishResult, text: str) -> str:
        """The first comment: a reply under a key derived from the post's, so a resend
        cannot comment twice (the PDS refuses the key; it answers 500, then we read it)."""
        session = await self._session(job)
        rkey = tid.comment_rkey(post.external_id.rsplit("/", 1)[-1])
        parent = {"uri": post.external_id, "cid": await self._cid(job, session, post)}
        record: dict[str, Any] = {"$type": POST, "text": text, "createdAt": _iso(self._now()),
                                  "reply": {"root": parent, "parent": parent}}
        if found := await self._facets(job, text):
            record["facets"] = found
        try:
            answer = await self._xrpc(job, "POST", "com.atproto.repo.createRecord",
                                      step="commit", json={"repo": session.did,
                                                           "collection": POST, "rkey": rkey,
                                                           "record": record})
        except (NeedsReauthError, RateLimitedError):
            raise
        except PublishError as exc:
            # Already there (an earlier attempt's), or truly refused? The key says which.
            try:
                there = await self._reply(job, session, rkey)
            except PublishError:
                raise exc from None
            if there is None:
                raise
            return there
        return str(answer.get("uri") or "")

    async def find_comment(self, job: PublishJob, post: PublishResult,
                           text: str) -> str | None:
        """Our reply, if the repository holds it under the key derived from the post's."""
        session = await self._session(job)
        return await self._reply(job, session,
                                 tid.comment_rkey(post.external_id.rsplit("/", 1)[-1]))

    async def _reply(self, job: PublishJob, session: Session, rkey: str) -> str | None:
        try:
            there = await self._xrpc(job, "GET", "com.atproto.repo.getRecord", step="read",
                                     params={"repo": session.did, "collection": POST,
                                             "rkey": rkey})
        except NotFound:
            return None
        except PermanentError as exc:
            if "RecordNotFound" in (exc.code or "") or "not found" in exc.message.lower():
                return None
            raise OutcomeUnknownError(f"Bluesky could not be asked whether the comment went "
                                      f"out: {exc.message}", code=exc.code) from None
        return str(there.get("uri") or "") or None

    async def _cid(self, job: PublishJob, session: Session, post: PublishResult) -> str:
        """The post's cid (a reply names its parent by uri and cid): journaled, else read."""
        kept = post.extra.get("cid")
        if isinstance(kept, str) and kept:
            return kept
        answer = await self._xrpc(job, "GET", "com.atproto.repo.getRecord", step="read",
                                  params={"repo": session.did, "collection": POST,
                                          "rkey": post.external_id.rsplit("/", 1)[-1]})
        return str(answer.get("cid") or "")

    # --- facets and embeds -------------------------------------------------------------

    async def _facets(self, job: PublishJob, text: str) -> list[dict[str, Any]]:
        spans = facets.find_spans(text)
        dids: dict[str, str] = {}
        for handle in facets.handles(spans):
            try:
                answer = await self._xrpc(job, "GET", "com.atproto.identity.resolveHandle",
                                          step="read", params={"handle": handle})
            except (NeedsReauthError, RateLimitedError):
                raise
            except PublishError:
                continue  # an unknown handle stays plain text, as in the Bluesky app
            if isinstance(did := answer.get("did"), str):
                dids[handle.lower()] = did
        return facets.build(spans, dids)

    async def _embed(self, job: PublishJob) -> dict[str, Any] | None:
        blobs = [await self._upload(job, item.url) for item in job.media]
        if job.post_type == "article":
            options = job.options
            external: dict[str, Any] = {
                "uri": str(options["link"]),
                "title": str(options.get("title") or options["link"]),
                "description": str(options.get("description") or "")}
            if blobs:
                external["thumb"] = blobs[0][0]
            return {"$type": "app.bsky.embed.external", "external": external}
        if not blobs:
            return None
        images = []
        for (blob, size), item in zip(blobs, job.media, strict=True):
            image: dict[str, Any] = {"image": blob, "alt": item.alt_text or ""}
            if size:
                image["aspectRatio"] = {"width": size[0], "height": size[1]}
            images.append(image)
        await job.journal.prepared(blobs=[b["ref"]["$link"] for b, _ in blobs
                                          if isinstance(b.get("ref"), dict)])
        return {"$type": "app.bsky.embed.images", "images": images}

    async def _upload(self, job: PublishJob,
                      url: str) -> tuple[dict[str, Any], tuple[int, int] | None]:
        """Upload one image as a blob (idempotent: the same bytes are the same blob)."""
        with await download(self._fetcher, url) as spool:
            data = spool.read(rules.IMAGE_MAX_BYTES + 1)
        if len(data) > rules.IMAGE_MAX_BYTES:
            raise PermanentError(f"The image at {url} is over Bluesky's limit of 1,000,000 "
                                 "bytes.", code="image_too_large")
        mime = _sniff(data)
        if mime is None:
            raise PermanentError(f"The file at {url} is not a JPEG, PNG, WebP or GIF image.",
                                 code="image_type")
        answer = await self._xrpc(job, "POST", "com.atproto.repo.uploadBlob", step="prepare",
                                  content=data, headers={"Content-Type": mime})
        blob = dict_at(answer, "blob")
        if not blob:
            raise OutcomeUnknownError("Bluesky's uploadBlob answer held no blob.",
                                      code="no_blob")
        return blob, _image_size(data)


async def create_session(client: httpx.AsyncClient, server: str, identifier: str,
                         password: str, *, now: Callable[[], datetime] = _utcnow) -> Session:
    """Sign in with a handle or DID and an app password (com.atproto.server.createSession)."""
    url = f"{server.rstrip('/')}/xrpc/com.atproto.server.createSession"
    try:
        resp = await client.post(url, json={"identifier": identifier, "password": password})
    except httpx.TransportError as exc:
        raise transport_error(exc, platform="Bluesky", commit=False) from exc
    body = json_object(resp.text)
    if resp.status_code >= 400:
        body["message"] = str(body.get("message") or "").replace(password, "[secret]")
        raise bluesky_error(resp.status_code, body, step="read", signing_in=True,
                            headers=resp.headers, now=now())
    if not body.get("accessJwt") or not body.get("did"):
        raise PermanentError(f"{server} answered the sign-in without a session; is it a "
                             "Bluesky (AT Protocol) server?", code="no_session")
    pds = _pds_endpoint(body.get("didDoc")) or server.rstrip("/")
    return Session(did=str(body["did"]), handle=str(body.get("handle") or identifier),
                   pds=pds, access=str(body["accessJwt"]), refresh=str(body["refreshJwt"]))


def _check(job: PublishJob) -> None:
    """Refuse what a Bluesky post cannot carry, before any call."""
    problems = rules.text_problems(job.caption)
    if problems:
        raise PermanentError(problems[0], code="text_too_long")
    if any(m.type != "image" for m in job.media):
        raise PermanentError("Herald posts only images to Bluesky.", code="media_type")
    if len(job.media) > rules.IMAGES_MAX:
        raise PermanentError("A Bluesky post takes at most 4 images.", code="too_many_images")
    if job.post_type == "article" and not job.options.get("link"):
        raise PermanentError("A Bluesky link card needs a link (options.link).", code="link")
    if not job.caption.strip() and not job.media and job.post_type != "article":
        raise PermanentError("A Bluesky post needs text or an image.", code="empty_post")


def _rkey(job: PublishJob) -> str:
    """The record key on record from an earlier attempt, else the post's own."""
    kept = job.history.ids.get("rkey")
    if isinstance(kept, str) and tid.TID_RE.match(kept):
        return kept
    return tid.post_rkey(job.post_id, job.run_at)


def _image_size(data: bytes) -> tuple[int, int] | None:
    from herald.media.probing import header_size

    return header_size(data)


def _iso(at: datetime) -> str:
    """A datetime as the AT Protocol writes it: UTC, milliseconds, a trailing Z."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
