"""One POST to a webhook receiver, by the rules Herald's media fetches follow.

The URL is checked again at every attempt (a name may have moved to a private address
since it was saved), the connection goes to the very address checked (no DNS
rebinding window: herald.media.fetch), and a redirect is an error, never followed: a
receiver that moved must be given its new URL, and a 3xx could point inside our network.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from herald.media.fetch import MediaURLError, check_media_url, pinned_request
from herald.models import utcnow

#: Retry-After beyond this is capped: a receiver cannot park a delivery for a week.
MAX_RETRY_AFTER = 3600.0
NOUN = "webhook URL"
#: How much of a receiver's answer is read.
MAX_ANSWER_BYTES = 4096


@dataclass(frozen=True)
class Answer:
    """What the receiver did with one delivery."""

    ok: bool
    status: int | None = None
    body: str | None = None
    error: str | None = None
    retry_after: datetime | None = None
    duration_ms: int = 0


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse a webhook URL that is not http(s) or reaches a non-public address (blocking)."""
    check_media_url(url, allow_private=allow_private, noun=NOUN)


async def post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], *,
               allow_private: bool, timeout: float) -> Answer:
    """POST `body` to `url`: 2xx is delivered, anything else (or no answer) is not."""
    started = time.monotonic()

    def took() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        async with asyncio.timeout(timeout):
            checked = await asyncio.to_thread(check_media_url, url,
                                              allow_private=allow_private, noun=NOUN)
            status, answer_headers, text = await _send(
                client, checked.url, checked.addresses, body, headers, timeout)
    except MediaURLError as exc:
        return Answer(False, error=str(exc), duration_ms=took())
    except (TimeoutError, httpx.TimeoutException):
        return Answer(False, error=f"The receiver did not answer within {timeout:g} s.",
                      duration_ms=took())
    except httpx.HTTPError as exc:
        return Answer(False, error=f"Could not reach the receiver "
                                   f"({exc or type(exc).__name__}).", duration_ms=took())
    if 200 <= status < 300:
        return Answer(True, status, text, duration_ms=took())
    if 300 <= status < 400:
        where = answer_headers.get("location", "")
        error = (f"The receiver answered HTTP {status}, a redirect to {where or 'nowhere'}; "
                 "Herald does not follow webhook redirects: give the webhook its final URL.")
    else:
        error = f"The receiver answered HTTP {status}."
    return Answer(False, status, text, error,
                  retry_after=parse_retry_after(answer_headers.get("retry-after")),
                  duration_ms=took())


async def _send(client: httpx.AsyncClient, url: httpx.URL,
                addresses: tuple[object, ...], body: bytes, headers: dict[str, str],
                timeout: float) -> tuple[int, httpx.Headers, str]:
    refused: httpx.ConnectError | None = None
    for address in addresses:  # each checked address in turn, as a browser would
        request = pinned_request(client, url, address, timeout,  # type: ignore[arg-type]
                                 method="POST", content=body, headers=headers)
        try:
            response = await client.send(request, stream=True, follow_redirects=False)
        except httpx.ConnectError as exc:
            refused = exc
            continue
        try:
            # Only the start of the answer is kept: a receiver cannot make us read gigabytes.
            kept = b""
            async for chunk in response.aiter_raw():
                kept += chunk
                if len(kept) >= MAX_ANSWER_BYTES:
                    break
            return (response.status_code, response.headers,
                    kept[:MAX_ANSWER_BYTES].decode("utf-8", "replace"))
        finally:
            await response.aclose()
    raise httpx.ConnectError(f"could not connect to {url.host} ({refused})")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> datetime | None:
    """Retry-After as seconds or an HTTP date, capped at MAX_RETRY_AFTER; None if absent."""
    if not value:
        return None
    at = now or utcnow()
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - at).total_seconds()
    return at + timedelta(seconds=max(0.0, min(seconds, MAX_RETRY_AFTER)))
