"""The fake Threads API (graph.threads.net), answering as Meta documents it.

Requests arrive as ``/{version}/{object-id}[/{edge}]`` with the token as a Bearer header
or ``access_token``, and errors come in the Graph envelope, as on graph.threads.net.
What each route copies (developers.facebook.com/docs/threads; docs/platforms/threads.md):

- ``POST /{user}/threads``: a media container (TEXT, IMAGE, VIDEO, CAROUSEL with
  ``children``, ``is_carousel_item``, ``reply_to_id``); the text at most 500 characters;
  a carousel 2 to 20 items of this profile;
- ``GET /{container}?fields=status,error_message``: FINISHED at once for text and images,
  IN_PROGRESS on a video's first read; ERROR with an ``error_message`` such as
  FAILED_PROCESSING_VIDEO (a processing_error fault); EXPIRED after 24 hours;
  PUBLISHED once published;
- ``POST /{user}/threads_publish`` with ``creation_id``: the thread's id; refused while
  the container is not FINISHED, and over the limit of 250 posts in 24 hours (the code
  Meta sends then is not documented: the fake answers Instagram's 9/2207042);
- ``GET /{user}/threads_publishing_limit?fields=quota_usage,config``;
- ``GET /{user}/threads`` (newest first, cursor paging), ``GET /{thread}`` (id, text,
  timestamp, permalink...), ``GET /{thread}/replies`` (with is_reply_owned_by_me), ``/me``.

Not copied: the fake does not fetch the media URLs it is given.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from herald.platforms.fake.calls import (
    BadRequestBody,
    CallInfo,
    as_bool,
    as_text,
    fake_root_url,
    pause,
    read_params,
    run_call,
    split_fields,
)
from herald.platforms.fake.faults import FaultRule
from herald.platforms.fake.models import DAY, PublishedRecord, utc
from herald.platforms.fake.state import FakeState
from herald.platforms.graph import fake_errors as errors
from herald.platforms.threads import NAME
from herald.platforms.threads.fake import store as db
from herald.platforms.threads.rules import CAROUSEL_MAX, CAROUSEL_MIN, TEXT_MAX

THREADS_MOUNT = "/threads"
_TYPES = frozenset({"TEXT", "IMAGE", "VIDEO", "CAROUSEL"})


def threads_routes(state: FakeState) -> list[BaseRoute]:
    async def endpoint(request: Request) -> Response:
        return await _handle(state, request)

    methods = ["GET", "POST"]
    return [Route("/{version}/{object_id}", endpoint, methods=methods),
            Route("/{version}/{object_id}/{edge}", endpoint, methods=methods)]


class _Call:
    """One authenticated request: its parameters and the profile its token is for."""

    def __init__(self, state: FakeState, request: Request, params: dict[str, Any],
                 user: str, object_id: str, info: CallInfo) -> None:
        self.state, self.request, self.params = state, request, params
        self.user, self.object_id, self.info = user, object_id, info

    def fields(self, default: str) -> list[str]:
        raw = self.params.get("fields")
        return split_fields(",".join(raw) if isinstance(raw, list) else raw or default)

    def permalink(self, thread_id: str) -> str:
        return f"{fake_root_url(self.request, THREADS_MOUNT)}/?id={thread_id}"


Handler = Callable[[_Call], dict[str, Any]]


async def _handle(state: FakeState, request: Request) -> Response:
    await pause(state)
    object_id = request.path_params["object_id"]
    edge = request.path_params.get("edge", "")
    try:
        if not request.path_params["version"].startswith("v"):
            raise errors.unknown_path(request.url.path)
        try:
            params, _ = await read_params(request)
        except BadRequestBody as exc:
            raise errors.invalid_param(str(exc)) from None
        user = _authenticate(state, request, params)
        if object_id == "me":
            object_id = user
        handler, kind = _route(state, request.method, object_id, edge, user, params)
    except errors.GraphError as exc:
        return JSONResponse(exc.body(), status_code=exc.status)
    info = CallInfo(platform=NAME, endpoint=kind, name=edge or "object", account=user)
    call = _Call(state, request, params, user, object_id, info)

    async def handle() -> Response:
        try:
            return JSONResponse(handler(call))
        except errors.GraphError as exc:
            info.error = exc.label
            return JSONResponse(exc.body(), status_code=exc.status)

    def refuse(rule: FaultRule) -> Response:
        exc = (errors.server_error(rule.code or 2, rule.status) if rule.kind == "error"
               else errors.throttled(rule.code or 4, subcode=rule.subcode, status=rule.status))
        info.error = exc.label
        return JSONResponse(exc.body(), status_code=exc.status)

    if kind in ("commit", "comment"):
        info.caption = _publish_text(state, params)
    return await run_call(state, info, handle, refuse)


def _authenticate(state: FakeState, request: Request, params: dict[str, Any]) -> str:
    value = params.pop("access_token", None)
    if not value:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            value = credentials.strip()
    if not value:
        raise errors.missing_token()
    with state.lock:
        user = db.store(state).tokens.get(str(value))
    if user is None:
        raise errors.invalid_token()
    return user


def _route(state: FakeState, method: str, object_id: str, edge: str, user: str,
           params: dict[str, Any]) -> tuple[Handler, str]:
    """The handler and fault endpoint kind of a call; checks the token may use the object."""
    with state.lock:
        threads = db.store(state)
        profile = threads.profiles.get(object_id)
        container = threads.containers.get(object_id)
        thread = threads.threads.get(object_id)
        creation = threads.containers.get(as_text(params.get("creation_id")))
    owner = profile.id if profile else container.user_id if container \
        else thread.user_id if thread else None
    if owner is None:
        raise errors.unsupported(method, object_id)
    if owner != user and not (thread is not None and edge == "replies"):
        raise errors.permission_denied(10, "Application does not have permission for this "
                                           "action")
    routes: dict[tuple[str, bool, str], tuple[Handler, str]] = {
        ("GET", True, ""): (_get_profile, "read"),
        ("GET", True, "threads"): (_list_threads, "read"),
        ("POST", True, "threads"): (_create_container, "container"),
        ("POST", True, "threads_publish"): (
            _publish, "comment" if creation is not None and creation.reply_to_id else "commit"),
        ("GET", True, "threads_publishing_limit"): (_publishing_limit, "read"),
    }
    if profile is not None:
        found = routes.get((method, True, edge))
    elif container is not None and method == "GET" and not edge:
        found = (_get_container, "status")
    elif thread is not None and method == "GET" and edge in ("", "replies"):
        found = (_get_thread, "read") if not edge else (_list_replies, "read")
    else:
        found = None
    if found is None:
        raise errors.unsupported(method, f"{object_id}/{edge}" if edge else object_id)
    return found


def _publish_text(state: FakeState, params: dict[str, Any]) -> str | None:
    with state.lock:
        container = db.store(state).containers.get(as_text(params.get("creation_id")))
    return container.text if container else None


# --- profiles and threads -----------------------------------------------------------------


def _get_profile(call: _Call) -> dict[str, Any]:
    with call.state.lock:
        profile = db.store(call.state).profiles[call.object_id]
    available = {"id": profile.id, "username": profile.username, "name": profile.name,
                 "threads_profile_picture_url": None, "threads_biography": ""}
    return _select("User", available, call.fields("id"))


def _thread_fields(call: _Call, thread: db.Thread) -> dict[str, Any]:
    with call.state.lock:
        profile = db.store(call.state).profiles.get(thread.user_id)
    return {"id": thread.id, "text": thread.text or None, "timestamp": _time(thread.timestamp),
            "permalink": thread.permalink, "media_type": thread.media_type,
            "media_product_type": "THREADS", "username": profile.username if profile else None,
            "is_reply": thread.reply_to_id is not None, "shortcode": thread.id[-11:],
            "is_reply_owned_by_me": thread.user_id == call.user}


def _get_thread(call: _Call) -> dict[str, Any]:
    with call.state.lock:
        thread = db.store(call.state).threads[call.object_id]
    return _select("ThreadsMedia", _thread_fields(call, thread), call.fields("id"))


def _list_threads(call: _Call) -> dict[str, Any]:
    with call.state.lock:
        threads = db.store(call.state)
        items = [threads.threads[i] for i in reversed(threads.timeline.get(call.user, []))]
    fields = call.fields("id")
    return _page(call, [_select("ThreadsMedia", _thread_fields(call, t), fields)
                        for t in items])


def _list_replies(call: _Call) -> dict[str, Any]:
    with call.state.lock:
        threads = db.store(call.state)
        items = [threads.threads[i] for i in threads.replies.get(call.object_id, [])]
    fields = call.fields("id,text,timestamp")
    return _page(call, [_select("ThreadsMedia", _thread_fields(call, t), fields)
                        for t in items])


def _page(call: _Call, items: list[dict[str, Any]]) -> dict[str, Any]:
    try:
        limit = max(1, min(100, int(call.params.get("limit") or 25)))
        start = int(call.params.get("after") or 0)
    except ValueError:
        raise errors.invalid_param("Invalid paging parameters") from None
    chunk = items[start:start + limit]
    paging: dict[str, Any] = {"cursors": {"before": str(start), "after": str(start + len(chunk))}}
    if start + limit < len(items):
        query = dict(call.request.query_params)
        query["after"] = str(start + len(chunk))
        paging["next"] = str(call.request.url.replace_query_params(**query))
    return {"data": chunk, "paging": paging}


def _publishing_limit(call: _Call) -> dict[str, Any]:
    state = call.state
    with state.lock:
        threads = db.store(state)
        times = threads.publishes.get(call.user, [])
        usage = len(times) - bisect.bisect_right(times, state.now() - DAY)
        total = threads.profiles[call.user].quota_total
    available = {"quota_usage": usage, "config": {"quota_total": total,
                                                  "quota_duration": int(DAY)},
                 "reply_quota_usage": 0, "reply_config": {"quota_total": 1000,
                                                          "quota_duration": int(DAY)}}
    return {"data": [_select("ThreadsPublishingLimit", available,
                             call.fields("quota_usage"), add_id=False)]}


# --- containers and publishing ------------------------------------------------------------


def _create_container(call: _Call) -> dict[str, Any]:
    params, state = call.params, call.state
    media_type = as_text(params.get("media_type")).upper()
    if media_type not in _TYPES:
        raise errors.invalid_param("Param media_type must be one of {TEXT, IMAGE, VIDEO, "
                                   "CAROUSEL}")
    text = as_text(params.get("text"))
    call.info.caption = text
    if len(text) > TEXT_MAX:
        raise errors.invalid_param(f"Param text must be at most {TEXT_MAX} characters long.")
    image_url = as_text(params.get("image_url")) or None
    video_url = as_text(params.get("video_url")) or None
    if media_type == "IMAGE" and not image_url:
        raise errors.invalid_param("Param image_url is required for an IMAGE container.")
    if media_type == "VIDEO" and not video_url:
        raise errors.invalid_param("Param video_url is required for a VIDEO container.")
    if media_type == "TEXT" and not text:
        raise errors.invalid_param("Param text is required for a TEXT container.")
    is_item = as_bool(params.get("is_carousel_item"), False)
    reply_to = as_text(params.get("reply_to_id")) or None
    children: tuple[str, ...] = ()
    with state.lock:
        threads = db.store(state)
        if reply_to is not None and reply_to not in threads.threads:
            raise errors.invalid_param(f"The reply_to_id {reply_to} is not a thread.")
        if media_type == "CAROUSEL":
            raw = params.get("children")
            ids = [i.strip() for i in (",".join(raw) if isinstance(raw, list)
                                       else as_text(raw)).split(",") if i.strip()]
            if not CAROUSEL_MIN <= len(ids) <= CAROUSEL_MAX:
                raise errors.invalid_param(f"A carousel needs {CAROUSEL_MIN} to "
                                           f"{CAROUSEL_MAX} children, not {len(ids)}.")
            for child in ids:
                found = threads.containers.get(child)
                if found is None or found.user_id != call.user or not found.is_carousel_item:
                    raise errors.invalid_param(f"Child {child} is not a carousel item of "
                                               "this profile.")
            children = tuple(ids)
        failed = None
        if call.info.processing_error:
            failed = "FAILED_PROCESSING_VIDEO" if video_url else "UNKNOWN"
        container = db.Container(
            id=f"1790{state.next_number():013d}", user_id=call.user, media_type=media_type,
            text=text, created_at=state.now(), image_url=image_url, video_url=video_url,
            is_carousel_item=is_item, children=children, reply_to_id=reply_to,
            error_message=failed)
        threads.containers[container.id] = container
    call.info.external_id = container.id
    return {"id": container.id}


def _status(state: FakeState, container: db.Container) -> str:
    """The container's status now (the state lock is held)."""
    if container.media_id is not None:
        return "PUBLISHED"
    if container.error_message is not None:
        return "ERROR"
    if state.now() - container.created_at > db.CONTAINER_TTL:
        return "EXPIRED"
    return "FINISHED"


