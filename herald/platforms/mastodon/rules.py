"""What a Mastodon status accepts, checked when it is scheduled (herald.validation).

The figures are the account's instance's own (instance.py: GET /api/v2/instance, read
when the account is added and again hourly), Mastodon's defaults when the instance was
never asked. Lengths are counted as Mastodon's StatusLengthValidator counts them
(app/validators/status_length_validator.rb): graphemes, every URL as
`characters_reserved_per_url` characters, a remote mention `@user@domain` as `@user`, and
the content warning included. See docs/platforms/mastodon.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import regex

from herald.platforms.mastodon import instance
from herald.platforms.mastodon.instance import InstanceLimits
from herald.validation import DraftMedia, DraftPost, count, mb, only, refuse_type

#: text: words only; feed: words and up to the instance's media (images, or one video);
#: carousel: 2 up to the instance's images; video: one video.
POST_TYPES = ("text", "feed", "carousel", "video")
#: docs.joinmastodon.org/methods/statuses/#create `visibility`.
VISIBILITIES = ("public", "unlisted", "private", "direct")
#: MediaAttachment::MAX_DESCRIPTION_LENGTH (app/models/media_attachment.rb).
ALT_MAX = 1500
#: Mastodon's own IMAGE_MIME_TYPES and VIDEO_MIME_TYPES, for an instance that lists none.
IMAGE_MIMES = frozenset({"image/jpeg", "image/png", "image/gif", "image/heic", "image/heif",
                         "image/webp", "image/avif"})
VIDEO_MIMES = frozenset({"video/webm", "video/mp4", "video/quicktime", "video/ogg"})
#: ISO 639 codes, as `language` takes them (two or three letters).
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![/\w])@([a-z0-9_]+)@[a-z0-9.\-]+[a-z0-9]", re.IGNORECASE)

_HINTS = {
    "reel": "post a video with 'video'.",
    "story": "Mastodon has no stories; use feed.",
    "feed_story": "Mastodon has no stories; use feed.",
    "article": "Mastodon makes a link's preview card itself; put the link in a text post.",
}
_VISUAL = frozenset({"image", "video"})
_IMAGE = frozenset({"image"})
_VIDEO = frozenset({"video"})


def length(text: str, limits: InstanceLimits = instance.DEFAULT) -> int:
    """The length Mastodon counts against max_characters."""
    counted = _URL.sub("x" * limits.chars_per_url, text)
    counted = _MENTION.sub(r"@\1", counted)
    return len(regex.findall(r"\X", counted))


def text_problems(text: str, warning: str, limits: InstanceLimits,
                  what: str = "this status") -> list[str]:
    used = length(text, limits) + length(warning, limits)
    if used <= limits.max_characters:
        return []
    where = "Its instance" if limits.source == "instance" else "Mastodon (by default)"
    cw = " with its content warning" if warning else ""
    return [f"{where} allows {limits.max_characters:,} characters in a status; {what} has "
            f"{used:,}{cw} (links count as {limits.chars_per_url} each)."]


def check(post: DraftPost) -> list[str]:
    limits = instance.cached(post.server_url)
    options = post.options
    warning = str(options.get("spoiler_text") or "")
    problems = text_problems(post.caption, warning, limits)
    comment = options.get("first_comment")
    if isinstance(comment, str):
        problems += text_problems(comment, "", limits, "the first comment (a reply)")
    problems += _options(options)
    if post.post_type not in POST_TYPES:
        return problems + refuse_type("Mastodon", post, _HINTS.get(
            post.post_type, "use text, feed, carousel or video."))
    most = limits.max_media
    if post.post_type == "text":
        what = "A Mastodon text status"
        if post.media:
            problems.append("A Mastodon text status has no media; use feed to add them.")
        elif not post.caption.strip():
            problems.append("A Mastodon status needs some text or media.")
        return problems
    if post.post_type == "video":
        what = "A Mastodon video status"
        problems += count(what, 1, 1, "video", len(post.media))
        problems += only(what, _VIDEO, post)
    elif post.post_type == "carousel":
        what = "A Mastodon status with several images"
        problems += count(what, 2, most, "image", len(post.media))
        problems += only(what, _IMAGE, post)
    else:
        what = "A Mastodon status"
        problems += count(what, 0, most, "media item", len(post.media))
        problems += only(what, _VISUAL, post)
        if post.of_type("video") and len(post.media) > 1:
            # Mastodon refuses a video beside anything else (PostStatusService).
            problems.append("A Mastodon status takes one video on its own, or images; "
                            "not both.")
        if not post.caption.strip() and not post.media:
            problems.append("A Mastodon status needs some text or media.")
    return problems + [p for m in post.media for p in _media(m, limits)]


def _options(options: Mapping[str, Any]) -> list[str]:
    problems = []
    visibility = options.get("visibility")
    if visibility is not None and visibility not in VISIBILITIES:
        problems.append(f"Mastodon visibility is one of {', '.join(VISIBILITIES)}; not "
                        f"{visibility!r}.")
    language = options.get("language")
    if language is not None and not (isinstance(language, str) and _LANGUAGE.match(language)):
        problems.append(f"Mastodon's language is an ISO 639 code such as 'en' or 'de'; not "
                        f"{language!r}.")
    warning = options.get("spoiler_text")
    if warning is not None and not isinstance(warning, str):
        problems.append("spoiler_text (the content warning) must be text.")
    return problems


def _media(m: DraftMedia, limits: InstanceLimits) -> list[str]:
    problems = []
    alt = m.item.alt_text or ""
    if len(alt) > ALT_MAX:
        problems.append(f"Mastodon alt text is limited to {ALT_MAX:,} characters; "
                        f"{m.label}'s has {len(alt):,}.")
    if m.facts is None:
        return problems
    allowed = limits.mime_types or (IMAGE_MIMES | VIDEO_MIMES)
    if m.facts.mime not in allowed:
        problems.append(f"The instance does not take {m.format} files; {m.label} is one.")
    size_limit = limits.video_size_limit if m.type == "video" else limits.image_size_limit
    if m.facts.size > size_limit:
        problems.append(f"The instance takes {m.type}s up to {mb(size_limit)}; {m.label} is "
                        f"{mb(m.facts.size)}.")
    return problems
