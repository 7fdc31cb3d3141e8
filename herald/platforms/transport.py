"""The transport under platform calls: httpx's API, aiohttp's connection pool and parser.

The clients speak httpx (its models, its errors, `MockTransport` in tests); the bytes go
through aiohttp. In a burst of 5,000 posts py-spy showed half of a worker's CPU in httpx's
own transport (httpcore walking its pool, reading responses in Python); over aiohttp the
same burst drained in 15.7 s instead of 23.6 s (docs/benchmarks.md).

httpx-aiohttp does this too, but it maps every aiohttp connection error to
`httpx.ConnectTimeout` ("never sent") and lets yarl decode the percent-encoded URNs in
LinkedIn's paths, which LinkedIn then refuses; the adapter is short enough to own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

import aiohttp
import httpx
from yarl import URL

#: Bytes per read of a response body.
CHUNK = 64 * 1024
#: The longest response header line accepted.
HEADER_LIMIT = 64 * 1024
#: The monotonic time after which this task sends no request (None: no limit). Publishing
#: sets it when it renews a post's lease just before the commit (herald.queue.deadline):
#: a worker paused past that lease must not post what another worker may have posted.
SEND_BY: ContextVar[float | None] = ContextVar("herald_send_by", default=None)


def mapped(exc: aiohttp.ClientError | TimeoutError | OSError, request: httpx.Request,
           timeout: type[httpx.TimeoutException]) -> httpx.TransportError:
    """The httpx error that says truthfully whether the request may have been sent.

    Herald reads a connect failure as "never sent, safe to send again"
    (graph.transport_error): only a failure before the connection was had may say so.
    aiohttp raises ConnectionTimeoutError and ClientConnectorError only while getting a
    connection (client.py, connector.py). It retries a request on a reused connection the
    server closed, but only for idempotent methods, never a POST: every commit is a POST.
    A bare timeout or OS error (aiohttp lets some through while writing) becomes
    `timeout` or a ReadError: maybe sent.
    """
    text = f"{type(exc).__name__}: {exc}"
    # Order matters: ConnectionTimeoutError and ClientConnectorError are also
    # ServerTimeoutError / ClientOSError, and ServerTimeoutError is a TimeoutError too.
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text, request=request)  # no connection within the wait
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(text, request=request)  # refused, unresolved, TLS failed
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(text, request=request)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(text, request=request)
    if isinstance(exc, TimeoutError):
        return timeout(text, request=request)
    # Dropped, reset, a truncated or malformed answer: the request may have been read.
    return httpx.ReadError(text, request=request)


#: What `mapped` maps.
MAPPED = (aiohttp.ClientError, TimeoutError, OSError)


class _Body(httpx.AsyncByteStream):
    """An aiohttp response body for httpx, its errors remapped (a drop mid-body is one too)."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response, self._request = response, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(CHUNK):
                yield chunk
        except MAPPED as exc:
            raise mapped(exc, self._request, httpx.ReadTimeout) from exc

    async def aclose(self) -> None:
        self._response.release()  # back to the pool if read to the end, else closed


def _until_answer(timeout: dict[str, float | None]) -> float | None:
    parts = [timeout.get(k) for k in ("pool", "write", "read")]
    return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing: see PlatformClient."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


class PlatformClient(httpx.AsyncClient):
    """httpx's client without its cookie jar, for platform calls.

    One client serves every account of every company, so a cookie one account's answer
    set would ride on the next account's calls; the platforms' APIs authenticate by token
    and need none. Skipping the jar also skips its bookkeeping on every answer (parsing
    the request into a urllib Request to look for Set-Cookie): 5 % of a worker's CPU in
    the 5,000-post burst (docs/benchmarks.md).
    """

    def __init__(self, **options: Any) -> None:
        if options.get("cookies"):
            raise ValueError("platform calls carry no cookies")
        super().__init__(**options)

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        if cookies:
            raise ValueError("platform calls carry no cookies")


_NO_COOKIES = _NoCookies()


class PlatformTransport(httpx.AsyncBaseTransport):
    """httpx requests sent through one aiohttp session (made on first use in a loop)."""

    def __init__(self, connections: int, keepalive: float) -> None:
        self._connections, self._keepalive = connections, keepalive
        self._ssl = httpx.create_ssl_context()  # httpx's own: certifi's roots
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        # A session belongs to the loop it was made in; a new loop (asyncio.run again in
        # one process) needs a new session, the old one's connections died with its loop.
        if self._session is None or self._loop is not loop:
            # Idle connections are dropped after `keepalive` seconds, before a server's own
            # idle timeout (5 s in uvicorn, often more elsewhere) closes one under a request
            # just sent: that race surfaces as a dropped connection, on a commit "outcome
            # unknown".
            connector = aiohttp.TCPConnector(limit=self._connections, ssl=self._ssl,
                                             keepalive_timeout=self._keepalive)
            # No cookie jar: httpx keeps none for these calls either, and a shared jar
            # would carry one account's platform cookies into another's calls.
            # Header lines up to 64 KiB: aiohttp's default of 8 KiB would turn a successful
            # commit with a long header into a "garbled answer", an unknown outcome.
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                max_line_size=HEADER_LIMIT, max_field_size=HEADER_LIMIT)
            self._loop = loop
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        send_by = SEND_BY.get()
        if send_by is not None and time.monotonic() > send_by:
            # Never sent, so safe to say so: the caller reads it as "not sent".
            raise httpx.ConnectError("not sent: this worker's lease on the post may have run "
                                     "out meanwhile (was it paused?)", request=request)
        timeout = request.extensions.get("timeout", {})
        headers = [(k, v) for k, v in request.headers.multi_items()
                   if k != "transfer-encoding"]  # aiohttp chunks a streamed body itself
        data: Any
        try:
            data = request.content or None
        except httpx.RequestNotRead:
            data = request.stream
        try:
            # aiohttp bounds the connect and each read, not the write of the body: this
            # bounds the whole way to the answer's headers, as httpx's write timeout did.
            async with asyncio.timeout(_until_answer(timeout)):
                response = await self._client().request(
                    request.method,
                    # httpx has percent-encoded the URL already; yarl must not decode it.
                    URL(str(request.url), encoded=True),
                    headers=headers, data=data, allow_redirects=False, compress=None,
                    timeout=aiohttp.ClientTimeout(connect=timeout.get("pool"),
                                                  sock_connect=timeout.get("connect"),
                                                  sock_read=timeout.get("read")),
                    server_hostname=request.extensions.get("sni_hostname"))
        except MAPPED as exc:
            # A bare timeout here: writing the body, or waiting for the answer after it.
            raise mapped(exc, request, httpx.WriteTimeout) from exc
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx.Response(response.status, headers=response.raw_headers,
                              stream=_Body(response, request), request=request,
                              extensions=extensions)

    async def aclose(self) -> None:
        # A session of another (finished) loop cannot be closed from this one; Herald runs
        # one loop a process, so that only happens in tests.
        if self._session is not None and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None
