"""Facebook Pages: feed posts, photos, videos, scheduling and the published-post lists."""

from __future__ import annotations

import hashlib
from typing import Any

from herald.platforms.facebook.fake.checks import (
    attachable_photo,
    attached_media,
    check_duplicate,
    check_photo,
    scheduled_time,
)
from herald.platforms.facebook.fake.models import FbPhoto, FbPost, FbVideo
from herald.platforms.facebook.fake.oauth import linked_instagram, page_token
from herald.platforms.facebook.fake.reels import REELS, reel_status
from herald.platforms.fake.calls import as_bool, as_text
from herald.platforms.fake.models import FACEBOOK, Account, PublishedRecord, utc
from herald.platforms.graph import fake_errors as errors
from herald.platforms.graph.fake import GraphCall, GraphRouter, graph_time, new_id
from herald.platforms.graph.fake_comments import add_comment_routes

ROUTES = GraphRouter()

MESSAGE_MAX = 63_206  # ◐ what Postiz assumes
_TASKS = ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"]


def _photos_endpoint(params: dict[str, Any]) -> str:
    # An unpublished photo is an idempotent upload step; a published one is a post.
    return "commit" if as_bool(params.get("published"), True) else "upload"


# --- the user and the Page ---------------------------------------------------------------


@ROUTES.route("GET", "me")
async def get_me(call: GraphCall) -> dict[str, Any]:
    # Without `fields`, Graph answers a user's (or Page's) id and name.
    token, state, default = call.token, call.state, ("id", "name")
    user = state.facebook_user(token.user_id) if token.user_id else None
    if token.kind == "user" and user is not None:
        return call.select("User", {"id": user.id, "name": user.name}, default)
    pages = [a for a in map(state.account, sorted(token.accounts))
             if a is not None and a.platform == FACEBOOK]
    if token.kind == "page" and pages:
        # With a Page token, /me is the Page itself.
        return call.select("Page", {"id": pages[0].id, "name": pages[0].name}, default)
    # Tokens registered directly: a stable id per token, each standing for one user.
    digest = int(hashlib.sha256(token.value.encode()).hexdigest()[:12], 16)
    return call.select("User", {"id": str(10**14 + digest % 10**14), "name": "Fake User"},
                       default)


_PAGE_LIST_FIELDS = ("id", "name", "access_token", "tasks")


@ROUTES.route("GET", "me", "accounts")
async def list_pages(call: GraphCall) -> dict[str, Any]:
    state = call.state
    with state.lock:
        pages = [a for a in state.data.accounts.values()
                 if a.platform == FACEBOOK and a.id in call.token.accounts]
    return call.page([call.select("Page", _page_fields(call, p, _PAGE_LIST_FIELDS),
                                  default=_PAGE_LIST_FIELDS) for p in pages])


@ROUTES.route("GET", "page")
async def get_page(call: GraphCall) -> dict[str, Any]:
    return call.select("Page", _page_fields(call, call.account, ("id",)))


def _page_fields(call: GraphCall, page: Account, default: tuple[str, ...]) -> dict[str, Any]:
    state, token = call.state, call.token
    with state.lock:
        linked = next(iter(linked_instagram(state, page.id)), None)
        ig = state.data.accounts.get(linked) if linked else None
    access_token = token.value
    # A user token answers with the Page's own token (minted only when asked for).
    if token.kind == "user" and "access_token" in (call.fields() or default):
        access_token = page_token(state, token, page.id)
    return {
        "id": page.id, "name": page.name, "access_token": access_token, "tasks": _TASKS,
        "category": "Brand", "link": call.permalink(page.id),
        "instagram_business_account": _ig_summary(call, ig) if ig else None,
    }


def _ig_summary(call: GraphCall, ig: Account) -> dict[str, Any]:
    """instagram_business_account, with a nested selection such as {id,username,name}."""
    available = {"id": ig.id, "username": ig.username, "name": ig.name,
                 "profile_picture_url": None}
    return call.select("IGUser", available,
                       wanted=call.nested_fields("instagram_business_account") or ["id"])


def _require_page_token(call: GraphCall) -> None:
    # ◐ Publishing as a Page takes a Page token; a user token (even the Page admin's) is
    # refused with a 190 that has no subcode: the session is fine, the token is the wrong kind.
    if call.token.kind == "user":
        raise errors.GraphError(190, "(#190) This method must be called with a Page Access "
                                     "Token")


# --- publishing --------------------------------------------------------------------------


