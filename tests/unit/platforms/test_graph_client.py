"""The shared Graph bits: error mapping, usage headers, transport mapping, the session."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from herald.platforms.base import (
    AccountPause,
    NeedsReauthError,
    OutcomeUnknownError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from herald.platforms.facebook.errors import facebook_error
from herald.platforms.graph import (
    ContainerNotReady,
    GraphSession,
    NeedsNewContainer,
    Usage,
    attach_usage,
    graph_error,
)
from herald.platforms.http import covers, download, find_recent, poll_delays, transport_error
from herald.platforms.instagram.errors import instagram_error

TOKEN = "graph-test-token-42"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
P, T, R = PermanentError, TransientError, RateLimitedError
N, W, A = NeedsNewContainer, ContainerNotReady, NeedsReauthError

# (code, subcode, class, words the message must contain)
GRAPH_TABLE = [
    (-1, None, T, "internal error"),
    (-2, None, T, "temporary error"),
    (1, None, T, "unknown API error"),
    (2, None, T, "temporary service problem"),
    (4, None, R, "throttled the app"),
    (17, None, R, "throttled the user"),
    (32, None, R, "throttled the Page"),
    (613, None, R, "rate limit"),
    (80001, None, R, "business use case"),
    (80002, None, R, "Instagram account"),
    (80004, None, R, "business use case"),
    (341, None, R, "application limit"),
    (368, None, P, "policies"),
    (10, None, P, "grant"),
    (200, None, P, "grant"),
    (299, None, P, "grant"),
    (190, None, A, "Reconnect the account"),
    (190, 458, A, "no longer installed"),
    (190, 459, A, "checkpoint"),
    (190, 460, A, "password was changed"),
    (190, 463, A, "expired"),
    (190, 464, A, "not confirmed"),
    (190, 467, A, "invalid"),
    (190, 492, A, "no longer has a role"),
    (506, None, P, "duplicate"),
    (100, None, P, "refused a value of the post"),
    (390, None, T, "sent again shortly"),
    (390, 1363019, T, "problem receiving the video"),
    (390, 1363030, T, "timed out receiving the video"),
    (390, 1363037, T, "lost part of the video upload"),
    (390, 6000, T, "problem receiving the video"),
    (6000, None, T, "problem receiving the video"),
    (-2, 2207003, T, "timed out downloading"),
    (-2, 2207020, N, "expired"),
    (-1, 2207001, T, "internal server error"),
    (-1, 2207032, N, "failed to create"),
    (-1, 2207053, N, "uploading the video"),
    (1, 2207057, P, "thumbnail offset"),
    (4, 2207051, P, "suspected spam"),
    (9, 2207042, R, "daily publishing limit"),
    (24, 2207006, N, "could not find the media"),
    (24, 2207008, T, "container"),
    (25, 2207050, P, "log in to the Instagram app"),
    (100, 2207023, P, "type is not supported"),
    (100, 2207028, P, "2 to 10"),
    (100, 2207035, P, "product tags"),
    (100, 2207036, P, "product tags"),
    (100, 2207037, P, "product tags"),
    (100, 2207040, P, "more than 20"),
    (352, 2207026, P, "format is not supported"),
    (9004, 2207052, N, "URL"),
    (9007, 2207027, W, "not finished processing"),
    (36000, 2207004, P, "larger than 8 MiB"),
    (36001, 2207005, P, "JPEG"),
    (36003, 2207009, P, "aspect ratio"),
    (36004, 2207010, P, "2,200"),
    (-1, 2207076, N, "hosting and encoding"),
    (-1, 2207077, N, "hosting and encoding"),
    (-1, 2207082, N, "hosting and encoding"),
    (100, 1366046, P, "4 MB"),
    (368, 1390008, R, "posting too fast"),
    (200, 1404078, P, "Page Publishing Authorization"),
    (368, 1346003, P, "community standards"),
    (368, 1404102, P, "community standards"),
]


@pytest.mark.parametrize(("code", "sub", "cls", "words"), GRAPH_TABLE)
def test_every_graph_code_maps_to_its_class(code, sub, cls, words):
    error = {"code": code, "error_subcode": sub, "message": "Meta's words"}
    exc = graph_error(error, platform="Instagram", step="prepare")
    assert type(exc) is cls
    assert words in exc.message
    assert exc.code == (f"{code}/{sub}" if sub is not None else str(code))
    assert exc.message.startswith("Instagram ")


def test_message_reads_like_a_sentence_for_people():
    exc = graph_error({"code": 36000, "error_subcode": 2207004}, platform="Instagram",
                      step="prepare")
    assert exc.message == ("Instagram refused the image: it is larger than 8 MiB "
                           "(code 36000/2207004).")


def test_codes_without_subcode_use_the_same_rows():
    assert isinstance(graph_error({"code": 36001}, platform="Instagram", step="prepare"),
                      PermanentError)
    assert isinstance(graph_error({"code": 9007}, platform="Instagram", step="commit"),
                      ContainerNotReady)


def test_spurious_object_missing_on_a_container_read_is_retried():
    error = {"code": 100, "error_subcode": 33, "message": "Object does not exist"}
    assert type(graph_error(error, platform="Instagram", step="read")) is TransientError
    assert type(graph_error(error, platform="Instagram", step="prepare")) is PermanentError


def test_server_errors_on_the_commit_are_outcome_unknown():
    for code, sub in ((1, None), (2, None), (-1, 2207001)):
        exc = graph_error({"code": code, "error_subcode": sub}, platform="Facebook",
                          step="commit")
        assert isinstance(exc, OutcomeUnknownError), code
        assert "may or may not be out" in exc.message
    # A throttle is a refusal, not an unknown outcome, even on the commit.
    assert isinstance(graph_error({"code": 4}, platform="Facebook", step="commit"),
                      RateLimitedError)


def test_permission_message_names_the_permission():
    exc = facebook_error({"code": 200,
                          "message": "(#200) Requires pages_manage_posts permission"},
                         step="commit")
    assert "grant pages_manage_posts" in exc.message
    default = instagram_error({"code": 10, "message": "no"}, step="read")
    assert "instagram_content_publish" in default.message


def test_throttle_waits_from_business_usage_then_retry_after_then_default():
    usage = Usage()
    usage.update(httpx.Headers({"x-business-use-case-usage":
        '{"123":[{"type":"pages","call_count":100,"estimated_time_to_regain_access":7}]}'}))
    assert graph_error({"code": 80001}, platform="Facebook", step="read",
                       usage=usage).retry_after == 420
    assert graph_error({"code": 4}, platform="Facebook", step="read",
                       retry_after=33).retry_after == 33
    assert graph_error({"code": 4}, platform="Facebook", step="read").retry_after == 900
    assert graph_error({"code": 9, "error_subcode": 2207042}, platform="Instagram",
                       step="commit").retry_after == 3600


def test_unknown_codes_follow_is_transient_and_http_status():
    assert type(graph_error({"code": 12345, "is_transient": True}, platform="Facebook",
                            step="read")) is TransientError
    assert type(graph_error({"code": 12345}, platform="Facebook", step="read",
                            status=503)) is TransientError
    exc = graph_error({"code": 12345, "error_user_msg": "Nope."}, platform="Facebook",
                      step="read")
    assert type(exc) is PermanentError and "Nope." in exc.message


def test_usage_parses_app_and_business_headers_and_ignores_garbage():
    usage = Usage()
    usage.update(httpx.Headers({"x-app-usage": '{"call_count":28,"total_cputime":25,'
                                               '"total_time":91}'}))
    usage.update(httpx.Headers({"x-business-use-case-usage": "not json"}))
    usage.update(httpx.Headers({"x-business-use-case-usage":
        '{"1":[{"call_count":95,"total_cputime":20,"estimated_time_to_regain_access":0}]}'}))
    assert usage.max_percent == 95
    assert usage.regain_seconds == 0
    assert usage.as_dict() == {"max_percent": 95, "regain_seconds": 0}
    exc = TransientError("x")
    attach_usage(exc, usage)
    assert exc.usage["max_percent"] == 95
    assert exc.pause == AccountPause(600, "usage at 95%")
    assert TransientError("no usage").pause is None


def test_usage_near_the_budget_advises_a_pause_of_the_regain_time_or_ten_minutes():
    """Meta throttles at 100 %: from 90 % the account stays away Meta's estimate, at least
    USAGE_BACKOFF_SECONDS."""
    usage = Usage(max_percent=89.9)
    assert usage.pause() is None
    usage = Usage(max_percent=90)
    assert usage.pause() == AccountPause(600, "usage at 90%")
    usage = Usage(max_percent=97, regain_seconds=1800)
    assert usage.pause() == AccountPause(1800, "usage at 97%")


@pytest.mark.parametrize(("exc", "commit", "cls"), [
    (httpx.ReadTimeout("t"), True, OutcomeUnknownError),
    (httpx.RemoteProtocolError("dropped"), True, OutcomeUnknownError),
    (httpx.WriteError("w"), True, OutcomeUnknownError),
    (httpx.ConnectError("refused"), True, TransientError),  # never sent: safe
    (httpx.ConnectTimeout("t"), True, TransientError),
    (httpx.ReadTimeout("t"), False, TransientError),
    (httpx.RemoteProtocolError("dropped"), False, TransientError),
])
def test_transport_errors_map_by_phase(exc, commit, cls):
    assert type(transport_error(exc, platform="Facebook", commit=commit)) is cls


def _session(api) -> GraphSession:
    return GraphSession(api.client(), base_url="https://graph.test/", version="v25.0",
                        token=TOKEN, platform="Facebook")


async def test_session_sends_the_token_in_a_header_never_the_url(api):
    api.on("GET", "/v25.0/1", {"id": "1"})
    assert await _session(api).get("1", {"fields": "id"}) == {"id": "1"}
    request = api.requests[0]
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(request.url)


async def test_session_scrubs_an_echoed_token(api):
    api.on("POST", "/v25.0/1/feed", api.graph_error(190, 467, f"Bad token {TOKEN}"))
    with pytest.raises(NeedsReauthError) as caught:
        await _session(api).post("1/feed", {"message": "x"}, step="commit")
    assert TOKEN not in str(caught.value)


async def test_session_5xx_without_envelope_is_transient_or_unknown_on_commit(api):
    api.on("GET", "/v25.0/1", httpx.Response(502, text="<html>bad gateway</html>"))
    api.on("POST", "/v25.0/1/feed", httpx.Response(500, text=""))
    with pytest.raises(TransientError):
        await _session(api).get("1")
    with pytest.raises(OutcomeUnknownError):
        await _session(api).post("1/feed", {"message": "x"}, step="commit")


async def test_session_without_an_envelope_judges_by_http_status(api):
    api.on("POST", "/v25.0/1/feed", httpx.Response(404, text="<html>not here</html>"))
    with pytest.raises(PermanentError) as caught:
        await _session(api).post("1/feed", {"message": "x"}, step="commit")
    assert caught.value.code == "HTTP 404"
    api.on("POST", "/v25.0/1/feed", httpx.Response(429, text="slow down"))
    with pytest.raises(RateLimitedError):
        await _session(api).post("1/feed", {"message": "x"}, step="commit")
    api.on("POST", "/v25.0/1/feed", httpx.Response(200, text="<html>ok?</html>"))
    with pytest.raises(OutcomeUnknownError):
        await _session(api).post("1/feed", {"message": "x"}, step="commit")


async def test_session_reads_usage_and_retry_after(api):
    api.on("GET", "/v25.0/1", api.graph_error(
        613, status=400, headers={"retry-after": "120",
                                  "x-app-usage": '{"call_count":97}'}))
    session = _session(api)
    with pytest.raises(RateLimitedError) as caught:
        await session.get("1")
    assert caught.value.retry_after == 120
    assert session.usage.max_percent == 97


def test_poll_delays_grow_to_a_cap():
    delays = poll_delays(1, 2, 5)
    assert [next(delays) for _ in range(5)] == [1, 2, 4, 5, 5]


def test_find_recent_matches_text_and_time_never_the_first_item():
    items = [
        {"id": "newest", "caption": "Other", "timestamp": "2026-03-01T12:01:00+0000"},
        {"id": "ours", "caption": "Hi #tag", "timestamp": "2026-03-01T12:00:05+0000"},
        {"id": "old", "caption": "Hi #tag", "timestamp": "2026-02-01T12:00:00+0000"},
    ]
    found = find_recent(items, text_key="caption", time_key="timestamp", text="Hi #tag ",
                        since=NOW - timedelta(minutes=10), until=NOW + timedelta(hours=1),
                        near=NOW)
    assert found is not None and found["id"] == "ours"
    assert find_recent(items[:1], text_key="caption", time_key="timestamp", text="Hi #tag",
                       since=NOW, until=NOW, near=NOW) is None
    assert covers(items, time_key="timestamp", since=NOW, limit=3)
    assert not covers(items[:2], time_key="timestamp", since=NOW - timedelta(days=1), limit=2)


async def test_download_spools_and_maps_errors(api):
    api.on("GET", "/img.jpg", httpx.Response(200, content=b"abc"))
    api.on("GET", "/moved.jpg", httpx.Response(302, headers={"location": "/img.jpg"}))
    api.on("GET", "/gone.jpg", httpx.Response(404))
    api.on("GET", "/slow.jpg", httpx.ReadTimeout("slow"))
    fetcher = api.fetcher()
    for path in ("img.jpg", "moved.jpg"):
        with await download(fetcher, f"https://cdn.test/{path}") as data:
            assert data.read() == b"abc"
    with pytest.raises(PermanentError):
        await download(fetcher, "https://cdn.test/gone.jpg")
    with pytest.raises(TransientError):
        await download(fetcher, "https://cdn.test/slow.jpg")
    assert all("authorization" not in r.headers for r in api.requests)


async def test_platform_calls_go_through_aiohttp_unless_a_proxy_is_set(monkeypatch):
    """aiohttp carries platform calls (less CPU a call); a proxy from the environment
    needs httpx's own transport, which applies it. Real HTTP to a local server that
    answers both as the platform and as the proxy, and records what it was asked."""
    from herald.config import Settings
    from herald.platforms.registry import http_client
    from herald.platforms.transport import PlatformTransport

    seen: list[str] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n", 1)[0].decode())
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    through_aiohttp: list[str] = []
    handle = PlatformTransport.handle_async_request

    async def counted(self: PlatformTransport, request: httpx.Request) -> httpx.Response:
        through_aiohttp.append(str(request.url))
        return await handle(self, request)

    monkeypatch.setattr(PlatformTransport, "handle_async_request", counted)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy",
                 "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(database_url="sqlite:///x.db", worker_concurrency=100)
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        async with http_client(settings) as client:
            assert (await client.get(f"http://127.0.0.1:{port}/direct")).text == "ok"
        assert seen == ["GET /direct HTTP/1.1"]
        assert through_aiohttp == [f"http://127.0.0.1:{port}/direct"]

        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        async with http_client(settings) as client:
            assert (await client.get("http://graph.platform.test/v21.0/me")).text == "ok"
        # The proxy was asked for the absolute URL; aiohttp's transport was not used.
        assert seen[1] == "GET http://graph.platform.test/v21.0/me HTTP/1.1"
        assert len(through_aiohttp) == 1


# --- publish-time downloads go through the safe fetcher (issue 13, #5) ------------------


async def test_download_redirected_to_a_private_address_is_refused_unfetched(api):
    api.on("GET", "/a.jpg", httpx.Response(302, headers={
        "location": "http://169.254.169.254/latest/meta-data/"}))
    api.on("GET", "/latest/meta-data/", httpx.Response(200, content=b"secret"))
    with pytest.raises(PermanentError, match=r"169\.254\.169\.254 is a link-local address") as err:
        await download(api.fetcher(), "https://cdn.test/a.jpg")
    assert err.value.code == "media_fetch"
    assert [r.url.path for r in api.requests] == ["/a.jpg"]  # the metadata service: never


async def test_download_over_the_size_cap_is_refused(api):
    api.on("GET", "/big.mp4", httpx.Response(200, content=b"x" * 2000))
    api.on("GET", "/told.mp4", httpx.Response(200, content=b"x" * 2000,
                                              headers={"content-length": "2000"}))
    for path in ("big.mp4", "told.mp4"):
        with pytest.raises(PermanentError, match="larger than"):
            await download(api.fetcher(max_bytes=1000), f"https://cdn.test/{path}")


async def test_download_of_a_loopback_url_is_refused_unless_it_is_heralds_own(api):
    api.on("GET", "/media/abc.jpg", httpx.Response(200, content=b"ours"))
    api.on("GET", "/admin", httpx.Response(200, content=b"not media"))
    own = api.fetcher(own=("http://127.0.0.1:8000/media/",))
    with await download(own, "http://127.0.0.1:8000/media/abc.jpg") as data:
        assert data.read() == b"ours"
    for url in ("http://127.0.0.1:8000/admin", "http://127.0.0.1:8000/media/../admin",
                "http://127.0.0.1:9000/media/abc.jpg"):
        with pytest.raises(PermanentError, match="loopback"):
            await download(own, url)
    assert [r.url.path for r in api.requests] == ["/media/abc.jpg"]
