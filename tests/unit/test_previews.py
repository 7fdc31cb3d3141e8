"""The previews: the caption folded and cut where each platform does, tokens marked, media
framed per platform and post type, the first comment under the post."""

from __future__ import annotations

import re
from pathlib import Path

from herald.platforms import registry
from herald.web import previews
from herald.web.previews import Segment

CSS = Path(__file__).resolve().parents[2] / "herald" / "web" / "static" / "herald.css"


def _text(segments: list[Segment]) -> str:
    return "".join(s.text for s in segments)


def test_instagram_folds_after_its_fold_at_a_word_boundary_and_keeps_the_rest():
    fold = registry.spec("instagram").preview.fold
    assert fold is not None
    caption = "word " * 60
    shown = previews.preview("instagram", account_name="Acme", post_type="feed",
                             caption=caption)
    assert len(_text(shown.shown)) <= fold
    assert _text(shown.shown).endswith("word")  # not cut inside a word
    assert (_text(shown.shown) + _text(shown.folded)).split() == caption.split()
    assert shown.more == registry.spec("instagram").preview.more and shown.over == ""


def test_the_fold_comes_at_the_line_limit_when_lines_run_out_first():
    lines = registry.spec("linkedin").preview.fold_lines
    assert lines is not None
    caption = "\n".join(f"line {i}" for i in range(lines + 3))
    shown = previews.preview("linkedin", account_name="Acme", post_type="text",
                             caption=caption)
    assert _text(shown.shown).count("\n") == lines - 1
    assert "line 0" in _text(shown.shown) and f"line {lines + 2}" in _text(shown.folded)


def test_a_short_caption_is_not_folded():
    shown = previews.preview("facebook", account_name="Acme", post_type="text",
                             caption="Short and sweet.")
    assert _text(shown.shown) == "Short and sweet." and shown.folded == []


def test_text_past_the_platforms_limit_is_cut_off_and_shown_as_cut():
    limit = registry.spec("bluesky").compose_limits["chars"]
    caption = "a" * limit + "TAIL"
    shown = previews.preview("bluesky", account_name="Acme", post_type="text",
                             caption=caption)
    assert shown.over == "TAIL" and shown.limit == limit and shown.length == limit + 4


def test_bluesky_counts_graphemes_so_an_emoji_family_is_one():
    limit = registry.spec("bluesky").compose_limits["chars"]
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one grapheme, five code points
    shown = previews.preview("bluesky", account_name="Acme", post_type="text",
                             caption=family * limit)
    assert shown.over == "" and shown.length == limit


def test_hashtags_mentions_and_links_are_marked_and_only_http_links_get_an_href():
    found = previews.segments("Hi @acme.co see https://example.com/a?b=1. #Launch2026 "
                              "javascript:alert(1) #123")
    kinds = [(s.kind, s.text) for s in found if s.kind != "text"]
    assert kinds == [("mention", "@acme.co"), ("link", "https://example.com/a?b=1"),
                     ("hashtag", "#Launch2026")]
    assert [s.href for s in found if s.kind == "link"] == ["https://example.com/a?b=1"]


def test_instagram_caption_links_are_not_clickable_but_linkedins_are():
    caption = "Read https://example.com"
    ig = previews.preview("instagram", account_name="A", post_type="feed", caption=caption)
    li = previews.preview("linkedin", account_name="A", post_type="text", caption=caption)
    assert [s.href for s in ig.shown if s.kind == "link"] == [""]
    assert [s.href for s in li.shown if s.kind == "link"] == ["https://example.com"]


def test_media_is_framed_per_platform_and_post_type_from_the_spec():
    media = [{"url": "https://cdn.example.com/a.jpg", "type": "image"}]
    story = previews.preview("instagram", account_name="A", post_type="story", caption="",
                             media=media)
    feed = previews.preview("instagram", account_name="A", post_type="feed", caption="",
                            media=media)
    link = previews.preview("linkedin", account_name="A", post_type="article", caption="",
                            media=media)
    assert (story.frame, feed.frame, link.frame) == ("9x16", "4x5", "191x100")
    assert feed.media == media and feed.media_first and not link.media_first


def test_every_frame_a_platform_uses_is_drawn_by_the_stylesheet():
    css = CSS.read_text()
    drawn = set(re.findall(r"\.pv-frame-(\w+) \{", css))
    assert previews.frames() <= drawn, previews.frames() - drawn


def test_the_first_comment_shows_where_the_platform_posts_it():
    options = {"first_comment": "Link in bio #more"}
    sky = previews.preview("bluesky", account_name="A", post_type="text", caption="Hi",
                           options=options)
    ig = previews.preview("instagram", account_name="A", post_type="feed", caption="Hi",
                          options=options)
    assert sky.first_comment == "Link in bio #more" and sky.comments
    assert [s.kind for s in sky.first_comment_segments] == ["text", "hashtag"]
    # Instagram posts first comments too (herald.first_comment), under the post.
    assert ig.first_comment == "Link in bio #more" and ig.comments


def test_facebook_reels_and_stories_fill_a_phones_screen_and_videos_stay_wide():
    media = [{"url": "https://cdn.example.com/a.mp4", "type": "video"}]
    frames = [previews.preview("facebook", account_name="P", post_type=t, caption="",
                               media=media).frame for t in ("reel", "story", "video")]
    assert frames == ["9x16", "9x16", "16x9"]


def test_a_poll_preview_shows_its_question_and_options():
    poll = {"question": "Which day?", "options": ["Monday", "Friday"]}
    shown = previews.preview("linkedin", account_name="Org", post_type="poll",
                             caption="Help us pick", options={"poll": poll})
    assert (shown.poll_question, shown.poll_options) == ("Which day?", ("Monday", "Friday"))
    feed = previews.preview("linkedin", account_name="Org", post_type="feed", caption="x",
                            options={"poll": poll})
    assert (feed.poll_question, feed.poll_options) == ("", ())
