"""What the fake Instagram checks in a container request (caption, children, images), and
where a container is in its status walk."""

from __future__ import annotations

import json
import re
from typing import Any

from herald.platforms.fake.calls import as_text
from herald.platforms.fake.media_check import MediaProblem
from herald.platforms.fake.models import DAY
from herald.platforms.graph import fake_errors as errors
from herald.platforms.graph.fake import GraphCall
from herald.platforms.instagram.fake.models import Container

CAPTION_MAX = 2200
HASHTAGS_MAX = 30
MENTIONS_MAX = 20
CAROUSEL_MIN, CAROUSEL_MAX = 2, 10
#: Feed images must lie between 4:5 and 1.91:1; a little slack for rounding in pixel sizes.
ASPECT_MIN, ASPECT_MAX = 0.8 - 0.005, 1.91 + 0.005
FEED_FORMATS = frozenset({"JPEG", "PNG"})


def container_status(container: Container, now: float) -> str:
    """Where a container is in IN_PROGRESS → FINISHED/ERROR, EXPIRED, PUBLISHED."""
    if container.media_id is not None:
        return "PUBLISHED"
    if now - container.created_at >= DAY:
        return "EXPIRED"
    if container.ready_seconds is not None:
        ready = now - container.created_at >= container.ready_seconds
    else:
        ready = container.polls >= container.ready_polls
    if not ready:
        return "IN_PROGRESS"
    return "ERROR" if container.error_subcode is not None else "FINISHED"


_HASHTAG = re.compile(r"(?<![\w&])#\w+")
_MENTION = re.compile(r"(?<![\w])@[\w.]+")


def check_media_params(
    media_type: str, image_url: str | None, video_url: str | None, is_item: bool,
    params: dict[str, Any],
) -> None:
    if media_type not in ("IMAGE", "VIDEO", "REELS", "STORIES", "CAROUSEL"):
        raise errors.instagram(100, 2207023, media_type=media_type)
    if media_type == "IMAGE" and not image_url:
        raise errors.invalid_param("The parameter image_url is required.")
    if media_type == "REELS" and not video_url:
        raise errors.invalid_param("The parameter video_url is required.")
    if media_type == "VIDEO":
        # Single feed videos are published as reels since 2023; VIDEO remains for children.
        if not is_item:
            raise errors.instagram(100, 2207023, media_type="VIDEO")
        if not video_url:
            raise errors.invalid_param("The parameter video_url is required.")
    if media_type == "STORIES" and not (image_url or video_url):
        raise errors.invalid_param("The parameter image_url or video_url is required.")
    if media_type == "CAROUSEL" and is_item:
        raise errors.instagram(100, 2207028, detail="A carousel cannot be a carousel item.")
    if image_url and video_url:
        raise errors.invalid_param("Only one of image_url and video_url may be given.")
    if params.get("alt_text") and not image_url:
        raise errors.invalid_param("alt_text is only supported for image media.")


COLLABORATORS_MAX = 5
GRADUATION_STRATEGIES = frozenset({"MANUAL", "SS_PERFORMANCE"})


