"""The fake Mastodon instance's REST API, answering as Mastodon 4.x does (errors included).

Route by route, the documented behaviour each copies:

- GET /api/v2/instance: `configuration.statuses` (max_characters, max_media_attachments,
  characters_reserved_per_url) and `configuration.media_attachments` (supported_mime_types,
  image_size_limit, video_size_limit), no token needed
  (docs.joinmastodon.org/methods/instance/#v2, docs.joinmastodon.org/entities/Instance/);
- GET /api/v1/accounts/verify_credentials: the token's account (id, username, acct,
  display_name, url); a token it does not know is 401 `{"error": "The access token is
  invalid"}` (docs.joinmastodon.org/methods/accounts/#verify_credentials, and the 401 of
  every authorized method);
- POST /api/v2/media: multipart `file` and `description`; 200 with `url` when processed at
  once (small images), 202 with `url: null` while processing (videos, or every upload when
  `processing_polls` is set); a type outside supported_mime_types or a file over its limit
  is 422 "Validation failed: …" (docs.joinmastodon.org/methods/media/#v2);
- GET /api/v1/media/:id: 206 Partial Content while processing, 200 with `url` when done;
  an attachment already attached to a status (or not the caller's) is 404 "Record not
  found" (docs.joinmastodon.org/methods/media/#get);
- POST /api/v1/statuses: `status`, `media_ids[]`, `in_reply_to_id`, `sensitive`,
  `spoiler_text`, `visibility`, `language`; the `Idempotency-Key` header: a second post
  under a key the account used within the hour answers the status the first made,
  nothing new (docs.joinmastodon.org/methods/statuses/#create: "Idempotency keys are stored
  for up to 1 hour"; PostStatusService stores the key per account, only once a status is
  made). Refusals are 422 `{"error": "Validation failed: Text character limit of 500
  exceeded"}`, "Cannot attach more than 4 files", "Cannot attach a video to a post that
  already contains images", "Cannot attach files that have not finished processing. Try
  again in a moment!"; a reply to a missing status is 404 "The post you are trying to
  reply to does not appear to exist." (config/locales/en.yml of mastodon/mastodon);
- GET /api/v1/statuses/:id, /source (the plain `text` and `spoiler_text` as posted),
  /context (`ancestors`, `descendants`) (docs.joinmastodon.org/methods/statuses/);
- GET /api/v1/accounts/:id/statuses: newest first, `limit` (at most 40),
  `exclude_replies`, `exclude_reblogs` (docs.joinmastodon.org/methods/accounts/#statuses);
- POST /api/v1/apps: `client_name`, `redirect_uris`, `scopes` → `client_id`,
  `client_secret` (docs.joinmastodon.org/methods/apps/#create); a missing name or redirect
  URI is 422 "Validation failed: …";
- GET /oauth/authorize: Doorkeeper's checks (docs.joinmastodon.org/methods/oauth/#authorize):
  an unknown `client_id` or a `redirect_uri` the app did not register is an error page
  (400), a scope beyond the app's is `error=invalid_scope` on the redirect; otherwise the
  dialog consents at once, as the signed-in account (store.sign_in, else the first), and
  redirects to `redirect_uri` with `code` and `state`;
- POST /oauth/token (`grant_type=authorization_code`): a code used once, for its client and
  redirect URI, else 400 `invalid_grant`; a wrong secret is 401 `invalid_client`; answers
  `access_token`, `token_type: Bearer`, `scope`, `created_at`
  (docs.joinmastodon.org/methods/oauth/#token);
- faults: `throttle` answers 429 with X-RateLimit-Limit/Remaining/Reset (an ISO 8601
  time; docs.joinmastodon.org/api/rate-limits/), `error` a 503 `{"error": "There was a
  temporary problem serving your request, please try again"}` (Api::BaseController);
  `drop`/`timeout`/`reset` as for every platform (herald/platforms/fake/faults.py).

The fake counts a status's length as Mastodon does for URLs (each counts
characters_reserved_per_url) and graphemes, but not the `@user@domain` shortening.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import regex
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from herald.platforms.fake.calls import (
    BadRequestBody,
    CallInfo,
    as_text,
    fake_root_url,
    mount_url,
    pause,
    read_params,
    run_call,
)
from herald.platforms.fake.faults import FaultRule
from herald.platforms.fake.models import PublishedRecord, utc
from herald.platforms.fake.state import FakeState
from herald.platforms.mastodon import NAME
from herald.platforms.mastodon.fake import store as masto

MASTODON_MOUNT = "/mastodon"
VISIBILITIES = ("public", "unlisted", "private", "direct")
_URL = regex.compile(r"https?://[^\s<>\"]+", regex.IGNORECASE)


class ApiError(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": self.error}, status_code=self.status, headers=headers)


Handler = Callable[[FakeState, Request, "Call"], Awaitable[Response]]


class Call:
    """One request's account, parameters and files."""

    def __init__(self, account: masto.MastoAccount | None, params: dict[str, Any],
                 files: dict[str, bytes], file_names: dict[str, str]) -> None:
        self.account, self.params, self.files, self.file_names = (account, params, files,
                                                                  file_names)

    @property
    def me(self) -> masto.MastoAccount:
        assert self.account is not None
        return self.account


