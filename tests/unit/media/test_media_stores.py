"""The local folder store and the S3 store (against moto's real HTTP server)."""

from __future__ import annotations

import stat
import tempfile
import uuid

import boto3  # type: ignore[import-untyped]
import httpx
import pytest

from herald.media import (
    LocalMediaStore,
    MediaStoreError,
    MediaTooLargeError,
    S3MediaStore,
    UnsupportedMediaError,
    save_async,
)
from herald.media.spooled import IN_MEMORY_BYTES

# --- local -----------------------------------------------------------------------------


def test_local_store_converts_png_and_serves_under_media(tmp_path, make_image):
    store = LocalMediaStore(tmp_path / "media", "https://herald.example/")
    stored = store.save(make_image("PNG", (800, 800)), filename="logo.png")
    assert stored.url == f"https://herald.example/media/{stored.key}"
    assert stored.key.endswith(".jpg")
    assert (stored.type, stored.mime, stored.width, stored.height) == (
        "image", "image/jpeg", 800, 800)
    saved = store.path(stored.key)
    assert saved.read_bytes()[:3] == b"\xff\xd8\xff"
    assert stored.size == saved.stat().st_size
    # A web server in front of the folder must be able to read it.
    assert stat.S_IMODE(saved.stat().st_mode) == 0o644


def test_local_store_keeps_jpeg_and_names_by_content(tmp_path, make_image):
    store = LocalMediaStore(tmp_path, "http://127.0.0.1:8000")
    jpeg = make_image("JPEG", (100, 100))
    first = store.save(jpeg)
    again = store.save(jpeg, filename="other-name.jpg")
    assert first.url == again.url
    assert store.path(first.key).read_bytes() == jpeg
    assert [p.name for p in tmp_path.iterdir()] == [first.key]  # no temp files left behind


def test_local_store_video(tmp_path, make_mp4):
    stored = LocalMediaStore(tmp_path, "http://h").save(make_mp4(seconds=8))
    assert (stored.key[-4:], stored.mime, stored.duration) == (".mp4", "video/mp4", 8.0)


def test_too_large_upload_writes_nothing(tmp_path, make_image):
    store = LocalMediaStore(tmp_path / "media", "http://h", max_bytes=1000)
    with pytest.raises(MediaTooLargeError, match="limited to"):
        store.save(make_image("JPEG", (300, 300), noise=True), filename="big.jpg")
    assert not (tmp_path / "media").exists()


def test_unrecognised_upload_writes_nothing(tmp_path):
    store = LocalMediaStore(tmp_path, "http://h")
    with pytest.raises(UnsupportedMediaError):
        store.save(b"<html>not a picture</html>", filename="photo.jpg")
    assert list(tmp_path.iterdir()) == []


async def test_save_from_async_code(tmp_path, make_image):
    stored = await save_async(LocalMediaStore(tmp_path, "http://h"), make_image("PNG", (10, 10)))
    assert stored.mime == "image/jpeg"


def test_stored_media_round_trips_to_info(tmp_path, make_image):
    stored = LocalMediaStore(tmp_path, "http://h").save(make_image("JPEG", (30, 20)))
    assert stored.info.width == 30
    assert stored.as_dict()["url"] == stored.url


# --- S3 --------------------------------------------------------------------------------


@pytest.fixture
def bucket(moto_endpoint, aws_credentials) -> str:
    name = f"herald-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket=name
    )
    return name


def test_s3_round_trip(moto_endpoint, bucket, make_image):
    store = S3MediaStore(bucket, endpoint_url=moto_endpoint, region="us-east-1",
                         prefix="/uploads/", acl="public-read")
    stored = store.save(make_image("PNG", (640, 480)), filename="chart.png")

    assert stored.key.startswith("uploads/") and stored.key.endswith(".jpg")
    assert stored.url == f"{moto_endpoint}/{bucket}/{stored.key}"
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    obj = client.get_object(Bucket=bucket, Key=stored.key)
    assert obj["ContentType"] == "image/jpeg"
    assert "immutable" in obj["CacheControl"]
    body = obj["Body"].read()
    assert body[:3] == b"\xff\xd8\xff" and len(body) == stored.size
    # The public URL really serves the file to anyone, as Instagram's fetcher needs.
    answer = httpx.get(stored.url)
    assert answer.status_code == 200 and answer.content == body


