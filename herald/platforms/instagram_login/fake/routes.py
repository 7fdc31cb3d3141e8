"""graph.instagram.com in the fake: Instagram's content publishing routes (the same as on
graph.facebook.com, instagram/fake/routes.py) behind Instagram Login's own tokens, and /me."""

from __future__ import annotations

import zlib
from typing import Any

from herald.platforms.fake.models import INSTAGRAM_LOGIN
from herald.platforms.graph import fake_errors as errors
from herald.platforms.graph.fake import GraphCall, GraphHost, GraphRouter
from herald.platforms.instagram.fake.routes import ROUTES as INSTAGRAM_ROUTES
from herald.platforms.instagram_login.fake.oauth import INSTAGRAM_MOUNT

HOST = GraphHost(mount=INSTAGRAM_MOUNT, tokens=INSTAGRAM_LOGIN,
                 platforms=frozenset({INSTAGRAM_LOGIN}), me=INSTAGRAM_LOGIN)
ROUTES = GraphRouter()
ROUTES.include(INSTAGRAM_ROUTES)


def app_scoped_id(account_id: str) -> str:
    """◐ /me's `id` is app-scoped and differs from the account's `user_id`."""
    return f"2{zlib.crc32(account_id.encode()):015d}"


@ROUTES.route("GET", "me")
async def me(call: GraphCall) -> dict[str, Any]:
    """✅[IG-ME] The account the token stands for: user_id is the one publishing uses."""
    with call.state.lock:
        accounts = [call.state.data.accounts[a] for a in sorted(call.token.accounts)
                    if a in call.state.data.accounts]
    if not accounts:
        raise errors.invalid_token()
    account = accounts[0]
    return call.select("User", {
        "id": app_scoped_id(account.id), "user_id": account.id,
        "username": account.username, "name": account.name, "account_type": "BUSINESS",
        "profile_picture_url": None, "media_count": None,
    })
