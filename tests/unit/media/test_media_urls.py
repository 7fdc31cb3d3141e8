"""Checking and fetching user-given media URLs."""

from __future__ import annotations

import ipaddress
import time

import httpx
import pytest

from herald.media.fetch import (
    BadMediaURLError,
    FetchFailedError,
    FetchTimeoutError,
    HostNotFoundError,
    PrivateAddressError,
    RemoteStatusError,
    RemoteTooLargeError,
    check_media_url,
    check_media_url_async,
    fetch_media_url,
    is_public_address,
)

PUBLIC_IP = "93.184.215.14"  # an IP literal: public, and no DNS needed


@pytest.fixture
async def client():
    async with httpx.AsyncClient() as c:
        yield c


# --- checking --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "error", "message"),
    [
        ("ftp://files.example/x.jpg", BadMediaURLError, "ftp:// is not allowed"),
        ("file:///etc/passwd", BadMediaURLError, "file:// is not allowed"),
        ("//cdn.example/x.jpg", BadMediaURLError, "without a scheme"),
        ("http:///x.jpg", BadMediaURLError, "has no host"),
        ("http://127.0.0.1/x.jpg", PrivateAddressError, "127.0.0.1 is a loopback address"),
        ("http://10.0.0.1/x.jpg", PrivateAddressError, "10.0.0.1 is a private address"),
        ("http://[::1]/x", PrivateAddressError, "::1 is a loopback address"),
        ("http://169.254.169.254/", PrivateAddressError, "a link-local address"),
        ("http://[::ffff:169.254.169.254]/", PrivateAddressError,
         "which reaches 169.254.169.254, a link-local address"),
        ("http://224.0.0.1/", PrivateAddressError, "a multicast address"),
        ("http://0.0.0.0/", PrivateAddressError, "0.0.0.0"),
        ("http://100.64.0.1/", PrivateAddressError, "non-public"),  # carrier-grade NAT
        ("http://localhost:8000/x.jpg", PrivateAddressError, "loopback"),
        ("https://media.herald-test.invalid/x.jpg", HostNotFoundError,
         "media.herald-test.invalid could not be found"),
    ],
)
def test_refused_urls(url, error, message):
    with pytest.raises(error, match=message.replace(".", r"\.")):
        check_media_url(url, allow_private=False)


def test_public_address_passes():
    checked = check_media_url(f"https://{PUBLIC_IP}/x.jpg", allow_private=False)
    assert checked.addresses == (ipaddress.ip_address(PUBLIC_IP),)


def test_allow_private_lets_local_addresses_through():
    checked = check_media_url("http://127.0.0.1/x.jpg", allow_private=True)
    assert str(checked.addresses[0]) == "127.0.0.1"


@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True), ("2606:4700:4700::1111", True), ("192.168.1.1", False),
    ("fd00::1", False), ("fe80::1", False), ("ff02::1", False), ("::", False),
    ("64:ff9b::a00:1", False),  # NAT64 wrapping 10.0.0.1
    ("2002:a00:1::", False),  # 6to4 wrapping 10.0.0.1
])
def test_is_public_address(address, public):
    assert is_public_address(ipaddress.ip_address(address)) is public


async def test_async_check_runs_off_the_loop():
    with pytest.raises(PrivateAddressError):
        await check_media_url_async("http://127.0.0.1/", allow_private=False)


# --- fetching from a real local server -------------------------------------------------


async def test_private_server_is_refused_by_default(http_server, client):
    base, routes = http_server
    routes["/x.jpg"] = (200, {}, b"picture")
    with pytest.raises(PrivateAddressError):
        await fetch_media_url(f"{base}/x.jpg", client=client, max_bytes=1000, timeout=5)


async def test_allow_private_fetches_from_local_server(http_server, client):
    base, routes = http_server
    routes["/x.jpg"] = (200, {"Content-Type": "image/jpeg"}, b"picture bytes")
    body = await fetch_media_url(f"{base}/x.jpg", client=client, allow_private=True,
                                 max_bytes=1000, timeout=5)
    assert body == b"picture bytes"


