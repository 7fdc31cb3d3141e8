"""Fetching media from URLs users give, without letting them reach our own network.

A scheduler that downloads "any URL" is a server-side request forgery tool: a user could
point it at the cloud metadata service (169.254.169.254), the database, or an admin page
on localhost. So every URL, and every redirect hop, is resolved first and refused when any
address it resolves to is not public, unless the operator allows private addresses.

DNS rebinding: checking a name and then letting the HTTP client resolve it again leaves a
window in which a hostile DNS server can answer a public address first and 127.0.0.1
second. We close it by connecting to the very address we checked (the URL's host is
replaced by the IP; the Host header and TLS SNI/certificate check keep the original name).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, TypeVar

import httpx

from herald.media.probing import DEFAULT_MAX_UPLOAD_BYTES, human_size

if TYPE_CHECKING:
    from herald.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: (host, port) -> the addresses it resolves to.
Resolver = Callable[[str, int], tuple[IPAddress, ...]]
T = TypeVar("T")

DEFAULT_FETCH_TIMEOUT = 30.0
MAX_REDIRECTS = 5

# NAT64 carries an IPv4 address in its last 32 bits; check that address, not the wrapper.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class MediaURLError(ValueError):
    """The media URL cannot be used."""


class BadMediaURLError(MediaURLError):
    """The media URL is not an http(s) address with a host."""


class PrivateAddressError(MediaURLError):
    """The media URL points into a private network."""


class HostNotFoundError(MediaURLError):
    """The media URL's host name could not be resolved."""


class FetchTimeoutError(MediaURLError):
    """The media URL did not answer in time."""


class FetchFailedError(MediaURLError):
    """The media URL could not be downloaded."""


