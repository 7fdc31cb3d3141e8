"""Rich text facets: links, mentions and hashtags located by UTF-8 byte offsets.

Bluesky draws no markup: a post's `facets` point at byte ranges of its text (start
inclusive, end exclusive, counted in UTF-8 bytes, not characters) and say what each range
is (docs.bsky.app/docs/advanced-guides/post-richtext; lexicon app.bsky.richtext.facet).
The patterns follow that guide and the official app's richtext detection
(bluesky-social/atproto packages/api/src/rich-text/detection.ts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import regex

#: A URL after a start or a non-word character; trailing punctuation is not part of it.
_URL = regex.compile(
    r"(?:^|\W)(https?://(?:www\.)?[-a-zA-Z0-9@:%._+~#=]{1,256}\.[a-zA-Z0-9()]{1,6}\b"
    r"(?:[-a-zA-Z0-9()@:%_+.~#?&/=]*[-a-zA-Z0-9@%_+~#/=])?)")
#: A handle (domain name) after @, at a start or after a non-word character.
_MENTION = regex.compile(
    r"(?:^|\W)(@(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+"
    r"[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)")
_INVISIBLE = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
#: A hashtag after a start or a space: not all digits, no invisible characters.
_TAG = regex.compile(
    rf"(?:^|\s)([#\uff03](?!\ufe0f)[^\s{_INVISIBLE}]*[^\d\s\p{{P}}{_INVISIBLE}]+"
    rf"[^\s{_INVISIBLE}]*)")
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+$")
#: A tag holds at most 64 graphemes (lexicon app.bsky.richtext.facet#tag).
TAG_MAX_GRAPHEMES = 64


@dataclass(frozen=True)
class Span:
    """One facet's text range, in UTF-8 bytes, and what it is."""

    start: int
    end: int
    kind: str  # link | mention | tag
    value: str  # the URI, the handle (no @) or the tag (no #)


def graphemes(text: str) -> int:
    """User-perceived characters, as Bluesky counts a post's length."""
    return len(regex.findall(r"\X", text))


def _byte_range(text: str, start: int, end: int) -> tuple[int, int]:
    head = len(text[:start].encode("utf-8"))
    return head, head + len(text[start:end].encode("utf-8"))


def find_spans(text: str) -> list[Span]:
    """Every link, mention and hashtag in `text`, in order of position."""
    spans = []
    for match in _URL.finditer(text):
        spans.append(Span(*_byte_range(text, *match.span(1)), "link", match.group(1)))
    for match in _MENTION.finditer(text):
        spans.append(Span(*_byte_range(text, *match.span(1)), "mention", match.group(1)[1:]))
    for match in _TAG.finditer(text):
        start, _ = match.span(1)
        tag = _TRAILING_PUNCTUATION.sub("", match.group(1))[1:]
        if not tag or graphemes(tag) > TAG_MAX_GRAPHEMES:
            continue
        spans.append(Span(*_byte_range(text, start, start + len(tag) + 1), "tag", tag))
    spans.sort(key=lambda s: s.start)
    # A link's fragment ("…/page#part") is not a tag, nor its user part a mention.
    kept: list[Span] = []
    for span in spans:
        if kept and span.start < kept[-1].end:
            continue
        kept.append(span)
    return kept


def handles(spans: list[Span]) -> list[str]:
    return list(dict.fromkeys(s.value for s in spans if s.kind == "mention"))


def build(spans: list[Span], dids: Mapping[str, str]) -> list[dict[str, Any]]:
    """The record's `facets`; a mention whose handle did not resolve to a DID is plain text."""
    facets = []
    for span in spans:
        if span.kind == "link":
            feature = {"$type": "app.bsky.richtext.facet#link", "uri": span.value}
        elif span.kind == "tag":
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": span.value}
        elif span.value.lower() in dids:
            feature = {"$type": "app.bsky.richtext.facet#mention",
                       "did": dids[span.value.lower()]}
        else:
            continue
        facets.append({"index": {"byteStart": span.start, "byteEnd": span.end},
                       "features": [feature]})
    return facets