def mastodon_routes(state: FakeState) -> list[BaseRoute]:
    def api(path: str, handler: Handler, method: str, endpoint: str, *,
            auth: bool = True) -> Route:
        async def run(request: Request) -> Response:
            await pause(state)
            try:
                account = _authenticate(state, request) if auth else None
                params, files = await read_params(request)
            except ApiError as exc:
                return exc.response()
            except BadRequestBody as exc:
                return ApiError(400, str(exc)).response()
            params.update(request.path_params)
            kind = endpoint
            if endpoint == "commit" and params.get("in_reply_to_id"):
                kind = "comment"  # a first comment is a reply
            info = CallInfo(platform=NAME, endpoint=kind, name=path,
                            account=account.username if account else None)
            if endpoint == "commit":
                info.caption = as_text(params.get("status"))
            call = Call(account, params, files, await _file_names(request))

            async def handle() -> Response:
                try:
                    response = await handler(state, request, call)
                    if endpoint == "commit" and response.status_code < 300:
                        info.external_id = json.loads(bytes(response.body)).get("id")
                    return response
                except ApiError as exc:
                    info.error = f"{exc.status}: {exc.error}"
                    return exc.response()

            def refuse(rule: FaultRule) -> Response:
                if rule.kind == "throttle":
                    reset = datetime.fromtimestamp(state.now(), UTC) + timedelta(minutes=5)
                    info.error = "429: Too many requests"
                    return ApiError(429, "Too many requests").response(headers={
                        "X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": reset.isoformat().replace("+00:00", "Z")})
                exc = ApiError(rule.status or 503, "There was a temporary problem serving "
                               "your request, please try again")
                info.error = f"{exc.status}: {exc.error}"
                return exc.response()

            return await run_call(state, info, handle, refuse)

        return Route(path, run, methods=[method], name=f"mastodon.{method}.{path}")

    return [
        api("/api/v2/instance", instance, "GET", "read", auth=False),
        api("/api/v1/accounts/verify_credentials", verify_credentials, "GET", "read"),
        api("/api/v2/media", upload_media, "POST", "upload"),
        api("/api/v1/media/{id}", get_media, "GET", "status"),
        api("/api/v1/statuses", post_status, "POST", "commit"),
        api("/api/v1/statuses/{id}", get_status, "GET", "read"),
        api("/api/v1/statuses/{id}/source", status_source, "GET", "read"),
        api("/api/v1/statuses/{id}/context", status_context, "GET", "read"),
        api("/api/v1/accounts/{id}/statuses", account_statuses, "GET", "read"),
        api("/api/v1/apps", create_app, "POST", "oauth", auth=False),
        api("/oauth/authorize", authorize, "GET", "oauth", auth=False),
        api("/oauth/token", issue_token, "POST", "oauth", auth=False),
    ]


async def _file_names(request: Request) -> dict[str, str]:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return {}
    form = await request.form()  # cached by Starlette after read_params
    return {k: str(getattr(v, "filename", "") or "") for k, v in form.multi_items()
            if hasattr(v, "filename")}


def _authenticate(state: FakeState, request: Request) -> masto.MastoAccount:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    with state.lock:
        instance = masto.store(state)
        account_id = instance.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        account = instance.accounts.get(account_id or "")
    if account is None:
        raise ApiError(401, "The access token is invalid")
    return account


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _account_json(request: Request, account: masto.MastoAccount) -> dict[str, Any]:
    root = mount_url(request)
    return {"id": account.id, "username": account.username, "acct": account.username,
            "display_name": account.display_name, "url": f"{root}/@{account.username}"}


