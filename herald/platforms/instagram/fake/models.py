"""The fake Instagram's objects: media containers and published media."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class Container:
    """An Instagram media container; its status is derived from age and polls."""

    node_kind: ClassVar[str] = "ig_container"

    id: str
    account_id: str
    media_type: str  # IMAGE, VIDEO, REELS, STORIES, CAROUSEL
    created_at: float
    caption: str = ""
    image_url: str | None = None
    video_url: str | None = None
    is_carousel_item: bool = False
    children: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    #: Status reads answered IN_PROGRESS before FINISHED (unless ready_seconds is set).
    ready_polls: int = 0
    ready_seconds: float | None = None
    polls: int = 0
    error_subcode: int | None = None
    media_id: str | None = None


@dataclass
class IgMedia:
    """A published Instagram media object."""

    node_kind: ClassVar[str] = "ig_media"

    id: str
    account_id: str
    container_id: str
    media_type: str  # IMAGE, VIDEO, CAROUSEL_ALBUM
    product_type: str  # FEED, REELS, STORY
    caption: str
    timestamp: float
    shortcode: str
    permalink: str
    media_url: str | None
    username: str | None
