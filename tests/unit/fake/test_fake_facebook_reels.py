"""Page Reels and Stories through the fake, over real HTTP: sessions, rupload, phases,
the stories list, and the refusals Meta documents (or the fake assumes, marked ❓)."""

from __future__ import annotations

import httpx

from tests.unit.fake.conftest import PAGE, PAGE_TOKEN, TLS


def _start(fb, edge: str = "video_reels") -> tuple[str, str]:
    body = fb.post(f"/{PAGE}/{edge}", upload_phase="start").json()
    return body["video_id"], body["upload_url"]


def _upload(url: str, file_url: str, token: str = PAGE_TOKEN) -> httpx.Response:
    return httpx.post(url, verify=TLS, headers={"Authorization": f"OAuth {token}",
                                                "file_url": file_url})


def _status(fb, video_id: str) -> dict:
    return fb.get(f"/{video_id}", fields="status").json()["status"]


def test_a_reel_goes_through_start_upload_finish_and_its_phases(fb, state, host_file):
    url = host_file("r.mp4", b"\0" * 100, "video/mp4")
    video_id, upload_url = _start(fb)
    assert "/rupload/video-upload/v25.0/" in upload_url
    assert _status(fb, video_id)["uploading_phase"]["status"] == "not_started"
    assert _upload(upload_url, url).json() == {"success": True}
    assert _status(fb, video_id)["publishing_phase"]["status"] == "not_started"
    assert state.published() == []  # nothing is out before finish
    finish = fb.post(f"/{PAGE}/video_reels", upload_phase="finish", video_id=video_id,
                     video_state="PUBLISHED", description="My reel")
    assert finish.json() == {"success": True}
    phases = [_status(fb, video_id)["publishing_phase"]["status"] for _ in range(2)]
    assert phases == ["in_progress", "complete"]
    [record] = state.published()
    assert (record.kind, record.caption, record.external_id) == ("reel", "My reel", video_id)
    listed = fb.get(f"/{PAGE}/video_reels", fields="id,created_time").json()["data"]
    assert [r["id"] for r in listed] == [video_id]
    # Finishing the same session again publishes nothing new.
    fb.post(f"/{PAGE}/video_reels", upload_phase="finish", video_id=video_id,
            video_state="PUBLISHED", description="My reel")
    assert len(state.published()) == 1


def test_finish_before_the_upload_and_a_draft_are_refused(fb, state):
    video_id, _ = _start(fb)
    early = fb.post(f"/{PAGE}/video_reels", upload_phase="finish", video_id=video_id,
                    video_state="PUBLISHED")
    assert early.json()["error"]["code"] == 6000
    no_state = fb.post(f"/{PAGE}/video_reels", upload_phase="finish", video_id=video_id)
    assert no_state.status_code == 400
    assert state.published() == []


def test_rupload_refuses_a_bad_token_and_a_missing_file_url(fb):
    _, upload_url = _start(fb)
    bad = _upload(upload_url, "https://cdn.test/r.mp4", token="nope")
    assert bad.status_code == 401 and bad.json()["debug_info"]["type"] == "OAuthException"
    missing = httpx.post(upload_url, verify=TLS,
                         headers={"Authorization": f"OAuth {PAGE_TOKEN}"})
    assert missing.status_code == 400 and "file_url" in missing.json()["debug_info"]["message"]


def test_the_thirty_first_reel_in_a_day_is_refused(fb, state, host_file):
    url = host_file("r.mp4", b"\0" * 100, "video/mp4")
    state.configure(fb_video_polls=0)
    for n in range(31):
        video_id, upload_url = _start(fb)
        _upload(upload_url, url)
        finish = fb.post(f"/{PAGE}/video_reels", upload_phase="finish", video_id=video_id,
                         video_state="PUBLISHED", description=f"reel {n}")
    assert finish.json()["error"]["code"] == 9
    assert len(state.published()) == 30
    state.advance(86_401)  # a day later a slot is free again
    video_id, upload_url = _start(fb)
    _upload(upload_url, url)
    assert fb.post(f"/{PAGE}/video_reels", upload_phase="finish", video_id=video_id,
                   video_state="PUBLISHED").json() == {"success": True}


def test_photo_and_video_stories_are_listed_by_their_media(fb, state, image_url, host_file):
    photo_id = fb.post(f"/{PAGE}/photos", url=image_url, published="false").json()["id"]
    photo_story = fb.post(f"/{PAGE}/photo_stories", photo_id=photo_id).json()
    assert photo_story["success"] is True
    # A photo is one story: using it again is refused.
    assert fb.post(f"/{PAGE}/photo_stories", photo_id=photo_id).status_code == 400
    video_id, upload_url = _start(fb, "video_stories")
    _upload(upload_url, host_file("s.mp4", b"\0" * 100, "video/mp4"))
    video_story = fb.post(f"/{PAGE}/video_stories", upload_phase="finish",
                          video_id=video_id).json()
    listed = fb.get(f"/{PAGE}/stories").json()["data"]
    assert [(s["post_id"], s["media_id"], s["media_type"]) for s in listed] == [
        (video_story["post_id"], video_id, "video"),
        (photo_story["post_id"], photo_id, "photo")]
    assert sorted(r.kind for r in state.published()) == ["story", "story"]


def test_a_published_photo_cannot_become_a_story(fb, image_url):
    body = fb.post(f"/{PAGE}/photos", url=image_url, caption="feed").json()
    assert fb.post(f"/{PAGE}/photo_stories", photo_id=body["id"]).status_code == 400
