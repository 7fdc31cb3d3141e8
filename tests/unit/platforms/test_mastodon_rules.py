"""Mastodon's scheduling-time checks, with the account's instance's own limits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from herald.platforms.mastodon import instance, rules
from herald.platforms.mastodon.instance import InstanceLimits
from herald.validation import validate_post

SERVER = "https://big.example"
IMAGE = {"url": "https://cdn.example/a.jpg", "type": "image"}


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    instance.forget()
    yield
    instance.forget()


def problems(caption: str, post_type: str = "text", media=(), server: str | None = SERVER,
             **options) -> list[str]:
    return validate_post("mastodon", post_type, caption, list(media), options,
                         server_url=server)


def test_an_unknown_instance_gets_mastodons_500_characters() -> None:
    assert problems("x" * 500) == []
    [problem] = problems("x" * 501)
    assert "500 characters" in problem and "501" in problem


def test_an_instance_that_allows_more_is_taken_at_its_word() -> None:
    instance.remember(SERVER, InstanceLimits(max_characters=5000, source="instance"))
    assert problems("x" * 4000) == []
    assert problems("x" * 501, server="https://other.example")  # its own limits: default


def test_links_count_as_the_instances_reserved_characters() -> None:
    instance.remember(SERVER, InstanceLimits(max_characters=30, chars_per_url=23,
                                             source="instance"))
    assert rules.length("see https://example.com/" + "a" * 200) == 4 + 23
    assert problems("see https://example.com/" + "a" * 200) == []
    assert rules.length("@bob@mastodon.social") == len("@bob")


def test_the_content_warning_counts_too() -> None:
    [problem] = problems("x" * 400, spoiler_text="y" * 101)
    assert "content warning" in problem


def test_too_many_media_for_the_instance() -> None:
    instance.remember(SERVER, InstanceLimits(max_media=2, source="instance"))
    [problem] = problems("three", "feed", [IMAGE] * 3)
    assert "at most 2 media items" in problem
    assert not problems("four", "feed", [IMAGE] * 4, server=None)  # the default, 4: fine


def test_bad_options_are_named() -> None:
    found = problems("hi", visibility="friends", language="English")
    assert any("visibility" in p for p in found) and any("ISO 639" in p for p in found)


def test_a_first_comment_over_the_limit_is_refused() -> None:
    [problem] = problems("hi", first_comment="x" * 501)
    assert "first comment" in problem


def test_a_video_goes_alone() -> None:
    video = {"url": "https://cdn.example/v.mp4", "type": "video"}
    assert any("not both" in p for p in problems("v", "feed", [video, IMAGE]))
