"""Facebook Page publishing through the fake, over real HTTP."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

PAGE = "100000000000001"


def error_of(response):
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    return error["code"], error.get("error_subcode")


def test_text_post_gets_a_page_scoped_id_and_is_listed(fb, state):
    response = fb.post(f"/{PAGE}/feed", message="Hello Page")

    post_id = response.json()["id"]
    assert re.fullmatch(rf"{PAGE}_\d+", post_id)
    posts = fb.get(f"/{PAGE}/published_posts", fields="id,message,created_time").json()["data"]
    assert posts[0]["id"] == post_id and posts[0]["message"] == "Hello Page"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", posts[0]["created_time"])
    permalink = fb.get(f"/{post_id}", fields="permalink_url").json()["permalink_url"]
    assert post_id in permalink
    [record] = state.published()
    assert (record.platform, record.kind, record.caption) == ("facebook", "text", "Hello Page")
    assert record.external_id == post_id and record.permalink == permalink


def test_link_post(fb, state):
    assert fb.post(f"/{PAGE}/feed", message="Read", link="https://example.com/a").status_code == 200
    assert state.published()[0].kind == "link"


def test_identical_consecutive_post_is_506(fb):
    assert fb.post(f"/{PAGE}/feed", message="Same").status_code == 200
    assert error_of(fb.post(f"/{PAGE}/feed", message="Same")) == (506, 1455006)
    assert fb.post(f"/{PAGE}/feed", message="Other").status_code == 200
    # Only consecutive duplicates are caught, as on Facebook.
    assert fb.post(f"/{PAGE}/feed", message="Same").status_code == 200


def test_empty_post_is_refused(fb):
    assert error_of(fb.post(f"/{PAGE}/feed")) == (100, None)


def test_published_photo_returns_photo_and_post_ids(fb, state, image_url):
    body = fb.post(f"/{PAGE}/photos", url=image_url, caption="A photo").json()
    assert set(body) == {"id", "post_id"} and body["post_id"].startswith(f"{PAGE}_")
    [record] = state.published()
    assert record.kind == "photo" and record.media_urls == (image_url,)
    assert record.external_id == body["post_id"]


def test_photo_upload_as_multipart_source(fb, state, make_image):
    response = fb.http.post(f"/{PAGE}/photos", data={"caption": "up"},
                            files={"source": ("a.jpg", make_image(), "image/jpeg")})
    assert response.status_code == 200 and "post_id" in response.json()


def test_photo_checks(fb, server, host_file):
    assert error_of(fb.post(f"/{PAGE}/photos", caption="none")) == (324, None)
    missing = f"{server.url}/_fake/files/missing.jpg"
    assert error_of(fb.post(f"/{PAGE}/photos", url=missing)) == (324, None)
    text = host_file("t.jpg", b"hello")
    assert error_of(fb.post(f"/{PAGE}/photos", url=text)) == (100, 1366046)


def test_multi_photo_post_from_unpublished_photos(fb, state, image_url):
    photo_ids = [fb.post(f"/{PAGE}/photos", url=image_url, published="false").json()
                 for _ in range(3)]
    assert all(set(p) == {"id"} for p in photo_ids)
    assert state.published() == []  # unpublished photos are invisible

    attached = [{"media_fbid": p["id"]} for p in photo_ids]
    response = fb.post_json(f"/{PAGE}/feed", {"message": "three", "attached_media": attached})

    assert response.status_code == 200
    [record] = state.published()
    assert record.kind == "multi_photo" and record.media_ids == tuple(p["id"] for p in photo_ids)
    # A photo can only be attached once.
    again = fb.post_json(f"/{PAGE}/feed", {"message": "again", "attached_media": attached[:1]})
    assert error_of(again) == (100, None)


def test_attached_media_in_form_styles(fb, state, image_url):
    ids = [fb.post(f"/{PAGE}/photos", url=image_url, published="false").json()["id"]
           for _ in range(4)]
    as_json_string = json.dumps([{"media_fbid": ids[0]}, {"media_fbid": ids[1]}])
    assert fb.post(f"/{PAGE}/feed", message="a", attached_media=as_json_string).status_code == 200
    indexed = {f"attached_media[{i}]": json.dumps({"media_fbid": fbid})
               for i, fbid in enumerate(ids[2:])}
    assert fb.post(f"/{PAGE}/feed", message="b", **indexed).status_code == 200
    assert [len(r.media_ids) for r in state.published()] == [2, 2]


def test_unknown_attachment_is_refused(fb):
    response = fb.post_json(f"/{PAGE}/feed", {"message": "x",
                                               "attached_media": [{"media_fbid": "42"}]})
    assert error_of(response) == (100, None)


def test_video_is_processed_over_status_polls(fb, state, image_url):
    state.configure(fb_video_polls=2)
    video_id = fb.post(f"/{PAGE}/videos", file_url=image_url, description="clip",
                       title="T").json()["id"]
    statuses = [fb.get(f"/{video_id}", fields="status").json()["status"]["video_status"]
                for _ in range(3)]
    assert statuses == ["processing", "processing", "ready"]
    [record] = state.published()
    assert record.kind == "video" and record.external_id == video_id and record.caption == "clip"


def test_video_processing_error(fb, state, image_url):
    state.configure(fb_video_polls=0)
    state.add_fault("processing_error", platform="facebook", endpoint="commit", count=1)
    video_id = fb.post(f"/{PAGE}/videos", file_url=image_url).json()["id"]
    assert fb.get(f"/{video_id}", fields="status").json()["status"]["video_status"] == "error"


class TestScheduling:
    def test_scheduled_post_waits_in_scheduled_posts(self, fb, state):
        when = int(state.now()) + 3600
        response = fb.post(f"/{PAGE}/feed", message="later", published="false",
                           scheduled_publish_time=str(when))
        post_id = response.json()["id"]

        assert fb.get(f"/{PAGE}/published_posts").json()["data"] == []
        scheduled = fb.get(f"/{PAGE}/scheduled_posts", fields="id,scheduled_publish_time")
        assert scheduled.json()["data"] == [{"id": post_id, "scheduled_publish_time": when}]
        assert state.published()[0].scheduled_for is not None

        state.advance(3601)
        assert [p["id"] for p in fb.get(f"/{PAGE}/published_posts").json()["data"]] == [post_id]
        assert fb.get(f"/{PAGE}/scheduled_posts").json()["data"] == []

    def test_iso_time_is_accepted(self, fb, state):
        when = datetime.fromtimestamp(state.now() + 7200, UTC).isoformat()
        response = fb.post(f"/{PAGE}/feed", message="iso", published="false",
                           scheduled_publish_time=when)
        assert response.status_code == 200

    def test_window_is_10_minutes_to_75_days(self, fb, state):
        for offset in (60, 76 * 86400):
            response = fb.post(f"/{PAGE}/feed", message=f"m{offset}", published="false",
                               scheduled_publish_time=str(int(state.now()) + offset))
            assert error_of(response) == (100, None)

    def test_scheduled_time_needs_published_false(self, fb, state):
        response = fb.post(f"/{PAGE}/feed", message="x",
                           scheduled_publish_time=str(int(state.now()) + 3600))
        assert error_of(response) == (100, None)
