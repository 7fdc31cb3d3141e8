"""`herald run` at HERALD_LOG_LEVEL=debug writes no secret to its log (issue 13, finding 1).

A real process, its uvicorn access log included: a person connects Facebook and LinkedIn
accounts through the web UI against the platform fake, posts go out on all three
platforms, a LinkedIn token is refreshed on the way; then every line of stderr is searched
for every secret the run used. (stdout is apart: it prints the first API token, shown once,
on purpose.)
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest

from herald.platforms.fake import FakeServer
from tests.conftest import SECRET
from tests.media_files import image_bytes
from tests.process.test_cli import HERALD, _free_port

APP_ID, APP_SECRET = "6677889900", f"fb-app-secret-{secrets.token_hex(8)}"
CLIENT_ID, CLIENT_SECRET = "li-client-id", f"li-client-secret-{secrets.token_hex(8)}"
PASSWORD = f"pass {secrets.token_hex(8)} word"
PAGE, IG, MEMBER = "100000000000008", "17841400000000008", "Mem8ber"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_OFFER = re.compile(r'name="offer" value="([^"]+)"')
_PICK = re.compile(r'name="pick" value="([^"]+)"')


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


def wait_until(check, what: str, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert proc.poll() is None, f"herald run exited while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def connect(browser: httpx.Client, flow: str) -> None:
    """Connect, the platform's dialog (answered at once), the pick page, every box ticked."""
    dialog = browser.get(f"/accounts/connect/{flow}").headers["location"]
    callback = httpx.get(f"{dialog}&auto=1", timeout=10).headers["location"]
    page = browser.get(callback.split("#")[0])
    assert page.status_code == 200, page.text
    offer = _OFFER.search(page.text)
    assert offer, page.text
    response = browser.post(f"/accounts/connect/{flow}", data={
        "offer": unescape(offer.group(1)), "pick": [unescape(p) for p in _PICK.findall(page.text)],
        "csrf_token": _CSRF.findall(page.text)[0]})
    assert response.status_code == 303, response.text


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_herald_run_logs_no_secret(fake, tmp_path: Path, log_format: str) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    state = fake.state
    state.add_oauth_app("facebook", APP_ID, APP_SECRET,
                        [f"{base}/accounts/connect/facebook/callback"])
    state.add_facebook_user("10150000000000088", "Fay", pages=[(PAGE, "Page", IG)])
    state.add_oauth_app("linkedin", CLIENT_ID, CLIENT_SECRET,
                        [f"{base}/accounts/connect/linkedin/callback"])
    state.add_linkedin_user(MEMBER, "Lin")
    state.add_file("square.jpg", image_bytes(size=(1080, 1080)), "image/jpeg")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update(
        HERALD_DATABASE_URL=f"sqlite:///{tmp_path / 'herald.db'}", HERALD_SECRET_KEY=SECRET,
        HERALD_LOG_LEVEL="debug", HERALD_LOG_FORMAT=log_format,
        HERALD_ALLOW_PRIVATE_MEDIA_URLS="true",
        HERALD_FACEBOOK_APP_ID=APP_ID, HERALD_FACEBOOK_APP_SECRET=APP_SECRET,
        HERALD_GRAPH_API_URL=fake.graph_url, HERALD_FACEBOOK_DIALOG_URL=fake.facebook_url,
        HERALD_LINKEDIN_CLIENT_ID=CLIENT_ID, HERALD_LINKEDIN_CLIENT_SECRET=CLIENT_SECRET,
        HERALD_LINKEDIN_API_URL=fake.linkedin_url,
        HERALD_LINKEDIN_AUTH_URL=f"{fake.linkedin_url}/oauth/v2/authorization",
        HERALD_LINKEDIN_TOKEN_URL=f"{fake.linkedin_url}/oauth/v2/accessToken")
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen([*HERALD, "run", "--port", str(port)], env=env, cwd=tmp_path,
                                stdout=stdout, stderr=stderr, text=True)
        try:
            wait_until(lambda: up(f"{base}/healthz"), "the server", proc)
            api_token = re.search(r"shown once: (hld_\S+)", out.read_text())
            assert api_token, out.read_text()
            created = subprocess.run(
                [*HERALD, "user", "create", "--email", "ada@example.com", "--password-stdin"],
                input=PASSWORD + "\n", env=env, cwd=tmp_path, capture_output=True, text=True,
                timeout=60)
            assert created.returncode == 0, created.stderr
            before = set(state.data.linkedin_tokens)
            run_everything(base, api_token.group(1), fake.url, tmp_path, proc)
            assert set(state.data.linkedin_tokens) - before, "the token was not refreshed"
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    # uvicorn's access log goes to stdout, the rest to stderr: both are the log, except
    # stdout's opening lines that hand over the first API token.
    printed = out.read_text().split("shown once: ", 1)[1].split("\n", 1)[1]
    lines = (printed + err.read_text()).splitlines()
    # The access log was on, and saw the callback (its code redacted).
    assert any("GET /accounts/connect/facebook/callback?" in line for line in lines), lines[-30:]
    if log_format == "json":
        # Past the rest of that first message (its "API docs" and "Web UI" lines).
        check_json_lines((printed.split("\nWeb UI: ", 1)[1].split("\n", 1)[1]
                          + err.read_text()).splitlines())
    found = used_secrets(fake, api_token.group(1))
    leaked = {name: next(line for line in lines if any(f in line for f in forms))[:300]
              for name, forms in found.items() if any(f in line for line in lines
                                                       for f in forms)}
    assert not leaked, "secrets in herald run's log:\n" + "\n".join(
        f"- {name}: {line}" for name, line in leaked.items())


