"""What a Bluesky post accepts, checked when it is scheduled (herald.validation).

Limits from the lexicons (bluesky-social/atproto lexicons/app/bsky/feed/post.json,
embed/images.json, embed/external.json); see docs/platforms/bluesky.md.
"""

from __future__ import annotations

from herald.platforms.bluesky.facets import graphemes
from herald.validation import (
    DraftMedia,
    DraftPost,
    count,
    link_problems,
    only,
    refuse_type,
)

#: app.bsky.feed.post text: maxGraphemes 300, maxLength 3000 (UTF-8 bytes).
TEXT_MAX_GRAPHEMES = 300
TEXT_MAX_BYTES = 3000
#: app.bsky.embed.images: at most 4 images, each blob at most 1,000,000 bytes.
IMAGES_MAX = 4
IMAGE_MAX_BYTES = 1_000_000
#: The image formats the Bluesky app shows (the lexicon accepts image/*).
IMAGE_MIMES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
#: Alt text the Bluesky app lets a person type (its composer's limit; the lexicon has none).
ALT_MAX_GRAPHEMES = 2000

#: text: words only; feed: words and up to 4 images; carousel: 2 to 4 images; article: a
#: link card (app.bsky.embed.external) with an optional thumbnail.
POST_TYPES = ("feed", "carousel", "article", "text")

_HINTS = {
    "reel": "Herald does not post Bluesky videos yet; post images with 'feed'.",
    "video": "Herald does not post Bluesky videos yet; post images with 'feed'.",
    "story": "Bluesky has no stories; use feed.",
    "feed_story": "Bluesky has no stories; use feed.",
}
_IMAGE = frozenset({"image"})


def text_problems(text: str, what: str = "Bluesky posts") -> list[str]:
    length, size = graphemes(text), len(text.encode("utf-8"))
    if length > TEXT_MAX_GRAPHEMES:
        return [f"{what} are limited to {TEXT_MAX_GRAPHEMES} characters; this one has "
                f"{length:,}."]
    if size > TEXT_MAX_BYTES:
        return [f"{what} are limited to {TEXT_MAX_BYTES:,} bytes of text; this one has "
                f"{size:,}."]
    return []


def check(post: DraftPost) -> list[str]:
    problems = text_problems(post.caption)
    comment = post.options.get("first_comment")
    if isinstance(comment, str):
        problems += text_problems(comment, "Bluesky first comments (replies)")
    if post.post_type not in POST_TYPES:
        return problems + refuse_type("Bluesky", post, _HINTS.get(
            post.post_type, "use feed, text, carousel or article."))
    problems += link_problems("Bluesky", post, required=post.post_type == "article")
    if post.post_type == "article":
        what = "A Bluesky link card"
        problems += count(what, 0, 1, "thumbnail image", len(post.media))
    elif post.post_type == "carousel":
        what = "A Bluesky post with several images"
        problems += count(what, 2, IMAGES_MAX, "image", len(post.media))
    else:
        what = "A Bluesky post"
        if post.post_type == "text" and post.media:
            problems.append("A Bluesky text post has no images; use feed to add them.")
        problems += count(what, 0, IMAGES_MAX, "image", len(post.media))
        if not post.caption.strip() and not post.media:
            problems.append("A Bluesky post needs some text or an image.")
    problems += only(what, _IMAGE, post)
    return problems + [p for m in post.media for p in _image(m)]


def _image(m: DraftMedia) -> list[str]:
    problems = []
    alt = m.item.alt_text or ""
    if graphemes(alt) > ALT_MAX_GRAPHEMES:
        problems.append(f"Bluesky alt text is limited to {ALT_MAX_GRAPHEMES:,} characters; "
                        f"{m.label}'s has {graphemes(alt):,}.")
    if m.facts is None or m.type != "image":
        return problems
    if m.facts.mime not in IMAGE_MIMES:
        problems.append(f"Bluesky accepts JPEG, PNG, WebP and GIF images; {m.label} is "
                        f"{m.format}.")
    if m.facts.size > IMAGE_MAX_BYTES:
        problems.append(f"Bluesky images are limited to 1,000,000 bytes (about 976 KiB); "
                        f"{m.label} is {m.facts.size:,} bytes.")
    return problems