def _json_list(params: dict[str, Any], name: str) -> list[Any] | None:
    """A list parameter, sent as a JSON array in a JSON body or as JSON text in a form."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise errors.invalid_param(f"{name} must be a JSON array.") from None
    if value is not None and not isinstance(value, list):
        raise errors.invalid_param(f"{name} must be a JSON array.")
    return value


def check_options(media_type: str, is_item: bool, params: dict[str, Any]) -> None:
    """collaborators, user_tags, location_id and trial_params as IG User Media documents
    them ✅[IG-MEDIA]; the error texts are the fake's own ❓ (Meta's are not documented)."""
    collaborators = _json_list(params, "collaborators")
    if collaborators is not None:
        if media_type == "STORIES" or is_item:
            raise errors.invalid_param("Collaborators are supported on feed images, reels "
                                       "and carousels only.")
        if len(collaborators) > COLLABORATORS_MAX:
            raise errors.invalid_param(f"At most {COLLABORATORS_MAX} collaborators may be "
                                       "added.")
    tags = _json_list(params, "user_tags")
    for tag in tags or ():
        if not isinstance(tag, dict) or not isinstance(tag.get("username"), str):
            raise errors.invalid_param("Each user_tags entry needs a username.")
        if media_type in ("IMAGE", "CAROUSEL") or (is_item and media_type != "VIDEO"):
            for axis in ("x", "y"):
                value = tag.get(axis)
                if not isinstance(value, int | float) or not 0 <= value <= 1:
                    raise errors.invalid_param(f"user_tags {axis} must be between 0 and 1.")
    if tags and media_type == "CAROUSEL":
        raise errors.invalid_param("Tag people on the carousel's items, not on the carousel.")
    if params.get("location_id") is not None and (media_type == "STORIES" or is_item):
        raise errors.invalid_param("location_id is not supported on this media.")
    trial = params.get("trial_params")
    if isinstance(trial, str):
        try:
            trial = json.loads(trial)
        except ValueError:
            raise errors.invalid_param("trial_params must be a JSON object.") from None
    if trial is not None:
        if media_type != "REELS":
            raise errors.invalid_param("trial_params is only supported for reels.")
        if not isinstance(trial, dict) or \
                trial.get("graduation_strategy") not in GRADUATION_STRATEGIES:
            raise errors.invalid_param("trial_params graduation_strategy must be MANUAL or "
                                       "SS_PERFORMANCE.")


def check_caption(caption: str, params: dict[str, Any]) -> None:
    if len(caption) > CAPTION_MAX:
        raise errors.instagram(36004, 2207010)
    if len(_HASHTAG.findall(caption)) > HASHTAGS_MAX:
        # No documented subcode for too many hashtags ❓: a plain invalid-parameter error.
        raise errors.invalid_param(f"The caption has more than {HASHTAGS_MAX} hashtags.")
    if len(_MENTION.findall(caption)) > MENTIONS_MAX:
        raise errors.instagram(100, 2207040)
    tags = params.get("user_tags")
    if isinstance(tags, str) and tags:
        try:
            tags = json.loads(tags)
        except ValueError:
            raise errors.invalid_param("user_tags must be a JSON array.") from None
    if isinstance(tags, list) and len(tags) > MENTIONS_MAX:
        raise errors.instagram(100, 2207040)


def check_children(call: GraphCall, raw: Any) -> tuple[str, ...]:
    if isinstance(raw, list):
        children = [str(c).strip() for c in raw]
    else:
        text = as_text(raw).strip()
        if text.startswith("["):
            try:
                children = [str(c) for c in json.loads(text)]
            except ValueError:
                raise errors.invalid_param("children must be a list of ids.") from None
        else:
            children = [c.strip() for c in text.split(",")]
    children = [c for c in children if c]
    if not CAROUSEL_MIN <= len(children) <= CAROUSEL_MAX:
        raise errors.instagram(
            100, 2207028,
            detail=f"A carousel needs {CAROUSEL_MIN} to {CAROUSEL_MAX} items, "
                   f"got {len(children)}.",
        )
    state, now = call.state, call.state.now()
    with state.lock:
        for child_id in children:
            child = state.data.nodes.get(child_id)
            if not isinstance(child, Container) or child.account_id != call.account.id:
                raise errors.instagram(24, 2207006, id=child_id)
            if not child.is_carousel_item:
                raise errors.instagram(
                    100, 2207028, detail=f"Media {child_id} was not created as a carousel item."
                )
            # Unconfirmed ❓: children still processing are refused like an early publish.
            if container_status(child, now) != "FINISHED":
                raise errors.instagram(9007, 2207027)
    return tuple(children)


async def check_image(call: GraphCall, url: str, *, feed: bool) -> None:
    try:
        info = await call.fetcher.image(call.state, url)
    except MediaProblem as problem:
        if problem.kind == "too_large":
            raise errors.instagram(36000, 2207004) from None
        if problem.kind == "format":
            raise errors.instagram(36001, 2207005) from None
        raise errors.instagram(9004, 2207052, url=url) from None
    if info.format not in FEED_FORMATS:
        raise errors.instagram(36001, 2207005)
    if feed and not ASPECT_MIN <= info.aspect <= ASPECT_MAX:
        raise errors.instagram(36003, 2207009, ratio=f"{info.aspect:.3g}")
