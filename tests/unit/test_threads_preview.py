"""Threads in the compose page's counters and previews, from its spec."""

from __future__ import annotations

from pathlib import Path

from herald.platforms import registry
from herald.web import previews

CSS = Path(__file__).resolve().parents[2] / "herald" / "web" / "static" / "herald.css"


def test_threads_counts_500_characters_and_marks_what_is_over():
    assert registry.COMPOSE_LIMITS["threads"] == {"chars": 500}
    shown = previews.preview("threads", account_name="Acme", post_type="text",
                             caption="a" * 499 + "bc")
    assert (shown.length, shown.limit) == (501, 500)
    assert shown.over == "c"  # the 501st character: refused when scheduled
    assert "".join(s.text for s in shown.shown + shown.folded) == "a" * 499 + "b"
    assert shown.comments  # a first comment is shown as the reply under it


def test_threads_frames_and_links_and_its_badge():
    link = previews.preview("threads", account_name="Acme", post_type="feed",
                            caption="See https://example.com/x")
    assert [s.href for s in link.shown if s.kind == "link"] == ["https://example.com/x"]
    assert link.frame == "4x5"
    assert previews.preview("threads", account_name="A", post_type="video",
                            caption="").frame == "9x16"
    assert registry.SHORT_NAMES["threads"] == "TH"
    assert ".platform-threads abbr" in CSS.read_text()
