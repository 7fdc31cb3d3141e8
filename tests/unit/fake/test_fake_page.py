"""The sandbox page and the standalone entry point."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

PAGE = "100000000000001"


def test_page_lists_posts_newest_first_with_thumbnails(fb, li, server, state, image_url):
    fb.post(f"/{PAGE}/photos", url=image_url, caption="older <script>")
    li.post("urn:li:organization:1000001", "newer")
    html = httpx.get(f"{server.url}/").text
    assert html.index("newer") < html.index("older &lt;script&gt;")
    assert "<script>" not in html
    assert f'<img src="{image_url}"' in html
    assert "2 published, newest first" in html


def test_page_focuses_on_one_post(fb, server):
    first = fb.post(f"/{PAGE}/feed", message="first").json()["id"]
    fb.post(f"/{PAGE}/feed", message="second")
    html = httpx.get(f"{server.url}/", params={"id": first}).text
    assert "first" in html and "second" not in html


def test_empty_page(server):
    assert "Nothing published yet" in httpx.get(f"{server.url}/").text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow  # a process of its own, like the tests under tests/process
def test_runs_standalone_with_demo_accounts():
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "herald.platforms.fake", "--port", str(port), "--demo",
         "--latency", "0.01", "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                summary = httpx.get(f"{base}/_fake/").json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
        assert summary["config"]["latency"] == 0.01
        assert {a["platform"] for a in summary["accounts"]} == {"facebook", "instagram",
                                                                 "instagram_login", "linkedin"}
        response = httpx.get(f"{base}/graph/v25.0/me/accounts",
                             params={"access_token": "sandbox-facebook-token"})
        assert response.json()["data"][0]["id"] == "100000000000001"
        response = httpx.get(f"{base}/instagram/v25.0/me", params={
            "fields": "user_id,username", "access_token": "sandbox-instagram-login-token"})
        assert response.json()["user_id"] == "17841400000000002"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert "HERALD_GRAPH_API_URL=" in output and "HERALD_INSTAGRAM_API_URL=" in output
