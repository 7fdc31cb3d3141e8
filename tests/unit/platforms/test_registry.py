"""The registry of platform specs and what is derived from it."""

from __future__ import annotations

import pytest

from herald import models, schemas
from herald.platforms import registry
from herald.platforms.spec import PlatformSpec
from herald.sandbox import sandbox_identity
from herald.validation import validate_post


def test_the_derived_lists_keep_their_values_and_order() -> None:
    assert models.PLATFORMS == ("bluesky", "facebook", "instagram", "instagram_login",
                                "linkedin", "mastodon", "threads")
    assert models.POST_TYPES == ("feed", "carousel", "reel", "story", "feed_story", "video",
                                 "article", "text", "poll")
    assert schemas.Platform.__args__ == models.PLATFORMS
    assert schemas.PostType.__args__ == models.POST_TYPES


@pytest.mark.parametrize("platform", registry.NAMES)
@pytest.mark.parametrize("post_type", models.POST_TYPES)
def test_only_instagrams_feed_story_splits_on_either_login(platform: str, post_type: str) -> None:
    expected = (("feed", "story") if platform in ("instagram", "instagram_login")
                and post_type == "feed_story" else (post_type,))
    assert registry.split_post_type(platform, post_type) == expected


def test_an_unknown_platform_splits_into_itself() -> None:
    assert registry.split_post_type("myspace", "feed_story") == ("feed_story",)


@pytest.mark.parametrize("spec", registry.SPECS, ids=lambda s: s.name)
def test_a_type_a_platform_does_not_list_is_refused_by_its_rules(spec: PlatformSpec) -> None:
    for post_type in models.POST_TYPES:
        problems = validate_post(spec.name, post_type, "x", [])
        refused = any("cannot publish" in p for p in problems)
        assert refused is (post_type not in spec.post_types), (spec.name, post_type)


def test_sandbox_identities_look_like_the_platforms_ids() -> None:
    ig, _ = sandbox_identity("instagram")
    fb, _ = sandbox_identity("facebook")
    li, token = sandbox_identity("linkedin")
    assert ig.startswith("17841") and len(ig) == 15
    assert fb.startswith("10") and len(fb) == 12
    assert li.startswith("urn:li:person:sandbox") and token.startswith("sandbox-")
    bs, _ = sandbox_identity("bluesky")
    assert bs.startswith("sandbox") and bs.endswith(".bsky.social")
    th, _ = sandbox_identity("threads")
    assert th.isdigit() and len(th) == 12  # numeric, like Threads user ids


def test_display_names_and_connect_flows() -> None:
    assert registry.DISPLAY_NAMES == {"instagram": "Instagram",
                                      "instagram_login": "Instagram (Instagram Login)",
                                      "facebook": "Facebook",
                                      "linkedin": "LinkedIn", "bluesky": "Bluesky",
                                      "threads": "Threads", "mastodon": "Mastodon"}
    assert [s.name for s in registry.connectable()] == ["instagram_login", "facebook",
                                                        "linkedin", "threads", "mastodon"]
    assert registry.by_display_name("Instagram") is registry.spec("instagram")


@pytest.mark.parametrize("spec", registry.SPECS, ids=lambda s: s.name)
def test_a_spec_that_takes_first_comments_has_a_publisher_that_comments(
        spec: PlatformSpec) -> None:
    import httpx

    from herald.media.fetch import FetchRules, SafeFetcher
    from herald.platforms.base import Commenter
    from herald.platforms.spec import Endpoint

    client = httpx.AsyncClient()
    publisher = spec.publisher(client, Endpoint("https://example.test", "v1"),
                               SafeFetcher(client, FetchRules()))
    assert isinstance(publisher, Commenter) == spec.first_comments
