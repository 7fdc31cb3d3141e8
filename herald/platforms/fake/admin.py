"""A small JSON admin API under /_fake, so another process (a benchmark, a sandbox seeder)
can drive FakeState: accounts, tokens, faults, config, clock, what was published, reset.

    POST   /_fake/accounts        {"platform","id","token", ...add_* options}
    POST   /_fake/tokens/expire   {"token"}
    POST   /_fake/tokens/revoke   {"token", "subcode"?: 460 | "reason"?: "app_removed"…}
    GET|PUT /_fake/config         {field: value, ...}
    GET|POST|DELETE /_fake/faults {FaultRule fields}
    POST   /_fake/usage           {"account","percent","regain_minutes"?}
    POST   /_fake/clock           {"advance": seconds}
    POST   /_fake/seed            {"seed"}
    GET    /_fake/published       ?platform=&account=
    GET    /_fake/commits         ?platform=&account=
    POST   /_fake/reset
    PUT|GET /_fake/files/{name}   raw bytes, served back with their Content-Type

OAuth (see state.py: add_oauth_app, add_facebook_user, add_linkedin_user, log_in):

    GET    /_fake/oauth           apps, users and who is logged in to each dialog
    POST   /_fake/oauth/apps      {"platform","client_id","client_secret","redirect_uris",
                                   "name"?, "refresh_tokens"?}
    POST   /_fake/oauth/users     {"platform","id","name", and the platform's own fields:
                                   Facebook "pages":[[page_id, name, ig_user_id|null], ...];
                                   LinkedIn "email"?, "organizations":[[org_id, name, role?], ...]}
    POST   /_fake/oauth/login     {"platform","user"}: who consents in that dialog
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from herald.platforms.fake.faults import FaultRule
from herald.platforms.fake.state import GRAPH_REVOKE_SUBCODES, FakeState
from herald.platforms.registry import SPECS

Endpoint = Callable[[Request], Awaitable[Response]]


def _guarded(endpoint: Endpoint) -> Endpoint:
    """Turn bad admin input into a 400 with the reason instead of a 500."""

    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    return run


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    data = json.loads(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _add_user(state: FakeState, platform: str, user_id: str, name: str,
              body: dict[str, Any]) -> None:
    with_users = {s.name: s.fake.add_user for s in SPECS if s.fake and s.fake.add_user}
    add = with_users.get(platform)
    if add is None:
        raise ValueError(f"no OAuth users on {platform!r}: use {' or '.join(with_users)}")
    add(state, user_id, name, body)


def admin_routes(state: FakeState) -> list[Route]:
    async def summary(request: Request) -> Response:
        return JSONResponse({
            "now": state.now(),
            "accounts": [{"platform": a.platform, "id": a.id, "name": a.name}
                         for a in state.accounts()],
            "published": len(state.published()),
            "commits": len(state.commits()),
            "faults": [r.to_dict() for r in state.fault_rules()],
            "config": state.config.to_dict(),
        })

    async def add_account(request: Request) -> Response:
        body = await _body(request)
        platform, account_id, token = body.pop("platform"), body.pop("id"), body.pop("token")
        account = state.add_account(platform, account_id, token, **body)
        return JSONResponse({"platform": account.platform, "id": account.id}, status_code=201)

    async def tokens(request: Request) -> Response:
        body = await _body(request)
        action = request.path_params["action"]
        if action == "expire":
            state.expire_token(body["token"])
        elif action == "revoke":
            reason = body.get("reason")
            subcode = GRAPH_REVOKE_SUBCODES[reason] if reason else int(body.get("subcode", 460))
            state.revoke_token(body["token"], subcode=subcode)
        else:
            raise ValueError(f"unknown token action {action!r}")
        return JSONResponse({"ok": True})

    async def config(request: Request) -> Response:
        if request.method == "PUT":
            state.configure(**await _body(request))
        return JSONResponse(state.config.to_dict())

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            rule = FaultRule.from_dict(await _body(request))
            with state.lock:
                state.faults.add(rule)
            return JSONResponse(rule.to_dict(), status_code=201)
        if request.method == "DELETE":
            state.clear_faults()
        return JSONResponse({"data": [r.to_dict() for r in state.fault_rules()]})

    async def usage(request: Request) -> Response:
        body = await _body(request)
        state.set_usage(body["account"], int(body["percent"]),
                        regain_minutes=int(body.get("regain_minutes", 0)))
        return JSONResponse({"ok": True})

    async def clock(request: Request) -> Response:
        state.advance(float((await _body(request)).get("advance", 0)))
        return JSONResponse({"now": state.now()})

    async def seed(request: Request) -> Response:
        state.seed(int((await _body(request))["seed"]))
        return JSONResponse({"ok": True})

    async def published(request: Request) -> Response:
        q = request.query_params
        records = state.published(platform=q.get("platform"), account=q.get("account"))
        return JSONResponse({"data": [r.to_dict() for r in records]})

    async def commits(request: Request) -> Response:
        q = request.query_params
        calls = state.commits(platform=q.get("platform"), account=q.get("account"))
        return JSONResponse({"data": [c.to_dict() for c in calls]})

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"ok": True})

    async def files(request: Request) -> Response:
        name = request.path_params["name"]
        if request.method == "PUT":
            content_type = request.headers.get("content-type", "application/octet-stream")
            state.add_file(name, await request.body(), content_type)
            return JSONResponse({"ok": True}, status_code=201)
        found = state.file(name)
        if found is None:
            return JSONResponse({"error": f"no file {name!r}"}, status_code=404)
        return Response(found[0], media_type=found[1])

    async def oauth(request: Request) -> Response:
        with state.lock:
            data = state.data
            return JSONResponse({
                "apps": [{"platform": a.platform, "client_id": a.client_id, "name": a.name,
                          "redirect_uris": list(a.redirect_uris),
                          "refresh_tokens": a.refresh_tokens} for a in data.oauth_apps.values()],
                "facebook_users": [{"id": u.id, "name": u.name, "pages": u.page_ids}
                                   for u in data.fb_users.values()],
                "linkedin_users": [{"id": m.id, "name": m.name, "email": m.email,
                                    "roles": [[r.organization, r.role, r.state]
                                              for r in m.roles]}
                                   for m in data.li_members.values()],
                "logged_in": dict(data.logged_in),
            })

    async def oauth_app(request: Request) -> Response:
        body = await _body(request)
        app = state.add_oauth_app(
            body.pop("platform"), str(body.pop("client_id")), body.pop("client_secret"),
            body.pop("redirect_uris"), **body)
        return JSONResponse({"platform": app.platform, "client_id": app.client_id},
                            status_code=201)

    async def oauth_user(request: Request) -> Response:
        body = await _body(request)
        platform, user_id, name = body.pop("platform"), str(body.pop("id")), body.pop("name")
        _add_user(state, platform, user_id, name, body)
        return JSONResponse({"platform": platform, "id": user_id}, status_code=201)

    async def oauth_login(request: Request) -> Response:
        body = await _body(request)
        state.log_in(body["platform"], str(body["user"]))
        return JSONResponse({"ok": True})

    def route(path: str, endpoint: Endpoint, methods: list[str]) -> Route:
        return Route(path, _guarded(endpoint), methods=methods)

    return [
        route("/", summary, ["GET"]),
        route("/accounts", add_account, ["POST"]),
        route("/tokens/{action}", tokens, ["POST"]),
        route("/config", config, ["GET", "PUT"]),
        route("/faults", faults, ["GET", "POST", "DELETE"]),
        route("/usage", usage, ["POST"]),
        route("/clock", clock, ["POST"]),
        route("/seed", seed, ["POST"]),
        route("/published", published, ["GET"]),
        route("/commits", commits, ["GET"]),
        route("/reset", reset, ["POST"]),
        route("/files/{name:path}", files, ["GET", "PUT"]),
        route("/oauth", oauth, ["GET"]),
        route("/oauth/apps", oauth_app, ["POST"]),
        route("/oauth/users", oauth_user, ["POST"]),
        route("/oauth/login", oauth_login, ["POST"]),
    ]