def _media_json(request: Request, media: masto.MastoMedia) -> dict[str, Any]:
    ready = media.polls_left <= 0 and not media.failed
    url = f"{mount_url(request)}/system/media/{media.id}" if ready else None
    kind = "video" if media.mime.startswith("video/") else "image"
    return {"id": media.id, "type": kind, "url": url,
            "preview_url": f"{mount_url(request)}/system/media/{media.id}/small",
            "description": media.description or None}


def _status_json(request: Request, instance: masto.InstanceStore,
                 status: masto.MastoStatus) -> dict[str, Any]:
    account = instance.accounts[status.account_id]
    root = fake_root_url(request, MASTODON_MOUNT)
    media = [_media_json(request, instance.media[m]) for m in status.media_ids]
    return {"id": status.id, "created_at": _iso(status.created_at),
            "in_reply_to_id": status.in_reply_to_id, "sensitive": status.sensitive,
            "spoiler_text": status.spoiler_text, "visibility": status.visibility,
            "language": status.language,
            "uri": f"{mount_url(request)}/users/{account.username}/statuses/{status.id}",
            "url": f"{root}/?id={status.id}",
            # Mastodon renders the text as HTML; clients read the source for the text.
            "content": f"<p>{status.text}</p>", "media_attachments": media,
            "account": _account_json(request, account)}


async def instance(state: FakeState, request: Request, call: Call) -> Response:
    with state.lock:
        store = masto.store(state)
        store.instance_reads += 1
        limits = store.limits
        host = request.headers.get("host", "fake")
        return JSONResponse({
            "domain": host, "title": "Herald's fake Mastodon", "version": "4.3.0",
            "configuration": {
                "urls": {"streaming": f"wss://{host}"},
                "statuses": {"max_characters": limits.max_characters,
                             "max_media_attachments": limits.max_media_attachments,
                             "characters_reserved_per_url":
                                 limits.characters_reserved_per_url},
                "media_attachments": {
                    "supported_mime_types": list(limits.supported_mime_types),
                    "image_size_limit": limits.image_size_limit,
                    "image_matrix_limit": 33_177_600,
                    "video_size_limit": limits.video_size_limit,
                    "video_frame_rate_limit": 120, "video_matrix_limit": 8_294_400}}})


async def verify_credentials(state: FakeState, request: Request, call: Call) -> Response:
    return JSONResponse(_account_json(request, call.me))


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
        return "video/mp4"
    return "application/octet-stream"


async def upload_media(state: FakeState, request: Request, call: Call) -> Response:
    data = call.files.get("file")
    if data is None:
        raise ApiError(422, "Validation failed: File can't be blank")
    mime = _sniff(data)
    with state.lock:
        store = masto.store(state)
        limits = store.limits
        if mime not in limits.supported_mime_types:
            raise ApiError(422, "Validation failed: File content type is invalid")
        most = limits.video_size_limit if mime.startswith("video/") else limits.image_size_limit
        if len(data) > most:
            raise ApiError(422, f"Validation failed: File file size must be less than "
                           f"{most // (1024 * 1024)} MB")
        polls = store.processing_polls or (2 if mime.startswith("video/") else 0)
        media = masto.MastoMedia(id=str(110_000_000 + state.next_number()),
                                 account_id=call.me.id, data=data, mime=mime,
                                 description=as_text(call.params.get("description")),
                                 polls_left=polls)
        store.media[media.id] = media
        body = _media_json(request, media)
    return JSONResponse(body, status_code=202 if polls else 200)


async def get_media(state: FakeState, request: Request, call: Call) -> Response:
    with state.lock:
        media = masto.store(state).media.get(str(call.params["id"]))
        if media is None or media.account_id != call.me.id or media.status_id is not None:
            raise ApiError(404, "Record not found")
        processing = media.polls_left > 0
        media.polls_left -= 1
        body = _media_json(request, media)
        if processing:
            body["url"] = None
    return JSONResponse(body, status_code=206 if processing else 200)


def _length(text: str, per_url: int) -> int:
    return len(regex.findall(r"\X", _URL.sub("x" * per_url, text)))


def _list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