def test_s3_video_gets_its_content_type(moto_endpoint, bucket, make_mp4):
    store = S3MediaStore(bucket, endpoint_url=moto_endpoint, region="us-east-1")
    stored = store.save(make_mp4())
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    assert client.head_object(Bucket=bucket, Key=stored.key)["ContentType"] == "video/mp4"


def test_s3_missing_bucket_is_a_clear_error(moto_endpoint, aws_credentials, make_image):
    store = S3MediaStore("no-such-bucket", endpoint_url=moto_endpoint, region="us-east-1")
    with pytest.raises(MediaStoreError, match="no-such-bucket"):
        store.save(make_image("JPEG", (10, 10)))


def test_s3_too_large_is_refused_before_upload(moto_endpoint, bucket, make_image):
    store = S3MediaStore(bucket, endpoint_url=moto_endpoint, region="us-east-1", max_bytes=10)
    with pytest.raises(MediaTooLargeError):
        store.save(make_image("JPEG", (10, 10)))
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    assert client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


@pytest.mark.parametrize(
    ("kwargs", "url"),
    [
        ({"cdn_base_url": "https://cdn.example/"}, "https://cdn.example/a%20b.jpg"),
        ({"region": "eu-west-3"}, "https://media.s3.eu-west-3.amazonaws.com/a%20b.jpg"),
        ({}, "https://media.s3.amazonaws.com/a%20b.jpg"),
    ],
)
def test_s3_public_urls(aws_credentials, kwargs, url):
    assert S3MediaStore("media", **kwargs).public_url("a b.jpg") == url


def test_s3_dotted_bucket_uses_path_style(aws_credentials):
    store = S3MediaStore("media.example.com", region="us-east-2")
    assert store.public_url("x.jpg") == "https://s3.us-east-2.amazonaws.com/media.example.com/x.jpg"


# --- saving from a file (uploads) -----------------------------------------------------


def _large_video() -> bytes:
    from tests.media_files import mp4_bytes

    return mp4_bytes(data_bytes=IN_MEMORY_BYTES + 1024)


def test_local_save_file_streams_a_large_video_under_the_same_name(tmp_path):
    data = _large_video()
    store = LocalMediaStore(tmp_path / "media", "http://h")
    with tempfile.TemporaryFile() as file:
        file.write(data)
        streamed = store.save_file(file, filename="clip.mp4")
    assert (streamed.type, streamed.size, streamed.width) == ("video", len(data), 1080)
    assert store.path(streamed.key).read_bytes() == data
    # A file and the same bytes in memory are one content-addressed object.
    assert LocalMediaStore(tmp_path / "other", "http://h").save(data).key == streamed.key


def test_save_file_converts_a_still_as_save_does(tmp_path, make_image):
    store = LocalMediaStore(tmp_path / "media", "http://h")
    with tempfile.TemporaryFile() as file:
        file.write(make_image("PNG", (300, 200)))
        stored = store.save_file(file, filename="logo.png")
    assert (stored.format, stored.width, stored.height) == ("JPEG", 300, 200)


def test_save_file_refuses_a_file_over_the_limit(tmp_path):
    store = LocalMediaStore(tmp_path / "media", "http://h", max_bytes=IN_MEMORY_BYTES)
    with tempfile.TemporaryFile() as file, pytest.raises(MediaTooLargeError):
        file.write(_large_video())
        store.save_file(file, filename="clip.mp4")
    assert not (tmp_path / "media").exists()


def test_s3_save_file_uploads_a_large_video_from_the_file(moto_endpoint, bucket):
    data = _large_video()
    store = S3MediaStore(bucket, endpoint_url=moto_endpoint, region="us-east-1")
    with tempfile.TemporaryFile() as file:
        file.write(data)
        stored = store.save_file(file, filename="clip.mp4")
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    obj = client.get_object(Bucket=bucket, Key=stored.key)
    assert obj["ContentType"] == "video/mp4" and "immutable" in obj["CacheControl"]
    assert obj["Body"].read() == data
