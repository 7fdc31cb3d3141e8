"""LinkedIn comments (Community Management API, socialActions) on the fake's posts.

Copies the versioned endpoint (`/rest/socialActions/{encoded post urn}/comments`, the
unversioned /v2 one is deprecated): create takes `{"actor", "object", "message": {"text"}}`
and answers 201 with the comment (its `$URN` and id, the id also in x-restli-id); the
list answers `{"elements": [...]}`, newest first. Only an organization the token may act
for comments here (a member needs scopes ordinary apps are not granted).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from herald.platforms.linkedin.fake.api import LiCall, forbidden, input_error, millis, not_found

#: The fake's own store: comments by the urn of the post they are on.
STORE = "linkedin_comments"
MESSAGE_MAX = 1250


def comments_on(call_state: Any, urn: str) -> list[dict[str, Any]]:
    """The comments a post carries, oldest first (tests and the sandbox page)."""
    with call_state.lock:
        return list(call_state.data.platforms.get(STORE, {}).get(urn, []))


async def create_comment(call: LiCall) -> Response:
    urn = call.request.path_params["urn"]
    actor, text = call.body.get("actor"), (call.body.get("message") or {}).get("text")
    if not isinstance(actor, str) or not actor.startswith("urn:li:organization:"):
        raise input_error("INVALID_VALUE", "Field /actor must be an organization", "actor")
    if not call.may_act_as(actor):
        raise forbidden("partnerApiSocialActions.CREATE", call.version)
    if not isinstance(text, str) or not text.strip():
        raise input_error("MISSING_REQUIRED_FIELD", "Field /message/text is required",
                          "message")
    if len(text) > MESSAGE_MAX:
        raise input_error("INVALID_VALUE", f"Comment longer than {MESSAGE_MAX}", "message")
    state = call.state
    with state.lock:
        if urn not in state.data.li_posts:
            raise not_found(urn)
        number = state.next_number()
        activity = urn.rsplit(":", 1)[-1]
        comment = {"id": str(number), "$URN": f"urn:li:comment:(urn:li:activity:{activity},"
                                             f"{number})",
                   "actor": actor, "object": urn, "message": {"text": text},
                   "created": {"actor": actor, "time": millis(state.now())}}
        state.data.platforms.setdefault(STORE, {}).setdefault(urn, []).append(comment)
    return JSONResponse(comment, status_code=201, headers={"x-restli-id": comment["id"]})


async def list_comments(call: LiCall) -> Response:
    urn = call.request.path_params["urn"]
    return JSONResponse({"elements": list(reversed(comments_on(call.state, urn))),
                         "paging": {"count": 100, "start": 0}})
