"""The aiohttp transport under platform calls, against real sockets: whether a failed call
may have been sent decides whether a commit is sent again, so each failure is provoked."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from herald.config import Settings
from herald.platforms.base import OutcomeUnknownError, TransientError
from herald.platforms.http import transport_error
from herald.platforms.registry import http_client
from herald.platforms.transport import PlatformClient, PlatformTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return head + await reader.readexactly(length)


async def _serve(handler: Handler) -> AsyncIterator[str]:
    tasks: set[asyncio.Task[None]] = set()

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(tracked, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for task in tasks:  # handlers still waiting (a silent server) end with the test
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


def _client(connections: int = 4, **timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=PlatformTransport(connections, 4.0),
                             timeout=httpx.Timeout(timeout.pop("read", 5.0), **timeout))


async def _commit_error(url: str, client: httpx.AsyncClient) -> httpx.TransportError:
    with pytest.raises(httpx.TransportError) as caught:
        await client.post(url + "/1/feed", json={"message": "hello"})
    return caught.value


async def test_an_answer_comes_back_through_httpx():
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await _read_request(reader))
        body = b'{"id":"7"}'
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                     b'x-app-usage: {"call_count":5}\r\n'
                     b"content-length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    async for url in _serve(answer):
        async with _client() as client:
            # LinkedIn wants URNs in paths percent-encoded; they must arrive so.
            response = await client.post(url + "/rest/posts/urn%3Ali%3Ashare%3A9?a=b%2Cc",
                                         json={"message": "hello"},
                                         headers={"authorization": "Bearer t"})
    assert response.status_code == 200 and response.json() == {"id": "7"}
    assert response.headers["x-app-usage"] == '{"call_count":5}'
    assert b"authorization: Bearer t" in seen[0].replace(b"Authorization", b"authorization")
    assert seen[0].startswith(b"POST /rest/posts/urn%3Ali%3Ashare%3A9?a=b%2Cc HTTP/1.1")
    assert seen[0].endswith(b'{"message":"hello"}')


async def test_a_refused_connection_was_never_sent():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with _client() as client:
        exc = await _commit_error(f"http://127.0.0.1:{port}", client)
    assert isinstance(exc, httpx.ConnectError)
    assert type(transport_error(exc, platform="Facebook", commit=True)) is TransientError


async def test_a_connection_dropped_after_the_request_may_have_posted():
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.close()  # read the commit, then hung up without an answer

    async for url in _serve(drop):
        async with _client() as client:
            exc = await _commit_error(url, client)
    # httpx-aiohttp alone says ConnectTimeout here, which would send the commit again.
    assert not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
    assert type(transport_error(exc, platform="Facebook", commit=True)) is OutcomeUnknownError


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"id\":",  # cut off mid-body
    b"NOT HTTP AT ALL\r\n\r\n",  # garbled
])
async def test_a_broken_answer_may_have_posted(answer: bytes):
    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(answer)
        await writer.drain()

    async for url in _serve(broken):
        async with _client() as client:
            exc = await _commit_error(url, client)
    assert type(transport_error(exc, platform="Facebook", commit=True)) is OutcomeUnknownError


async def test_no_answer_in_time_is_a_read_timeout():
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(5)

    async for url in _serve(silent):
        async with _client(read=0.3) as client:
            exc = await _commit_error(url, client)
    assert isinstance(exc, httpx.ReadTimeout)
    assert type(transport_error(exc, platform="Facebook", commit=True)) is OutcomeUnknownError


async def test_waiting_for_a_free_connection_was_never_sent():
    busy, release = asyncio.Event(), asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        busy.set()
        await release.wait()
        writer.close()

    async for url in _serve(slow):
        async with _client(connections=1, read=5.0, pool=0.3) as client:
            first = asyncio.create_task(client.post(url + "/1/feed", json={}))
            await busy.wait()  # the one connection is now busy
            exc = await _commit_error(url, client)
            release.set()
            with pytest.raises(httpx.TransportError):
                await first
    assert isinstance(exc, httpx.ConnectTimeout)
    assert type(transport_error(exc, platform="Facebook", commit=True)) is TransientError


async def test_a_reused_connection_dropped_after_a_commit_is_not_sent_again():
    """The case a wrong mapping or a silent retry would post twice: a keep-alive
    connection the server closes after reading the next request."""
    received: list[bytes] = []

    async def once_then_drop(reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        received.append(await _read_request(reader))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{\"id\":\"1\"}")
        await writer.drain()
        received.append(await _read_request(reader))  # the commit, read, never answered

    async for url in _serve(once_then_drop):
        async with _client() as client:
            first = await client.post(url + "/1/feed", json={"message": "one"})
            assert first.json() == {"id": "1"}
            exc = await _commit_error(url, client)
    assert len(received) == 2 and received[1].endswith(b'{"message":"hello"}')
    assert type(transport_error(exc, platform="Facebook", commit=True)) is OutcomeUnknownError


async def test_a_body_written_too_slowly_is_a_timeout_that_may_have_posted():
    async def never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)  # takes nothing: the client's socket buffers fill up

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"x" * 65536

    async for url in _serve(never_reads):
        async with _client(read=0.2, write=0.2, pool=0.2, connect=1.0) as client:
            with pytest.raises(httpx.TransportError) as caught:
                await client.post(url + "/upload", content=endless())
    assert isinstance(caught.value, httpx.WriteTimeout)
    assert type(transport_error(caught.value, platform="LinkedIn", commit=True)) \
        is OutcomeUnknownError


async def test_headers_go_out_once_and_a_streamed_body_is_chunked_by_aiohttp():
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        body = b""
        while not body.endswith(b"0\r\n\r\n"):
            body += await reader.read(65536)
        seen.append(head + body)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
        await writer.drain()

    async def parts() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b"def"

    async for url in _serve(answer):
        async with _client() as client:
            response = await client.post(url + "/upload", content=parts())
    assert response.status_code == 200
    head = seen[0].split(b"\r\n\r\n")[0].lower()
    assert head.count(b"\r\nhost:") == 1
    assert head.count(b"transfer-encoding: chunked") == 1
    assert b"content-length" not in head
    assert b"abc" in seen[0] and b"def" in seen[0]


async def test_platform_calls_keep_no_cookies_from_one_account_to_the_next():
    # One client serves every account: a cookie one account's answer sets must not ride
    # on another's calls.
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, json={}, headers={"set-cookie": "session=account-a; Path=/"})

    async with PlatformClient(transport=httpx.MockTransport(handler)) as client:
        await client.get("https://graph.test/v25.0/me")
        await client.get("https://graph.test/v25.0/me")
        assert not client.cookies
    assert seen == [None, None]
    with pytest.raises(ValueError, match="no cookies"):
        PlatformClient(cookies={"a": "b"})


def test_the_platform_client_is_the_cookieless_one():
    assert isinstance(http_client(Settings(secret_key="x" * 32)), PlatformClient)
