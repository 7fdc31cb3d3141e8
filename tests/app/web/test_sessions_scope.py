"""The web UI's middlewares (session cookie, Server-Timing) run for pages, not the REST API."""

from __future__ import annotations


def test_pages_get_server_timing_and_the_api_does_not(client, auth):
    page = client.get("/signin")
    assert page.status_code == 200
    assert "dur=" in page.headers["server-timing"]
    assert "set-cookie" in page.headers  # the sign-in form's CSRF token lives in the session
    api = client.get("/api/v1/posts", headers=auth)
    assert api.status_code == 200
    assert "server-timing" not in api.headers
    assert "set-cookie" not in api.headers