@ROUTES.route("POST", "page", "feed", endpoint="commit")
async def create_post(call: GraphCall) -> dict[str, Any]:
    _require_page_token(call)
    params, state, page = call.params, call.state, call.account
    message = as_text(params.get("message"))
    link = as_text(params.get("link")) or None
    call.info.caption = message
    fbids = attached_media(params)
    if not (message or link or fbids):
        raise errors.invalid_param("Missing message or attachment")
    if len(message) > MESSAGE_MAX:
        raise errors.invalid_param(f"The message is longer than {MESSAGE_MAX} characters.")
    published = as_bool(params.get("published"), True)
    scheduled_for = scheduled_time(call, params.get("scheduled_publish_time"), published)

    with state.lock:
        now = state.now()
        photos = [attachable_photo(call, i, fbid) for i, fbid in enumerate(fbids)]
        signature = ("feed", message, link, tuple(p.url or p.id for p in photos))
        check_duplicate(call, signature)
        post = FbPost(
            id=f"{page.id}_{new_id(state, '1221000')}", account_id=page.id, message=message,
            created_at=now, link=link, photo_ids=tuple(p.id for p in photos),
            published=published and scheduled_for is None, scheduled_for=scheduled_for,
        )
        post.permalink = call.permalink(post.id)
        for photo in photos:
            photo.post_id = post.id
        kind = ("multi_photo" if len(photos) > 1 else "photo" if photos
                else "link" if link else "text")
        _store_post(call, post, signature, kind,
                    media_urls=tuple(p.url for p in photos if p.url) or tuple(filter(None, [link])),
                    media_ids=tuple(p.id for p in photos))
    call.info.external_id = post.id
    return {"id": post.id}


def _store_post(
    call: GraphCall, post: FbPost, signature: tuple[Any, ...], kind: str, *,
    media_urls: tuple[str, ...], media_ids: tuple[str, ...] = (), external_id: str | None = None,
) -> None:
    """Keep a new post and record it; the caller holds the state lock."""
    data = call.state.data
    data.nodes[post.id] = post
    data.fb_posts.setdefault(post.account_id, []).append(post.id)
    data.fb_last_post[post.account_id] = signature
    call.state.record_published(PublishedRecord(
        platform=FACEBOOK, account=post.account_id, kind=kind, caption=post.message,
        media_urls=media_urls, external_id=external_id or post.id, permalink=post.permalink,
        published_at=utc(post.created_at), dropped=call.info.dropping,
        scheduled_for=utc(post.scheduled_for) if post.scheduled_for else None,
        media_ids=media_ids,
    ))


@ROUTES.route("POST", "page", "photos", endpoint=_photos_endpoint)
async def create_photo(call: GraphCall) -> dict[str, Any]:
    _require_page_token(call)
    params, state, page = call.params, call.state, call.account
    url = as_text(params.get("url")) or None
    source = call.files.get("source")
    caption = as_text(params.get("caption") or params.get("message"))
    published = as_bool(params.get("published"), True)
    call.info.caption = caption
    if url is None and source is None:
        raise errors.GraphError(324, "(#324) Requires upload file")
    await check_photo(call, url, source)

    with state.lock:
        now = state.now()
        photo = FbPhoto(id=new_id(state, "1222000"), account_id=page.id, url=url,
                        caption=caption, created_at=now, published=published)
        result = {"id": photo.id}
        if published:
            digest = url or hashlib.sha256(source or b"").hexdigest()
            signature = ("photo", caption, digest)
            check_duplicate(call, signature)
            post = FbPost(id=f"{page.id}_{new_id(state, '1221000')}", account_id=page.id,
                          message=caption, created_at=now, photo_ids=(photo.id,))
            post.permalink = call.permalink(post.id)
            photo.post_id = post.id
            _store_post(call, post, signature, "photo", media_urls=tuple(filter(None, [url])),
                        media_ids=(photo.id,))
            result["post_id"] = post.id
            call.info.external_id = post.id
        state.data.nodes[photo.id] = photo
    return result


@ROUTES.route("POST", "page", "videos", endpoint="commit")
async def create_video(call: GraphCall) -> dict[str, Any]:
    _require_page_token(call)
    params, state, page = call.params, call.state, call.account
    file_url = as_text(params.get("file_url")) or None
    description = as_text(params.get("description"))
    title = as_text(params.get("title"))
    call.info.caption = description
    if file_url is None and "source" not in call.files:
        raise errors.invalid_param("The parameter file_url or source is required.")
    failed = call.info.processing_error
    if file_url and state.config.fetch_media and not failed:
        # Facebook downloads the file after answering; a bad URL shows up in the status.
        failed = not await call.fetcher.reachable(state, file_url)

    with state.lock:
        now = state.now()
        signature = ("video", description, title, file_url)
        check_duplicate(call, signature)
        video = FbVideo(
            id=new_id(state, "1223000"), account_id=page.id, file_url=file_url,
            description=description, title=title, created_at=now,
            post_id=f"{page.id}_{new_id(state, '1221000')}",
            ready_polls=state.config.fb_video_polls, failed=failed,
        )
        post = FbPost(id=video.post_id, account_id=page.id, message=description,
                      created_at=now, permalink=call.permalink(video.id))
        state.data.nodes[video.id] = video
        _store_post(call, post, signature, "video", media_urls=tuple(filter(None, [file_url])),
                    media_ids=(video.id,), external_id=video.id)
    call.info.external_id = video.id
    return {"id": video.id}