def check_json_lines(lines: list[str]) -> None:
    """Every line is a JSON object; a request's lines name it, a publish's its post."""
    def parsed(line: str) -> dict[str, object] | None:
        try:
            return json.loads(line)
        except ValueError:
            return None

    not_json = [line for line in lines if line.strip() and parsed(line) is None]
    assert not not_json, not_json[:5]
    records = [json.loads(line) for line in lines if line.strip()]
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert access and all(len(r.get("request_id", "")) == 32 for r in access), access[:3]
    # A platform call made while publishing (httpx logs each at debug) names the post,
    # its account, the attempt and the worker.
    publishing = [r for r in records if r["logger"] == "httpx" and "post_id" in r]
    assert publishing, [r for r in records if r["logger"] == "httpx"][:3]
    assert all({"account_id", "attempt", "worker_id"} <= r.keys() for r in publishing)


def run_everything(base: str, api_token: str, fake_url: str, folder: Path,
                   proc: subprocess.Popen[str]) -> None:
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as browser:
        csrf = _CSRF.findall(browser.get("/signin").text)[0]
        signed = browser.post("/signin", data={"email": "ada@example.com",
                                               "password": PASSWORD, "csrf_token": csrf})
        assert signed.status_code == 303, signed.text
        connect(browser, "facebook")
        connect(browser, "linkedin")
    auth = {"Authorization": f"Bearer {api_token}"}
    api = httpx.Client(base_url=f"{base}/api/v1", headers=auth, timeout=30)
    accounts = {a["external_id"]: a["id"] for a in api.get("/accounts").json()}
    assert set(accounts) >= {PAGE, IG, f"urn:li:person:{MEMBER}"}, accounts
    # The member's token is due for a refresh: the worker refreshes it before posting.
    soon = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(folder / "herald.db") as db:
        db.execute("UPDATE social_tokens SET expires_at = ? WHERE account_id = ?",
                   (soon, accounts[f"urn:li:person:{MEMBER}"]))
    image = [{"url": f"{fake_url}/_fake/files/square.jpg", "type": "image"}]
    ids = []
    for external, post_type in ((PAGE, "text"), (IG, "feed"),
                                (f"urn:li:person:{MEMBER}", "text")):
        body = {"account_id": accounts[external], "post_type": post_type, "caption": "hi",
                "run_at": "now"}
        if post_type == "feed":
            body["media"] = image
        response = api.post("/posts", json=body)
        assert response.status_code in (200, 201), response.text
        ids += [p["id"] for p in response.json()["items"]]

    def settled() -> bool:
        return all(api.get(f"/posts/{i}").json()["status"] not in ("pending", "processing")
                   for i in ids)

    wait_until(settled, "the posts", proc)
    statuses = [api.get(f"/posts/{i}").json() for i in ids]
    assert [p["status"] for p in statuses] == ["published"] * 3, statuses


def used_secrets(fake: FakeServer, api_token: str) -> dict[str, set[str]]:
    data = fake.state.data
    found = {"Facebook app secret": APP_SECRET, "LinkedIn client secret": CLIENT_SECRET,
             "password": PASSWORD, "API token": api_token, "HERALD_SECRET_KEY": SECRET}
    for kind, values in (("OAuth code", data.oauth_codes), ("Graph token", data.graph_tokens),
                         ("LinkedIn token", data.linkedin_tokens),
                         ("LinkedIn refresh token", data.li_refresh_tokens)):
        found.update({f"{kind} {value[:10]}…": value for value in values})
    assert len(found) > 12, found
    return {name: {v, quote(v, safe=""), quote_plus(v)} for name, v in found.items()}
