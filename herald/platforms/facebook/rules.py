"""What Facebook Pages accept, checked when a post is scheduled (herald.validation)."""

from __future__ import annotations

from collections.abc import Callable

from herald.validation import (
    MB,
    VIDEO,
    VISUAL,
    DraftMedia,
    DraftPost,
    aspect_ratio,
    caption_length,
    comment_length,
    count,
    dimensions,
    duration_problems,
    link_problems,
    mb,
    only,
    refuse_type,
)

FACEBOOK_CAPTION_MAX = 63_206
FACEBOOK_PHOTOS_MAX = 10
# Subcode 1366046 says "photo > 4 MB"; read as 4,000,000 bytes, the stricter of MB and MiB.
FACEBOOK_PHOTO_MAX_BYTES = 4 * MB

#: What Herald publishes here, in the order pickers show them. One composed post goes
#: to several accounts with one post type, so a carousel is also accepted where it maps
#: to a multi-image post.
POST_TYPES = ("feed", "carousel", "reel", "story", "video", "article", "text")

# Reels Publishing API [FB-REELS]: "3 to 90 seconds", aspect ratio "9 x 16", minimum
# 540 x 960 pixels; 30 API-published reels per Page in a moving 24 hours (enforced by
# Meta on /video_reels, see client.py).
REEL_SECONDS = (3.0, 90.0)
REEL_MIN_SIZE = (540, 960)
# The Stories API's video table repeats the reels' 3-90 s but adds that "a reel published
# as a story on a Facebook Page can not exceed 60 seconds": the stricter 60 s is taken.
STORY_VIDEO_SECONDS = (3.0, 60.0)
NINE_SIXTEEN = 9 / 16
# 1080x1920, 720x1280 and 540x960 are exactly 0.5625; a pixel of rounding is forgiven.
NINE_SIXTEEN_TOLERANCE = 0.005
# Page Stories' photo table: .jpeg, .bmp, .png, .gif, .tiff, "can not exceed 4MB" (one copy
# of the page says 10MB: the stricter 4 MB, read as 4,000,000 bytes, is taken).
_STORY_PHOTO_MIMES = frozenset({"image/jpeg", "image/png", "image/gif", "image/tiff",
                                "image/bmp"})

_FACEBOOK_HINTS = {
    "feed_story": "Facebook publishes a feed post and a story separately here; schedule a "
                  "feed post and a story.",
}
_FACEBOOK_PHOTO_MIMES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/tiff", "image/webp", "image/bmp"}
)


#: A Page comment's length: 8,000 characters (what Facebook's composer allows).
FACEBOOK_COMMENT_MAX = 8000


def check(post: DraftPost) -> list[str]:
    problems = caption_length("Facebook", post.caption, FACEBOOK_CAPTION_MAX, "post messages")
    problems += comment_length("Facebook", post.options, FACEBOOK_COMMENT_MAX)
    if post.post_type not in POST_TYPES:
        return problems + refuse_type("Facebook", post, _FACEBOOK_HINTS.get(
            post.post_type, "use feed, text, carousel, reel, story, video or article."))
    problems += link_problems("Facebook", post, required=post.post_type == "article")
    problems += _FACEBOOK_SHAPES[post.post_type](post)
    return problems + [p for m in post.of_type("image") for p in _facebook_photo(m)]


def _facebook_feed(post: DraftPost) -> list[str]:
    what = "A Facebook post"
    images, videos = post.of_type("image"), post.of_type("video")
    problems = only(what, VISUAL, post)
    if images and videos:
        problems.append(f"{what} can have photos or one video, not both.")
    problems += count(what, 0, FACEBOOK_PHOTOS_MAX, "photo", len(images))
    problems += count(what, 0, 1, "video", len(videos))
    if post.link and post.media:
        problems.append(f"{what} shows either a link preview or media, not both; remove the "
                        "media or put the link in the message.")
    if not (post.caption.strip() or post.link or post.media):
        problems.append(f"{what} needs a message, a link, photos or a video.")
    return problems


def _facebook_text(post: DraftPost) -> list[str]:
    problems = []
    if post.media:
        problems.append("A Facebook text post has no media; schedule it as a feed post instead.")
    if not post.caption.strip() and not post.link:
        problems.append("A Facebook text post needs a message.")
    return problems


