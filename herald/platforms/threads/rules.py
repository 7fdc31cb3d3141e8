"""What a Threads post accepts, checked when it is scheduled (herald.validation).

Limits from Meta's Threads API documentation (docs/platforms/threads.md says where each
comes from): text up to 500 characters; a carousel of 2 to 20 images or videos; images
JPEG or PNG up to 8 MB; videos MP4 or MOV up to 1 GB and 5 minutes.
"""

from __future__ import annotations

from herald.validation import (
    MB,
    VIDEO,
    VISUAL,
    DraftMedia,
    DraftPost,
    caption_length,
    comment_length,
    count,
    duration_problems,
    mb,
    only,
    refuse_type,
)

#: The text of a post (and of a reply) is limited to 500 characters.
TEXT_MAX = 500
CAROUSEL_MIN, CAROUSEL_MAX = 2, 20
IMAGE_MAX_BYTES = 8 * MB
VIDEO_MAX_BYTES = 1000 * MB
VIDEO_MAX_SECONDS = 300.0
IMAGE_MIMES = frozenset({"image/jpeg", "image/png"})
VIDEO_MIMES = frozenset({"video/mp4", "video/quicktime"})

#: text: words only; feed: one image or video; video: one video; carousel: 2 to 20 items.
POST_TYPES = ("text", "feed", "carousel", "video")

# post type: (what people call it, fewest items, most items, allowed media types)
_SHAPES: dict[str, tuple[str, int, int, frozenset[str]]] = {
    "text": ("A Threads text post", 0, 0, VISUAL),
    "feed": ("A Threads post", 1, 1, VISUAL),
    "video": ("A Threads video post", 1, 1, VIDEO),
    "carousel": ("A Threads carousel", CAROUSEL_MIN, CAROUSEL_MAX, VISUAL),
}
_HINTS = {
    "reel": "Threads has no reels; post the video with 'video'.",
    "story": "Threads has no stories; use feed.",
    "feed_story": "Threads has no stories; use feed.",
    "article": "Threads shows a link's preview by itself: put the link in a text post.",
}


def check(post: DraftPost) -> list[str]:
    problems = caption_length("Threads", post.caption, TEXT_MAX, noun="posts")
    problems += comment_length("Threads", post.options, TEXT_MAX)
    shape = _SHAPES.get(post.post_type)
    if shape is None:
        return problems + refuse_type("Threads", post, _HINTS.get(
            post.post_type, "use text, feed, carousel or video."))
    what, low, high, kinds = shape
    if post.post_type == "text":
        if post.media:
            problems.append("A Threads text post has no media; use feed or carousel to "
                            "add images or videos.")
        if not post.caption.strip():
            problems.append("A Threads text post needs some text.")
        return problems
    noun = "video" if kinds == VIDEO else "image or video"
    problems += count(what, low, high, noun, len(post.media))
    problems += only(what, kinds, post)
    return problems + [p for m in post.media for p in _media(m)]


def _media(m: DraftMedia) -> list[str]:
    if m.facts is None:
        return []
    problems = []
    if m.type == "image":
        if m.facts.mime not in IMAGE_MIMES:
            problems.append(f"Threads accepts JPEG and PNG images; {m.label} is {m.format}.")
        if m.facts.size > IMAGE_MAX_BYTES:
            problems.append(f"Threads images are limited to {mb(IMAGE_MAX_BYTES)}; "
                            f"{m.label} is {mb(m.facts.size)}.")
    elif m.type == "video":
        if m.facts.mime not in VIDEO_MIMES:
            problems.append(f"Threads accepts MP4 and MOV videos; {m.label} is {m.format}.")
        if m.facts.size > VIDEO_MAX_BYTES:
            problems.append(f"Threads videos are limited to 1 GB; {m.label} is "
                            f"{mb(m.facts.size)}.")
        problems += duration_problems("Threads videos", m, 0.0, VIDEO_MAX_SECONDS)
    return problems