async def post_status(state: FakeState, request: Request, call: Call) -> Response:
    params, me = call.params, call.me
    key = request.headers.get("idempotency-key")
    text = as_text(params.get("status"))
    warning = as_text(params.get("spoiler_text"))
    media_ids = _list(params.get("media_ids", params.get("media_ids[]")))
    with state.lock:
        store = masto.store(state)
        now = state.now()
        if key:
            kept = store.idempotency.get((me.id, key))
            if kept is not None and kept[1] > now and kept[0] in store.statuses:
                # The status the first post under this key made: nothing new.
                return JSONResponse(_status_json(request, store, store.statuses[kept[0]]))
        limits = store.limits
        if not text.strip() and not media_ids:
            raise ApiError(422, "Validation failed: Text can't be blank")
        used = (_length(text, limits.characters_reserved_per_url)
                + _length(warning, limits.characters_reserved_per_url))
        if used > limits.max_characters:
            raise ApiError(422, f"Validation failed: Text character limit of "
                           f"{limits.max_characters} exceeded")
        visibility = as_text(params.get("visibility")) or "public"
        if visibility not in VISIBILITIES:
            raise ApiError(422, "Validation failed: Visibility is not included in the list")
        reply_to = as_text(params.get("in_reply_to_id")) or None
        if reply_to is not None and reply_to not in store.statuses:
            raise ApiError(404, "The post you are trying to reply to does not appear to "
                           "exist.")
        if len(media_ids) > limits.max_media_attachments:
            raise ApiError(422, f"Cannot attach more than {limits.max_media_attachments} "
                           "files")
        # Like Mastodon, ids that are not the caller's unattached media are dropped.
        found = [store.media[m] for m in media_ids if m in store.media
                 and store.media[m].account_id == me.id and store.media[m].status_id is None]
        if any(m.mime.startswith("video/") for m in found) and len(found) > 1:
            raise ApiError(422, "Cannot attach a video to a post that already contains "
                           "images")
        if any(m.polls_left > 0 for m in found):
            raise ApiError(422, "Cannot attach files that have not finished processing. "
                           "Try again in a moment!")
        status = masto.MastoStatus(
            id=str(111_000_000_000 + state.next_number()), account_id=me.id, text=text,
            spoiler_text=warning, visibility=visibility,
            language=as_text(params.get("language")) or None,
            sensitive=bool(warning) or str(params.get("sensitive")).lower() == "true",
            media_ids=[m.id for m in found], in_reply_to_id=reply_to, created_at=now)
        for media in found:
            media.status_id = status.id
        store.statuses[status.id] = status
        if key:
            store.idempotency[(me.id, key)] = (status.id, now + masto.IDEMPOTENCY_SECONDS)
        body = _status_json(request, store, status)
        kinds = {m.mime.split("/")[0] for m in found}
        kind = ("reply" if reply_to else "video" if "video" in kinds
                else "carousel" if len(found) > 1 else "image" if found else "text")
        state.record_published(PublishedRecord(
            platform=NAME, account=me.username, kind=kind, caption=text,
            media_urls=tuple(m["url"] for m in body["media_attachments"] if m["url"]),
            external_id=status.id, permalink=body["url"], published_at=utc(now),
            media_ids=tuple(m.id for m in found)))
    return JSONResponse(body)


def _status(store: masto.InstanceStore, call: Call) -> masto.MastoStatus:
    status = store.statuses.get(str(call.params["id"]))
    if status is None or (status.visibility == "direct" and status.account_id != call.me.id):
        raise ApiError(404, "Record not found")
    return status


async def get_status(state: FakeState, request: Request, call: Call) -> Response:
    with state.lock:
        store = masto.store(state)
        return JSONResponse(_status_json(request, store, _status(store, call)))


async def status_source(state: FakeState, request: Request, call: Call) -> Response:
    with state.lock:
        status = _status(masto.store(state), call)
        if status.account_id != call.me.id:
            raise ApiError(404, "Record not found")
        return JSONResponse({"id": status.id, "text": status.text,
                             "spoiler_text": status.spoiler_text})


async def status_context(state: FakeState, request: Request, call: Call) -> Response:
    with state.lock:
        store = masto.store(state)
        status = _status(store, call)
        below: list[masto.MastoStatus] = []
        frontier = [status.id]
        while frontier:
            children = sorted((s for s in store.statuses.values()
                               if s.in_reply_to_id in frontier), key=lambda s: s.created_at)
            below += children
            frontier = [s.id for s in children]
        above: list[masto.MastoStatus] = []
        parent = store.statuses.get(status.in_reply_to_id or "")
        while parent is not None:
            above.insert(0, parent)
            parent = store.statuses.get(parent.in_reply_to_id or "")
        return JSONResponse({"ancestors": [_status_json(request, store, s) for s in above],
                             "descendants": [_status_json(request, store, s)
                                             for s in below]})


