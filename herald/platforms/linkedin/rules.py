"""What LinkedIn accepts, checked when a post is scheduled (herald.validation)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from herald.validation import (
    MB,
    VIDEO,
    DraftMedia,
    DraftPost,
    caption_length,
    comment_length,
    count,
    duration_problems,
    link_problems,
    mb,
    only,
    refuse_type,
)

LINKEDIN_COMMENTARY_MAX = 3_000
LINKEDIN_IMAGES_MAX = 20
LINKEDIN_VIDEO_MIN_BYTES = 75 * 1000
LINKEDIN_VIDEO_MAX_BYTES = 500 * MB
LINKEDIN_DOCUMENT_MAX_BYTES = 100 * MB

#: What Herald publishes here, in the order pickers show them. One composed post goes
#: to several accounts with one post type, so a carousel is also accepted where it maps
#: to a multi-image post.
POST_TYPES = ("feed", "carousel", "video", "article", "text", "poll")

# The Poll API [LI-POLL]: "a minimum of 2 poll options and a maximum of 4", a duration of
# ONE_DAY, THREE_DAYS, SEVEN_DAYS or FOURTEEN_DAYS; 140 characters for the question and 30
# for an option are LinkedIn's composer limits, as clients (Zernio, Publer) document them ◐.
POLL_OPTIONS = (2, 4)
POLL_QUESTION_MAX = 140
POLL_OPTION_MAX = 30
POLL_DURATIONS = ("ONE_DAY", "THREE_DAYS", "SEVEN_DAYS", "FOURTEEN_DAYS")
#: LinkedIn's composer offers a week first.
POLL_DEFAULT_DURATION = "SEVEN_DAYS"


_LINKEDIN_HINTS = {
    "reel": "post the video as 'video' or 'feed'.",
    "story": "LinkedIn has no stories.",
    "feed_story": "LinkedIn has no stories; use feed.",
}
_LINKEDIN_IMAGE_MIMES = frozenset({"image/jpeg", "image/png", "image/gif"})


#: A comment's length: 1,250 characters, LinkedIn's limit for comments.
LINKEDIN_COMMENT_MAX = 1250


def check(post: DraftPost) -> list[str]:
    problems = caption_length("LinkedIn", post.caption, LINKEDIN_COMMENTARY_MAX, "posts")
    problems += comment_length("LinkedIn", post.options, LINKEDIN_COMMENT_MAX)
    if post.post_type not in POST_TYPES:
        return problems + refuse_type("LinkedIn", post, _LINKEDIN_HINTS.get(
            post.post_type, "use feed, text, carousel, video, article or poll."))
    problems += link_problems("LinkedIn", post, required=post.post_type == "article")
    if post.post_type == "article":
        problems += _linkedin_article(post)
    elif post.post_type == "carousel":
        what = "A LinkedIn carousel (a multi-image post)"
        problems += count(what, 2, LINKEDIN_IMAGES_MAX, "image", len(post.media))
        problems += only(what, frozenset({"image"}), post)
    elif post.post_type == "poll":
        problems += poll_problems(post.options)
        if post.media:
            problems.append("A LinkedIn poll carries no media; remove the media or post it "
                            "as a feed post.")
    elif post.post_type == "video":
        problems += count("A LinkedIn video post", 1, 1, "video", len(post.media))
        problems += only("A LinkedIn video post", VIDEO, post)
    else:
        problems += _linkedin_feed(post)
    return problems + [p for m in post.media for p in _linkedin_media(m)]


def poll_problems(options: Mapping[str, Any]) -> list[str]:
    """options.poll: {"question", "options": [2 to 4 texts], "duration"}, as LinkedIn takes it."""
    poll = options.get("poll")
    if not isinstance(poll, dict):
        return ['A LinkedIn poll needs options.poll: {"question": "…", "options": ["…", "…"], '
                '"duration": "THREE_DAYS"}.']
    problems = []
    question = poll.get("question")
    if not isinstance(question, str) or not question.strip():
        problems.append("A LinkedIn poll needs a question (options.poll.question).")
    elif len(question) > POLL_QUESTION_MAX:
        problems.append(f"LinkedIn poll questions are limited to {POLL_QUESTION_MAX} "
                        f"characters; this one has {len(question)}.")
    choices = poll.get("options")
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        problems.append("options.poll.options must be a list of the answers' texts.")
        choices = []
    low, high = POLL_OPTIONS
    if isinstance(poll.get("options"), list) and not low <= len(choices) <= high:
        problems += count("A LinkedIn poll", low, high, "option", len(choices))
    for number, choice in enumerate(choices, start=1):
        if not choice.strip():
            problems.append(f"LinkedIn poll option {number} is empty.")
        elif len(choice) > POLL_OPTION_MAX:
            problems.append(f"LinkedIn poll options are limited to {POLL_OPTION_MAX} "
                            f"characters; option {number} ({choice!r}) has {len(choice)}.")
    if len({c.strip().casefold() for c in choices}) < len(choices):
        problems.append("LinkedIn poll options must differ from each other.")
    duration = poll.get("duration", POLL_DEFAULT_DURATION)
    if duration not in POLL_DURATIONS:
        problems.append(f"A LinkedIn poll lasts {', '.join(POLL_DURATIONS[:-1])} or "
                        f"{POLL_DURATIONS[-1]} (options.poll.duration); {duration!r} is not "
                        "one of them.")
    return problems


def _linkedin_feed(post: DraftPost) -> list[str]:
    what = "A LinkedIn post"
    images, videos = post.of_type("image"), post.of_type("video")
    documents = post.of_type("document")
    problems = []
    if sum(1 for group in (images, videos, documents) if group) > 1:
        problems.append(f"{what} can have images, one video or one document, not a mix.")
    problems += count(what, 0, LINKEDIN_IMAGES_MAX, "image", len(images))
    problems += count(what, 0, 1, "video", len(videos))
    problems += count(what, 0, 1, "document", len(documents))
    if not post.caption.strip() and not post.media:
        problems.append(f"{what} needs some text or media.")
    return problems


def _linkedin_article(post: DraftPost) -> list[str]:
    # The one image, if any, becomes the article's thumbnail.
    what = "A LinkedIn article post"
    return count(what, 0, 1, "thumbnail image", len(post.media)) + only(
        what, frozenset({"image"}), post
    )


def _linkedin_media(m: DraftMedia) -> list[str]:
    if m.facts is None:
        return []
    size = m.facts.size
    if m.type == "image" and m.facts.mime not in _LINKEDIN_IMAGE_MIMES:
        return [f"LinkedIn accepts JPEG, PNG and GIF images; {m.label} is {m.format}."]
    if m.type == "document" and size > LINKEDIN_DOCUMENT_MAX_BYTES:
        return [f"LinkedIn documents are limited to 100 MB; {m.label} is {mb(size)}."]
    if m.type != "video":
        return []
    problems = []
    if m.facts.mime != "video/mp4":
        problems.append(f"LinkedIn accepts MP4 videos; {m.label} is {m.format}.")
    if not LINKEDIN_VIDEO_MIN_BYTES <= size <= LINKEDIN_VIDEO_MAX_BYTES:
        problems.append(f"LinkedIn videos must be 75 KB to 500 MB; {m.label} is {mb(size)}.")
    return problems + duration_problems("LinkedIn videos", m, 3, 30 * 60)


