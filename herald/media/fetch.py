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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from herald.media.probing import DEFAULT_MAX_UPLOAD_BYTES, human_size

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

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


def check_media_url(url: str, *, allow_private: bool) -> CheckedURL:
    """Refuse URLs that are not http(s), have no host, or reach a non-public address.

    Resolves the host with the system resolver (blocking): from async code use
    :func:`check_media_url_async`.
    """
    parsed = _parse(url)
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = _resolve(host, port)
    if not allow_private:
        # Every address, not just the first: a name may answer one public and one private.
        for address in addresses:
            if not is_public_address(address):
                raise PrivateAddressError(
                    f"Media URLs must point to the public internet; {parsed.host} is "
                    f"{_describe(address)}."
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
    try:
        # One bound on the whole download, DNS and redirects included: a server that
        # dribbles a byte a second never trips a per-read timeout.
        async with asyncio.timeout(timeout):
            return await _follow(url, client, allow_private, max_bytes, timeout)
    except TimeoutError:
        raise FetchTimeoutError(
            f"The media URL did not deliver the file within {timeout:g} seconds."
        ) from None


@dataclass(frozen=True)
class _Answer:
    body: bytes = b""
    redirect: str | None = None


async def _follow(
    url: str, client: httpx.AsyncClient, allow_private: bool, max_bytes: int, timeout: float
) -> bytes:
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        # The thread outlives a timeout (getaddrinfo cannot be interrupted); we just stop
        # waiting for it.
        checked = await check_media_url_async(current, allow_private=allow_private)
        answer = await _get(client, checked, max_bytes, timeout)
        if answer.redirect is None:
            return answer.body
        current = str(checked.url.join(answer.redirect))
    raise FetchFailedError(f"The media URL redirected more than {MAX_REDIRECTS} times.")


async def _get(
    client: httpx.AsyncClient, checked: CheckedURL, max_bytes: int, timeout: float
) -> _Answer:
    host = checked.url.host
    refused: httpx.ConnectError | None = None
    # Try each checked address in the resolver's order, as a browser would.
    for address in checked.addresses:
        request = _pinned_request(client, checked.url, address, timeout)
        with _mapped_errors(host):
            try:
                response = await client.send(request, stream=True, follow_redirects=False)
            except httpx.ConnectError as exc:
                refused = exc
                continue
            try:
                return await _read(response, host, max_bytes)
            finally:
                await response.aclose()
    raise FetchFailedError(f"Could not connect to {host} ({refused}).")


def _pinned_request(
    client: httpx.AsyncClient, url: httpx.URL, address: IPAddress, timeout: float
) -> httpx.Request:
    """A request to ``address`` that still says ``url``'s host in Host and TLS."""
    ip = str(address).replace("%", "%25")  # an IPv6 zone id must be escaped in a URL
    extensions: dict[str, Any] = {}
    if url.scheme == "https":
        # httpcore uses this as server_hostname: SNI and certificate check use the name.
        extensions["sni_hostname"] = url.raw_host.decode("ascii")
    return client.build_request(
        "GET",
        url.copy_with(host=ip),
        headers={"Host": url.netloc.decode("ascii")},
        extensions=extensions,
        timeout=httpx.Timeout(timeout),
    )


async def _read(response: httpx.Response, host: str, max_bytes: int) -> _Answer:
    if response.is_redirect:
        return _Answer(redirect=response.headers["location"])
    if response.status_code >= 300:
        raise RemoteStatusError(
            f"{host} answered HTTP {response.status_code} {response.reason_phrase} for the "
            "media URL; check that the address is right and the file is public.",
            status_code=response.status_code,
        )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:  # refuse before reading a byte
        raise _too_large(host, max_bytes)
    chunks: list[bytes] = []
    received = 0
    # aiter_bytes decodes gzip, so the bound is on what we would keep, not on the wire size.
    async for chunk in response.aiter_bytes():
        received += len(chunk)
        if received > max_bytes:
            raise _too_large(host, max_bytes)
        chunks.append(chunk)
    return _Answer(body=b"".join(chunks))


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
        raise FetchFailedError(f"Downloading from {host} failed ({exc}).") from None
