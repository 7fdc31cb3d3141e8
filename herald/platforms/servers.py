"""Server URLs that accounts bring (a Bluesky PDS, a Mastodon instance): https and public.

Herald sends an account's token to its server, so a server URL is checked like a media
URL: https, and every address its host resolves to on the public internet, unless the
operator allows private servers (HERALD_ALLOW_PRIVATE_SERVER_URLS=1: tests, a self-hosted
server on a LAN), which also allows plain http.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx

from herald.media.fetch import is_public_address


class ServerURLError(ValueError):
    """The server URL is not one Herald may send an account's credentials to."""


def normalize_server_url(url: str) -> str:
    """The URL's scheme, host and port, with no trailing slash ("https://bsky.social")."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError):
        raise ServerURLError(f"{url!r} is not a valid server URL.") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ServerURLError(f"The server URL {url!r} must be a web address such as "
                             "https://bsky.social.")
    if parsed.query or parsed.fragment or parsed.userinfo:
        raise ServerURLError(f"The server URL {url!r} must have no query, fragment or "
                             "user name.")
    return str(parsed.copy_with(path=parsed.path.rstrip("/") or "")).rstrip("/")


def check_server_url(url: str, *, allow_private: bool) -> str:
    """The normalized URL, or ServerURLError saying why Herald will not use it (blocks on DNS)."""
    normal = normalize_server_url(url)
    parsed = httpx.URL(normal)
    if allow_private:
        return normal
    if parsed.scheme != "https":
        raise ServerURLError(f"Server URLs must start with https://; {normal} does not "
                             "(HERALD_ALLOW_PRIVATE_SERVER_URLS=1 allows http).")
    host = parsed.host
    try:
        infos = socket.getaddrinfo(host, parsed.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ServerURLError(f"The server {host} could not be found ({exc}); check the "
                             "address.") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not is_public_address(address):
            raise ServerURLError(f"Server URLs must point to the public internet; {host} is "
                                 f"{address}, not a public address "
                                 "(HERALD_ALLOW_PRIVATE_SERVER_URLS=1 allows it).")
    return normal


async def check_server_url_async(url: str, *, allow_private: bool) -> str:
    """check_server_url in a thread: getaddrinfo blocks."""
    return await asyncio.to_thread(check_server_url, url, allow_private=allow_private)
