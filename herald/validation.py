"""What a platform accepts, checked when a post is scheduled, not when it is published.

Each platform's rules live in its folder (herald/platforms/<name>/rules.py) and are built
from the sentences and counts here; validate_post asks the registry whose rules apply.
Pure rules: the caller probes the media (herald.media) and hands the results in, so
validation does no I/O and every rule is testable in microseconds. Each problem is a
sentence a person can act on. Limits come from the team's publishing-API reference
(shared/platforms/API.md); where a source is soft (◐) or ambiguous (MB vs MiB) we take the
stricter reading, so a post we accept is not refused at 9 a.m.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from herald.platforms.base import MediaItem

MiB = 1024 * 1024
MB = 1000 * 1000

VISUAL = frozenset({"image", "video"})
VIDEO = frozenset({"video"})

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
class DraftMedia:
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
class DraftPost:
    post_type: str
    caption: str
    media: tuple[DraftMedia, ...]
    options: Mapping[str, Any]
    #: The account's own server (a Mastodon instance), whose limits its rules read.
    server_url: str | None = None

    def of_type(self, kind: str) -> list[DraftMedia]:
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
    server_url: str | None = None,
) -> list[str]:
    """Every reason ``platform`` would refuse this post; an empty list means it is fine.

    ``probes[i]`` describes ``media[i]``'s content; None (or no probes) skips the checks
    that need the content, such as size and aspect ratio. ``server_url`` is the account's
    own server, for platforms whose limits are the server's (Mastodon).
    """
    items = [m if isinstance(m, MediaItem) else MediaItem.from_dict(dict(m)) for m in media]
    facts = list(probes) if probes is not None else [None] * len(items)
    if len(facts) != len(items):
        raise ValueError(f"{len(items)} media items but {len(facts)} probes")
    from herald.platforms.registry import NAMES, find

    spec = find(platform)
    if spec is None:
        return [f"Herald cannot publish to {platform!r}; choose {_either(NAMES)}."]
    pairs = enumerate(zip(items, facts, strict=True), start=1)
    post = DraftPost(
        post_type=post_type,
        caption=caption or "",
        media=tuple(DraftMedia(i, item, f) for i, (item, f) in pairs),
        options=options or {},
        server_url=server_url,
    )
    return _declared_types(post) + _first_comment(spec.display_name, spec.first_comments,
                                                  post) + spec.rules(post)


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


# --- the sentences platforms' rules are made of -----------------------------------------


def _declared_types(post: DraftPost) -> list[str]:
    # The publishers pick image_url vs video_url from the declared type, so a mismatch
    # would only surface at publishing time.
    return [
        f"Media {m.label} is marked as {a_or_an(m.item.type)} but its content is "
        f"{a_or_an(m.facts.type)}."
        for m in post.media
        if m.facts is not None and m.item.type != m.facts.type
    ]


def _first_comment(platform: str, supported: bool, post: DraftPost) -> list[str]:
    comment = post.options.get("first_comment")
    if comment is None:
        return []
    if not isinstance(comment, str) or not comment.strip():
        return ["first_comment must be the comment's text."]
    if not supported:
        return [f"Herald cannot post a first comment on {platform}; leave out "
                "first_comment."]
    return []


def comment_problems(platform: str, post_types: Sequence[str], external_id: str,
                     options: Mapping[str, Any] | None) -> list[str]:
    """Whether this account's post (every part of a split type) can take its first comment:
    refused when none of its parts can (a part that cannot simply goes without)."""
    if not _has_comment(options):
        return []
    from herald.platforms.registry import find

    spec = find(platform)
    if spec is None or spec.comment_refusal is None:
        return []
    reasons = [spec.comment_refusal(t, external_id) for t in post_types]
    if reasons and all(reasons):
        return [f"{reasons[0]}; leave out first_comment."]
    return []


def options_for(platform: str, post_type: str, external_id: str,
                options: Mapping[str, Any]) -> dict[str, Any]:
    """A post's options, less a first comment its type cannot take (a feed_story's story)
    and less what the platform's `part_options` says that type goes without."""
    from herald.platforms.registry import find

    spec = find(platform)
    refusal = spec.comment_refusal if spec is not None else None
    kept = dict(options)
    if spec is not None and spec.part_options is not None:
        kept = spec.part_options(post_type, kept)
    if _has_comment(kept) and refusal is not None and refusal(post_type, external_id):
        return {k: v for k, v in kept.items() if k != "first_comment"}
    return kept