async def test_declared_length_too_large_is_refused_before_reading(http_server, client):
    base, routes = http_server
    routes["/big.mp4"] = (200, {}, b"\0" * 50_000)
    with pytest.raises(RemoteTooLargeError, match=r"larger than 9\.8 KiB"):
        await fetch_media_url(f"{base}/big.mp4", client=client, allow_private=True,
                              max_bytes=10_000, timeout=5)


async def test_undeclared_length_is_cut_off_while_streaming(http_server, client):
    base, routes = http_server
    routes["/stream"] = (200, {"Transfer-Encoding": "chunked"}, b"\0" * 300_000)
    with pytest.raises(RemoteTooLargeError):
        await fetch_media_url(f"{base}/stream", client=client, allow_private=True,
                              max_bytes=100_000, timeout=5)


async def test_http_error_status(http_server, client):
    base, _ = http_server
    with pytest.raises(RemoteStatusError, match="answered HTTP 404 Not Found") as caught:
        await fetch_media_url(f"{base}/missing.jpg", client=client, allow_private=True,
                              max_bytes=1000, timeout=5)
    assert caught.value.status_code == 404


async def test_redirects_are_followed_and_checked(http_server, client):
    base, routes = http_server
    routes["/old.jpg"] = (302, {"Location": "/new.jpg"}, b"")
    routes["/new.jpg"] = (200, {}, b"moved picture")
    body = await fetch_media_url(f"{base}/old.jpg", client=client, allow_private=True,
                                 max_bytes=1000, timeout=5)
    assert body == b"moved picture"


async def test_redirect_loop_stops(http_server, client):
    base, routes = http_server
    routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with pytest.raises(FetchFailedError, match="redirected more than 5 times"):
        await fetch_media_url(f"{base}/loop", client=client, allow_private=True,
                              max_bytes=1000, timeout=5)


async def test_server_that_never_answers_times_out(silent_server, client):
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError):
        await fetch_media_url(f"{silent_server}/x.jpg", client=client, allow_private=True,
                              max_bytes=1000, timeout=0.5)
    assert time.monotonic() - started < 2


async def test_unresolvable_host(client):
    with pytest.raises(HostNotFoundError):
        await fetch_media_url("https://nothing.herald-test.invalid/x.jpg", client=client,
                              max_bytes=1000, timeout=5)


async def test_closed_port_is_a_clear_failure(client):
    import socket

    with socket.socket() as s:  # find a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchFailedError, match=r"Could not connect to 127\.0\.0\.1"):
        await fetch_media_url(f"http://127.0.0.1:{port}/x", client=client, allow_private=True,
                              max_bytes=1000, timeout=5)


# --- what goes on the wire (a transport, no network) -----------------------------------


async def test_public_url_redirecting_to_metadata_service_is_refused():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as mock:
        with pytest.raises(PrivateAddressError, match="link-local"):
            await fetch_media_url(f"http://{PUBLIC_IP}/x.jpg", client=mock, max_bytes=1000,
                                  timeout=5)


async def test_connection_is_pinned_to_the_checked_address():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"ok")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as mock:
        await fetch_media_url("https://localhost:8443/x.jpg?sig=1", client=mock,
                              allow_private=True, max_bytes=1000, timeout=5)
    [request] = seen
    # Connect to the IP we checked; keep the name for Host, SNI and the certificate.
    assert ipaddress.ip_address(request.url.host).is_loopback
    assert request.url.port == 8443 and request.url.query == b"sig=1"
    assert request.headers["Host"] == "localhost:8443"
    assert request.extensions["sni_hostname"] == "localhost"


async def test_transport_errors_are_mapped():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("server hung up", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as mock:
        with pytest.raises(FetchFailedError, match="server hung up"):
            await fetch_media_url(f"http://{PUBLIC_IP}/x.jpg", client=mock, max_bytes=1000,
                                  timeout=5)