class RemoteStatusError(FetchFailedError):
    """The media URL answered with an HTTP error."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class RemoteTooLargeError(FetchFailedError):
    """The file at the media URL is larger than allowed."""


@dataclass(frozen=True)
class CheckedURL:
    """A URL that passed the checks, with the addresses its host resolved to."""

    url: httpx.URL
    addresses: tuple[IPAddress, ...]


def check_media_url(url: str, *, allow_private: bool,
                    resolve: Resolver | None = None, noun: str = "media URL") -> CheckedURL:
    """Refuse URLs that are not http(s), have no host, or reach a non-public address.

    Resolves the host with the system resolver (blocking): from async code use
    :func:`check_media_url_async`. `noun` names the URL in messages ("webhook URL").
    """
    try:
        return _check(url, allow_private=allow_private, resolve=resolve)
    except MediaURLError as exc:
        if noun == "media URL":
            raise
        title = noun[0].upper() + noun[1:]
        message = str(exc).replace("Media URL", title).replace("media URL", noun)
        raise type(exc)(message) from None


def _check(url: str, *, allow_private: bool, resolve: Resolver | None) -> CheckedURL:
    parsed = _parse(url)
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = (resolve or _resolve)(host, port)
    if not allow_private:
        # Every address, not just the first: a name may answer one public and one private.
        for address in addresses:
            if not is_public_address(address):
                # "127.0.0.1 is a loopback address", not "127.0.0.1 is 127.0.0.1, a …".
                said = _describe(address).removeprefix(f"{parsed.host}, ")
                raise PrivateAddressError(
                    f"Media URLs must point to the public internet; {parsed.host} is {said}."
                )
    return CheckedURL(url=parsed, addresses=addresses)


async def check_media_url_async(url: str, *, allow_private: bool) -> CheckedURL:
    """check_media_url in a thread: getaddrinfo blocks."""
    return await asyncio.to_thread(check_media_url, url, allow_private=allow_private)


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError):
        raise BadMediaURLError(f"{url!r} is not a valid URL.") from None
    if parsed.scheme not in ("http", "https"):
        scheme = f"{parsed.scheme}://" if parsed.scheme else "a URL without a scheme"
        raise BadMediaURLError(
            f"Media URLs must start with http:// or https://; {scheme} is not allowed."
        )
    if not parsed.host:
        raise BadMediaURLError(f"The media URL {url!r} has no host name.")
    return parsed


def _resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise HostNotFoundError(
            f"The media URL's host {host} could not be found ({reason}); check the address."
        ) from None
    # dict.fromkeys: drop duplicates (one per socket type) but keep the resolver's order.
    return tuple(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


def is_public_address(address: IPAddress) -> bool:
    """True for addresses on the public internet; False for loopback, private, etc."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public_address(embedded)
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast  # 224.0.0.0/4 counts as "global" to ipaddress
        or address.is_reserved
        or address.is_unspecified
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:  # ::ffff:127.0.0.1 reaches 127.0.0.1
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _describe(address: IPAddress) -> str:
    """'10.0.0.1, a private address', for the error message."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return f"{address}, which reaches {_describe(embedded)}"
    for kind in ("loopback", "link_local", "multicast", "unspecified", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            return f"{address}, a {kind.replace('_', '-')} address"
    return f"{address}, a non-public address"


# --- fetching --------------------------------------------------------------------------

#: Reads an answer that is not a redirect: into memory, into a file, or just its status.
Reader = Callable[[httpx.Response, str, int], Awaitable[T]]


@dataclass(frozen=True)
class FetchRules:
    """Which URLs Herald fetches for users, how much and for how long.

    ``own`` are URL prefixes of Herald's own media store (``{public_url}/media/``): under
    `herald run` they are on loopback, and Herald must still fetch the files it serves.
    """

    allow_private: bool = False
    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    timeout: float = DEFAULT_FETCH_TIMEOUT
    own: tuple[str, ...] = ()
    #: The resolver (a seam for tests whose hosts are not in DNS).
    resolve: Resolver = field(default=_resolve, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchRules:
        """HERALD_ALLOW_PRIVATE_MEDIA_URLS, HERALD_MEDIA_MAX_UPLOAD_BYTES, …, as rules."""
        own = (f"{settings.public_url}/media/",) if settings.media_store == "local" else ()
        return cls(allow_private=settings.allow_private_media_urls,
                   max_bytes=settings.media_max_upload_bytes,
                   timeout=settings.media_fetch_timeout, own=own)

    def check(self, url: str) -> CheckedURL:
        """check_media_url by these rules (blocking: it resolves the host)."""
        allow = self.allow_private or self._is_own(url)
        return check_media_url(url, allow_private=allow, resolve=self.resolve)

    def _is_own(self, url: str) -> bool:
        try:
            parsed = httpx.URL(url.strip())
        except (httpx.InvalidURL, TypeError):
            return False
        # Compared after parsing, and never with a ".." segment: /media/../api is not media.
        return ".." not in parsed.path.split("/") and any(
            str(parsed).startswith(prefix) for prefix in self.own)


@dataclass(frozen=True)
class SafeFetcher:
    """Every outbound request a user's input can steer goes through here: media at
    schedule time and at publish time, the sandbox's media fetches (later: webhooks, link
    previews). Public addresses only (each redirect hop checked), at most
    ``rules.max_bytes``, within ``rules.timeout``.
    """

    client: httpx.AsyncClient
    rules: FetchRules = FetchRules()

    @classmethod
    def from_settings(cls, settings: Settings, client: httpx.AsyncClient) -> SafeFetcher:
        return cls(client, FetchRules.from_settings(settings))

    async def fetch(self, url: str) -> bytes:
        """The body at ``url``, in memory."""
        return await self._bounded(url, _read_bytes)

    async def fetch_into(self, url: str, sink: IO[bytes]) -> int:
        """Write the body at ``url`` to ``sink``; the number of bytes written."""

        async def into(response: httpx.Response, host: str, max_bytes: int) -> int:
            written = 0
            async for chunk in _chunks(response, host, max_bytes):
                written += sink.write(chunk)
            return written

        return await self._bounded(url, into)

    async def status(self, url: str) -> int:
        """The final status code at ``url`` (redirects followed and checked), no body read."""

        async def status(response: httpx.Response, host: str, max_bytes: int) -> int:
            return response.status_code

        return await self._bounded(url, status, errors=False)

    async def _bounded(self, url: str, reader: Reader[T], *, errors: bool = True) -> T:
        try:
            # One bound on the whole download, DNS and redirects included: a server that
            # dribbles a byte a second never trips a per-read timeout.
            async with asyncio.timeout(self.rules.timeout):
                return await self._follow(url, reader, errors)
        except TimeoutError:
            raise FetchTimeoutError(
                f"The media URL did not deliver the file within {self.rules.timeout:g} "
                "seconds."
            ) from None

    async def _follow(self, url: str, reader: Reader[T], errors: bool) -> T:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            # The thread outlives a timeout (getaddrinfo cannot be interrupted); we just
            # stop waiting for it.
            checked = await asyncio.to_thread(self.rules.check, current)
            answer = await _get(self.client, checked, self.rules.max_bytes,
                                self.rules.timeout, reader, errors)
            if not isinstance(answer, _Redirect):
                return answer
            current = str(checked.url.join(answer.location))
        raise FetchFailedError(f"The media URL redirected more than {MAX_REDIRECTS} times.")


async def fetch_media_url(
    url: str,
    *,
    client: httpx.AsyncClient,
    allow_private: bool = False,
    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    timeout: float = DEFAULT_FETCH_TIMEOUT,
) -> bytes:
    """Download a user's media URL: public addresses only, at most max_bytes, within timeout.

    Redirects are followed here (up to MAX_REDIRECTS), each hop checked like the first,
    since a public URL may redirect to http://169.254.169.254/.
    """
    fetcher = SafeFetcher(client, FetchRules(allow_private=allow_private,
                                             max_bytes=max_bytes, timeout=timeout))
    return await fetcher.fetch(url)


@dataclass(frozen=True)
class _Redirect:
    location: str


async def _get(client: httpx.AsyncClient, checked: CheckedURL, max_bytes: int,
               timeout: float, reader: Reader[T], errors: bool) -> T | _Redirect:
    host = checked.url.host
    refused: httpx.ConnectError | None = None
    # Try each checked address in the resolver's order, as a browser would.
    for address in checked.addresses:
        request = pinned_request(client, checked.url, address, timeout)
        with _mapped_errors(host):
            try:
                response = await client.send(request, stream=True, follow_redirects=False)
            except httpx.ConnectError as exc:
                refused = exc
                continue
            try:
                if response.is_redirect:
                    return _Redirect(response.headers["location"])
                if errors:
                    _check_status(response, host, max_bytes)
                return await reader(response, host, max_bytes)
            finally:
                await response.aclose()
    raise FetchFailedError(f"Could not connect to {host} ({refused}).")


def pinned_request(
    client: httpx.AsyncClient, url: httpx.URL, address: IPAddress, timeout: float, *,
    method: str = "GET", content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Request:
    """A request to ``address`` that still says ``url``'s host in Host and TLS."""
    ip = str(address).replace("%", "%25")  # an IPv6 zone id must be escaped in a URL
    extensions: dict[str, Any] = {}
    if url.scheme == "https":
        # httpcore uses this as server_hostname: SNI and certificate check use the name.
        extensions["sni_hostname"] = url.raw_host.decode("ascii")
    return client.build_request(
        method,
        url.copy_with(host=ip),
        headers={**(headers or {}), "Host": url.netloc.decode("ascii")},
        content=content,
        extensions=extensions,
        timeout=httpx.Timeout(timeout),
    )


