"""A post as it will look on its platform: the caption folded and cut where the platform
folds and cuts it, hashtags, mentions and links marked, media framed, the first comment.

Pure (no I/O): the compose page draws it as the user types and the review page draws it
for a client. Everything platform-specific comes from the platform's spec through the
registry (`PlatformSpec.preview`, `compose_limits`, `first_comments`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import regex

from herald.models import Post
from herald.platforms import registry
from herald.platforms.spec import PreviewSpec

#: Links, hashtags and mentions, in that order of precedence where they overlap.
_TOKENS = re.compile(r"(?P<link>https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'])"
                     r"|(?P<hashtag>(?<![\w&#])#\w*[^\W\d]\w*)"
                     r"|(?P<mention>(?<![\w@/])@[\w.\-]*\w)")
#: A cut backs off to a space this close before it rather than split a word.
_WORD_SLACK = 20


@dataclass(frozen=True)
class Segment:
    """A run of caption text: plain, a hashtag, a mention or a link (`href` if clickable)."""

    kind: str
    text: str
    href: str = ""


@dataclass(frozen=True)
class Preview:
    platform: str
    display_name: str
    account_name: str
    post_type: str
    #: What the feed shows before the fold.
    shown: list[Segment]
    #: What the fold hides until "more" is tapped.
    folded: list[Segment]
    #: Text past the platform's limit: it would be refused (the checks say so).
    over: str
    more: str
    #: "4x5": the CSS class suffix of the frame media is cropped to.
    frame: str
    media: list[dict[str, str]] = field(default_factory=list)
    first_comment: str = ""
    #: Whether the platform posts first comments at all (else the comment is not posted).
    comments: bool = False
    #: Links in the caption are clickable on the platform.
    links: bool = True
    length: int = 0
    limit: int | None = None
    media_first: bool = False
    #: A poll's question and options (LinkedIn polls), drawn under the caption.
    poll_question: str = ""
    poll_options: tuple[str, ...] = ()

    @property
    def first_comment_segments(self) -> list[Segment]:
        return segments(self.first_comment, links=self.links)


def _units(text: str, graphemes: bool) -> list[str]:
    """The caption split into what the platform counts (graphemes or code points)."""
    return regex.findall(r"\X", text) if graphemes else list(text)


def _fold_at(units: list[str], spec: PreviewSpec) -> int:
    """Where the feed folds the caption, in units (len(units): not folded)."""
    cut = len(units)
    if spec.fold_lines is not None:
        breaks = [i for i, u in enumerate(units) if "\n" in u]
        if len(breaks) >= spec.fold_lines:
            cut = breaks[spec.fold_lines - 1]
    if spec.fold is not None and cut > spec.fold:
        cut = spec.fold
        space = max((i for i in range(max(cut - _WORD_SLACK, 0), cut) if units[i].isspace()),
                    default=None)
        cut = space if space is not None else cut
    return cut


def segments(text: str, *, links: bool = True) -> list[Segment]:
    """`text` as plain runs and marked tokens; links get an href only if `links`."""
    out: list[Segment] = []
    at = 0
    for match in _TOKENS.finditer(text):
        if match.start() > at:
            out.append(Segment("text", text[at:match.start()]))
        kind = match.lastgroup or "text"
        href = match.group() if kind == "link" and links else ""
        out.append(Segment(kind, match.group(), href))
        at = match.end()
    if at < len(text):
        out.append(Segment("text", text[at:]))
    return out


def frame_class(frame: str) -> str:
    """ "1.91:1" → "191x100": a CSS class suffix (no inline styles under the CSP)."""
    width, _, height = frame.partition(":")
    if "." in width:
        return f"{round(float(width) * 100)}x{round(float(height or 1) * 100)}"
    return f"{width}x{height or 1}"


def preview(platform: str, *, account_name: str, post_type: str, caption: str,
            media: Sequence[Mapping[str, Any]] = (),
            options: Mapping[str, Any] | None = None,
            server_url: str | None = None) -> Preview:
    """The post as `platform` will show it (on the account's own server, if it has one:
    a Mastodon instance sets its own length)."""
    found = registry.find(platform)
    spec = found.preview if found else PreviewSpec()
    limit = registry.compose_limits_for(platform, server_url).get("chars") if found else None
    units = _units(caption, spec.graphemes)
    end = min(len(units), limit) if limit is not None else len(units)
    fold = min(_fold_at(units, spec), end)
    comment = (options or {}).get("first_comment")
    poll = (options or {}).get("poll") if post_type == "poll" else None
    poll = poll if isinstance(poll, dict) else {}
    choices = poll.get("options")
    return Preview(
        platform=platform, display_name=found.display_name if found else platform,
        account_name=account_name, post_type=post_type,
        shown=segments("".join(units[:fold]).rstrip(), links=spec.links),
        folded=segments("".join(units[fold:end]), links=spec.links),
        over="".join(units[end:]), more=spec.more,
        frame=frame_class(spec.frame_for(post_type)),
        media=[{"url": str(m.get("url", "")), "type": str(m.get("type", "image"))}
               for m in media if m.get("url")],
        first_comment=comment.strip() if isinstance(comment, str) else "",
        comments=bool(found and found.first_comments), links=spec.links,
        length=len(units), limit=limit, media_first=spec.media_first,
        poll_question=str(poll.get("question") or ""),
        poll_options=tuple(str(c) for c in choices) if isinstance(choices, list) else ())


def of_post(post: Post, account_name: str) -> Preview:
    """A stored post's preview (the review page's)."""
    return preview(post.platform, account_name=account_name, post_type=post.post_type,
                   caption=post.caption or "", media=post.media or [],
                   options=post.options or {})


def frames() -> set[str]:
    """Every frame class some platform's preview uses (the stylesheet draws each)."""
    return {frame_class(f) for s in registry.SPECS
            for f in (s.preview.frame, *s.preview.frames.values())}
