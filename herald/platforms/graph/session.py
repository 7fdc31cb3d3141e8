"""One job's calls to the Graph API: the token in a header, usage headers read, errors
mapped, blips retried at once; and the paged listing that reconciliation reads."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from herald.platforms.base import AccountPause, PublishError, TransientError
from herald.platforms.graph.errors import GraphErrors, graph_error
from herald.platforms.http import (
    Step,
    covers,
    dict_at,
    list_at,
    parse_json,
    to_float,
    transport_error,
)

USAGE_ATTR = "usage"
#: Meta throttles at 100 % of an account's budget; like Mixpost, stop at 90 %.
USAGE_LIMIT = 90.0
#: How long to pause an account near its budget when Meta gives no regain estimate.
USAGE_BACKOFF_SECONDS = 600.0
#: Pauses before a read or an idempotent write is sent again within one attempt after a
#: transient error (code 1/2, a 5xx, a dropped connection): Meta's advice for those is to
#: retry, and a quick retry costs far less than a new attempt with its backoff.
QUICK_RETRIES = (0.2, 1.0)


@dataclass
class Usage:
    """The highest Meta usage percentage seen, and how long Meta says to stay away."""

    max_percent: float = 0.0
    regain_seconds: float = 0.0

    def update(self, headers: httpx.Headers) -> None:
        for name in ("x-app-usage", "x-page-usage"):
            data = parse_json(headers.get(name))
            if isinstance(data, dict):
                self._seen(data)
        buc = parse_json(headers.get("x-business-use-case-usage"))
        for entries in buc.values() if isinstance(buc, dict) else ():
            for entry in entries if isinstance(entries, list) else ():
                if isinstance(entry, dict):
                    self._seen(entry)
                    minutes = to_float(entry.get("estimated_time_to_regain_access")) or 0.0
                    self.regain_seconds = max(self.regain_seconds, minutes * 60)

    def _seen(self, data: Mapping[str, Any]) -> None:
        for key in ("call_count", "total_cputime", "total_time"):
            self.max_percent = max(self.max_percent, to_float(data.get(key)) or 0.0)

    def as_dict(self) -> dict[str, float]:
        return {"max_percent": self.max_percent, "regain_seconds": self.regain_seconds}

    def pause(self) -> AccountPause | None:
        """Meta reports how much of its budget an account used; stop before it throttles."""
        if self.max_percent < USAGE_LIMIT:
            return None
        return AccountPause(max(self.regain_seconds, USAGE_BACKOFF_SECONDS),
                            f"usage at {self.max_percent:.0f}%")


def attach_usage(exc: PublishError, usage: Usage) -> None:
    """Put the usage reading on an error, as `exc.usage` (a dict like result.extra["usage"]),
    with the pause it advises."""
    setattr(exc, USAGE_ATTR, usage.as_dict())
    exc.pause = usage.pause()


class GraphSession:
    """One job's calls to the Graph API with one token."""

    def __init__(self, client: httpx.AsyncClient, *, base_url: str, version: str, token: str,
                 platform: str, errors: GraphErrors | None = None) -> None:
        """`platform` is the display name; `errors` the platform's own mapping of Graph
        errors (its errors.py), else the Graph API's under that name."""
        version = version if version.startswith("v") else f"v{version}"
        self._client, self._root = client, f"{base_url.rstrip('/')}/{version}"
        self._token, self.platform = token, platform
        self._errors: GraphErrors = errors or functools.partial(graph_error, platform=platform)
        self.usage = Usage()

    async def get(self, path: str, params: Mapping[str, Any] | None = None, *,
                  step: Step = "read") -> dict[str, Any]:
        return await self._send("GET", path, step=step, params=params)

    async def post(self, path: str, body: Mapping[str, Any], *, step: Step) -> dict[str, Any]:
        return await self._send("POST", path, step=step, body=body)

    async def _send(self, method: str, path: str, *, step: Step,
                    params: Mapping[str, Any] | None = None,
                    body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        delays = iter(QUICK_RETRIES if step != "commit" else ())
        while True:
            try:
                return await self._send_once(method, path, step=step, params=params,
                                             body=body)
            except TransientError as exc:
                # Only a plain blip with no wait asked for; never the commit, whose error
                # may come after the post was made (that is reconciliation's job).
                delay = next(delays, None) if type(exc) is TransientError \
                    and exc.retry_after is None else None
                if delay is None:
                    raise
            await asyncio.sleep(delay)

    async def _send_once(self, method: str, path: str, *, step: Step,
                         params: Mapping[str, Any] | None = None,
                         body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        # Bearer header, never ?access_token=: URLs end up in httpx's and proxies' logs.
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            resp = await self._client.request(method, f"{self._root}/{path.lstrip('/')}",
                                              params=params, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise transport_error(exc, platform=self.platform, commit=step == "commit") from exc
        self.usage.update(resp.headers)
        data = parse_json(resp.text)
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            error = {k: self.scrub(v) if isinstance(v, str) else v for k, v in error.items()}
        elif resp.status_code >= 400 or not isinstance(data, dict):
            # No envelope (a gateway's page, an empty body): judged by the HTTP status; a 2xx
            # we cannot read was still processed, which on a commit means "maybe out".
            error = {"message": f"HTTP {resp.status_code} without a readable answer",
                     "is_transient": resp.status_code < 400}
        else:
            return data
        raise self._errors(error, step=step, status=resp.status_code, usage=self.usage,
                           retry_after=to_float(resp.headers.get("retry-after")))

    def scrub(self, text: str) -> str:
        """Remove the token from text the platform echoed back."""
        return text.replace(self._token, "[token]") if self._token else text


async def recent(g: GraphSession, path: str, *, fields: str, time_key: str, since: datetime,
                 limit: int, max_pages: int) -> tuple[list[Any], bool]:
    """An edge's items newest first, paged back until past `since` (True) or the cap.

    A busy account can publish more than one page of posts in the minutes that matter;
    only a listing that reaches back past the commit proves a post is absent.
    """
    items: list[Any] = []
    after: str | None = None
    for _ in range(max_pages):
        params: dict[str, Any] = {"fields": fields, "limit": limit}
        if after:
            params["after"] = after
        data = await g.get(path, params)
        chunk = list_at(data, "data")
        items += chunk
        if covers(chunk, time_key=time_key, since=since, limit=limit):
            return items, True
        paging = dict_at(data, "paging")
        after = str(dict_at(paging, "cursors").get("after") or "") or None
        if not paging.get("next") or after is None:
            return items, True  # no older items: the listing is whole
    return items, False