async def account_statuses(state: FakeState, request: Request, call: Call) -> Response:
    params = call.params
    try:
        limit = max(1, min(40, int(as_text(params.get("limit")) or 20)))
    except ValueError:
        limit = 20
    with state.lock:
        store = masto.store(state)
        if str(params["id"]) not in store.accounts:
            raise ApiError(404, "Record not found")
        found = [s for s in store.statuses.values() if s.account_id == str(params["id"])]
        if as_text(params.get("exclude_replies")).lower() == "true":
            found = [s for s in found if s.in_reply_to_id is None]
        found.sort(key=lambda s: (s.created_at, int(s.id)), reverse=True)
        return JSONResponse([_status_json(request, store, s) for s in found[:limit]])


def new_token() -> str:
    return f"fake-mastodon-{secrets.token_urlsafe(18)}"


async def create_app(state: FakeState, request: Request, call: Call) -> Response:
    params = call.params
    name, redirect = as_text(params.get("client_name")), as_text(params.get("redirect_uris"))
    if not name or not redirect:
        raise ApiError(422, "Validation failed: Application name can't be blank, Redirect "
                       "URI can't be blank" if not name else
                       "Validation failed: Redirect URI can't be blank")
    app = masto.App(client_id=secrets.token_urlsafe(24), client_secret=secrets.token_urlsafe(32),
                    name=name, redirect_uris=redirect.split(),
                    scopes=as_text(params.get("scopes")) or "read")
    with state.lock:
        masto.store(state).apps[app.client_id] = app
    return JSONResponse({"id": str(state.next_number()), "name": name, "website": None,
                         "redirect_uri": redirect, "redirect_uris": app.redirect_uris,
                         "client_id": app.client_id, "client_secret": app.client_secret,
                         "scopes": app.scopes.split()})


async def authorize(state: FakeState, request: Request, call: Call) -> Response:
    params = call.params
    redirect = as_text(params.get("redirect_uri"))
    with state.lock:
        store = masto.store(state)
        app = store.apps.get(as_text(params.get("client_id")))
        if app is None:
            return HTMLResponse("<h1>Client authentication failed due to unknown client, no "
                                "client authentication included, or unsupported "
                                "authentication method.</h1>", status_code=400)
        if redirect not in app.redirect_uris:
            return HTMLResponse("<h1>The redirect uri included is not valid.</h1>",
                                status_code=400)
        wanted = set((as_text(params.get("scope")) or "read").split())
        query = {"state": as_text(params.get("state"))}
        if not wanted <= set(app.scopes.split()):
            query["error"] = "invalid_scope"
            query["error_description"] = ("The requested scope is invalid, unknown, or "
                                          "malformed.")
        else:
            account_id = store.signed_in or next(iter(store.accounts), None)
            if account_id is None:
                return HTMLResponse("<h1>No account to sign in with.</h1>", status_code=400)
            code = secrets.token_urlsafe(24)
            store.codes[code] = (app.client_id, account_id, " ".join(sorted(wanted)))
            query["code"] = code
    joiner = "&" if "?" in redirect else "?"
    return RedirectResponse(f"{redirect}{joiner}{urlencode(query)}", status_code=302)


async def issue_token(state: FakeState, request: Request, call: Call) -> Response:
    params = call.params
    with state.lock:
        store = masto.store(state)
        app = store.apps.get(as_text(params.get("client_id")))
        if app is None or app.client_secret != as_text(params.get("client_secret")):
            return JSONResponse({"error": "invalid_client", "error_description": "Client "
                                 "authentication failed due to unknown client, no client "
                                 "authentication included, or unsupported authentication "
                                 "method."}, status_code=401)
        found = store.codes.pop(as_text(params.get("code")), None)  # a code is used once
        if (found is None or found[0] != app.client_id
                or as_text(params.get("redirect_uri")) not in app.redirect_uris):
            return JSONResponse({"error": "invalid_grant", "error_description": "The "
                                 "provided authorization grant is invalid, expired, revoked, "
                                 "does not match the redirection URI used in the "
                                 "authorization request, or was issued to another client."},
                                status_code=400)
        token = new_token()
        store.tokens[token] = found[1]
        return JSONResponse({"access_token": token, "token_type": "Bearer",
                             "scope": found[2], "created_at": int(state.now())})
