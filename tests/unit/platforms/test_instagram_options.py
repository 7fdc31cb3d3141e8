"""Instagram's post options checked at scheduling time (options.problems) and shaped for
the containers (container_options, child_options)."""

from __future__ import annotations

import pytest

from herald.platforms.instagram.options import child_options, container_options, problems
from herald.validation import validate_post

IMAGE = [{"url": "https://cdn.example/a.jpg", "type": "image"}]
VIDEO = [{"url": "https://cdn.example/a.mp4", "type": "video"}]


@pytest.mark.parametrize("platform", ["instagram", "instagram_login"])
def test_both_logins_check_the_options(platform):
    [problem] = validate_post(platform, "feed", "x", IMAGE,
                              {"collaborators": [f"user{i}" for i in range(6)]})
    assert problem == ("Instagram takes at most 5 collaborators on a post; "
                       "options.collaborators has 6.")


@pytest.mark.parametrize(("post_type", "types", "options", "expected"), [
    ("feed", ["image"], {"collaborators": "jane"}, "must be a list of Instagram usernames"),
    ("feed", ["image"], {"collaborators": ["jane", "Jane"]}, "names someone twice"),
    ("feed", ["image"], {"collaborators": ["not a name"]}, "is not an Instagram username"),
    ("story", ["image"], {"collaborators": ["jane"]}, "not on story posts"),
    ("feed", ["image"], {"user_tags": [{"username": "jane", "x": -0.1, "y": 0.5}]},
     "x must be between 0 and 1"),
    ("feed", ["image"], {"user_tags": [{"username": "jane", "x": 0.1, "y": 2}]},
     "y must be between 0 and 1"),
    ("feed", ["image"], {"user_tags": [{"username": "jane"}]}, "needs x"),
    ("feed", ["image"], {"user_tags": [{"x": 0.1, "y": 0.1}]}, "needs the tagged person"),
    ("reel", ["video"], {"user_tags": [{"username": "jane", "x": 0.1, "y": 0.1}]},
     "tags on a reel take no position"),
    ("carousel", ["image", "video"], {"user_tags": [{"username": "j", "x": 0, "y": 0,
                                                     "media": 2}]}, "item 2 is a video"),
    ("carousel", ["image", "image"], {"user_tags": [{"username": "j", "x": 0, "y": 0,
                                                     "media": 3}]}, "1 to 2"),
    ("story", ["image"], {"user_tags": [{"username": "jane", "x": 0.1, "y": 0.1}]},
     "not on story posts"),
    ("feed", ["image"], {"location_id": "Paris"}, "numeric id of a Facebook Page"),
    ("story", ["image"], {"location_id": "123"}, "not on story posts"),
    ("feed", ["image"], {"trial_params": {"graduation_strategy": "MANUAL"}}, "reels only"),
    ("carousel", ["image", "image"], {"trial_params": {"graduation_strategy": "MANUAL"}},
     "reels only"),
    ("reel", ["video"], {"trial_params": {"graduation_strategy": "SOMETIMES"}},
     "MANUAL"),
    ("reel", ["video"], {"trial_params": "MANUAL"}, "SS_PERFORMANCE"),
])
def test_each_bad_option_is_a_sentence(post_type, types, options, expected):
    found = problems(post_type, types, options)
    assert len(found) == 1 and expected in found[0], found


def test_good_options_pass():
    assert problems("feed", ["image"], {
        "collaborators": ["jane.doe", "@bob_b"], "location_id": 110843418940484,
        "user_tags": [{"username": "jane.doe", "x": 0, "y": 1}]}) == []
    assert problems("reel", ["video"], {
        "trial_params": {"graduation_strategy": "MANUAL"}, "user_tags": [{"username": "j"}],
        "collaborators": ["a", "b", "c", "d", "e"]}) == []
    assert problems("feed_story", ["image"], {"collaborators": ["jane"]}) == []


def test_twenty_one_tags_on_one_image_are_too_many():
    tags = [{"username": f"u{i}", "x": 0.5, "y": 0.5} for i in range(21)]
    assert problems("feed", ["image"], {"user_tags": tags}) == [
        "Instagram takes at most 20 people tagged on one image."]


def test_stories_carry_no_options_and_carousels_tag_their_items():
    options = {"collaborators": ["@jane"], "location_id": 7, "trial_params": {
        "graduation_strategy": "MANUAL"},
        "user_tags": [{"username": "@jane", "x": 0.5, "y": 0.25, "media": 2}]}
    assert container_options("stories", options) == {}
    assert container_options("carousel", options) == {"collaborators": ["jane"],
                                                      "location_id": "7"}
    assert child_options(1, options) == {}
    assert child_options(2, options) == {"user_tags": [{"username": "jane", "x": 0.5,
                                                        "y": 0.25}]}
    # trial_params only on a reel's container; a reel's tags carry no position.
    assert container_options("image", options)["user_tags"] == [
        {"username": "jane", "x": 0.5, "y": 0.25}]
    reel = container_options("reels", options)
    assert reel["trial_params"] == {"graduation_strategy": "MANUAL"}
    assert reel["user_tags"] == [{"username": "jane"}]
