"""The posts list: filters, newest first, paged by an opaque cursor."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Select, Table, and_, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from herald.errors import Invalid
from herald.models import POST_STATUSES, Post
from herald.permissions import Permission
from herald.schemas import PostOut, PostPage
from herald.services import gates
from herald.services.context import Context

_Paged = TypeVar("_Paged", Post, Row[Any])


@dataclass
class PostFilters:
    status: Sequence[str] = ()
    account_id: str | None = None
    platform: str | None = None
    group_id: str | None = None
    run_from: datetime | None = None
    run_to: datetime | None = None
    search: str | None = None


def list_posts(session: Session, ctx: Context, filters: PostFilters, *,
               cursor: str | None = None, limit: int = 50) -> tuple[list[Post], str | None]:
    """Newest first, paged by an opaque cursor (stable under inserts, unlike offsets)."""
    rows = list(session.scalars(_page_query(select(Post), ctx, filters, cursor, limit)))
    return _page(rows, limit)


def status_filter(values: Sequence[str] | None) -> list[str]:
    """Statuses asked for, as repeated parameters and/or comma lists; unknown ones refused."""
    statuses = [s for value in values or [] for s in value.split(",") if s]
    unknown = [s for s in statuses if s not in POST_STATUSES]
    if unknown:
        raise Invalid(f"unknown status {unknown[0]!r}; use one of {', '.join(POST_STATUSES)}")
    return statuses


def post_page(session: Session, ctx: Context, filters: PostFilters, *,
              cursor: str | None = None, limit: int = 50) -> PostPage:
    """One page of the posts list as the API answers it."""
    posts, next_cursor = list_post_rows(session, ctx, filters, cursor=cursor, limit=limit)
    now = ctx.now()
    return PostPage(items=[gates.mark_late(PostOut.model_validate(p), now) for p in posts],
                    next_cursor=next_cursor)


def list_post_rows(session: Session, ctx: Context, filters: PostFilters, *,
                   cursor: str | None = None, limit: int = 50
                   ) -> tuple[list[Row[Any]], str | None]:
    """`list_posts` as Core rows (same attributes): a third cheaper, for read-only pages."""
    stmt = select(*cast(Table, Post.__table__).columns)
    rows = list(session.execute(_page_query(stmt, ctx, filters, cursor, limit)))
    return _page(rows, limit)


def _page_query(stmt: Select[Any], ctx: Context, filters: PostFilters, cursor: str | None,
                limit: int) -> Select[Any]:
    ctx.require(Permission.VIEW)
    stmt = stmt.where(Post.company_id == ctx.company_id)
    if ctx.account_ids is not None:
        stmt = stmt.where(Post.account_id.in_(sorted(ctx.account_ids)))
    if filters.status:
        stmt = stmt.where(Post.status.in_(list(filters.status)))
    if filters.account_id:
        stmt = stmt.where(Post.account_id == filters.account_id)
    if filters.platform:
        stmt = stmt.where(Post.platform == filters.platform)
    if filters.group_id:
        stmt = stmt.where(Post.group_id == filters.group_id)
    if filters.run_from:
        stmt = stmt.where(Post.scheduled_at >= filters.run_from)
    if filters.run_to:
        stmt = stmt.where(Post.scheduled_at < filters.run_to)
    if filters.search:
        stmt = stmt.where(Post.caption.contains(filters.search, autoescape=True))
    if cursor:
        created, last_id = _decode_cursor(cursor)
        stmt = stmt.where(or_(Post.created_at < created,
                              and_(Post.created_at == created, Post.id < last_id)))
    return stmt.order_by(Post.created_at.desc(), Post.id.desc()).limit(limit + 1)


def _page(rows: list[_Paged], limit: int) -> tuple[list[_Paged], str | None]:
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, _encode_cursor(rows[-1])


def _encode_cursor(post: Post | Row[Any]) -> str:
    raw = json.dumps([post.created_at.isoformat(), post.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, post_id = json.loads(raw)
        when = datetime.fromisoformat(created)
        # Herald's cursors carry an aware time that UTC can hold; anything else was
        # made by hand, and would fail in the database instead (naive, or year 0 in UTC).
        if when.tzinfo is None or not isinstance(post_id, str):
            raise ValueError("not a cursor Herald made")
        return when.astimezone(UTC), post_id
    except (ValueError, TypeError, OverflowError, binascii.Error):
        raise Invalid("The cursor is not valid; use the next_cursor of a previous page.") \
            from None
