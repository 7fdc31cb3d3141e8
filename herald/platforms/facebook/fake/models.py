"""The fake Facebook's objects: Login users, Page posts, photos, videos, reels and stories."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass
class FbUser:
    """A Facebook user who can log in through the fake dialog, and the Pages they manage."""

    id: str
    name: str
    page_ids: list[str] = field(default_factory=list)


@dataclass
class FbPost:
    """A Page post: text, link, photo(s) or video."""

    node_kind: ClassVar[str] = "fb_post"

    id: str  # "{page-id}_{post-id}"
    account_id: str
    message: str
    created_at: float
    link: str | None = None
    photo_ids: tuple[str, ...] = ()
    published: bool = True
    scheduled_for: float | None = None
    permalink: str | None = None

    def visible_at(self, now: float) -> bool:
        if self.published:
            return True
        return self.scheduled_for is not None and self.scheduled_for <= now


@dataclass
class FbPhoto:
    """A Page photo; unpublished ones wait to be attached to a feed post."""

    node_kind: ClassVar[str] = "fb_photo"

    id: str
    account_id: str
    url: str | None
    caption: str
    created_at: float
    published: bool
    post_id: str | None = None


@dataclass
class FbVideo:
    """A Page video, processed over a few status reads; also a reel or a video story,
    which go through upload sessions (start, upload to rupload, finish)."""

    node_kind: ClassVar[str] = "fb_video"

    id: str
    account_id: str
    file_url: str | None
    description: str
    title: str
    created_at: float
    post_id: str
    ready_polls: int = 0
    polls: int = 0
    failed: bool = False
    #: "video" (/videos), "reel" (/video_reels) or "story" (/video_stories).
    kind: str = "video"
    #: Upload sessions: bytes arrived at rupload; `finish` was called (when, fake clock).
    uploaded: bool = True
    finished_at: float | None = None
    #: Status reads since `finish`: publishing completes after `ready_polls` of them.
    polls_since_finish: int = 0


@dataclass
class FbStory:
    """A Page story: a photo (/photo_stories) or a video (/video_stories), 24 hours long."""

    node_kind: ClassVar[str] = "fb_story"

    id: str  # the story's post id
    account_id: str
    media_id: str
    media_type: str  # "photo" | "video"
    created_at: float
    url: str | None = None