def _facebook_carousel(post: DraftPost) -> list[str]:
    what = "A Facebook carousel (a multi-photo post)"
    return (count(what, 2, FACEBOOK_PHOTOS_MAX, "photo", len(post.media))
            + only(what, frozenset({"image"}), post))


def _facebook_video(post: DraftPost) -> list[str]:
    what = "A Facebook video post"
    return count(what, 1, 1, "video", len(post.media)) + only(what, VIDEO, post)


def _facebook_reel(post: DraftPost) -> list[str]:
    what = "A Facebook reel"
    problems = count(what, 1, 1, "video", len(post.media)) + only(what, VIDEO, post)
    for m in post.of_type("video"):
        problems += duration_problems("Facebook reels", m, *REEL_SECONDS)
        problems += _vertical("Facebook reels", m)
    return problems


def _facebook_story(post: DraftPost) -> list[str]:
    what = "A Facebook story"
    problems = count(what, 1, 1, "image or video", len(post.media)) + only(what, VISUAL, post)
    if post.caption.strip():
        # photo_stories takes a photo id and video_stories a video id, nothing else: the
        # text would be dropped without a word, so say so now.
        problems.append("Facebook stories carry no text (the Stories API takes only the "
                        "photo or video); leave the caption empty or post it as a feed post.")
    for m in post.of_type("video"):
        problems += duration_problems("Facebook story videos", m, *STORY_VIDEO_SECONDS)
        problems += _vertical("Facebook story videos", m)
    for m in post.of_type("image"):
        if m.facts is not None and m.facts.mime not in _STORY_PHOTO_MIMES:
            problems.append(f"Facebook story photos must be JPEG, PNG, GIF, TIFF or BMP; "
                            f"{m.label} is {m.format}.")
    return problems


def _vertical(what: str, m: DraftMedia) -> list[str]:
    """9:16 and at least 540x960, as the Reels and Stories APIs ask."""
    ratio = aspect_ratio(m)
    if ratio is None:
        return []
    assert m.facts is not None and m.facts.width and m.facts.height
    if abs(ratio - NINE_SIXTEEN) > NINE_SIXTEEN_TOLERANCE:
        return [f"{what} must be vertical 9:16 (e.g. 1080x1920); {m.label} is "
                f"{dimensions(m)} ({_ratio_name(ratio)}). Re-export or crop it to 9:16."]
    low_w, low_h = REEL_MIN_SIZE
    if m.facts.width < low_w or m.facts.height < low_h:
        return [f"{what} must be at least {low_w}x{low_h} pixels; {m.label} is "
                f"{dimensions(m)}."]
    return []


def _ratio_name(ratio: float) -> str:
    for name, value in (("16:9", 16 / 9), ("1:1", 1.0), ("4:5", 0.8), ("4:3", 4 / 3)):
        if abs(ratio - value) <= NINE_SIXTEEN_TOLERANCE:
            return name
    return f"{ratio:.2f}:1"


def comment_refusal(post_type: str, _account: str) -> str | None:
    """Stories have no comments edge in the Pages API; reels take comments as videos do."""
    return "Facebook stories take no comments" if post_type == "story" else None


def _facebook_article(post: DraftPost) -> list[str]:
    if post.media:
        return ["A Facebook article post is a link with a message; remove the media (Facebook "
                "builds the preview from the link)."]
    return []


_FACEBOOK_SHAPES: dict[str, Callable[[DraftPost], list[str]]] = {
    "feed": _facebook_feed,
    "text": _facebook_text,
    "carousel": _facebook_carousel,
    "video": _facebook_video,
    "reel": _facebook_reel,
    "story": _facebook_story,
    "article": _facebook_article,
}


def _facebook_photo(m: DraftMedia) -> list[str]:
    if m.facts is None:
        return []
    problems = []
    if m.facts.mime not in _FACEBOOK_PHOTO_MIMES:
        problems.append(f"Facebook accepts JPEG, PNG, GIF, TIFF, WebP and BMP photos; "
                        f"{m.label} is {m.format}.")
    if m.facts.size > FACEBOOK_PHOTO_MAX_BYTES:
        problems.append(f"Facebook photos are limited to 4 MB; {m.label} is "
                        f"{mb(m.facts.size)}.")
    return problems


