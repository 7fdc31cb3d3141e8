"""What Instagram accepts, checked when a post is scheduled (herald.validation)."""

from __future__ import annotations

import re

from herald.platforms.instagram import options
from herald.validation import (
    MB,
    VIDEO,
    VISUAL,
    DraftMedia,
    DraftPost,
    MiB,
    aspect_ratio,
    caption_length,
    comment_length,
    count,
    dimensions,
    duration_problems,
    mb,
    mib,
    only,
    refuse_type,
)

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

# A hashtag needs a letter: Instagram does not link "#1". "&#39;" is an HTML entity.
HASHTAG = re.compile(r"(?<![\w&#])#\w*[^\W\d]\w*")
# Instagram user names: letters, digits, "_" and inner "."; "a@b.com" is not a mention.
MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_.]*[A-Za-z0-9_]")

#: What Herald publishes here, in the order pickers show them. One composed post goes
#: to several accounts with one post type, so a carousel is also accepted where it maps
#: to a multi-image post.
POST_TYPES = ("feed", "carousel", "reel", "story", "feed_story", "video")


# post type: (what people call it, fewest items, most items, allowed media types)
_INSTAGRAM_SHAPES: dict[str, tuple[str, int, int, frozenset[str]]] = {
    "feed": ("An Instagram feed post", 1, 1, VISUAL),
    "carousel": ("An Instagram carousel", 2, INSTAGRAM_CAROUSEL_MAX, VISUAL),
    "reel": ("An Instagram reel", 1, 1, VIDEO),
    "video": ("An Instagram video post (published as a reel)", 1, 1, VIDEO),
    "story": ("An Instagram story", 1, 1, VISUAL),
    "feed_story": ("An Instagram feed-and-story post", 1, 1, VISUAL),
}


#: A comment's length: Meta documents none apart from the caption's; the same is assumed.
INSTAGRAM_COMMENT_MAX = 2200


def check(post: DraftPost) -> list[str]:
    problems = _instagram_caption(post.caption)
    problems += comment_length("Instagram", post.options, INSTAGRAM_COMMENT_MAX)
    shape = _INSTAGRAM_SHAPES.get(post.post_type)
    if shape is None:
        return problems + refuse_type("Instagram", post, _INSTAGRAM_HINTS.get(
            post.post_type, "use feed, carousel, reel, video, story or feed_story."))
    problems += options.problems(post.post_type, [m.type for m in post.media], post.options)
    what, low, high, kinds = shape
    noun = "video" if kinds == VIDEO else "image or video"
    problems += count(what, low, high, noun, len(post.media))
    problems += only(what, kinds, post)
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
    problems = caption_length("Instagram", caption, INSTAGRAM_CAPTION_MAX)
    # Every occurrence counts: the documented limit does not say duplicates are free.
    hashtags = len(HASHTAG.findall(caption))
    if hashtags > INSTAGRAM_HASHTAGS_MAX:
        problems.append(f"Instagram captions may have at most {INSTAGRAM_HASHTAGS_MAX} "
                        f"hashtags; this one has {hashtags}.")
    mentions = len(MENTION.findall(caption))
    if mentions > INSTAGRAM_MENTIONS_MAX:
        problems.append(f"Instagram captions may mention at most {INSTAGRAM_MENTIONS_MAX} "
                        f"accounts (@name); this one has {mentions}.")
    return problems


def _instagram_image(m: DraftMedia, *, story: bool) -> list[str]:
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
                        f"{mib(m.facts.size)}.")
    ratio = aspect_ratio(m)
    # A 1080x1350 (4:5) image is exactly 0.8; the tolerance forgives a pixel of rounding.
    if not story and ratio is not None and not (
        INSTAGRAM_ASPECT_MIN - 0.002 <= ratio <= INSTAGRAM_ASPECT_MAX + 0.002
    ):
        problems.append(
            f"Instagram feed images must have an aspect ratio between 4:5 (0.8) and 1.91:1; "
            f"{m.label} is {dimensions(m)} ({ratio:.2f}:1). Crop it, or post it as a story."
        )
    return problems


def _instagram_video(m: DraftMedia, *, story: bool) -> list[str]:
    assert m.facts is not None
    what = "Instagram story videos" if story else "Instagram videos"
    problems = []
    if m.facts.mime not in ("video/mp4", "video/quicktime"):
        problems.append(f"Instagram accepts MP4 and MOV videos; {m.label} is {m.format}.")
    limit = INSTAGRAM_STORY_VIDEO_MAX_BYTES if story else INSTAGRAM_REEL_MAX_BYTES
    if m.facts.size > limit:
        problems.append(f"{what} are limited to {mb(limit)}; {m.label} is {mb(m.facts.size)}.")
    problems += duration_problems(what, m, 3, 60 if story else 15 * 60)
    if m.facts.width and m.facts.width > INSTAGRAM_VIDEO_MAX_WIDTH:
        problems.append(f"{what} may be at most {INSTAGRAM_VIDEO_MAX_WIDTH} pixels wide; "
                        f"{m.label} is {dimensions(m)}. Export it at 1080p.")
    ratio = aspect_ratio(m)
    low = 0.1 if story else 0.01
    if ratio is not None and not low <= ratio <= 10:
        problems.append(f"{what} must have an aspect ratio between {low:g}:1 and 10:1; "
                        f"{m.label} is {dimensions(m)}.")
    if m.facts.faststart is False:
        problems.append(f"Instagram needs a video's index (moov atom) at the start of the "
                        f"file; re-export {m.label} with \"fast start\" "
                        "(ffmpeg -movflags +faststart).")
    return problems


