"""The posts list: filters, newest first (by creation or by time), paged by an opaque
cursor."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Select, Table, and_, func, or_, select, tuple_
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from herald.errors import Invalid
from herald.models import POST_STATUSES, Post
from herald.permissions import Permission
from herald.platforms.registry import PLATFORMS
from herald.schemas import PostOut, PostPage
from herald.services import gates
from herald.services.context import Context

_Paged = TypeVar("_Paged", Post, Row[Any])

#: The orders of the list (**contract**: the API's `sort`): "created" (the default, newest
#: made first) and "time" (latest scheduled time first; a draft counts by its creation).
SORTS = ("created", "time")


@dataclass
class PostFilters:
    status: Sequence[str] = ()
    account_id: str | None = None
    platform: str | None = None
    group_id: str | None = None
    run_from: datetime | None = None
    run_to: datetime | None = None
    search: str | None = None
    sort: str = "created"

    def __post_init__(self) -> None:
        # An unknown value would answer an empty list (or the default order) in silence.
        if self.platform is not None and self.platform not in PLATFORMS:
            raise Invalid(f"unknown platform {self.platform!r}; use one of "
                          f"{', '.join(PLATFORMS)}")
        if self.sort not in SORTS:
            raise Invalid(f"unknown sort {self.sort!r}; use one of {', '.join(SORTS)}")


def list_posts(session: Session, ctx: Context, filters: PostFilters, *,
               cursor: str | None = None, limit: int = 50) -> tuple[list[Post], str | None]:
    """Newest first, paged by an opaque cursor (stable under inserts, unlike offsets)."""
    rows = list(session.scalars(_page_query(select(Post), ctx, filters, cursor, limit,
                                          _dialect(session))))
    return _page(rows, limit, filters.sort)


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
    rows = list(session.execute(_page_query(stmt, ctx, filters, cursor, limit,
                                             _dialect(session))))
    return _page(rows, limit, filters.sort)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _page_query(stmt: Select[Any], ctx: Context, filters: PostFilters, cursor: str | None,
                limit: int, dialect: str) -> Select[Any]:
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
    key = _sort_key(filters.sort)
    if cursor:
        after, last_id = _decode_cursor(cursor, filters.sort)
        stmt = stmt.where(_before(key, after, last_id, dialect))
    return stmt.order_by(key.desc(), Post.id.desc()).limit(limit + 1)


def _before(key: ColumnElement[Any], after: datetime, last_id: str, dialect: str
            ) -> ColumnElement[bool]:
    """Rows after the cursor in the list's order, in a form that bounds the index scan.

    `key < after OR (key = after AND id < last_id)` cannot start the scan at the cursor:
    its cost grew with the page's depth like an OFFSET. PostgreSQL seeks straight to a
    row value; elsewhere (MariaDB does not range-scan row values) `key <= after` bounds
    the scan and the OR only sorts out the rows of that one instant.
    """
    if dialect == "postgresql":
        return tuple_(key, Post.id) < tuple_(after, last_id)
    return and_(key <= after, or_(key < after, Post.id < last_id))


def _sort_key(sort: str) -> ColumnElement[Any]:
    if sort == "time":
        # One expression on every engine: NULLs sort first or last depending on the engine.
        return func.coalesce(Post.scheduled_at, Post.created_at)
    return Post.created_at.expression


def _page(rows: list[_Paged], limit: int, sort: str = "created"
          ) -> tuple[list[_Paged], str | None]:
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, _encode_cursor(rows[-1], sort)


def _encode_cursor(post: Post | Row[Any], sort: str) -> str:
    if sort == "time":
        when = post.scheduled_at or post.created_at
        raw = json.dumps([when.astimezone(UTC).isoformat(), post.id, sort]).encode()
    else:
        raw = json.dumps([post.created_at.isoformat(), post.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        # Cursors of the default order keep the form they always had: [time, id].
        created, post_id, *made_for = json.loads(raw)
        if (made_for or ["created"]) != [sort]:
            raise ValueError("a cursor of another order")
        when = datetime.fromisoformat(created)
        # Herald's cursors carry an aware time that UTC can hold; anything else was
        # made by hand, and would fail in the database instead (naive, or year 0 in UTC).
        if when.tzinfo is None or not isinstance(post_id, str):
            raise ValueError("not a cursor Herald made")
        return when.astimezone(UTC), post_id
    except (ValueError, TypeError, OverflowError, binascii.Error):
        raise Invalid("The cursor is not valid; use the next_cursor of a previous page.") \
            from None
