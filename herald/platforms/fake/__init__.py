"""A faithful fake of the Graph API (Instagram via Facebook Login, Facebook Pages), of
graph.instagram.com (Instagram via Instagram Login) and of
LinkedIn's REST API, for the tests, the benchmarks and Herald's built-in sandbox.

One ASGI app (`create_fake_app`) serves everything; it works mounted under any prefix
(all absolute URLs it hands out are built from the request's root_path):

    GET  /                                   sandbox page: what was published, newest first
    /graph/{vNN.0}/{object-id}[/{edge}]      Graph API    → HERALD_GRAPH_API_URL=<base>/graph
        POST {ig-user}/media, media_publish; GET {ig-user}/media, stories,
             content_publishing_limit; GET {container}, {media}
        POST {page}/feed, photos, videos; GET {page}/published_posts, posts, feed,
             scheduled_posts; GET {post}, {photo}, {video}; GET me, me/accounts, {page}
        GET|POST oauth/access_token (code → short-lived user token; fb_exchange_token →
             long-lived); /me/accounts with a user token answers each Page's own token
        GET debug_token (input_token; access_token: an app's id|secret or a valid token)
    /facebook/[vNN.0/]dialog/oauth           Facebook Login dialog (www.facebook.com)
    /instagram/{vNN.0}/{object-id}[/{edge}]  graph.instagram.com (Instagram Login) →
                                             HERALD_INSTAGRAM_API_URL=<base>/instagram
        the Instagram routes above with its own tokens; GET me (user_id, username)
        GET access_token (ig_exchange_token), refresh_access_token (ig_refresh_token)
    /instagram/oauth/authorize               Instagram Login dialog (www.instagram.com)
    /instagram/oauth/access_token            POST: the code exchange (api.instagram.com)
    /linkedin/rest/...                       LinkedIn     → HERALD_LINKEDIN_API_URL=<base>/linkedin
        POST|GET posts, GET posts/{urn}; POST images|documents?action=initializeUpload;
        POST videos?action=initializeUpload|finalizeUpload; GET images|videos|documents/{urn};
        GET organizationAcls?q=roleAssignee, organizations/{id}
    /linkedin/dms-uploads/{id}[/parts/{n}]   upload URLs handed out by initializeUpload
    /linkedin/oauth/v2/authorization         LinkedIn consent dialog (www.linkedin.com)
    /linkedin/oauth/v2/accessToken           POST: authorization_code and refresh_token grants
    /linkedin/oauth/v2/introspectToken       POST: token introspection (the app's id and secret)
    /linkedin/v2/userinfo                    OpenID Connect userinfo
    /_fake/...                               admin JSON API (see admin.py)

OAuth dialogs show a small consent page (Allow / Cancel); add ``auto=1`` (or ``auto=deny``)
to the dialog URL, or configure ``oauth_auto_approve``, to be redirected at once.

Python side: `FakeState` (accounts, tokens, faults, clock, what was published) and
`FakeServer` (uvicorn in a background thread). Standalone:
``python -m herald.platforms.fake --port 8400 [--latency 1.2] [--demo]``.
"""

from __future__ import annotations

from herald.platforms.fake.app import create_fake_app
from herald.platforms.fake.faults import FaultRule
from herald.platforms.fake.models import CommitCall, PublishedRecord
from herald.platforms.fake.server import FakeServer
from herald.platforms.fake.state import FakeConfig, FakeState

__all__ = [
    "CommitCall",
    "FakeConfig",
    "FakeServer",
    "FakeState",
    "FaultRule",
    "PublishedRecord",
    "create_fake_app",
]
