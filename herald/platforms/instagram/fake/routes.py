"""Instagram content publishing: containers, their status walk, media_publish and the quota."""

from __future__ import annotations

import bisect
import json
import string
import zlib
from typing import Any

from herald.platforms.fake.calls import as_bool, as_text
from herald.platforms.fake.models import DAY, PublishedRecord, utc
from herald.platforms.graph import fake_errors as errors
from herald.platforms.graph.fake import GraphCall, GraphRouter, graph_time, new_id
from herald.platforms.graph.fake_comments import add_comment_routes
from herald.platforms.instagram.fake.checks import (
    check_caption,
    check_children,
    check_image,
    check_media_params,
    check_options,
    container_status,
)
from herald.platforms.instagram.fake.models import Container, IgMedia

ROUTES = GraphRouter()

#: Processing failure reported when an injected processing_error has no subcode of its own.
DEFAULT_PROCESSING_SUBCODE = 2207026
#: Video fetch failures surface through the container status ◐ [POSTIZ].
VIDEO_FETCH_SUBCODE = 2207076

_STATUS_TEXT = {
    "IN_PROGRESS": "In Progress: Media is still being processed.",
    "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
    "EXPIRED": "Expired: Media was not published within 24 hours.",
    "PUBLISHED": "Published: Media has been successfully published.",
}
_SHORTCODE_ALPHABET = string.ascii_letters + string.digits + "_-"


def _published_since(times: list[float], since: float) -> int:
    """How many of the sorted publish times are later than `since`."""
    return len(times) - bisect.bisect_right(times, since)


def _status_text(container: Container, status: str) -> str:
    if status == "ERROR":
        return f"Error: Media upload has failed with error code {container.error_subcode}"
    return _STATUS_TEXT[status]


# --- the account -------------------------------------------------------------------------


@ROUTES.route("GET", "ig_user")
async def get_user(call: GraphCall) -> dict[str, Any]:
    account = call.account
    with call.state.lock:
        media_count = len(call.state.data.ig_media.get(account.id, []))
    return call.select("IGUser", {
        "id": account.id, "username": account.username, "name": account.name,
        "media_count": media_count, "followers_count": 0, "profile_picture_url": None,
    })


@ROUTES.route("GET", "ig_user", "content_publishing_limit")
async def publishing_limit(call: GraphCall) -> dict[str, Any]:
    account = call.account
    state = call.state
    now = state.now()
    since = now - DAY
    if call.params.get("since"):
        try:
            since = max(since, float(call.params["since"]))
        except ValueError:
            raise errors.invalid_param("since must be a Unix timestamp") from None
    with state.lock:
        usage = _published_since(state.data.ig_publishes.get(account.id, []), since)
    total = account.quota_total or state.config.ig_quota_total
    available = {
        "quota_usage": usage,
        "config": {"quota_total": total, "quota_duration": int(DAY)},
    }
    row = call.select("ContentPublishingLimit", available, default=("quota_usage",))
    return {"data": [row]}


@ROUTES.route("GET", "ig_user", "media")
async def list_media(call: GraphCall) -> dict[str, Any]:
    return _list(call, stories=False)


@ROUTES.route("GET", "ig_user", "stories")
async def list_stories(call: GraphCall) -> dict[str, Any]:
    return _list(call, stories=True)


def _list(call: GraphCall, *, stories: bool) -> dict[str, Any]:
    state = call.state
    now = state.now()
    with state.lock:
        ids = list(state.data.ig_media.get(call.account.id, []))
        media = [m for i in reversed(ids) if isinstance(m := state.data.nodes.get(i), IgMedia)]
    if stories:
        # Stories disappear from /stories after 24 hours.
        media = [m for m in media if m.product_type == "STORY" and now - m.timestamp < DAY]
    else:
        media = [m for m in media if m.product_type != "STORY"]
    return call.page([call.select("IGMedia", _media_fields(m)) for m in media])


