"""Instagram content publishing through the fake, over real HTTP."""

from __future__ import annotations

import pytest

from herald.platforms.fake.models import DAY

IG_USER = "17841400000000001"  # the account the `ig` fixture registers


def error_of(response):
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    return error["code"], error.get("error_subcode")


def test_image_flow_publishes_a_media_distinct_from_its_container(ig, state, image_url):
    container = ig.container(image_url=image_url, caption="Launch day #herald", alt_text="A")
    assert ig.status(container) == "FINISHED"

    published = ig.publish(container)

    assert published.status_code == 200
    media_id = published.json()["id"]
    assert media_id != container
    assert ig.status(container) == "PUBLISHED"
    permalink = ig.get(f"/{media_id}", fields="permalink").json()["permalink"]
    assert media_id in permalink
    [record] = state.published()
    assert (record.platform, record.account, record.kind) == ("instagram", IG_USER, "image")
    assert record.caption == "Launch day #herald"
    assert record.media_urls == (image_url,)
    assert record.external_id == media_id and record.permalink == permalink


def test_recent_media_and_stories_are_listed_newest_first(ig, state, host_file, image_url,
                                                         make_image):
    story_image = host_file("story.jpg", make_image(90, 160))
    first = ig.publish(ig.container(image_url=image_url, caption="one")).json()["id"]
    second = ig.publish(ig.container(image_url=image_url, caption="two")).json()["id"]
    story = ig.publish(ig.container(media_type="STORIES", image_url=story_image)).json()["id"]

    media = ig.get(f"/{IG_USER}/media", fields="id,caption,timestamp,permalink").json()["data"]
    stories = ig.get(f"/{IG_USER}/stories", fields="id").json()["data"]

    assert [m["id"] for m in media] == [second, first]
    assert media[0]["caption"] == "two" and media[0]["timestamp"].endswith("+0000")
    assert [s["id"] for s in stories] == [story]
    state.advance(DAY + 1)
    assert ig.get(f"/{IG_USER}/stories").json()["data"] == []


def test_reel_walks_in_progress_then_finished_and_early_publish_is_9007(ig, state, image_url):
    state.configure(ig_video_polls=2)
    container = ig.container(media_type="REELS", video_url=image_url, caption="reel",
                             share_to_feed="true")

    assert error_of(ig.publish(container)) == (9007, 2207027)
    assert [ig.status(container) for _ in range(3)] == ["IN_PROGRESS", "IN_PROGRESS",
                                                        "FINISHED"]
    assert ig.publish(container).status_code == 200
    assert state.published()[0].kind == "reel"


def test_video_readiness_can_follow_the_clock_instead_of_polls(ig, state, image_url):
    state.configure(ig_video_seconds=60)
    container = ig.container(media_type="REELS", video_url=image_url)
    assert ig.status(container) == "IN_PROGRESS"
    assert ig.status(container) == "IN_PROGRESS"
    state.advance(61)
    assert ig.status(container) == "FINISHED"


def test_container_expires_after_24_hours(ig, state, image_url):
    container = ig.container(image_url=image_url)
    state.advance(DAY)
    assert ig.status(container) == "EXPIRED"
    assert error_of(ig.publish(container)) == (24, 2207008)


def test_second_publish_of_a_container_is_refused(ig, state, image_url):
    container = ig.container(image_url=image_url)
    assert ig.publish(container).status_code == 200
    assert error_of(ig.publish(container)) == (9007, 2207027)
    assert len(state.published()) == 1


def test_processing_error_fault_ends_in_error_status(ig, state, image_url):
    state.add_fault("processing_error", platform="instagram", endpoint="container", count=1,
                    subcode=2207026)
    container = ig.container(image_url=image_url)
    body = ig.get(f"/{container}", fields="status_code,status").json()
    assert body["status_code"] == "ERROR"
    assert body["status"] == "Error: Media upload has failed with error code 2207026"
    assert error_of(ig.publish(container))[0] == 9007


def test_unreachable_video_ends_in_error_status(ig, server):
    container = ig.container(media_type="REELS", video_url=f"{server.url}/_fake/files/none.mp4")
    ig.status(container)
    assert ig.status(container) == "ERROR"


def test_carousel_needs_finished_carousel_items_of_the_same_account(ig, state, image_url):
    children = [ig.container(image_url=image_url, is_carousel_item="true") for _ in range(3)]
    plain = ig.container(image_url=image_url)

    assert error_of(ig.create(media_type="CAROUSEL", children=children[0])) == (100, 2207028)
    eleven = ",".join([children[0]] * 11)
    assert error_of(ig.create(media_type="CAROUSEL", children=eleven)) == (100, 2207028)
    mixed = f"{children[0]},{plain}"
    assert error_of(ig.create(media_type="CAROUSEL", children=mixed)) == (100, 2207028)
    assert error_of(ig.create(media_type="CAROUSEL", children=f"{children[0]},999")) == (
        24, 2207006)

    carousel = ig.container(media_type="CAROUSEL", children=",".join(children),
                            caption="three pics")
    assert ig.publish(carousel).status_code == 200
    [record] = state.published()
    assert record.kind == "carousel" and record.caption == "three pics"
    assert record.media_urls == (image_url,) * 3
    assert ig.get(f"/{IG_USER}/content_publishing_limit").json()["data"][0]["quota_usage"] == 1