# --- reading back ------------------------------------------------------------------------


def _post_fields(post: FbPost) -> dict[str, Any]:
    shown_at = post.scheduled_for if post.scheduled_for is not None else post.created_at
    return {
        "id": post.id,
        "message": post.message or None,
        "created_time": graph_time(shown_at),
        "permalink_url": post.permalink,
        "is_published": post.published,
        "scheduled_publish_time": int(post.scheduled_for) if post.scheduled_for else None,
        "link": post.link,
    }


def _page_posts(call: GraphCall, *, scheduled: bool) -> dict[str, Any]:
    state = call.state
    now = state.now()
    with state.lock:
        ids = state.data.fb_posts.get(call.account.id, [])
        posts = [p for i in ids if isinstance(p := state.data.nodes.get(i), FbPost)]
    if scheduled:
        chosen = [p for p in posts if not p.visible_at(now) and p.scheduled_for is not None]
    else:
        chosen = [p for p in posts if p.visible_at(now)]
    chosen.sort(key=lambda p: (p.scheduled_for or p.created_at, p.id), reverse=True)
    return call.page([call.select("Post", _post_fields(p)) for p in chosen])


@ROUTES.route("GET", "page", "published_posts")
async def published_posts(call: GraphCall) -> dict[str, Any]:
    return _page_posts(call, scheduled=False)


@ROUTES.route("GET", "page", "posts")
async def posts(call: GraphCall) -> dict[str, Any]:
    return _page_posts(call, scheduled=False)


@ROUTES.route("GET", "page", "feed")
async def feed(call: GraphCall) -> dict[str, Any]:
    return _page_posts(call, scheduled=False)


@ROUTES.route("GET", "page", "scheduled_posts")
async def scheduled_posts(call: GraphCall) -> dict[str, Any]:
    return _page_posts(call, scheduled=True)


@ROUTES.route("GET", "fb_post")
async def get_post(call: GraphCall) -> dict[str, Any]:
    assert isinstance(call.node, FbPost)
    return call.select("Post", _post_fields(call.node))


@ROUTES.route("GET", "fb_photo")
async def get_photo(call: GraphCall) -> dict[str, Any]:
    photo = call.node
    assert isinstance(photo, FbPhoto)
    return call.select("Photo", {
        "id": photo.id, "name": photo.caption or None, "created_time": graph_time(photo.created_at),
        "link": photo.url, "page_story_id": photo.post_id, "published": photo.published,
    })


@ROUTES.route("GET", "fb_video", endpoint="status")
async def get_video(call: GraphCall) -> dict[str, Any]:
    video = call.node
    assert isinstance(video, FbVideo)
    with call.state.lock:
        # Reels and video stories go through upload sessions with phases of their own.
        status = _video_status(video) if video.kind == "video" else reel_status(video)
        video.polls += 1
        if video.finished_at is not None:
            video.polls_since_finish += 1
    return call.select("Video", {
        "id": video.id, "status": status, "title": video.title or None,
        "description": video.description or None, "created_time": graph_time(video.created_at),
        "permalink_url": call.permalink(video.id), "post_id": video.post_id,
    })


def _video_status(video: FbVideo) -> dict[str, Any]:
    done = {"status": "complete"}
    if video.polls < video.ready_polls:
        return {"video_status": "processing", "uploading_phase": done,
                "processing_phase": {"status": "in_progress"},
                "publishing_phase": {"status": "not_started"}}
    if video.failed:
        return {"video_status": "error", "uploading_phase": done,
                "processing_phase": {"status": "error", "errors": [
                    {"code": 1363008, "message": "Video processing failed"}]},
                "publishing_phase": {"status": "not_started"}}
    return {"video_status": "ready", "uploading_phase": done, "processing_phase": done,
            "publishing_phase": {"status": "complete", "publish_status": "published"}}


# Reels and stories (fake/reels.py).
ROUTES.include(REELS)

# First comments: the comments edge of what the Page published (a reel is a video; the
# Pages API gives stories no comments edge).
add_comment_routes(ROUTES, ("fb_post", "fb_photo", "fb_video"), instagram=False)
