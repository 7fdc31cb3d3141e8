"""Posts: create for one or many accounts, read with attempts, edit, schedule, cancel, retry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from herald import events, queue
from herald.db import READ_ONLY
from herald.errors import Conflict, Invalid, NotFound
from herald.models import Post, PublishAttempt, SocialAccount, new_id
from herald.platforms.registry import split_post_type, split_types
from herald.schemas import AttemptOut, PostCreate, PostDetail, PostPatch
from herald.services.context import Context
from herald.statuses import EDITABLE, PostStatus, QueueStatus

if TYPE_CHECKING:
    from herald.media import InspectedMedia

#: How far in the past a run_at may be and still count as "now" (clock skew, slow clients).
PAST_TOLERANCE = timedelta(seconds=5)


def _resolve_run_at(ctx: Context, value: datetime | str | None) -> datetime | None:
    now = ctx.now()
    if value is None:
        return None
    if value == "now":
        return now
    assert isinstance(value, datetime)
    if value < now - PAST_TOLERANCE:
        raise Invalid(f"run_at {value.isoformat()} is in the past (it is now "
                      f"{now.isoformat(timespec='seconds')}); pick a future time or \"now\".")
    return max(value.astimezone(UTC), now)


# Built once: the create path runs these on every API call, and a statement built per call
# costs more Python than its round trip to the database.
_accounts = cast(Table, SocialAccount.__table__)
_TARGET_ACCOUNTS = select(_accounts).where(
    _accounts.c.id.in_(bindparam("ids", expanding=True)),
    _accounts.c.company_id == bindparam("company_id"))
_INSERT_POST = insert(cast(Table, Post.__table__))
#: Every column of a new post; those a create does not set are stored as NULL.
_POST_COLUMNS = dict.fromkeys(c.key for c in Post.__table__.columns)


def create_posts(session: Session, ctx: Context, data: PostCreate, *,
                 inspected: InspectedMedia | None = None) -> list[Post]:
    """One post per target account, tied together by a group id; queued unless draft.

    The media is fetched and probed (or `inspected` already was) before the session's
    transaction begins: on SQLite that transaction holds the database's write lock.
    """
    run_at = _resolve_run_at(ctx, data.run_at)
    targets = data.targets
    media = [m.model_dump(exclude_none=True) for m in data.media]
    inspected = inspect_media(ctx, media, inspected)
    conn = session.connection()
    # Core rows, not ORM objects: the accounts are only read (validation reads .platform).
    found = {a.id: a for a in conn.execute(_TARGET_ACCOUNTS, {"ids": targets,
                                                              "company_id": ctx.company_id})}
    now = ctx.now()
    rows = plan_posts(ctx, data, found, media, run_at, inspected, now=now)
    # A Core INSERT rather than the ORM's unit of work: this is the API's hottest write,
    # and the objects returned are only read (for the response), never changed. One row
    # goes as a plain execute, cheaper than an executemany of one.
    conn.execute(_INSERT_POST, rows[0] if len(rows) == 1 else rows)
    if not data.draft:
        assert run_at is not None
        entries = []
        for row in rows:
            # An account the platform asked us to pause waits; others are not held up.
            backoff = found[row["account_id"]].backoff_until
            due = backoff if backoff is not None and backoff > run_at else run_at
            entries.append((row["id"], due))
        queue.enqueue_many(conn, entries, max_attempts=ctx.max_attempts, now=now)
    return [Post(**row) for row in rows]


def plan_posts(ctx: Context, data: PostCreate, found: Mapping[str, Row[Any]],
               media: list[dict[str, Any]], run_at: datetime | None,
               inspected: InspectedMedia | None, *, now: datetime) -> list[dict[str, Any]]:
    """A create's checks (its accounts `found` by id, its media `inspected`) and its rows.

    No I/O: the bulk import runs it for every row, then inserts them all at once.
    """
    targets = data.targets
    missing = [t for t in targets if t not in found]
    if missing:
        raise NotFound(f"No account with id {missing[0]!r}.")
    problems: list[str] = []
    for account in (found[t] for t in targets):
        for post_type in split_post_type(account.platform, data.post_type):
            problems += _check(ctx, account, post_type, data.caption, media, data.options,
                               inspected)
    if problems:
        raise Invalid(problems[0] if len(problems) == 1 else
                      f"{len(problems)} problems: " + " ".join(problems), details=problems)
    return _post_rows(ctx, data, [found[t] for t in targets], media, run_at, now)


def _post_rows(ctx: Context, data: PostCreate, accounts: list[Row[Any]],
               media: list[dict[str, Any]], run_at: datetime | None,
               now: datetime) -> list[dict[str, Any]]:
    """The new posts' rows: one per account (two for a split type), one group id."""
    group_id = new_id()
    rows: list[dict[str, Any]] = []
    for account in accounts:
        for post_type in split_post_type(account.platform, data.post_type):
            rows.append({
                **_POST_COLUMNS, "id": new_id(), "company_id": ctx.company_id,
                "group_id": group_id, "account_id": account.id, "platform": account.platform,
                "post_type": post_type, "caption": data.caption, "media": media,
                "options": dict(data.options),
                "status": PostStatus.DRAFT if data.draft else PostStatus.PENDING,
                "scheduled_at": run_at, "attempts": 0, "created_by": ctx.actor,
                "created_at": now, "updated_at": now,
            })
    return rows


