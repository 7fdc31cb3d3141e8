"""Comments on the fake Graph API's published objects (Instagram media, Page posts).

Copies the documented edges: `POST /{ig-media-id}/comments` (`message`) answers `{"id"}`
and `GET` lists `{"id", "text", "username", "timestamp"}`; `POST /{page-post-id}/comments`
answers `{"id": "<post>_<comment>"}` and `GET` lists `{"id", "message", "from",
"created_time"}`. A comment on an object that does not take comments is Graph's 100.
"""

from __future__ import annotations

from typing import Any

from herald.platforms.fake.calls import as_text
from herald.platforms.fake.state import FakeState
from herald.platforms.graph import fake_errors as errors
from herald.platforms.graph.fake import GraphCall, GraphRouter, graph_time, new_id

#: The fake's own store: comments by the id of the object they are on.
STORE = "graph_comments"
MAX_CHARS = 2200


def comments_on(state: FakeState, object_id: str) -> list[dict[str, Any]]:
    """The comments an object carries, oldest first (tests and the sandbox page)."""
    with state.lock:
        return list(state.data.platforms.get(STORE, {}).get(object_id, []))


def add_comment_routes(router: GraphRouter, kinds: tuple[str, ...], *,
                       instagram: bool) -> None:
    """Register the comments edge on each kind of object."""
    async def create(call: GraphCall) -> dict[str, Any]:
        message = as_text(call.params.get("message")).strip()
        if not message:
            raise errors.invalid_param("(#100) The parameter message is required")
        if len(message) > MAX_CHARS:
            raise errors.invalid_param("(#100) The comment is too long")
        account = call.account
        number = new_id(call.state, "9")
        comment_id = number if instagram else f"{call.object_id}_{number}"
        entry = {"id": comment_id, "message": message, "from_id": account.id,
                 "from_name": account.username or account.name, "time": call.state.now()}
        with call.state.lock:
            store = call.state.data.platforms.setdefault(STORE, {})
            store.setdefault(call.object_id, []).append(entry)
        return {"id": comment_id}

    async def listing(call: GraphCall) -> dict[str, Any]:
        shown = []
        for c in reversed(comments_on(call.state, call.object_id)):  # newest first
            if instagram:
                shown.append({"id": c["id"], "text": c["message"], "username": c["from_name"],
                              "timestamp": graph_time(c["time"])})
            else:
                shown.append({"id": c["id"], "message": c["message"],
                              "from": {"id": c["from_id"], "name": c["from_name"]},
                              "created_time": graph_time(c["time"])})
        return call.page(shown)

    for kind in kinds:
        router.route("POST", kind, "comments", endpoint="comment")(create)
        router.route("GET", kind, "comments")(listing)
