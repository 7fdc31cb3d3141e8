"""Bluesky's text rules: facets by UTF-8 byte offsets, graphemes, record keys, post rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from herald.platforms.base import (
    NeedsReauthError,
    OutcomeUnknownError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from herald.platforms.bluesky import facets, tid
from herald.platforms.bluesky.errors import SessionExpired, bluesky_error
from herald.validation import comment_problems, options_for, validate_post

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def spans(text: str) -> list[tuple[str, str, str]]:
    raw = text.encode()
    return [(s.kind, s.value, raw[s.start:s.end].decode()) for s in facets.find_spans(text)]


def test_facets_count_utf8_bytes_not_characters() -> None:
    text = "Café ☕ https://example.com/a?b=1 #herald"
    [link, tag] = facets.find_spans(text)
    assert (link.start, link.end) == (10, 35)  # "Café ☕ " is 7 characters, 10 bytes
    assert text.encode()[tag.start:tag.end] == b"#herald"


def test_links_mentions_and_tags_are_found_with_their_values() -> None:
    found = spans("Hi @alice.bsky.social, read https://example.com/x#part. #launch! #2026 #x2")
    assert found == [("mention", "alice.bsky.social", "@alice.bsky.social"),
                     ("link", "https://example.com/x#part", "https://example.com/x#part"),
                     ("tag", "launch", "#launch"), ("tag", "x2", "#x2")]


def test_an_email_address_is_not_a_mention_and_a_word_is_not_a_link() -> None:
    assert spans("mail me@example.com or see example.com") == []


def test_facets_are_built_and_unresolved_mentions_stay_text() -> None:
    found = facets.find_spans("@bob.test and @nobody.test #tag")
    built = facets.build(found, {"bob.test": "did:plc:bob"})
    assert [f["features"][0]["$type"] for f in built] == [
        "app.bsky.richtext.facet#mention", "app.bsky.richtext.facet#tag"]
    assert built[0] == {"index": {"byteStart": 0, "byteEnd": 9}, "features": [
        {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:bob"}]}


def test_graphemes_count_an_emoji_family_once() -> None:
    assert facets.graphemes("👨‍👩‍👧é") == 2
    assert facets.graphemes("e\u0301") == 1


def test_record_keys_are_tids_derived_from_the_post() -> None:
    key = tid.post_rkey("post-1", NOW)
    assert tid.TID_RE.match(key)
    assert key == tid.post_rkey("post-1", NOW)
    assert key != tid.post_rkey("post-2", NOW)
    # Within a second of the post's time (microseconds in the top 53 bits).
    micros = tid.decode(key) >> 10
    assert abs(micros / 1e6 - NOW.timestamp()) < 1.1
    assert tid.comment_rkey(key) != key and tid.TID_RE.match(tid.comment_rkey(key))
    assert tid.decode(tid.encode(12345)) == 12345


def problems(post_type: str = "feed", caption: str = "hi", media=(), **options) -> list[str]:
    return validate_post("bluesky", post_type, caption, list(media), options)


def test_301_graphemes_are_refused_and_300_emoji_are_not() -> None:
    assert problems(caption="😀" * 300) == []
    # 300 family emoji are 300 graphemes but 5,400 bytes: over the 3,000-byte cap.
    assert "3,000 bytes" in problems(caption="👨‍👩‍👧" * 300)[0]
    [problem] = problems(caption="a" * 301)
    assert "limited to 300 characters; this one has 301" in problem


def test_a_fifth_image_and_a_video_are_refused() -> None:
    five = [{"url": f"https://cdn.test/{i}.jpg", "type": "image"} for i in range(5)]
    assert any("at most 4 images; this one has 5" in p for p in problems(media=five))
    assert problems(media=five[:4]) == []
    video = [{"url": "https://cdn.test/v.mp4", "type": "video"}]
    assert any("can only contain images" in p for p in problems(media=video))
    assert any("videos" in p for p in problems("video", media=video))


def test_a_link_card_needs_a_link() -> None:
    assert any("need a link" in p for p in problems("article"))
    assert problems("article", link="https://example.com") == []
    assert any("no images" in p for p in problems(
        "text", media=[{"url": "https://cdn.test/a.jpg", "type": "image"}]))


@pytest.mark.parametrize(("status", "body", "step", "kind"), [
    (401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
     "read", NeedsReauthError),
    (400, {"error": "ExpiredToken", "message": "Token has expired"}, "commit", SessionExpired),
    (400, {"error": "AccountTakedown", "message": "Account has been taken down"}, "read",
     NeedsReauthError),
    (429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, "commit",
     RateLimitedError),
    (500, {"error": "InternalServerError", "message": "Internal Server Error"}, "commit",
     OutcomeUnknownError),
    (502, {}, "prepare", TransientError),
    (400, {"error": "InvalidRequest", "message": "Invalid app.bsky.feed.post record"},
     "commit", PermanentError),
    (413, {"error": "PayloadTooLarge", "message": "request entity too large"}, "prepare",
     PermanentError),
])
def test_xrpc_errors_are_mapped(status, body, step, kind) -> None:
    error = bluesky_error(status, body, step=step, signing_in=status == 401, headers={},
                          now=NOW)
    assert type(error) is kind, error
    assert str(status) in (error.code or "")


def test_a_throttled_account_waits_until_the_window_resets() -> None:
    reset = str(int(NOW.timestamp()) + 600)
    error = bluesky_error(429, {"error": "RateLimitExceeded"}, step="commit",
                          signing_in=False, headers={"ratelimit-reset": reset}, now=NOW)
    assert isinstance(error, RateLimitedError) and error.retry_after == 600


def test_first_comments_are_checked_and_refused_where_unsupported() -> None:
    assert problems(first_comment="A reply") == []
    assert any("first comments (replies) are limited to 300" in p
               for p in problems(first_comment="a" * 301))
    [empty] = validate_post("linkedin", "text", "hi", [], {"first_comment": " "})
    assert empty == "first_comment must be the comment's text."
    [long] = validate_post("linkedin", "text", "hi", [], {"first_comment": "c" * 1251})
    assert long == ("LinkedIn comments are limited to 1,250 characters; this first comment "
                    "has 1,251.")
    [too_long_ig] = validate_post("instagram", "feed", "hi", [
        {"url": "https://example.com/a.jpg", "type": "image"}], {"first_comment": "c" * 2201})
    assert too_long_ig.startswith("Instagram comments are limited to 2,200 characters")


def test_first_comments_where_the_account_or_type_cannot_take_one() -> None:
    comment = {"first_comment": "c"}
    assert comment_problems("linkedin", ["text"], "urn:li:organization:42", comment) == []
    assert comment_problems("linkedin", ["text"], "urn:li:person:abc", comment) == [
        "LinkedIn first comments are posted as an organization; this account is a member; "
        "leave out first_comment."]
    assert comment_problems("instagram", ["story"], "1784", comment) == [
        "Instagram stories take no comments; leave out first_comment."]
    # A feed_story's feed post takes the comment; its story goes without.
    assert comment_problems("instagram", ["feed", "story"], "1784", comment) == []
    assert options_for("instagram", "story", "1784", {**comment, "x": 1}) == {"x": 1}
    assert options_for("instagram", "feed", "1784", comment) == comment
    assert comment_problems("linkedin", ["text"], "urn:li:person:abc", {}) == []