# --- containers --------------------------------------------------------------------------


@ROUTES.route("POST", "ig_user", "media", endpoint="container")
async def create_container(call: GraphCall) -> dict[str, Any]:
    params = call.params
    media_type = as_text(params.get("media_type")).upper() or "IMAGE"
    image_url = as_text(params.get("image_url")) or None
    video_url = as_text(params.get("video_url")) or None
    is_item = as_bool(params.get("is_carousel_item"), False)
    caption = as_text(params.get("caption"))
    call.info.caption = caption

    check_media_params(media_type, image_url, video_url, is_item, params)
    check_options(media_type, is_item, params)
    if not is_item:
        # Captions on carousel children are ignored by Instagram ◐, so only check the rest.
        check_caption(caption, params)
    children: tuple[str, ...] = ()
    if media_type == "CAROUSEL":
        children = check_children(call, params.get("children"))

    error_subcode = await _processing_error(call, media_type, image_url, video_url)
    state, config = call.state, call.state.config
    is_video = video_url is not None
    container = Container(
        id=new_id(state, "1788945"),
        account_id=call.account.id,
        media_type=media_type,
        created_at=state.now(),
        caption="" if is_item else caption,
        image_url=image_url,
        video_url=video_url,
        is_carousel_item=is_item,
        children=children,
        options={k: v for k, v in params.items() if k not in ("caption", "children")},
        ready_polls=(config.ig_video_polls if is_video
                     else 0 if media_type == "CAROUSEL" else config.ig_image_polls),
        ready_seconds=config.ig_video_seconds if is_video else None,
        error_subcode=error_subcode,
    )
    with state.lock:
        state.data.nodes[container.id] = container
    call.info.external_id = container.id
    return {"id": container.id}


async def _processing_error(call: GraphCall, media_type: str, image_url: str | None,
                            video_url: str | None) -> int | None:
    """The subcode the container's processing will end in, if any (images are checked now)."""
    video_failed = False
    if call.state.config.fetch_media:
        if image_url:
            await check_image(call, image_url, feed=media_type != "STORIES")
        if video_url:
            video_failed = not await call.fetcher.reachable(call.state, video_url)
    if call.info.processing_error:
        assert call.info.fault is not None
        return call.info.fault.subcode or DEFAULT_PROCESSING_SUBCODE
    return VIDEO_FETCH_SUBCODE if video_failed else None


@ROUTES.route("GET", "ig_container", endpoint="status")
async def get_container(call: GraphCall) -> dict[str, Any]:
    node = call.node
    assert isinstance(node, Container)
    state = call.state
    with state.lock:
        status = container_status(node, state.now())
        node.polls += 1
    return call.select("ShadowIGMediaBuilder", {
        "id": node.id, "status_code": status, "status": _status_text(node, status),
    })


# --- publishing --------------------------------------------------------------------------


@ROUTES.route("POST", "ig_user", "media_publish", endpoint="commit")
async def publish(call: GraphCall) -> dict[str, Any]:
    creation_id = as_text(call.params.get("creation_id"))
    if not creation_id:
        raise errors.invalid_param("The parameter creation_id is required.")
    state, account = call.state, call.account
    with state.lock:
        now = state.now()
        container = state.data.nodes.get(creation_id)
        if not isinstance(container, Container):
            raise errors.instagram(24, 2207008, id=creation_id)
        if container.account_id != account.id:
            raise errors.instagram(24, 2207006, id=creation_id)
        call.info.caption = container.caption
        if container.is_carousel_item:
            raise errors.instagram(
                100, 2207028, detail="Publish the CAROUSEL container, not its items."
            )
        status = container_status(container, now)
        if status == "EXPIRED":
            raise errors.instagram(24, 2207008, id=creation_id)
        if status != "FINISHED":
            # A second publish of a PUBLISHED container gets the same answer as a early one
            # (unconfirmed ❓); the status read is how clients learn it already went out.
            raise errors.instagram(9007, 2207027)
        publishes = state.data.ig_publishes.setdefault(account.id, [])
        del publishes[:bisect.bisect_right(publishes, now - DAY)]  # out of the window
        if len(publishes) >= (account.quota_total or state.config.ig_quota_total):
            raise errors.instagram(9, 2207042)
        media = _make_media(call, container, now)
        container.media_id = media.id
        state.data.nodes[media.id] = media
        bisect.insort(publishes, now)
        state.data.ig_media.setdefault(account.id, []).append(media.id)
        state.record_published(PublishedRecord(
            platform=account.platform, account=account.id, kind=_record_kind(container),
            caption=container.caption, media_urls=_media_urls(call, container),
            external_id=media.id, permalink=media.permalink, published_at=utc(now),
            dropped=call.info.dropping, media_ids=(container.id, *container.children),
        ))
    call.info.external_id = media.id
    return {"id": media.id}


