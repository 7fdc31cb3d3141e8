"""Posts: create for one or many accounts, read with attempts, edit, schedule, cancel, retry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from herald import events, first_comment, queue
from herald.db import READ_ONLY
from herald.errors import Conflict, Invalid, NotFound
from herald.models import Post, PublishAttempt, SocialAccount, new_id
from herald.permissions import Permission
from herald.platforms.registry import DISPLAY_NAMES, split_post_type, split_types
from herald.schemas import (
    AttemptOut,
    FirstCommentOut,
    PostCreate,
    PostDetail,
    PostPatch,
    fold_comment,
)
from herald.services import audit, gates
from herald.services.context import Context
from herald.statuses import EDITABLE, PostStatus, QueueStatus
from herald.validation import comment_problems, options_for

if TYPE_CHECKING:
    from herald.media import InspectedMedia

#: How far in the past a run_at may be and still count as "now" (clock skew, slow clients).
PAST_TOLERANCE = gates.LATE_AFTER
#: run_at of "Add to queue": each account's next free slot of its posting schedule.
NEXT_SLOT = "next_slot"


def _resolve_run_at(ctx: Context, value: datetime | str | None) -> datetime | None:
    """The UTC time a run_at names; None for none, and for "next_slot" (one per account,
    which only the transaction can pick: `_next_slots`)."""
    now = ctx.now()
    if value is None or value == NEXT_SLOT:
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
_POST_COLUMNS: dict[str, Any] = {**dict.fromkeys(c.key for c in Post.__table__.columns),
                                  "detached": False}


def create_posts(session: Session, ctx: Context, data: PostCreate, *,
                 inspected: InspectedMedia | None = None) -> list[Post]:
    """One post per target account, tied together by a group id; queued unless draft.

    The media is fetched and probed (or `inspected` already was) before the session's
    transaction begins: on SQLite that transaction holds the database's write lock.
    """
    targets = data.targets
    gates.require_targets(ctx, targets)
    if data.recurrence is not None:
        from herald.planning.series import create_series

        return create_series(session, ctx, data, window_days=ctx.series_window_days)[1]
    run_at = _resolve_run_at(ctx, data.run_at)
    media = [m.model_dump(exclude_none=True) for m in data.media]
    inspected = inspect_media(ctx, media, inspected)
    conn = session.connection()
    # Core rows, not ORM objects: the accounts are only read (validation reads .platform).
    found = {a.id: a for a in conn.execute(_TARGET_ACCOUNTS, {"ids": targets,
                                                              "company_id": ctx.company_id})}
    now = ctx.now()
    approval = not data.draft and gates.company_requires_approval(session, ctx)
    slots: dict[str, datetime] = {}
    paused: set[str] | None = None
    if data.run_at == NEXT_SLOT:
        slots, paused = _next_slots(session, ctx, targets, found, now=now)
        run_at = min(slots.values())  # each account's own is set on its rows below
    rows = plan_posts(ctx, data, found, media, run_at, inspected, now=now,
                      company_approval=approval)
    for row in rows if slots else ():
        slot = slots[row["account_id"]]  # a split type's two posts share it
        row.update(scheduled_at=slot, queue_slot=slot, origin="queue")
    # A Core INSERT rather than the ORM's unit of work: this is the API's hottest write,
    # and the objects returned are only read (for the response), never changed. One row
    # goes as a plain execute, cheaper than an executemany of one.
    conn.execute(_INSERT_POST, rows[0] if len(rows) == 1 else rows)
    if not data.draft:
        # A post awaiting approval is queued when approved (enqueue_rows skips it).
        enqueue_rows(conn, ctx, rows, found, now=now, paused=paused)
    audit.record_posts(session, ctx, rows, now=now)
    return [Post(**row) for row in rows]


def enqueue_rows(conn: Connection, ctx: Context, rows: Sequence[dict[str, Any]],
                 accounts: Mapping[str, Any], *, now: datetime,
                 paused: set[str] | None = None) -> None:
    """Queue new post rows at their scheduled_at; held if their account's queue is paused
    (`paused`, as read under the accounts' locks, else as `accounts` say).

    A create that did not lock its accounts and raced a pause may queue a post as
    pending: the worker that claims it sees the pause and hands it back as held
    (publishing.load_jobs).
    """
    entries, held = [], set()
    for row in rows:
        if row["status"] != PostStatus.PENDING:
            continue  # a draft, or awaiting approval: queued when approved
        account = accounts[row["account_id"]]
        # An account the platform asked us to pause waits; others are not held up.
        backoff, due = account.backoff_until, row["scheduled_at"]
        entries.append((row["id"], backoff if backoff is not None and backoff > due else due))
        if (row["account_id"] in paused if paused is not None
                else account.queue_paused_at is not None):
            held.add(row["id"])
    if entries:
        queue.enqueue_many(conn, entries, max_attempts=ctx.max_attempts, now=now, held=held)


def _next_slots(session: Session, ctx: Context, targets: list[str],
                found: Mapping[str, Any], *, now: datetime
                ) -> tuple[dict[str, datetime], set[str]]:
    """"Add to queue": each account's next free slot, and the accounts whose queue is
    paused (their rows locked: see planning.schedules.next_slots)."""
    from herald.planning.schedules import next_slots

    missing = [t for t in targets if t not in found]
    if missing:
        raise NotFound(f"No account with id {missing[0]!r}.")
    return next_slots(session, ctx, targets, now=now)


def plan_posts(ctx: Context, data: PostCreate, found: Mapping[str, Row[Any]],
               media: list[dict[str, Any]], run_at: datetime | None,
               inspected: InspectedMedia | None, *, now: datetime,
               company_approval: bool = False) -> list[dict[str, Any]]:
    """A create's checks (its accounts `found` by id, its media `inspected`) and its rows.

    No I/O: the bulk import runs it for every row, then inserts them all at once.
    `company_approval`: the company requires approval (see gates.scheduled_status).
    """
    if data.recurrence is not None or data.evergreen is not None:
        raise Invalid("recurring and evergreen posts are series: create them one at a time "
                      "(POST /api/v1/series, or POST /api/v1/posts with a recurrence)")
    targets = data.targets
    gates.require_targets(ctx, targets)
    missing = [t for t in targets if t not in found]
    if missing:
        raise NotFound(f"No account with id {missing[0]!r}.")
    problems: list[str] = []
    for account in (found[t] for t in targets):
        if not data.draft:
            problems += _sandbox_problem(ctx, account)
        parts = split_post_type(account.platform, data.post_type)
        for post_type in parts:
            # A part of a split post is checked with the options it keeps; a post alone
            # with all it was given (a story with collaborators is refused).
            options = data.options if len(parts) == 1 else options_for(
                account.platform, post_type, account.external_id, data.options)
            problems += _check(ctx, account, post_type, data.caption, media, options,
                               inspected)
        problems += comment_problems(account.platform, parts, account.external_id,
                                     data.options)
    if problems:
        raise Invalid(problems[0] if len(problems) == 1 else
                      f"{len(problems)} problems: " + " ".join(problems), details=problems)
    return _post_rows(ctx, data, [found[t] for t in targets], media, run_at, now,
                      company_approval)


#: Said when a sandbox post is scheduled where no worker could publish it.
NO_SANDBOX = ("{name} is a sandbox account, and the sandbox runs only under `herald run` "
              "(this Herald is `serve`, `worker` or `run-once`); schedule it there, or add "
              "a real account.")


def _sandbox_problem(ctx: Context, account: SocialAccount | Row[Any]) -> list[str]:
    """Refused when scheduled, not failed at its time: only `herald run` has a sandbox."""
    if account.sandbox and ctx.sandbox is None:
        return [NO_SANDBOX.format(name=repr(account.name))]
    return []


def _post_rows(ctx: Context, data: PostCreate, accounts: list[Row[Any]],
               media: list[dict[str, Any]], run_at: datetime | None,
               now: datetime, company_approval: bool) -> list[dict[str, Any]]:
    """The new posts' rows: one per account (two for a split type), one group id."""
    group_id = new_id()
    rows: list[dict[str, Any]] = []
    for account in accounts:
        status = PostStatus.DRAFT
        if not data.draft:
            assert run_at is not None
            status = gates.scheduled_status(ctx, account, company_approval=company_approval,
                                            run_at=run_at, now=now)
        for post_type in split_post_type(account.platform, data.post_type):
            rows.append({
                **_POST_COLUMNS, "id": new_id(), "company_id": ctx.company_id,
                "group_id": group_id, "account_id": account.id, "platform": account.platform,
                "post_type": post_type, "caption": data.caption, "media": media,
                "options": options_for(account.platform, post_type, account.external_id,
                                       data.options),
                "status": status, "revision": 0,
                "scheduled_at": run_at, "attempts": 0, "created_by": ctx.actor,
                "created_at": now, "updated_at": now,
            })
    return rows


def inspect_media(ctx: Context, media: Sequence[dict[str, Any]],
                  inspected: InspectedMedia | None = None) -> InspectedMedia | None:
    """Probe the media a post will carry (fetching it): never inside a transaction."""
    if ctx.checks is None or (inspected is not None and inspected.covers(media)):
        return inspected
    return ctx.checks.inspect(media, company_id=ctx.company_id)


def _check(ctx: Context, account: SocialAccount | Row[Any], post_type: str, caption: str,
           media: list[dict[str, Any]], options: dict[str, Any],
           inspected: InspectedMedia | None) -> list[str]:
    if ctx.checks is None:
        return []
    assert inspected is not None
    return ctx.checks.check(account, {"post_type": post_type, "caption": caption,
                                      "media": media, "options": options}, inspected)


def get_post(session: Session, ctx: Context, post_id: str) -> Post:
    ctx.require(Permission.VIEW)
    post = session.get(Post, post_id)
    if (post is None or post.company_id != ctx.company_id
            or (ctx.account_ids is not None and post.account_id not in ctx.account_ids)):
        raise NotFound(f"No post with id {post_id!r}.")
    return post


def post_detail(session: Session, ctx: Context, post_id: str) -> dict[str, Any]:
    post = get_post(session, ctx, post_id)
    attempts = session.scalars(
        select(PublishAttempt).where(PublishAttempt.post_id == post.id)
        .order_by(PublishAttempt.attempt)
    ).all()
    conn = session.connection()
    next_at = queue.next_run_at(conn, post_id=post.id)
    waiting = None
    if next_at is not None:
        waiting = queue.waiting_for(conn, platform=post.platform, account_id=post.account_id)
    return {"post": post, "attempts": list(attempts), "next_attempt_at": next_at,
            "waiting_for_platform": waiting}


def post_detail_out(session: Session, ctx: Context, post_id: str) -> PostDetail:
    """`post_detail` as the API and the CLI show it."""
    found = post_detail(session, ctx, post_id)
    detail = PostDetail.model_validate(found["post"])
    detail.next_attempt_at = found["next_attempt_at"]
    detail.waiting_for_platform = found["waiting_for_platform"]
    detail.attempt_log = [AttemptOut.model_validate(a) for a in found["attempts"]]
    state = first_comment.state_of(
        found["post"].options, [a.platform_ids for a in found["attempts"]],
        retrying=found["post"].status == PostStatus.PUBLISHED
        and found["next_attempt_at"] is not None)
    if state is not None:
        detail.first_comment_state = FirstCommentOut(
            text=state.text, status=state.status, comment_id=state.comment_id,
            error=state.error)
    detail.account_ids, detail.requested_post_type = _group_targets(session, found["post"])
    gates.mark_late(detail, ctx.now())
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
    conn = session.connection()
    entry = queue.lock_for_edit(conn, post_id=post.id)
    # The post's row too (after the queue's, the order the worker takes them in): an
    # approval racing this edit waits for it, then finds a new revision and matches nothing.
    session.refresh(post, with_for_update=True)
    if entry is None and post.status == PostStatus.PENDING:
        entry = queue.lock_for_edit(conn, post_id=post.id)  # approved while we waited
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
    gates.require_author(ctx, post)
    entry = _lock_editable(session, post, "edited")
    before = audit.post_state(post)
    account = session.get(SocialAccount, post.account_id)
    assert account is not None
    caption = patch.caption if patch.caption is not None else post.caption
    media = new_media if new_media is not None else post.media
    options = patch.options if patch.options is not None else post.options
    if patch.first_comment is not None:
        options = fold_comment(patch.first_comment, {
            k: v for k, v in options.items() if k != "first_comment"})
    if inspected is not None and not inspected.covers(media):
        raise Conflict("The post's media changed while Herald was checking it; try again.")
    problems = _check(ctx, account, post.post_type, caption, media, options, inspected)
    problems += comment_problems(account.platform, [post.post_type], account.external_id,
                                 options)
    if problems:
        raise Invalid(" ".join(problems), details=problems)
    post.caption, post.media, post.options = caption, media, options
    # Edited on its own, an occurrence no longer follows its series' edits.
    post.detached = post.series_id is not None or post.detached
    # Every edit is a new revision: an approval of the one before no longer holds.
    post.revision += 1
    run_at = _resolve_run_at(ctx, patch.run_at) if patch.run_at is not None else None
    if run_at is not None:
        # A time of its own takes the post out of its queue slot (freeing the slot).
        post.queue_slot, post.origin = None, None if post.origin == "queue" else post.origin
        post.scheduled_at = run_at
    if post.status == PostStatus.PENDING:
        assert post.scheduled_at is not None
        status = gates.scheduled_status(
            ctx, account, company_approval=gates.company_requires_approval(session, ctx),
            run_at=post.scheduled_at, now=ctx.now())
        if status == PostStatus.AWAITING_APPROVAL:
            _back_to_approval(session, post)
        elif run_at is not None and entry is not None and not queue.reschedule(
                session.connection(), post_id=post.id, run_at=run_at, now=ctx.now()):
            raise Conflict("The post is being published right now; it can no longer be "
                           "rescheduled.")
    elif post.status == PostStatus.AWAITING_APPROVAL:
        # The edited version needs every step again, from the first.
        post.approved_by = post.approved_at = post.approval_step = None
    post.updated_at = ctx.now()
    only_time = {k for k, v in audit.post_state(post).items() if before.get(k) != v} <= {
        "scheduled_at", "revision", "status", "approved_by", "approval_step"}
    audit.record_post_change(session, ctx, audit.Action.POST_RESCHEDULED
                             if only_time and run_at is not None else audit.Action.POST_EDITED,
                             post, before)
    return post


def _back_to_approval(session: Session, post: Post) -> None:
    """An approved (queued) post edited by someone whose edits need approval."""
    if not queue.withdraw(session.connection(), post_id=post.id):
        raise Conflict("The post is being published right now; it can no longer be edited.")
    post.status = PostStatus.AWAITING_APPROVAL
    post.approved_by = post.approved_at = post.approval_step = None


def _current_media(session: Session, post_id: str) -> list[dict[str, Any]]:
    """A post's media, read in a short read-only transaction of its own (no lock)."""
    with Session(session.get_bind()) as reader:
        reader.connection(execution_options={READ_ONLY: True})
        media = reader.scalars(select(Post.media).where(Post.id == post_id)).first()
    return list(media or [])


def schedule_draft(session: Session, ctx: Context, post_id: str,
                   run_at: datetime | str) -> Post:
    post = get_post(session, ctx, post_id)
    gates.require_author(ctx, post)
    if post.status != PostStatus.DRAFT:
        raise Conflict(f"The post is {post.status}, not a draft.")
    held: set[str] = set()
    if run_at == NEXT_SLOT:
        from herald.planning.schedules import next_slots

        slots, paused = next_slots(session, ctx, [post.account_id], now=ctx.now())
        when = slots[post.account_id]
        post.queue_slot, post.origin = when, "queue"
        held = {post.id} if paused else set()
    else:
        resolved = _resolve_run_at(ctx, run_at)
        assert resolved is not None
        when = resolved
    before = audit.post_state(post)
    account = session.get(SocialAccount, post.account_id)
    if account is not None and (problems := _sandbox_problem(ctx, account)):
        raise Invalid(problems[0])
    status = gates.scheduled_status(
        ctx, account, company_approval=gates.company_requires_approval(session, ctx),
        run_at=when, now=ctx.now())
    post.status, post.scheduled_at, post.updated_at = status, when, ctx.now()
    post.review_note = None
    session.flush()
    if status == PostStatus.PENDING:
        queue.enqueue_many(session.connection(), [(post.id, when)],
                           max_attempts=ctx.max_attempts, now=ctx.now(), held=held)
    audit.record_post_change(session, ctx, audit.Action.POST_SCHEDULED
                             if status == PostStatus.PENDING else audit.Action.POST_SUBMITTED,
                             post, before)
    return post


def cancel_post(session: Session, ctx: Context, post_id: str) -> Post:
    post = get_post(session, ctx, post_id)
    gates.require_author(ctx, post)
    before = audit.post_state(post)
    if post.status == PostStatus.PUBLISHED:
        raise Conflict("The post is already published; it cannot be cancelled. Delete it on "
                       f"{DISPLAY_NAMES.get(post.platform, post.platform)} if it should not be "
                       "there.")
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
        audit.record(session, ctx, audit.Action.POST_CANCELLED, post_id=post.id,
                     account_id=post.account_id, before={"status": post.status},
                     after={"cancel_requested": True})
        return post
    if post.status in (PostStatus.FAILED, PostStatus.UNCONFIRMED):
        queue.dismiss(conn, post_id=post.id, now=ctx.now())
    post.status = PostStatus.CANCELLED
    post.queue_slot = None  # its slot is free for the next post added to the queue
    post.updated_at = ctx.now()
    events.record(conn, events.EventType.POST_CANCELLED, [post.id], now=ctx.now())
    audit.record_post_change(session, ctx, audit.Action.POST_CANCELLED, post, before)
    return post


def retry_post(session: Session, ctx: Context, post_id: str, *, force: bool = False) -> Post:
    post = get_post(session, ctx, post_id)
    gates.require_author(ctx, post)
    ctx.require(Permission.SCHEDULE)
    if post.status == PostStatus.UNCONFIRMED and not force:
        raise Conflict("Herald cannot tell whether this post went out. Check the account "
                       "first; if it is not there, retry with force=true.")
    if post.status not in (PostStatus.FAILED, PostStatus.UNCONFIRMED):
        raise Conflict(f"The post is {post.status}; only failed or unconfirmed posts can be "
                       "retried.")
    if not queue.requeue(session.connection(), post_id=post.id, now=ctx.now(),
                         extra_attempts=ctx.max_attempts):
        raise Conflict("The post is not in the queue's failed state; it cannot be retried.")
    before = audit.post_state(post)
    post.status = PostStatus.PENDING
    post.error_message = None
    post.updated_at = ctx.now()
    audit.record_post_change(session, ctx, audit.Action.POST_RETRIED, post, before)
    return post

