"""The fake PDS's XRPC methods, answering as @atproto/pds does (errors included).

Each route copies a documented behaviour (docs.bsky.app/docs/api, the lexicons in
bluesky-social/atproto) or one measured against the real PDS in tests/process:

- createSession: 401 AuthenticationRequired "Invalid identifier or password";
- an expired access token: 400 ExpiredToken "Token has expired";
- createRecord under a record key the repository already holds: HTTP 500
  InternalServerError "Internal Server Error" (what @atproto/pds 0.4 answered);
- getRecord of a missing key: 400 RecordNotFound "Could not locate record: <uri>";
- resolveHandle of an unknown handle: 400 InvalidRequest "Unable to resolve handle".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from herald.platforms.bluesky import NAME, tid
from herald.platforms.bluesky.facets import graphemes
from herald.platforms.bluesky.fake import store as pds
from herald.platforms.fake.calls import CallInfo, fake_root_url, mount_url, pause, run_call
from herald.platforms.fake.faults import FaultRule
from herald.platforms.fake.models import PublishedRecord, utc
from herald.platforms.fake.state import FakeState

BLUESKY_MOUNT = "/bluesky"
POST = "app.bsky.feed.post"
TEXT_MAX_GRAPHEMES, TEXT_MAX_BYTES, IMAGES_MAX, IMAGE_MAX_BYTES = 300, 3000, 4, 1_000_000


class XrpcError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.error, "message": self.message},
                            status_code=self.status)


def invalid(message: str, error: str = "InvalidRequest") -> XrpcError:
    return XrpcError(400, error, message)


Handler = Callable[[FakeState, Request, str | None], Awaitable[Response]]


def bluesky_routes(state: FakeState) -> list[BaseRoute]:
    def xrpc(nsid: str, handler: Handler, method: str, endpoint: str, *,
             auth: bool = True) -> Route:
        async def run(request: Request) -> Response:
            await pause(state)
            info = CallInfo(platform=NAME, endpoint=endpoint, name=nsid)
            try:
                did = _authenticate(state, request) if auth else None
            except XrpcError as exc:
                return exc.response()
            info.account = did

            async def handle() -> Response:
                try:
                    response = await handler(state, request, did)
                    if endpoint == "commit":  # before run_call logs the commit
                        info.external_id = json.loads(bytes(response.body)).get("uri")
                    return response
                except XrpcError as exc:
                    info.error = f"{exc.status}/{exc.error}"
                    return exc.response()

            def refuse(rule: FaultRule) -> Response:
                if rule.kind == "throttle":
                    exc = XrpcError(429, "RateLimitExceeded", "Rate Limit Exceeded")
                else:
                    exc = XrpcError(rule.status or 500, "InternalServerError",
                                    "Internal Server Error")
                info.error = f"{exc.status}/{exc.error}"
                return exc.response()

            if endpoint == "commit":
                info.caption = await _caption(request)
            return await run_call(state, info, handle, refuse)

        return Route(f"/xrpc/{nsid}", run, methods=[method], name=f"bluesky.{nsid}")

    return [
        xrpc("com.atproto.server.createSession", create_session, "POST", "oauth", auth=False),
        xrpc("com.atproto.server.refreshSession", refresh_session, "POST", "oauth",
             auth=False),
        xrpc("com.atproto.identity.resolveHandle", resolve_handle, "GET", "read"),
        xrpc("com.atproto.repo.uploadBlob", upload_blob, "POST", "upload"),
        xrpc("com.atproto.repo.createRecord", create_record, "POST", "commit"),
        xrpc("com.atproto.repo.getRecord", get_record, "GET", "read", auth=False),
        xrpc("com.atproto.sync.getBlob", get_blob, "GET", "read", auth=False),
    ]


def _authenticate(state: FakeState, request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise XrpcError(401, "AuthenticationRequired", "Authentication Required")
    with state.lock:
        found = pds.store(state).access.get(token.strip())
    if found is None:
        raise XrpcError(400, "InvalidToken", "Token could not be verified")
    did, expires = found
    if expires <= state.now():
        raise XrpcError(400, "ExpiredToken", "Token has expired")
    return did


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise invalid("Request body is not JSON") from None
    if not isinstance(body, dict):
        raise invalid("Request body must be an object")
    return body


async def _caption(request: Request) -> str | None:
    try:
        record = (await _json(request)).get("record")
    except XrpcError:
        return None
    return str(record.get("text")) if isinstance(record, dict) else None


def _session_body(state: FakeState, request: Request, account: pds.BskyAccount) -> Response:
    access, refresh = pds.new_session(state, account.did)
    did_doc = {"@context": ["https://www.w3.org/ns/did/v1"], "id": account.did,
               "alsoKnownAs": [f"at://{account.handle}"],
               "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                            "serviceEndpoint": mount_url(request)}]}
    return JSONResponse({"did": account.did, "handle": account.handle, "didDoc": did_doc,
                         "accessJwt": access, "refreshJwt": refresh, "active": True})


async def create_session(state: FakeState, request: Request, _: str | None) -> Response:
    body = await _json(request)
    identifier = str(body.get("identifier") or "").lower().removeprefix("@")
    with state.lock:
        store = pds.store(state)
        store.sign_ins += 1
        did = identifier if identifier.startswith("did:") else store.handles.get(identifier)
        account = store.accounts.get(did or "")
    if account is None or account.password != body.get("password"):
        raise XrpcError(401, "AuthenticationRequired", "Invalid identifier or password")
    return _session_body(state, request, account)


async def refresh_session(state: FakeState, request: Request, _: str | None) -> Response:
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    with state.lock:
        store = pds.store(state)
        did = store.refresh.pop(token, None)  # a refresh token is used once
        account = store.accounts.get(did or "")
    if account is None:
        raise XrpcError(400, "ExpiredToken", "Token has been revoked")
    return _session_body(state, request, account)


async def resolve_handle(state: FakeState, request: Request, _: str | None) -> Response:
    handle = request.query_params.get("handle", "").lower()
    with state.lock:
        did = pds.store(state).handles.get(handle)
    if did is None:
        raise invalid("Unable to resolve handle")
    return JSONResponse({"did": did})


def _cid(data: bytes) -> str:
    # CIDv1, raw codec, sha2-256, base32: the shape a PDS gives blobs (bafkrei…).
    digest = b"\x01\x55\x12\x20" + hashlib.sha256(data).digest()
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    bits = int.from_bytes(digest, "big")
    length = (len(digest) * 8 + 4) // 5
    pad = length * 5 - len(digest) * 8
    bits <<= pad
    return "b" + "".join(alphabet[(bits >> (5 * i)) & 31] for i in reversed(range(length)))


async def upload_blob(state: FakeState, request: Request, did: str | None) -> Response:
    data = await request.body()
    mime = request.headers.get("content-type", "application/octet-stream")
    if len(data) > pds.BLOB_MAX_BYTES:
        raise XrpcError(400, "BlobTooLarge", "This file is too large")
    cid = _cid(data)
    with state.lock:
        pds.store(state).blobs[cid] = (data, mime)
    return JSONResponse({"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime,
                                  "size": len(data)}})


async def get_blob(state: FakeState, request: Request, _: str | None) -> Response:
    with state.lock:
        found = pds.store(state).blobs.get(request.query_params.get("cid", ""))
    if found is None:
        raise invalid("Blob not found", "BlobNotFound")
    return Response(found[0], media_type=found[1])


def _check_record(state: FakeState, record: Any) -> tuple[str, list[str]]:
    """The record's kind and blob CIDs, or the lexicon's refusal (the state lock is held)."""
    if not isinstance(record, dict) or record.get("$type", POST) != POST:
        raise invalid("Invalid app.bsky.feed.post record: Record/$type must be "
                      "app.bsky.feed.post")
    text = record.get("text")
    if not isinstance(text, str) or not isinstance(record.get("createdAt"), str):
        raise invalid("Invalid app.bsky.feed.post record: Record must have the properties "
                      '"text" and "createdAt"')
    if graphemes(text) > TEXT_MAX_GRAPHEMES or len(text.encode()) > TEXT_MAX_BYTES:
        raise invalid("Invalid app.bsky.feed.post record: Record/text must not be longer "
                      f"than {TEXT_MAX_GRAPHEMES} graphemes")
    size = len(text.encode())
    for facet in record.get("facets") or []:
        index = facet.get("index", {}) if isinstance(facet, dict) else {}
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= size):
            raise invalid("Invalid app.bsky.feed.post record: facet byte range out of text")
    embed = record.get("embed")
    if embed is None:
        return "text", []
    blobs = pds.store(state).blobs
    refs: list[dict[str, Any]] = []
    if embed.get("$type") == "app.bsky.embed.images":
        images = embed.get("images") or []
        if not 1 <= len(images) <= IMAGES_MAX:
            raise invalid("Invalid app.bsky.feed.post record: Record/embed/images must not "
                          f"have more than {IMAGES_MAX} elements")
        refs = [image.get("image") or {} for image in images]
        kind = "image" if len(images) == 1 else "carousel"
    elif embed.get("$type") == "app.bsky.embed.external":
        thumb = (embed.get("external") or {}).get("thumb")
        refs, kind = ([thumb] if thumb else []), "article"
    else:
        raise invalid(f"Invalid app.bsky.feed.post record: unknown embed {embed.get('$type')}")
    cids = []
    for ref in refs:
        cid = str((ref.get("ref") or {}).get("$link", ""))
        if cid not in blobs:
            raise invalid(f"Could not find blob: {cid}", "BlobNotFound")
        if len(blobs[cid][0]) > IMAGE_MAX_BYTES:
            raise invalid("Invalid app.bsky.feed.post record: Record/embed/images/0/image "
                          "file too large", "BlobTooLarge")
        cids.append(cid)
    return kind, cids


async def create_record(state: FakeState, request: Request, did: str | None) -> Response:
    body = await _json(request)
    repo, rkey = str(body.get("repo") or ""), str(body.get("rkey") or "")
    with state.lock:
        store = pds.store(state)
        account = store.accounts.get(repo) or store.accounts.get(store.handles.get(repo, ""))
        if account is None or account.did != did:
            raise invalid(f"Could not find repo: {repo}")
        if body.get("collection") != POST:
            raise invalid("Herald's fake PDS takes app.bsky.feed.post records only")
        if rkey and not tid.TID_RE.match(rkey):
            raise invalid(f"Invalid record key: {rkey}")
        kind, cids = _check_record(state, body.get("record"))
        repository = store.repos.setdefault(account.did, {})
        if rkey in repository:
            # What @atproto/pds 0.4 answers to a second record under one key (measured).
            raise XrpcError(500, "InternalServerError", "Internal Server Error")
        rkey = rkey or tid.encode(state.next_number())
        record = body["record"]
        uri = f"at://{account.did}/{POST}/{rkey}"
        cid = _cid(json.dumps(record, sort_keys=True).encode())
        now = state.now()
        repository[rkey] = pds.BskyRecord(uri=uri, cid=cid, value=record, created_at=now)
        root = fake_root_url(request, BLUESKY_MOUNT)
        media = tuple(f"{mount_url(request)}/xrpc/com.atproto.sync.getBlob?did={account.did}"
                      f"&cid={c}" for c in cids)
        state.record_published(PublishedRecord(
            platform=NAME, account=account.handle, kind=kind, caption=str(record["text"]),
            media_urls=media, external_id=uri, permalink=f"{root}/?id={uri}",
            published_at=utc(now), media_ids=tuple(cids)))
    return JSONResponse({"uri": uri, "cid": cid, "commit": {"cid": cid, "rev": rkey},
                         "validationStatus": "valid"})


async def get_record(state: FakeState, request: Request, _: str | None) -> Response:
    params = request.query_params
    repo, rkey = params.get("repo", ""), params.get("rkey", "")
    with state.lock:
        store = pds.store(state)
        did = repo if repo.startswith("did:") else store.handles.get(repo.lower(), "")
        found = store.repos.get(did, {}).get(rkey)
    if found is None or params.get("collection") != POST:
        raise invalid(f"Could not locate record: at://{repo}/{params.get('collection')}/{rkey}",
                      "RecordNotFound")
    return JSONResponse({"uri": found.uri, "cid": found.cid, "value": found.value})