def inspect_media(ctx: Context, media: Sequence[dict[str, Any]],
                  inspected: InspectedMedia | None = None) -> InspectedMedia | None:
    """Probe the media a post will carry (fetching it): never inside a transaction."""
    if ctx.checks is None or (inspected is not None and inspected.covers(media)):
        return inspected
    return ctx.checks.inspect(media)


def _check(ctx: Context, account: SocialAccount | Row[Any], post_type: str, caption: str,
           media: list[dict[str, Any]], options: dict[str, Any],
           inspected: InspectedMedia | None) -> list[str]:
    if ctx.checks is None:
        return []
    assert inspected is not None
    return ctx.checks.check(account, {"post_type": post_type, "caption": caption,
                                      "media": media, "options": options}, inspected)


def get_post(session: Session, ctx: Context, post_id: str) -> Post:
    post = session.get(Post, post_id)
    if post is None or post.company_id != ctx.company_id:
        raise NotFound(f"No post with id {post_id!r}.")
    return post


def post_detail(session: Session, ctx: Context, post_id: str) -> dict[str, Any]:
    post = get_post(session, ctx, post_id)
    attempts = session.scalars(
        select(PublishAttempt).where(PublishAttempt.post_id == post.id)
        .order_by(PublishAttempt.attempt)
    ).all()
    next_at = queue.next_run_at(session.connection(), post_id=post.id)
    return {"post": post, "attempts": list(attempts), "next_attempt_at": next_at}


def post_detail_out(session: Session, ctx: Context, post_id: str) -> PostDetail:
    """`post_detail` as the API and the CLI show it."""
    found = post_detail(session, ctx, post_id)
    detail = PostDetail.model_validate(found["post"])
    detail.next_attempt_at = found["next_attempt_at"]
    detail.attempt_log = [AttemptOut.model_validate(a) for a in found["attempts"]]
    detail.account_ids, detail.requested_post_type = _group_targets(session, found["post"])
    return detail


def _group_targets(session: Session, post: Post) -> tuple[list[str], str]:
    """The accounts of the post's create, and the post_type it was given."""
    rows = session.execute(select(Post.account_id, Post.post_type)
                           .where(Post.group_id == post.group_id)
                           .order_by(Post.created_at, Post.id)).all()
    mine = {t for a, t in rows if a == post.account_id}
    composed = next((name for name, parts in split_types(post.platform).items()
                     if set(parts) == mine), post.post_type)
    return list(dict.fromkeys(a for a, _ in rows)), composed


def _lock_editable(session: Session, post: Post, action: str) -> str | None:
    """Lock the post's queue row so no worker can claim it while we change it.

    Returns the queue row's status (None for a draft, which has no row).
    """
    entry = queue.lock_for_edit(session.connection(), post_id=post.id)
    session.refresh(post)
    if post.status == PostStatus.PROCESSING or entry == QueueStatus.PROCESSING:
        raise Conflict(f"The post is being published right now; it can no longer be {action}.")
    if post.status not in EDITABLE:
        raise Conflict(f"The post is {post.status}; only draft or pending posts can be "
                       f"{action}.")
    return entry


