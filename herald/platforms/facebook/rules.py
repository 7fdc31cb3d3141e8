"""What Facebook Pages accept, checked when a post is scheduled (herald.validation)."""

from __future__ import annotations

from collections.abc import Callable

from herald.validation import (
    MB,
    VIDEO,
    VISUAL,
    DraftMedia,
    DraftPost,
    caption_length,
    comment_length,
    count,
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
POST_TYPES = ("feed", "carousel", "video", "article", "text")


_FACEBOOK_HINTS = {
    "reel": "reels are not published through the Pages API here; post the video as 'video'.",
    "story": "stories are not published through the Pages API here.",
    "feed_story": "stories are not published through the Pages API here; use feed.",
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
            post.post_type, "use feed, text, carousel, video or article."))
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