def _get_container(call: _Call) -> dict[str, Any]:
    state = call.state
    with state.lock:
        container = db.store(state).containers[call.object_id]
        status = _status(state, container)
        container.polls += 1
        if status == "FINISHED" and container.video_url and container.polls == 1:
            status = "IN_PROGRESS"  # a video is still processing on its first read
    available = {"id": container.id, "status": status,
                 "error_message": container.error_message if status == "ERROR" else None}
    return _select("ThreadsMediaContainer", available, call.fields("id,status"))


def _publish(call: _Call) -> dict[str, Any]:
    creation_id = as_text(call.params.get("creation_id"))
    if not creation_id:
        raise errors.invalid_param("The parameter creation_id is required.")
    state = call.state
    with state.lock:
        threads = db.store(state)
        now = state.now()
        container = threads.containers.get(creation_id)
        if container is None or container.user_id != call.user:
            raise errors.GraphError(24, f"The media with id {creation_id} cannot be found.")
        if container.is_carousel_item:
            raise errors.invalid_param("Publish the CAROUSEL container, not its items.")
        status = _status(state, container)
        if status == "PUBLISHED":
            raise errors.invalid_param("The media has already been published.")
        if status != "FINISHED":
            # Meta documents no code for this on Threads: Instagram's "not ready" is assumed.
            raise errors.GraphError(9007, "Media ID is not available", subcode=2207027)
        reply = container.reply_to_id is not None
        times = threads.publishes.setdefault(call.user, [])
        del times[:bisect.bisect_right(times, now - DAY)]  # out of the window
        if not reply and len(times) >= threads.profiles[call.user].quota_total:
            raise errors.GraphError(9, "Application request limit reached",
                                    subcode=2207042)
        thread_id = f"1791{state.next_number():013d}"
        thread = db.Thread(id=thread_id, user_id=call.user, container_id=container.id,
                           media_type=_thread_type(container), text=container.text,
                           timestamp=now, permalink=call.permalink(thread_id),
                           reply_to_id=container.reply_to_id)
        container.media_id = thread_id
        threads.threads[thread_id] = thread
        if reply:
            threads.replies.setdefault(str(container.reply_to_id), []).append(thread_id)
        else:
            bisect.insort(times, now)
            threads.timeline.setdefault(call.user, []).append(thread_id)
            state.record_published(PublishedRecord(
                platform=NAME, account=call.user, kind=thread.media_type.lower(),
                caption=container.text, media_urls=_media_urls(threads, container),
                external_id=thread_id, permalink=thread.permalink, published_at=utc(now),
                dropped=call.info.dropping, media_ids=(container.id, *container.children)))
    call.info.external_id = thread_id
    return {"id": thread_id}


def _thread_type(container: db.Container) -> str:
    return {"TEXT": "TEXT_POST", "CAROUSEL": "CAROUSEL_ALBUM"}.get(container.media_type,
                                                                  container.media_type)


def _media_urls(threads: db.ThreadsStore, container: db.Container) -> tuple[str, ...]:
    items = [threads.containers[c] for c in container.children] or [container]
    return tuple(u for c in items if (u := c.image_url or c.video_url))


# --- helpers ------------------------------------------------------------------------------


def _select(node: str, available: dict[str, Any], wanted: list[str], *,
            add_id: bool = True) -> dict[str, Any]:
    """The requested fields of a node; like the Graph API, unknown fields are an error."""
    out: dict[str, Any] = {}
    for name in wanted:
        if name not in available:
            raise errors.invalid_param(f"Tried accessing nonexisting field ({name}) on node "
                                       f"type ({node})")
        if available[name] is not None:
            out[name] = available[name]
    if add_id and "id" in available:
        out.setdefault("id", available["id"])
    return out


def _time(ts: float) -> str:
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%S+0000")