def _make_media(call: GraphCall, container: Container, now: float) -> IgMedia:
    media_id = new_id(call.state, "1795123")
    product = {"REELS": "REELS", "STORIES": "STORY"}.get(container.media_type, "FEED")
    if container.media_type == "CAROUSEL":
        media_type = "CAROUSEL_ALBUM"
    else:
        media_type = "VIDEO" if container.video_url else "IMAGE"
    return IgMedia(
        id=media_id, account_id=container.account_id, container_id=container.id,
        media_type=media_type, product_type=product, caption=container.caption,
        timestamp=now, shortcode=_shortcode(int(media_id)),
        permalink=call.permalink(media_id),
        media_url=container.image_url or container.video_url,
        username=call.account.username,
    )


def _record_kind(container: Container) -> str:
    return {"REELS": "reel", "STORIES": "story", "CAROUSEL": "carousel"}.get(
        container.media_type, "image"
    )


def _media_urls(call: GraphCall, container: Container) -> tuple[str, ...]:
    if container.media_type != "CAROUSEL":
        return tuple(u for u in (container.image_url, container.video_url) if u)
    urls: list[str] = []
    for child_id in container.children:
        child = call.state.data.nodes.get(child_id)
        if isinstance(child, Container):
            urls.extend(u for u in (child.image_url, child.video_url) if u)
    return tuple(urls)


def _shortcode(number: int) -> str:
    out = ""
    while number:
        number, digit = divmod(number, len(_SHORTCODE_ALPHABET))
        out = _SHORTCODE_ALPHABET[digit] + out
    return "C" + out


# --- published media ---------------------------------------------------------------------


def _media_fields(media: IgMedia) -> dict[str, Any]:
    return {
        "id": media.id,
        "caption": media.caption,
        "media_type": media.media_type,
        "media_product_type": media.product_type,
        "media_url": media.media_url,
        "permalink": media.permalink,
        "shortcode": media.shortcode,
        "timestamp": graph_time(media.timestamp),
        "username": media.username,
    }


@ROUTES.route("GET", "ig_media")
async def get_media(call: GraphCall) -> dict[str, Any]:
    node = call.node
    assert isinstance(node, IgMedia)
    return call.select("IGMedia", _media_fields(node))


@ROUTES.route("GET", "ig_media", "collaborators")
async def get_collaborators(call: GraphCall) -> dict[str, Any]:
    """✅[IG-COLLAB] Who was invited to collaborate; the fake's invitations stay Pending."""
    node = call.node
    assert isinstance(node, IgMedia)
    with call.state.lock:
        container = call.state.data.nodes.get(node.container_id)
    names = container.options.get("collaborators") if isinstance(container, Container) else None
    if isinstance(names, str):
        names = json.loads(names)
    return {"data": [{"id": f"1784{zlib.crc32(n.encode()):011d}", "username": n,
                      "invite_status": "Pending"} for n in names or ()]}


# First comments: the comments edge of what media_publish made.
add_comment_routes(ROUTES, ("ig_media",), instagram=True)