def _check_status(response: httpx.Response, host: str, max_bytes: int) -> None:
    if response.status_code >= 300:
        raise RemoteStatusError(
            f"{host} answered HTTP {response.status_code} {response.reason_phrase} for the "
            "media URL; check that the address is right and the file is public.",
            status_code=response.status_code,
        )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:  # refuse before reading a byte
        raise _too_large(host, max_bytes)


async def _chunks(response: httpx.Response, host: str, max_bytes: int) -> AsyncIterator[bytes]:
    received = 0
    # aiter_bytes decodes gzip, so the bound is on what we would keep, not on the wire size.
    async for chunk in response.aiter_bytes():
        received += len(chunk)
        if received > max_bytes:
            raise _too_large(host, max_bytes)
        yield chunk


async def _read_bytes(response: httpx.Response, host: str, max_bytes: int) -> bytes:
    return b"".join([chunk async for chunk in _chunks(response, host, max_bytes)])


def _too_large(host: str, max_bytes: int) -> RemoteTooLargeError:
    return RemoteTooLargeError(
        f"The file at {host} is larger than {human_size(max_bytes)}, the most Herald "
        "downloads."
    )


@contextmanager
def _mapped_errors(host: str) -> Iterator[None]:
    """httpx's errors become ours here, and only here."""
    try:
        yield
    except httpx.TimeoutException:
        raise FetchTimeoutError(f"{host} did not answer in time.") from None
    except httpx.HTTPError as exc:
        # Some of httpx's errors carry no message: name the error then.
        raise FetchFailedError(
            f"Downloading from {host} failed ({exc or type(exc).__name__}).") from None
