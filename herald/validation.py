"""What each platform accepts, checked when a post is scheduled, not when it is published.

Pure rules: the caller probes the media (herald.media) and hands the results in, so
validation does no I/O and every rule is testable in microseconds. Each problem is a
sentence a person can act on. Limits come from the team's publishing-API reference
(shared/platforms/API.md); where a source is soft (◐) or ambiguous (MB vs MiB) we take the
stricter reading, so a post we accept is not refused at 9 a.m.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from herald.platforms.base import MediaItem

MiB = 1024 * 1024
MB = 1000 * 1000

INSTAGRAM_CAPTION_MAX = 2_200
INSTAGRAM_HASHTAGS_MAX = 30
INSTAGRAM_MENTIONS_MAX = 20
INSTAGRAM_CAROUSEL_MAX = 10
INSTAGRAM_IMAGE_MAX_BYTES = 8 * MiB  # the 2207004 error text says "8 MiB"
INSTAGRAM_ASPECT_MIN = 4 / 5
INSTAGRAM_ASPECT_MAX = 1.91
INSTAGRAM_VIDEO_MAX_WIDTH = 1920
INSTAGRAM_REEL_MAX_BYTES = 300 * MB  # older docs said 1 GB; the current 300 MB, read as 10^6
INSTAGRAM_STORY_VIDEO_MAX_BYTES = 100 * MB

FACEBOOK_CAPTION_MAX = 63_206
FACEBOOK_PHOTOS_MAX = 10
# Subcode 1366046 says "photo > 4 MB"; read as 4,000,000 bytes, the stricter of MB and MiB.
FACEBOOK_PHOTO_MAX_BYTES = 4 * MB

LINKEDIN_COMMENTARY_MAX = 3_000
LINKEDIN_IMAGES_MAX = 20
LINKEDIN_VIDEO_MIN_BYTES = 75 * 1000
LINKEDIN_VIDEO_MAX_BYTES = 500 * MB
LINKEDIN_DOCUMENT_MAX_BYTES = 100 * MB

#: Post types each platform can publish here. One composed post goes to several accounts
#: with one post type, so a carousel is also accepted where it maps to a multi-image post.
SUPPORTED_POST_TYPES: Mapping[str, frozenset[str]] = {
    "instagram": frozenset({"feed", "carousel", "reel", "video", "story", "feed_story"}),
    "facebook": frozenset({"feed", "text", "carousel", "video", "article"}),
    "linkedin": frozenset({"feed", "text", "carousel", "video", "article"}),
}

# A hashtag needs a letter: Instagram does not link "#1". "&#39;" is an HTML entity.
_HASHTAG = re.compile(r"(?<![\w&#])#\w*[^\W\d]\w*")
# Instagram user names: letters, digits, "_" and inner "."; "a@b.com" is not a mention.
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_.]*[A-Za-z0-9_]")

_FORMAT_NAMES = {
    "image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WebP",
    "image/bmp": "BMP", "image/tiff": "TIFF", "image/avif": "AVIF", "video/mp4": "MP4",
    "video/quicktime": "MOV", "video/3gpp": "3GP", "application/pdf": "PDF",
}


class MediaFacts(Protocol):
    """What is known of one media file's content (herald.media.MediaInfo or StoredMedia)."""

    @property
    def type(self) -> str: ...
    @property
    def mime(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def width(self) -> int | None: ...
    @property
    def height(self) -> int | None: ...
    @property
    def duration(self) -> float | None: ...
    @property
    def faststart(self) -> bool | None: ...


class ValidationError(ValueError):
    """The post cannot be published as it stands."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(" ".join(self.problems))


@dataclass(frozen=True)
class _Media:
    index: int  # 1-based, as people count
    item: MediaItem
    facts: MediaFacts | None

    @property
    def type(self) -> str:
        return self.facts.type if self.facts else self.item.type

    @property
    def label(self) -> str:
        name = urlsplit(self.item.url).path.rsplit("/", 1)[-1]
        return f"item {self.index} ({name})" if name else f"item {self.index}"

    @property
    def format(self) -> str:
        mime = self.facts.mime if self.facts else ""
        return _FORMAT_NAMES.get(mime, mime or "unknown")


@dataclass(frozen=True)
class _Post:
    post_type: str
    caption: str
    media: tuple[_Media, ...]
    options: Mapping[str, Any]

    def of_type(self, kind: str) -> list[_Media]:
        return [m for m in self.media if m.type == kind]

    @property
    def link(self) -> str:
        return str(self.options.get("link") or "").strip()


def validate_post(
    platform: str,
    post_type: str,
    caption: str | None,
    media: Sequence[MediaItem | Mapping[str, Any]],
    options: Mapping[str, Any] | None = None,
    *,
    probes: Sequence[MediaFacts | None] | None = None,
) -> list[str]:
    """Every reason ``platform`` would refuse this post; an empty list means it is fine.

    ``probes[i]`` describes ``media[i]``'s content; None (or no probes) skips the checks
    that need the content, such as size and aspect ratio.
    """
    items = [m if isinstance(m, MediaItem) else MediaItem.from_dict(dict(m)) for m in media]
    facts = list(probes) if probes is not None else [None] * len(items)
    if len(facts) != len(items):
        raise ValueError(f"{len(items)} media items but {len(facts)} probes")
    check = _PLATFORMS.get(platform)
    if check is None:
        return [f"Herald cannot publish to {platform!r}; choose instagram, facebook or linkedin."]
    pairs = enumerate(zip(items, facts, strict=True), start=1)
    post = _Post(
        post_type=post_type,
        caption=caption or "",
        media=tuple(_Media(i, item, f) for i, (item, f) in pairs),
        options=options or {},
    )
    return _declared_types(post) + check(post)


def check_post(
    platform: str,
    post_type: str,
    caption: str | None,
    media: Sequence[MediaItem | Mapping[str, Any]],
    options: Mapping[str, Any] | None = None,
    *,
    probes: Sequence[MediaFacts | None] | None = None,
) -> None:
    """Like validate_post, but raise ValidationError when there is any problem."""
    problems = validate_post(platform, post_type, caption, media, options, probes=probes)
    if problems:
        raise ValidationError(problems)


# --- shared pieces ---------------------------------------------------------------------


def _declared_types(post: _Post) -> list[str]:
    # The publishers pick image_url vs video_url from the declared type, so a mismatch
    # would only surface at publishing time.
    return [
        f"Media {m.label} is marked as {_a(m.item.type)} but its content is {_a(m.facts.type)}."
        for m in post.media
        if m.facts is not None and m.item.type != m.facts.type
    ]


def _caption_length(platform: str, caption: str, limit: int, noun: str = "captions") -> list[str]:
    # Characters as Python counts them (code points); an emoji counts once.
    if len(caption) <= limit:
        return []
    return [f"{platform} {noun} are limited to {limit:,} characters; "
            f"this one has {len(caption):,}."]


def _count(what: str, low: int, high: int, noun: str, found: int) -> list[str]:
    if low <= found <= high:
        return []
    if high == 1:
        wanted = f"exactly one {noun}" if low == 1 else f"at most one {noun}"
    elif low == 0:
        wanted = f"at most {high} {_plural(noun)}"
    else:
        wanted = f"{low} to {high} {_plural(noun)}"
    return [f"{what} needs {wanted}; this one has {_number(found)}."]


def _plural(noun: str) -> str:
    return " or ".join(f"{word}s" for word in noun.split(" or "))


def _only(what: str, kinds: frozenset[str], post: _Post) -> list[str]:
    allowed = " or ".join(sorted(f"{k}s" for k in kinds))
    return [
        f"{what} can only contain {allowed}; {m.label} is {_a(m.type)}."
        for m in post.media
        if m.type not in kinds
    ]


def _link_problems(platform: str, post: _Post, *, required: bool) -> list[str]:
    if not post.link:
        return [f"{platform} article posts need a link (options.link)."] if required else []
    parts = urlsplit(post.link)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [f"The link {post.link!r} must be a full web address starting with https://."]
    return []


def _refuse_type(platform: str, post: _Post, hint: str) -> list[str]:
    return [f"{platform} cannot publish {post.post_type!r} posts here; {hint}"]


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _number(n: int) -> str:
    return "none" if n == 0 else str(n)


def _mib(size: int) -> str:
    return f"{size / MiB:.1f} MiB"


def _mb(size: int) -> str:
    return f"{size / MB:.1f} MB"


def _ratio(m: _Media) -> float | None:
    if m.facts is None or not m.facts.width or not m.facts.height:
        return None
    return m.facts.width / m.facts.height


def _dimensions(m: _Media) -> str:
    assert m.facts is not None
    return f"{m.facts.width}x{m.facts.height}"


def _duration_problems(what: str, m: _Media, low: float, high: float) -> list[str]:
    seconds = m.facts.duration if m.facts else None
    if seconds is None or low <= seconds <= high:
        return []
    return [f"{what} must last {_seconds(low)} to {_seconds(high)}; {m.label} lasts "
            f"{_seconds(seconds)}."]


def _seconds(value: float) -> str:
    if value >= 120 and value % 60 == 0:
        return f"{value / 60:g} minutes"
    return f"{value:.1f} seconds" if value % 1 else f"{value:g} seconds"


# --- Instagram -------------------------------------------------------------------------

_VISUAL = frozenset({"image", "video"})
_VIDEO = frozenset({"video"})

# post type: (what people call it, fewest items, most items, allowed media types)
_INSTAGRAM_SHAPES: dict[str, tuple[str, int, int, frozenset[str]]] = {
    "feed": ("An Instagram feed post", 1, 1, _VISUAL),
    "carousel": ("An Instagram carousel", 2, INSTAGRAM_CAROUSEL_MAX, _VISUAL),
    "reel": ("An Instagram reel", 1, 1, _VIDEO),
    "video": ("An Instagram video post (published as a reel)", 1, 1, _VIDEO),
    "story": ("An Instagram story", 1, 1, _VISUAL),
    "feed_story": ("An Instagram feed-and-story post", 1, 1, _VISUAL),
}


def _instagram(post: _Post) -> list[str]:
    problems = _instagram_caption(post.caption)
    shape = _INSTAGRAM_SHAPES.get(post.post_type)
    if shape is None:
        return problems + _refuse_type("Instagram", post, _INSTAGRAM_HINTS.get(
            post.post_type, "use feed, carousel, reel, video, story or feed_story."))
    what, low, high, kinds = shape
    noun = "video" if kinds == _VIDEO else "image or video"
    problems += _count(what, low, high, noun, len(post.media))
    problems += _only(what, kinds, post)
    for m in post.media:
        if m.facts is None:
            continue
        if m.type == "image":
            problems += _instagram_image(m, story=post.post_type == "story")
        elif m.type == "video":
            # A feed_story video is also a story: the story limits (60 s, 100 MB) are stricter.
            problems += _instagram_video(m, story=post.post_type in ("story", "feed_story"))
    return problems


_INSTAGRAM_HINTS = {
    "text": "every Instagram post needs an image or video; add one and schedule a feed post.",
    "article": "Instagram has no link posts; add an image or video and put the link in the "
    "caption or your bio.",
}


def _instagram_caption(caption: str) -> list[str]:
    problems = _caption_length("Instagram", caption, INSTAGRAM_CAPTION_MAX)
    # Every occurrence counts: the documented limit does not say duplicates are free.
    hashtags = len(_HASHTAG.findall(caption))
    if hashtags > INSTAGRAM_HASHTAGS_MAX:
        problems.append(f"Instagram captions may have at most {INSTAGRAM_HASHTAGS_MAX} "
                        f"hashtags; this one has {hashtags}.")
    mentions = len(_MENTION.findall(caption))
    if mentions > INSTAGRAM_MENTIONS_MAX:
        problems.append(f"Instagram captions may mention at most {INSTAGRAM_MENTIONS_MAX} "
                        f"accounts (@name); this one has {mentions}.")
    return problems


def _instagram_image(m: _Media, *, story: bool) -> list[str]:
    assert m.facts is not None
    problems = []
    if m.facts.mime != "image/jpeg":
        problems.append(
            f"Instagram accepts only JPEG images; {m.label} is {m.format}. Upload the file to "
            "Herald (it converts stills to JPEG) or use a JPEG."
            if m.facts.mime != "image/gif" else
            f"Instagram does not accept GIF images; {m.label} is a GIF. Post it as a video "
            "(MP4) or a still JPEG."
        )
    if m.facts.size > INSTAGRAM_IMAGE_MAX_BYTES:
        problems.append(f"Instagram images are limited to 8 MiB; {m.label} is "
                        f"{_mib(m.facts.size)}.")
    ratio = _ratio(m)
    # A 1080x1350 (4:5) image is exactly 0.8; the tolerance forgives a pixel of rounding.
    if not story and ratio is not None and not (
        INSTAGRAM_ASPECT_MIN - 0.002 <= ratio <= INSTAGRAM_ASPECT_MAX + 0.002
    ):
        problems.append(
            f"Instagram feed images must have an aspect ratio between 4:5 (0.8) and 1.91:1; "
            f"{m.label} is {_dimensions(m)} ({ratio:.2f}:1). Crop it, or post it as a story."
        )
    return problems


def _instagram_video(m: _Media, *, story: bool) -> list[str]:
    assert m.facts is not None
    what = "Instagram story videos" if story else "Instagram videos"
    problems = []
    if m.facts.mime not in ("video/mp4", "video/quicktime"):
        problems.append(f"Instagram accepts MP4 and MOV videos; {m.label} is {m.format}.")
    limit = INSTAGRAM_STORY_VIDEO_MAX_BYTES if story else INSTAGRAM_REEL_MAX_BYTES
    if m.facts.size > limit:
        problems.append(f"{what} are limited to {_mb(limit)}; {m.label} is {_mb(m.facts.size)}.")
    problems += _duration_problems(what, m, 3, 60 if story else 15 * 60)
    if m.facts.width and m.facts.width > INSTAGRAM_VIDEO_MAX_WIDTH:
        problems.append(f"{what} may be at most {INSTAGRAM_VIDEO_MAX_WIDTH} pixels wide; "
                        f"{m.label} is {_dimensions(m)}. Export it at 1080p.")
    ratio = _ratio(m)
    low = 0.1 if story else 0.01
    if ratio is not None and not low <= ratio <= 10:
        problems.append(f"{what} must have an aspect ratio between {low:g}:1 and 10:1; "
                        f"{m.label} is {_dimensions(m)}.")
    if m.facts.faststart is False:
        problems.append(f"Instagram needs a video's index (moov atom) at the start of the "
                        f"file; re-export {m.label} with \"fast start\" "
                        "(ffmpeg -movflags +faststart).")
    return problems


# --- Facebook Pages --------------------------------------------------------------------

_FACEBOOK_HINTS = {
    "reel": "reels are not published through the Pages API here; post the video as 'video'.",
    "story": "stories are not published through the Pages API here.",
    "feed_story": "stories are not published through the Pages API here; use feed.",
}
_FACEBOOK_PHOTO_MIMES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/tiff", "image/webp", "image/bmp"}
)


def _facebook(post: _Post) -> list[str]:
    problems = _caption_length("Facebook", post.caption, FACEBOOK_CAPTION_MAX, "post messages")
    if post.post_type not in SUPPORTED_POST_TYPES["facebook"]:
        return problems + _refuse_type("Facebook", post, _FACEBOOK_HINTS.get(
            post.post_type, "use feed, text, carousel, video or article."))
    problems += _link_problems("Facebook", post, required=post.post_type == "article")
    problems += _FACEBOOK_SHAPES[post.post_type](post)
    return problems + [p for m in post.of_type("image") for p in _facebook_photo(m)]


def _facebook_feed(post: _Post) -> list[str]:
    what = "A Facebook post"
    images, videos = post.of_type("image"), post.of_type("video")
    problems = _only(what, _VISUAL, post)
    if images and videos:
        problems.append(f"{what} can have photos or one video, not both.")
    problems += _count(what, 0, FACEBOOK_PHOTOS_MAX, "photo", len(images))
    problems += _count(what, 0, 1, "video", len(videos))
    if post.link and post.media:
        problems.append(f"{what} shows either a link preview or media, not both; remove the "
                        "media or put the link in the message.")
    if not (post.caption.strip() or post.link or post.media):
        problems.append(f"{what} needs a message, a link, photos or a video.")
    return problems


def _facebook_text(post: _Post) -> list[str]:
    problems = []
    if post.media:
        problems.append("A Facebook text post has no media; schedule it as a feed post instead.")
    if not post.caption.strip() and not post.link:
        problems.append("A Facebook text post needs a message.")
    return problems


def _facebook_carousel(post: _Post) -> list[str]:
    what = "A Facebook carousel (a multi-photo post)"
    return (_count(what, 2, FACEBOOK_PHOTOS_MAX, "photo", len(post.media))
            + _only(what, frozenset({"image"}), post))


def _facebook_video(post: _Post) -> list[str]:
    what = "A Facebook video post"
    return _count(what, 1, 1, "video", len(post.media)) + _only(what, _VIDEO, post)


def _facebook_article(post: _Post) -> list[str]:
    if post.media:
        return ["A Facebook article post is a link with a message; remove the media (Facebook "
                "builds the preview from the link)."]
    return []


_FACEBOOK_SHAPES: dict[str, Callable[[_Post], list[str]]] = {
    "feed": _facebook_feed,
    "text": _facebook_text,
    "carousel": _facebook_carousel,
    "video": _facebook_video,
    "article": _facebook_article,
}


def _facebook_photo(m: _Media) -> list[str]:
    if m.facts is None:
        return []
    problems = []
    if m.facts.mime not in _FACEBOOK_PHOTO_MIMES:
        problems.append(f"Facebook accepts JPEG, PNG, GIF, TIFF, WebP and BMP photos; "
                        f"{m.label} is {m.format}.")
    if m.facts.size > FACEBOOK_PHOTO_MAX_BYTES:
        problems.append(f"Facebook photos are limited to 4 MB; {m.label} is "
                        f"{_mb(m.facts.size)}.")
    return problems


# --- LinkedIn --------------------------------------------------------------------------

_LINKEDIN_HINTS = {
    "reel": "post the video as 'video' or 'feed'.",
    "story": "LinkedIn has no stories.",
    "feed_story": "LinkedIn has no stories; use feed.",
}
_LINKEDIN_IMAGE_MIMES = frozenset({"image/jpeg", "image/png", "image/gif"})


def _linkedin(post: _Post) -> list[str]:
    problems = _caption_length("LinkedIn", post.caption, LINKEDIN_COMMENTARY_MAX, "posts")
    if post.post_type not in SUPPORTED_POST_TYPES["linkedin"]:
        return problems + _refuse_type("LinkedIn", post, _LINKEDIN_HINTS.get(
            post.post_type, "use feed, text, carousel, video or article."))
    problems += _link_problems("LinkedIn", post, required=post.post_type == "article")
    if post.post_type == "article":
        problems += _linkedin_article(post)
    elif post.post_type == "carousel":
        what = "A LinkedIn carousel (a multi-image post)"
        problems += _count(what, 2, LINKEDIN_IMAGES_MAX, "image", len(post.media))
        problems += _only(what, frozenset({"image"}), post)
    elif post.post_type == "video":
        problems += _count("A LinkedIn video post", 1, 1, "video", len(post.media))
        problems += _only("A LinkedIn video post", _VIDEO, post)
    else:
        problems += _linkedin_feed(post)
    return problems + [p for m in post.media for p in _linkedin_media(m)]


def _linkedin_feed(post: _Post) -> list[str]:
    what = "A LinkedIn post"
    images, videos = post.of_type("image"), post.of_type("video")
    documents = post.of_type("document")
    problems = []
    if sum(1 for group in (images, videos, documents) if group) > 1:
        problems.append(f"{what} can have images, one video or one document, not a mix.")
    problems += _count(what, 0, LINKEDIN_IMAGES_MAX, "image", len(images))
    problems += _count(what, 0, 1, "video", len(videos))
    problems += _count(what, 0, 1, "document", len(documents))
    if not post.caption.strip() and not post.media:
        problems.append(f"{what} needs some text or media.")
    return problems


def _linkedin_article(post: _Post) -> list[str]:
    # The one image, if any, becomes the article's thumbnail.
    what = "A LinkedIn article post"
    return _count(what, 0, 1, "thumbnail image", len(post.media)) + _only(
        what, frozenset({"image"}), post
    )


def _linkedin_media(m: _Media) -> list[str]:
    if m.facts is None:
        return []
    size = m.facts.size
    if m.type == "image" and m.facts.mime not in _LINKEDIN_IMAGE_MIMES:
        return [f"LinkedIn accepts JPEG, PNG and GIF images; {m.label} is {m.format}."]
    if m.type == "document" and size > LINKEDIN_DOCUMENT_MAX_BYTES:
        return [f"LinkedIn documents are limited to 100 MB; {m.label} is {_mb(size)}."]
    if m.type != "video":
        return []
    problems = []
    if m.facts.mime != "video/mp4":
        problems.append(f"LinkedIn accepts MP4 videos; {m.label} is {m.format}.")
    if not LINKEDIN_VIDEO_MIN_BYTES <= size <= LINKEDIN_VIDEO_MAX_BYTES:
        problems.append(f"LinkedIn videos must be 75 KB to 500 MB; {m.label} is {_mb(size)}.")
    return problems + _duration_problems("LinkedIn videos", m, 3, 30 * 60)


_PLATFORMS: dict[str, Callable[[_Post], list[str]]] = {
    "instagram": _instagram,
    "facebook": _facebook,
    "linkedin": _linkedin,
}
