"""Uploads, media checks at scheduling time, and the seed's multipart endpoint."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from herald.models import Post
from tests.conftest import jpeg_bytes
from tests.media_files import box, flat_png


def _count(herald) -> int:
    with herald.db.session() as s:
        return s.scalar(select(func.count()).select_from(Post))


def _ig(client, auth) -> str:
    response = client.post("/api/v1/accounts", headers=auth, json={
        "platform": "instagram", "external_id": "1784", "name": "IG", "access_token": "t"})
    return response.json()["id"]


def _png(width: int, height: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 120, 255, 128)).save(buffer, "PNG")
    return buffer.getvalue()


def test_upload_stores_and_serves_the_file(client, auth):
    response = client.post("/api/v1/media", headers=auth,
                           files={"file": ("photo.jpg", jpeg_bytes(800, 800), "image/jpeg")})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["type"], body["width"], body["height"]) == ("image", 800, 800)
    served = client.get(body["url"].replace("http://testserver", ""))
    assert served.status_code == 200
    assert served.content == jpeg_bytes(800, 800)


def test_png_upload_is_converted_to_jpeg(client, auth):
    response = client.post("/api/v1/media", headers=auth,
                           files={"file": ("logo.png", _png(600, 600), "image/png")})
    body = response.json()
    assert (body["format"], body["mime"]) == ("JPEG", "image/jpeg")
    assert body["url"].endswith(".jpg")


def test_text_file_named_jpg_is_refused(client, auth):
    response = client.post("/api/v1/media", headers=auth,
                           files={"file": ("photo.jpg", b"hello, I am text", "image/jpeg")})
    assert response.status_code == 422
    assert "not an image or video we recognise" in response.json()["error"]["message"]


def test_upload_over_the_limit_is_refused(client, auth, herald):
    herald.settings.media_max_upload_bytes = 1000
    response = client.post("/api/v1/media", headers=auth,
                           files={"file": ("big.jpg", jpeg_bytes(800, 800), "image/jpeg")})
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]["message"]


def test_upload_needs_a_token(client):
    response = client.post("/api/v1/media",
                           files={"file": ("photo.jpg", jpeg_bytes(10, 10), "image/jpeg")})
    assert response.status_code == 401


def test_instagram_rules_apply_at_scheduling_time(client, auth, herald, image_url):
    ig = _ig(client, auth)
    cases = [
        ({"caption": "x" * 2201, "media": [{"url": image_url}]}, "2,200"),
        ({"caption": " ".join(f"#t{i}" for i in range(31)), "media": [{"url": image_url}]},
         "hashtags"),
        ({"caption": "no media"}, "needs exactly one image or video"),
        ({"post_type": "carousel", "media": [{"url": image_url}]}, "2"),
        ({"post_type": "reel", "media": [{"url": image_url}]}, "video"),
    ]
    for body, expected in cases:
        response = client.post("/api/v1/posts", headers=auth,
                               json={"account_id": ig, "run_at": "now", **body})
        assert response.status_code == 422, (body, response.text)
        assert expected in response.json()["error"]["message"], response.text
    assert _count(herald) == 0


def test_wide_image_is_refused_for_instagram_but_fine_for_facebook(client, auth, herald):
    ig = _ig(client, auth)
    fb = client.post("/api/v1/accounts", headers=auth, json={
        "platform": "facebook", "external_id": "p", "name": "FB", "access_token": "t"}).json()
    wide = client.post("/api/v1/media", headers=auth,
                       files={"file": ("wide.jpg", jpeg_bytes(1500, 500), "image/jpeg")}).json()
    response = client.post("/api/v1/posts", headers=auth, json={
        "account_ids": [ig, fb["id"]], "run_at": "now", "media": [{"url": wide["url"]}]})
    assert response.status_code == 422
    assert "aspect ratio" in response.json()["error"]["message"]
    assert _count(herald) == 0
    response = client.post("/api/v1/posts", headers=auth, json={
        "account_id": fb["id"], "run_at": "now", "media": [{"url": wide["url"]}]})
    assert response.status_code == 201, response.text


def test_linkedin_caption_over_3000_is_refused(client, auth, herald):
    li = client.post("/api/v1/accounts", headers=auth, json={
        "platform": "linkedin", "external_id": "urn:li:person:1", "name": "Me",
        "access_token": "t"}).json()
    response = client.post("/api/v1/posts", headers=auth, json={
        "account_id": li["id"], "run_at": "now", "caption": "y" * 3001})
    assert response.status_code == 422
    assert "3,000" in response.json()["error"]["message"]


def test_media_urls_are_checked_before_anything_is_stored(client, auth, herald):
    ig = _ig(client, auth)
    herald_settings = herald.settings
    assert herald_settings.allow_private_media_urls  # the tests' own local servers
    for url, expected in [
        ("http://nothing-here.invalid/a.jpg", "could not be found"),
        ("http://testserver/media/missing.jpg", "no such file"),
    ]:
        response = client.post("/api/v1/posts", headers=auth, json={
            "account_id": ig, "run_at": "now", "media": [{"url": url}]})
        assert response.status_code == 422, response.text
        assert expected in response.json()["error"]["message"].lower(), response.text
    assert _count(herald) == 0


def test_seed_schedule_post_takes_multipart_fields_and_files(client, auth, herald):
    ig = _ig(client, auth)
    response = client.post("/schedule-post", headers=auth, data={
        "account_id": ig, "caption": "From the seed's form", "run_at": "now"},
        files=[("files", ("a.png", _png(1080, 1080), "image/png"))])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    [post] = body["posts"]
    assert post["media"][0]["url"].endswith(".jpg")
    listed = client.get("/scheduled-posts", headers=auth).json()["items"]
    assert [p["id"] for p in listed] == [body["postDetailId"]]
    cancelled = client.delete(f"/scheduled-posts/{body['postDetailId']}", headers=auth)
    assert cancelled.json()["post"]["status"] == "cancelled"
    assert client.get("/api/v1/scheduled-posts", headers=auth).json()["items"] == []


def test_seed_schedule_post_bad_input(client, auth, herald):
    ig = _ig(client, auth)
    response = client.post("/schedule-post", headers=auth, data={
        "account_id": ig, "run_at": "2099-01-01 09:00"})
    assert response.status_code == 422
    assert "no timezone" in response.json()["error"]["message"]
    assert _count(herald) == 0


def test_loopback_and_private_media_urls_are_refused_by_default(auth, herald):
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from herald.app import create_app
    from herald.media import MediaInspector

    strict = herald.settings.model_copy(update={"allow_private_media_urls": False})
    with TestClient(create_app(replace(herald, checks=MediaInspector(strict)))) as client:
        ig = _ig(client, auth)
        for url in ("http://127.0.0.1/a.jpg", "http://10.1.2.3/a.jpg",
                    "ftp://cdn.example/a.jpg"):
            response = client.post("/api/v1/posts", headers=auth, json={
                "account_id": ig, "run_at": "now", "media": [{"url": url}]})
            assert response.status_code == 422, response.text
    assert _count(herald) == 0


def test_served_media_cannot_act_as_a_page_of_herald(client, herald):
    media_dir = herald.settings.media_dir
    media_dir.mkdir(parents=True, exist_ok=True)
    (media_dir / "evil.html").write_text("<script>fetch('/settings')</script>")
    (media_dir / "photo.jpg").write_bytes(b"<html><script>alert(1)</script>")
    for path in ("/media/evil.html", "/media/photo.jpg"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"


BOGUS_PDF = b"<p>hi</p> %PDF-1.7 but nothing else of one"
FAKE_PDF = b"%PDF-1.7\n<script>alert(1)</script>\n"
BOGUS_MP4 = (box(b"ftyp", b"isom" + bytes(4))
             + box(b"moov", box(b"trak", box(b"mdia", box(b"hdlr", bytes(8) + b"vide")))))


def test_files_that_only_look_like_a_pdf_or_a_video_are_refused_at_upload(client, auth):
    for name, data, expected in (("deck.pdf", BOGUS_PDF, "not an image or video we recognise"),
                                 ("deck.pdf", FAKE_PDF, "not a complete one"),
                                 ("clip.mp4", BOGUS_MP4, "no picture size")):
        response = client.post("/api/v1/media", headers=auth,
                               files={"file": (name, data, "application/octet-stream")})
        assert response.status_code == 422, name
        message = response.json()["error"]["message"]
        assert name in message and expected in message


def test_a_bogus_video_in_the_store_is_refused_at_scheduling_time(client, auth, herald):
    herald.settings.media_dir.mkdir(parents=True, exist_ok=True)
    (herald.settings.media_dir / "clip.mp4").write_bytes(BOGUS_MP4)
    fb = client.post("/api/v1/accounts", headers=auth, json={
        "platform": "facebook", "external_id": "1", "name": "Page", "access_token": "t"}).json()
    response = client.post("/api/v1/posts", headers=auth, json={
        "account_id": fb["id"], "run_at": "now", "caption": "hi",
        "media": [{"url": "http://testserver/media/clip.mp4"}]})
    assert response.status_code == 422, response.text
    assert "no picture size" in response.json()["error"]["message"]
    assert _count(herald) == 0


def test_an_image_of_too_many_pixels_is_refused_with_its_size(client, auth):
    # Issue 13 #2: 342 KB of PNG that decode to 8000x11000 RGBA pixels (350 MB).
    response = client.post("/api/v1/media", headers=auth,
                           files={"file": ("poster.png", flat_png(8000, 11000), "image/png")})
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert "8000x11000" in message and "36.2 megapixels" in message, message


def test_the_decode_limit_is_the_settings(settings):
    from herald.media.decoding import gate
    from herald.runtime import Herald

    before = gate().limit
    herald = Herald.build(settings.model_copy(update={"max_concurrent_decodes": before + 3}))
    try:
        assert gate().limit == before + 3
    finally:
        herald.db.dispose()
        Herald.build(settings).db.dispose()  # the default again, for the tests after