def _has_comment(options: Mapping[str, Any] | None) -> bool:
    comment = (options or {}).get("first_comment")
    return isinstance(comment, str) and bool(comment.strip())


def comment_length(platform: str, options: Mapping[str, Any], limit: int) -> list[str]:
    """The first comment within the platform's limit for comments."""
    comment = options.get("first_comment")
    if not isinstance(comment, str) or len(comment) <= limit:
        return []
    return [f"{platform} comments are limited to {limit:,} characters; this first comment "
            f"has {len(comment):,}."]


def caption_length(platform: str, caption: str, limit: int, noun: str = "captions") -> list[str]:
    # Characters as Python counts them (code points); an emoji counts once.
    if len(caption) <= limit:
        return []
    return [f"{platform} {noun} are limited to {limit:,} characters; "
            f"this one has {len(caption):,}."]


def count(what: str, low: int, high: int, noun: str, found: int) -> list[str]:
    if low <= found <= high:
        return []
    if high == 1:
        wanted = f"exactly one {noun}" if low == 1 else f"at most one {noun}"
    elif low == 0:
        wanted = f"at most {high} {plural(noun)}"
    else:
        wanted = f"{low} to {high} {plural(noun)}"
    return [f"{what} needs {wanted}; this one has {number(found)}."]


def plural(noun: str) -> str:
    return " or ".join(f"{word}s" for word in noun.split(" or "))


def only(what: str, kinds: frozenset[str], post: DraftPost) -> list[str]:
    allowed = " or ".join(sorted(f"{k}s" for k in kinds))
    return [
        f"{what} can only contain {allowed}; {m.label} is {a_or_an(m.type)}."
        for m in post.media
        if m.type not in kinds
    ]


def link_problems(platform: str, post: DraftPost, *, required: bool) -> list[str]:
    if not post.link:
        return [f"{platform} article posts need a link (options.link)."] if required else []
    parts = urlsplit(post.link)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [f"The link {post.link!r} must be a full web address starting with https://."]
    return []


def refuse_type(platform: str, post: DraftPost, hint: str) -> list[str]:
    return [f"{platform} cannot publish {post.post_type!r} posts here; {hint}"]


def _either(names: Sequence[str]) -> str:
    return f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else "".join(names)


def a_or_an(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def number(n: int) -> str:
    return "none" if n == 0 else str(n)


def mib(size: int) -> str:
    return f"{size / MiB:.1f} MiB"


def mb(size: int) -> str:
    """A size in the platforms' decimal units: "75 KB", "3.2 MB" (never "0.1 MB")."""
    if size < 1000:
        return f"{size} bytes"
    if size < MB:
        return f"{size / 1000:.0f} KB"
    return f"{size / MB:.1f} MB"


def aspect_ratio(m: DraftMedia) -> float | None:
    if m.facts is None or not m.facts.width or not m.facts.height:
        return None
    return m.facts.width / m.facts.height


def dimensions(m: DraftMedia) -> str:
    assert m.facts is not None
    return f"{m.facts.width}x{m.facts.height}"


def duration_problems(what: str, m: DraftMedia, low: float, high: float) -> list[str]:
    seconds = m.facts.duration if m.facts else None
    if seconds is None or low <= seconds <= high:
        return []
    return [f"{what} must last {_seconds(low)} to {_seconds(high)}; {m.label} lasts "
            f"{_seconds(seconds)}."]


def _seconds(value: float) -> str:
    if value >= 120 and value % 60 == 0:
        return f"{value / 60:g} minutes"
    return f"{value:.1f} seconds" if value % 1 else f"{value:g} seconds"
