"""Request bodies: authenticated before they are read, capped by Content-Length and in flight.

The app is driven through httpx's ASGITransport, which hands the body to the app one chunk
at a time as the app asks for it, so a test sees how much of a body the server consumed
without sending hundreds of megabytes.
"""

from __future__ import annotations

import hashlib
import re
import struct
import tempfile
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from herald.app import create_app
from herald.web import users
from tests.media_files import mp4_bytes

CHUNK = 64 * 1024
HUGE = 300 * 1024 * 1024


class Body:
    """A body of `size` bytes made on demand, remembering how much the server took."""

    def __init__(self, size: int, *, head: bytes = b"", tail: bytes = b"") -> None:
        self.size, self.head, self.tail = size, head, tail
        self.consumed = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in (self.head, *self._filler(), self.tail):
            self.consumed += len(part)
            yield part

    def _filler(self) -> list[bytes]:
        return [b"x" * CHUNK] * (self.size // CHUNK)


def _multipart(size: int, file_head: bytes = b"") -> tuple[Body, dict[str, str]]:
    boundary = "herald-test-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            'filename="big.mp4"\r\nContent-Type: video/mp4\r\n\r\n').encode()
    return (Body(size, head=head + file_head, tail=f"\r\n--{boundary}--\r\n".encode()),
            {"content-type": f"multipart/form-data; boundary={boundary}"})


def _video_head(data_bytes: int) -> bytes:
    """An MP4's ftyp and moov, then the header of an mdat of `data_bytes` (sent after it)."""
    return mp4_bytes(data_bytes=0)[:-8] + struct.pack(">I", 8 + data_bytes) + b"mdat"


@pytest.fixture
async def api(herald) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(herald))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_unauthenticated_huge_json_is_refused_unread(api):
    body = Body(HUGE)
    response = await api.post("/api/v1/posts", content=body,
                              headers={"content-type": "application/json"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert body.consumed <= CHUNK


async def test_wrong_token_huge_json_is_refused_unread(api):
    body = Body(HUGE)
    response = await api.post("/api/v1/posts", content=body, headers={
        "content-type": "application/json", "authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert body.consumed <= CHUNK


async def test_unauthenticated_huge_upload_is_refused_unread(api):
    body, headers = _multipart(HUGE)
    for path in ("/api/v1/media", "/schedule-post"):
        response = await api.post(path, content=body, headers=headers)
        assert response.status_code == 401, path
        assert body.consumed <= CHUNK


async def test_content_length_over_the_json_cap_is_413_unread(api, auth):
    body = Body(HUGE)
    response = await api.post("/api/v1/posts", content=body, headers={
        **auth, "content-type": "application/json", "content-length": str(HUGE)})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_large"
    assert "1.0 MiB" in error["message"] and "HERALD_MAX_JSON_BYTES" in error["message"]
    assert body.consumed <= CHUNK


async def test_chunked_body_over_the_json_cap_is_cut_off_with_413(api, auth, herald):
    body = Body(HUGE)
    response = await api.post("/api/v1/posts", content=body,
                              headers={**auth, "content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert body.consumed <= herald.settings.max_json_bytes + CHUNK


async def test_upload_over_the_cap_is_refused_and_leaves_nothing(api, auth, herald,
                                                                  tmp_path, monkeypatch):
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    herald.settings.media_max_upload_bytes = 2 * 1024 * 1024
    body, headers = _multipart(HUGE)
    response = await api.post("/api/v1/media", content=body, headers={**auth, **headers})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert body.consumed <= 4 * 1024 * 1024
    media_dir = Path(herald.settings.media_dir)
    assert not media_dir.exists() or not any(media_dir.iterdir())
    assert not any(spool.iterdir())


async def test_web_upload_without_a_session_is_refused_unread(api):
    body, headers = _multipart(HUGE)
    response = await api.post("/compose/media", content=body, headers=headers)
    assert response.status_code == 403
    assert body.consumed <= CHUNK


FORM = {"content-type": "application/x-www-form-urlencoded"}
#: Under the JSON cap (1 MiB), so only the CSRF and session checks can refuse it unread.
LARGE_FORM = 900 * 1024


@pytest.mark.parametrize("size", [LARGE_FORM, HUGE])
@pytest.mark.parametrize("path", ["/settings/timezone", "/signin", "/posts/x/cancel",
                                  "/compose"])
async def test_web_form_without_a_session_is_refused_unread(api, path, size):
    # Form() routes: FastAPI read the whole form before the CSRF dependency ran.
    body = Body(size)
    response = await api.post(path, content=body, headers=FORM)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "csrf"
    assert body.consumed <= CHUNK


async def _csrf(api, path):
    found = re.search(r'name="csrf_token" value="([^"]+)"', (await api.get(path)).text)
    assert found, path
    return found.group(1)


async def test_a_session_not_signed_in_sends_only_the_sign_in_form(api, herald, company):
    token = await _csrf(api, "/signin")  # a session with a CSRF token, nobody signed in
    body = Body(LARGE_FORM)
    response = await api.post("/settings/timezone", content=body, headers=FORM)
    assert (response.status_code, body.consumed) == (403, 0)
    assert "Sign in" in response.json()["error"]["message"]
    # The sign-in form itself is read (and answered as before).
    with herald.db.session() as session:
        users.create_user(session, company_id=company[0], email="ada@example.com",
                          password="correct horse battery staple", name="Ada")
    response = await api.post("/signin", data={
        "email": "ada@example.com", "password": "correct horse battery staple",
        "csrf_token": token})
    assert response.status_code == 303, response.text


async def test_a_wrong_csrf_header_is_refused_unread_a_right_one_is_read(api, herald,
                                                                        company):
    with herald.db.session() as session:
        users.create_user(session, company_id=company[0], email="ada@example.com",
                          password="correct horse battery staple", name="Ada")
    await api.post("/signin", data={
        "email": "ada@example.com", "password": "correct horse battery staple",
        "csrf_token": await _csrf(api, "/signin")})
    token = await _csrf(api, "/settings")
    body = Body(LARGE_FORM)
    response = await api.post("/settings/timezone", content=body,
                              headers={**FORM, "x-csrf-token": "forged"})
    assert (response.status_code, body.consumed) == (403, 0)
    response = await api.post("/settings/timezone", data={"timezone": "Europe/Paris"},
                              headers={"x-csrf-token": token})
    assert response.status_code == 303, response.text


async def test_a_large_video_upload_is_streamed_to_the_store_not_held_in_memory(api, auth,
                                                                               herald):
    size = 40 * 1024 * 1024
    head = _video_head(size)
    body, headers = _multipart(size, file_head=head)
    tracemalloc.start()
    try:
        response = await api.post("/api/v1/media", content=body, headers={**auth, **headers})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code == 201, response.text
    stored = response.json()
    assert (stored["type"], stored["size"]) == ("video", len(head) + size)
    # Before: the chunks and their joined copy, twice the upload.
    assert peak < 12 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
    digest = hashlib.sha256(head)
    for _ in range(size // CHUNK):
        digest.update(b"x" * CHUNK)
    # The same content-addressed name as a store.save() of the same bytes gives.
    assert stored["key"] == digest.hexdigest()[:32] + ".mp4"
    assert (Path(herald.settings.media_dir) / stored["key"]).stat().st_size == len(head) + size