def update_post(session: Session, ctx: Context, post_id: str, patch: PostPatch) -> Post:
    # The media is probed before the post's queue row is locked (FOR UPDATE; on SQLite
    # the write lock), so a slow media server holds up no worker and no other writer.
    new_media = ([m.model_dump(exclude_none=True) for m in patch.media]
                 if patch.media is not None else None)
    inspected = None
    if ctx.checks is not None:
        inspected = inspect_media(ctx, new_media if new_media is not None
                                  else _current_media(session, post_id))
    post = get_post(session, ctx, post_id)
    entry = _lock_editable(session, post, "edited")
    account = session.get(SocialAccount, post.account_id)
    assert account is not None
    caption = patch.caption if patch.caption is not None else post.caption
    media = new_media if new_media is not None else post.media
    options = patch.options if patch.options is not None else post.options
    if inspected is not None and not inspected.covers(media):
        raise Conflict("The post's media changed while Herald was checking it; try again.")
    problems = _check(ctx, account, post.post_type, caption, media, options, inspected)
    if problems:
        raise Invalid(" ".join(problems), details=problems)
    post.caption, post.media, post.options = caption, media, options
    if patch.run_at is not None:
        run_at = _resolve_run_at(ctx, patch.run_at)
        assert run_at is not None
        post.scheduled_at = run_at
        if entry is not None and not queue.reschedule(session.connection(), post_id=post.id,
                                                      run_at=run_at, now=ctx.now()):
            raise Conflict("The post is being published right now; it can no longer be "
                           "rescheduled.")
    post.updated_at = ctx.now()
    return post


def _current_media(session: Session, post_id: str) -> list[dict[str, Any]]:
    """A post's media, read in a short read-only transaction of its own (no lock)."""
    with Session(session.get_bind()) as reader:
        reader.connection(execution_options={READ_ONLY: True})
        media = reader.scalars(select(Post.media).where(Post.id == post_id)).first()
    return list(media or [])


def schedule_draft(session: Session, ctx: Context, post_id: str,
                   run_at: datetime | str) -> Post:
    post = get_post(session, ctx, post_id)
    if post.status != PostStatus.DRAFT:
        raise Conflict(f"The post is {post.status}, not a draft.")
    when = _resolve_run_at(ctx, run_at)
    assert when is not None
    post.status, post.scheduled_at, post.updated_at = PostStatus.PENDING, when, ctx.now()
    session.flush()
    queue.enqueue(session.connection(), post_id=post.id, run_at=when,
                  max_attempts=ctx.max_attempts, now=ctx.now())
    return post


def cancel_post(session: Session, ctx: Context, post_id: str) -> Post:
    post = get_post(session, ctx, post_id)
    if post.status == PostStatus.PUBLISHED:
        raise Conflict("The post is already published; it cannot be cancelled. Delete it on "
                       f"{post.platform.capitalize()} if it should not be there.")
    if post.status == PostStatus.CANCELLED:
        return post
    conn = session.connection()
    if post.status == PostStatus.PENDING and queue.cancel(conn, post_id=post.id, now=ctx.now()):
        pass
    elif post.status in (PostStatus.PENDING, PostStatus.PROCESSING):
        # A worker holds it: ask it to stop. It checks just before the one call that
        # posts; if that call already went out, the post stays published and says so.
        session.execute(update(Post).where(Post.id == post.id)
                        .values(cancel_requested_at=ctx.now()))
        session.refresh(post)
        return post
    if post.status in (PostStatus.FAILED, PostStatus.UNCONFIRMED):
        queue.dismiss(conn, post_id=post.id, now=ctx.now())
    post.status = PostStatus.CANCELLED
    post.updated_at = ctx.now()
    events.record(conn, events.EventType.POST_CANCELLED, [post.id], now=ctx.now())
    return post


def retry_post(session: Session, ctx: Context, post_id: str, *, force: bool = False) -> Post:
    post = get_post(session, ctx, post_id)
    if post.status == PostStatus.UNCONFIRMED and not force:
        raise Conflict("Herald cannot tell whether this post went out. Check the account "
                       "first; if it is not there, retry with force=true.")
    if post.status not in (PostStatus.FAILED, PostStatus.UNCONFIRMED):
        raise Conflict(f"The post is {post.status}; only failed or unconfirmed posts can be "
                       "retried.")
    if not queue.requeue(session.connection(), post_id=post.id, now=ctx.now(),
                         extra_attempts=ctx.max_attempts):
        raise Conflict("The post is not in the queue's failed state; it cannot be retried.")
    post.status = PostStatus.PENDING
    post.error_message = None
    post.updated_at = ctx.now()
    return post

