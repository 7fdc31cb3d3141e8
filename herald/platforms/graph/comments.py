"""First comments on the Graph API: `POST /{object-id}/comments` and reading them back.

Instagram media and Facebook Page posts take comments on the same edge; only the listed
text's field differs (Instagram's `text`, Facebook's `message`). Meta has no idempotency
key, so after a lost answer the post's comments are read back and ours matched by its
text (and, where Meta says who wrote it, by the account).
"""

from __future__ import annotations

from herald.platforms.base import OutcomeUnknownError
from herald.platforms.graph.session import GraphSession
from herald.platforms.http import list_at

#: Comments read back when looking for ours: a fresh post has few.
LOOKBACK = 100


async def post_comment(g: GraphSession, object_id: str, text: str) -> str:
    """Comment `text` on the object; the comment's id (the one non-idempotent call)."""
    data = await g.post(f"{object_id}/comments", {"message": text}, step="commit")
    if not data.get("id"):
        raise OutcomeUnknownError(f"{g.platform} accepted the comment but sent no id.",
                                  code="no_comment_id")
    return str(data["id"])


async def find_comment(g: GraphSession, object_id: str, text: str, *, text_field: str,
                       author: str | None = None) -> str | None:
    """Our comment among the object's, by its text (and author when Meta names one)."""
    fields = f"id,{text_field},from" if author else f"id,{text_field}"
    data = await g.get(f"{object_id}/comments", {"fields": fields, "limit": LOOKBACK})
    for item in list_at(data, "data"):
        if not isinstance(item, dict) or str(item.get(text_field, "")).strip() != text.strip():
            continue
        by = item.get("from")
        if author and isinstance(by, dict) and by.get("id") and str(by["id"]) != author:
            continue
        return str(item["id"])
    return None
