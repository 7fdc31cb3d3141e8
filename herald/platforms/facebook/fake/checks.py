"""What the fake Facebook checks in a Page post request: attached photos, schedule, duplicates."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from herald.platforms.facebook.fake.models import FbPhoto
from herald.platforms.fake.media_check import MediaProblem, inspect_image
from herald.platforms.fake.models import DAY
from herald.platforms.graph import fake_errors as errors
from herald.platforms.graph.fake import GraphCall

#: Native scheduling window: 10 minutes to 75 days ahead ◐ (Graph Page-feed reference).
SCHEDULE_MIN, SCHEDULE_MAX = 600.0, 75 * DAY
PHOTO_MAX_BYTES = 4 * 1024 * 1024  # "Photos should be less than 4 MB" ◐
PHOTO_FORMATS = frozenset({"JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP", "MPO"})


def attached_media(params: dict[str, Any]) -> list[str]:
    """media_fbid values from JSON (a list) or a form (a JSON string or attached_media[N])."""
    raw: Any = params.get("attached_media")
    items: list[Any]
    if raw is None:
        keyed = sorted((k for k in params if k.startswith("attached_media[")),
                       key=lambda k: int(k[15:-1]) if k[15:-1].isdigit() else 0)
        items = [params[k] for k in keyed]
    elif isinstance(raw, str):
        try:
            items = json.loads(raw) if raw.strip() else []
        except ValueError:
            raise errors.invalid_param("attached_media must be a JSON array") from None
    else:
        items = raw if isinstance(raw, list) else [raw]
    fbids: list[str] = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            try:
                item = json.loads(item)
            except ValueError:
                item = {"media_fbid": item}
        if not isinstance(item, dict) or not item.get("media_fbid"):
            raise errors.invalid_param(f"param attached_media[{index}] must be an object "
                                       "with a media_fbid")
        fbids.append(str(item["media_fbid"]))
    return fbids


def attachable_photo(call: GraphCall, index: int, fbid: str) -> FbPhoto:
    photo = call.state.data.nodes.get(fbid)
    if (not isinstance(photo, FbPhoto) or photo.account_id != call.account.id
            or photo.published or photo.post_id is not None):
        raise errors.invalid_param(
            f"param attached_media[{index}] has media_fbid {fbid}, which is not an "
            "unpublished photo of this Page"
        )
    return photo


def scheduled_time(call: GraphCall, raw: Any, published: bool) -> float | None:
    if raw in (None, ""):
        return None
    if published:
        raise errors.invalid_param(
            "You cannot specify a scheduled publish time on a published post"
        )
    try:
        when = float(raw)
    except (TypeError, ValueError):
        try:
            when = datetime.fromisoformat(str(raw).replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise errors.invalid_param("The specified scheduled publish time is invalid.") from None
    if not SCHEDULE_MIN <= when - call.state.now() <= SCHEDULE_MAX:
        raise errors.invalid_param("The specified scheduled publish time is invalid.")
    return when


def check_duplicate(call: GraphCall, signature: tuple[Any, ...]) -> None:
    # Only identical *consecutive* posts are refused, as on Facebook: a partial guard.
    if call.state.data.fb_last_post.get(call.account.id) == signature:
        raise errors.GraphError(506, "(#506) Duplicate status message", subcode=1455006)


async def check_photo(call: GraphCall, url: str | None, source: bytes | None) -> None:
    if source is not None:
        info = inspect_image(source)
    elif url is not None and call.state.config.fetch_media:
        try:
            info = await call.fetcher.image(call.state, url)
        except MediaProblem as problem:
            if problem.kind == "unreachable":
                raise errors.GraphError(324, "(#324) Missing or invalid image file") from None
            info = None
    else:
        return
    if info is None or info.format not in PHOTO_FORMATS or info.size > PHOTO_MAX_BYTES:
        raise errors.invalid_param(
            "Photos should be smaller than 4 MB and saved as JPG, PNG, GIF, TIFF or WEBP files.",
            subcode=1366046,
        )
