"""What the peers' tasks do, shared by bench/peers_celery.py and bench/peers_procrastinate.py:
publish one Facebook text post through the platform fake as Herald's Facebook client does
(POST /{page}/feed, then GET the post's permalink: two calls), or nothing at all.

Configured by environment variables, since each peer runs its workers as processes of
its own: PEERS_FAKE_URL (the fake's base URL) and PEERS_GRAPH_VERSION.
"""

from __future__ import annotations

import os
from typing import Any

import httpx


def _feed_url(page: str) -> str:
    version = os.environ.get("PEERS_GRAPH_VERSION", "v25.0")
    return f"{os.environ['PEERS_FAKE_URL']}/graph/{version}/{page}/feed"


def _post_url(post_id: str) -> str:
    version = os.environ.get("PEERS_GRAPH_VERSION", "v25.0")
    return f"{os.environ['PEERS_FAKE_URL']}/graph/{version}/{post_id}"


def publish_sync(client: httpx.Client, page: str, token: str, caption: str) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post(_feed_url(page), json={"message": caption}, headers=headers)
    response.raise_for_status()
    post_id = str(response.json()["id"])
    client.get(_post_url(post_id), params={"fields": "permalink_url"},
               headers=headers).raise_for_status()
    return post_id


async def publish_async(client: httpx.AsyncClient, page: str, token: str,
                        caption: str) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    response = await client.post(_feed_url(page), json={"message": caption}, headers=headers)
    response.raise_for_status()
    post_id = str(response.json()["id"])
    (await client.get(_post_url(post_id), params={"fields": "permalink_url"},
                      headers=headers)).raise_for_status()
    return post_id


def client_limits(concurrency: int) -> dict[str, Any]:
    """A pool as wide as the worker's concurrency, as Herald's transport has."""
    return {"limits": httpx.Limits(max_connections=concurrency,
                                   max_keepalive_connections=concurrency),
            "timeout": 120}