def test_carousel_refuses_children_still_processing(ig, state, image_url):
    state.configure(ig_video_polls=1)
    video = ig.container(media_type="VIDEO", video_url=image_url, is_carousel_item="true")
    image = ig.container(image_url=image_url, is_carousel_item="true")
    assert error_of(ig.create(media_type="CAROUSEL", children=f"{video},{image}")) == (
        9007, 2207027)
    ig.status(video)
    assert ig.status(video) == "FINISHED"
    assert ig.create(media_type="CAROUSEL", children=[video, image]).status_code == 200


def test_children_from_another_account_are_not_found(ig, state, server, image_url):
    state.add_instagram_account("17841400000000002", ig.http.headers["Authorization"][7:])
    theirs = ig.post("/17841400000000002/media", image_url=image_url,
                     is_carousel_item="true").json()["id"]
    mine = ig.container(image_url=image_url, is_carousel_item="true")
    assert error_of(ig.create(media_type="CAROUSEL", children=f"{mine},{theirs}")) == (
        24, 2207006)


@pytest.mark.parametrize(("caption", "expected"), [
    ("x" * 2201, (36004, 2207010)),
    (" ".join(f"#tag{i}" for i in range(31)), (100, None)),
    (" ".join(f"@user{i}" for i in range(21)), (100, 2207040)),
])
def test_caption_limits(ig, image_url, caption, expected):
    assert error_of(ig.create(image_url=image_url, caption=caption)) == expected


def test_caption_at_the_limits_is_accepted(ig, image_url):
    caption = " ".join(f"#t{i}" for i in range(30)) + " " + " ".join(f"@u{i}" for i in range(20))
    assert ig.create(image_url=image_url, caption=caption.ljust(2200, ".")).status_code == 200


def test_bad_media_types_are_refused(ig, image_url):
    assert error_of(ig.create(media_type="GIF", image_url=image_url)) == (100, 2207023)
    # Single feed videos are reels now; VIDEO is only for carousel items.
    assert error_of(ig.create(media_type="VIDEO", video_url=image_url)) == (100, 2207023)
    assert error_of(ig.create(media_type="REELS", image_url=image_url))[0] == 100
    assert error_of(ig.create(caption="no media"))[0] == 100


def test_quota_counts_publishes_in_a_rolling_day(ig, state, image_url):
    state.add_instagram_account(IG_USER, "ig-token", quota_total=2)
    for caption in ("a", "b"):
        assert ig.publish(ig.container(image_url=image_url, caption=caption)).status_code == 200
    limit = ig.get(f"/{IG_USER}/content_publishing_limit", fields="quota_usage,config").json()
    assert limit == {"data": [{"quota_usage": 2,
                               "config": {"quota_total": 2, "quota_duration": 86400}}]}

    third = ig.container(image_url=image_url, caption="c")
    assert error_of(ig.publish(third)) == (9, 2207042)

    state.advance(DAY + 1)
    assert ig.get(f"/{IG_USER}/content_publishing_limit").json()["data"][0]["quota_usage"] == 0
    assert ig.publish(ig.container(image_url=image_url, caption="c")).status_code == 200


def test_quota_since_parameter(ig, state, image_url):
    ig.publish(ig.container(image_url=image_url))
    since = int(state.now()) + 1
    state.advance(5)
    usage = ig.get(f"/{IG_USER}/content_publishing_limit", since=since).json()
    assert usage["data"][0]["quota_usage"] == 0


def test_default_quota_is_50(ig, image_url):
    body = ig.get(f"/{IG_USER}/content_publishing_limit", fields="config").json()
    assert body["data"][0]["config"]["quota_total"] == 50


class TestMediaFetching:
    def test_png_is_accepted(self, ig, host_file, make_image):
        url = host_file("p.png", make_image(fmt="PNG"), "image/png")
        assert ig.create(image_url=url).status_code == 200

    def test_too_large(self, ig, host_file):
        url = host_file("big.jpg", b"\xff\xd8" + b"0" * (8 * 1024 * 1024))
        assert error_of(ig.create(image_url=url)) == (36000, 2207004)

    def test_wrong_format_judged_by_content_not_name(self, ig, host_file, make_image):
        url = host_file("fake.jpg", make_image(fmt="GIF"))
        assert error_of(ig.create(image_url=url)) == (36001, 2207005)
        url = host_file("text.jpg", b"not an image at all")
        assert error_of(ig.create(image_url=url)) == (36001, 2207005)

    @pytest.mark.parametrize(("width", "height"), [(100, 200), (400, 200)])
    def test_aspect_ratio(self, ig, host_file, make_image, width, height):
        url = host_file("odd.jpg", make_image(width, height))
        assert error_of(ig.create(image_url=url)) == (36003, 2207009)

    def test_aspect_limits_are_inclusive_and_stories_are_exempt(self, ig, host_file, make_image):
        assert ig.create(image_url=host_file("45.jpg", make_image(400, 500))).status_code == 200
        assert ig.create(image_url=host_file("w.jpg", make_image(191, 100))).status_code == 200
        tall = host_file("tall.jpg", make_image(90, 160))
        assert ig.create(media_type="STORIES", image_url=tall).status_code == 200

    def test_unreachable(self, ig, server):
        response = ig.create(image_url=f"{server.url}/_fake/files/missing.jpg")
        assert error_of(response) == (9004, 2207052)
        assert "missing.jpg" in response.json()["error"]["error_user_msg"]

    def test_fetching_can_be_switched_off(self, ig, state, server):
        state.configure(fetch_media=False)
        assert ig.create(image_url=f"{server.url}/nothing-here.jpg").status_code == 200
