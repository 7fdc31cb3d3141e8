"""Use cases shared by the REST API, the web UI and the CLI. No HTTP here."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from sqlalchemy import Select, Table, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from herald import queue
from herald.crypto import TokenCipher, hash_api_token, new_api_token
from herald.db import READ_ONLY, Database
from herald.errors import Conflict, Invalid, NotFound, Unauthorized
from herald.models import (
    ApiToken,
    Company,
    Post,
    PublishAttempt,
    SocialAccount,
    SocialToken,
    new_id,
    utcnow,
)
from herald.sandbox import Sandbox, sandbox_identity
from herald.schemas import AccountCreate, AccountTokenUpdate, PostCreate, PostPatch
from herald.statuses import EDITABLE, PostStatus, QueueStatus

#: How far in the past a run_at may be and still count as "now" (clock skew, slow clients).
PAST_TOLERANCE = timedelta(seconds=5)
#: Instagram's feed_story is two posts: the feed post and the story, tracked separately.
SPLIT_TYPES = {("instagram", "feed_story"): ("feed", "story")}

_Paged = TypeVar("_Paged", Post, Row[Any])

if TYPE_CHECKING:
    from herald.inspection import InspectedMedia


class PostChecks(Protocol):
    """Scheduling-time checks, in two halves so that no fetch runs inside a transaction."""

    def inspect(self, media: Sequence[dict[str, Any]]) -> InspectedMedia:
        """Probe the media (may fetch it): call before the transaction begins."""

    def check(self, account: Any, payload: dict[str, Any],
              inspected: InspectedMedia) -> list[str]:
        """The platform's rules for the post, from what `inspect` found (no I/O)."""


@dataclass
class Context:
    """What a use case needs besides the session: who asks, the time, the settings."""

    company_id: str
    cipher: TokenCipher
    max_attempts: int = 3
    now: Callable[[], datetime] = utcnow
    actor: str | None = None
    checks: PostChecks | None = None
    sandbox: Sandbox | None = None


# --- the unit of work --------------------------------------------------------------------


class QueueSignal:
    """Tells the workers of this process that the queue changed (PostgreSQL also NOTIFYs).

    Safe to call from any thread; with no worker listening it does nothing.
    """

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def connect(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` on every change until the returned function is called."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def __call__(self) -> None:
        for listener in list(self._listeners):
            listener()


@contextmanager
def unit_of_work(db: Database, queue_changed: Callable[[], None] | None = None
                 ) -> Iterator[Session]:
    """One use case's transaction: a session that commits on success, then the wake-up.

    The worker is woken after the commit, never before: woken early it would look for the
    new rows before they exist and go back to sleep.
    """
    with db.session() as session:
        yield session
    if queue_changed is not None:
        queue_changed()


# --- companies and API tokens -----------------------------------------------------------


def create_company(session: Session, *, name: str, timezone: str = "UTC") -> tuple[Company, str]:
    name = name.strip()
    if not name:
        raise Invalid("A company needs a name.")
    company = Company(id=new_id(), name=name, timezone=timezone, created_at=utcnow())
    session.add(company)
    session.flush()
    token = create_api_token(session, company_id=company.id, name="default")
    return company, token


def create_api_token(session: Session, *, company_id: str, name: str = "") -> str:
    if session.get(Company, company_id) is None:
        raise NotFound(f"No company with id {company_id!r}.")
    token = new_api_token()
    session.add(ApiToken(id=new_id(), company_id=company_id, name=name,
                         token_hash=hash_api_token(token), prefix=token[:12],
                         created_at=utcnow()))
    session.flush()
    return token


def revoke_api_token(session: Session, *, token: str) -> ApiToken:
    """Revoke by the token itself, its id or its printed prefix."""
    row = session.scalars(
        select(ApiToken).where(or_(ApiToken.token_hash == hash_api_token(token),
                                   ApiToken.id == token, ApiToken.prefix == token))
    ).first()
    if row is None:
        raise NotFound("No such API token.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def authenticate(session: Session, token: str | None) -> str:
    """The company id a bearer token belongs to."""
    if not token:
        raise Unauthorized()
    row = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hash_api_token(token))
    ).first()
    if row is None:
        raise Unauthorized("This API token is not valid.")
    if row.revoked_at is not None:
        raise Unauthorized("This API token has been revoked; create a new one.")
    return row.company_id


# --- accounts ----------------------------------------------------------------------------


def create_account(session: Session, ctx: Context, data: AccountCreate) -> SocialAccount:
    if data.sandbox:
        if ctx.sandbox is None:
            raise Conflict("Sandbox accounts need the built-in sandbox, which runs under "
                           "`herald run`.")
        external_id, token = sandbox_identity(data.platform)
        data = data.model_copy(update={
            "external_id": data.external_id or external_id,
            "access_token": data.access_token or token})
    assert data.external_id is not None and data.access_token is not None
    exists = session.scalars(
        select(SocialAccount.id).where(SocialAccount.company_id == ctx.company_id,
                                       SocialAccount.platform == data.platform,
                                       SocialAccount.external_id == data.external_id)
    ).first()
    if exists:
        raise Conflict(f"This company already has the {data.platform} account "
                       f"{data.external_id!r} (id {exists}).")
    now = ctx.now()
    account = SocialAccount(id=new_id(), company_id=ctx.company_id, platform=data.platform,
                            external_id=data.external_id, name=data.name, state="active",
                            sandbox=data.sandbox, created_at=now, updated_at=now)
    session.add(account)
    session.flush()
    session.add(_token_row(ctx, account.id, data))
    session.flush()
    if data.sandbox and ctx.sandbox is not None:
        ctx.sandbox.register(data.platform, data.external_id, data.access_token, data.name)
    return account


def _token_row(ctx: Context, account_id: str, data: AccountCreate | AccountTokenUpdate,
               existing: SocialToken | None = None) -> SocialToken:
    row = existing or SocialToken(account_id=account_id)
    assert data.access_token is not None
    row.access_token_enc = ctx.cipher.encrypt(data.access_token)
    # An update without a refresh token keeps the old one: dropping it would force a
    # reconnect at the next expiry for no reason.
    if data.refresh_token:
        row.refresh_token_enc = ctx.cipher.encrypt(data.refresh_token)
    elif existing is None:
        row.refresh_token_enc = None
    row.expires_at = data.token_expires_at
    if data.refresh_token_expires_at is not None or existing is None:
        row.refresh_expires_at = data.refresh_token_expires_at
    row.updated_at = ctx.now()
    return row


def list_accounts(session: Session, ctx: Context) -> list[tuple[SocialAccount, SocialToken]]:
    return [
        (a, t) for a, t in session.execute(
            select(SocialAccount, SocialToken)
            .join(SocialToken, SocialToken.account_id == SocialAccount.id, isouter=True)
            .where(SocialAccount.company_id == ctx.company_id)
            .order_by(SocialAccount.created_at, SocialAccount.id)
        )
    ]


def get_account(session: Session, ctx: Context, account_id: str) -> SocialAccount:
    account = session.get(SocialAccount, account_id)
    if account is None or account.company_id != ctx.company_id:
        raise NotFound(f"No account with id {account_id!r}.")
    return account


def account_token(session: Session, account_id: str) -> SocialToken | None:
    return session.get(SocialToken, account_id)


def update_account_token(session: Session, ctx: Context, account_id: str,
                         data: AccountTokenUpdate) -> SocialAccount:
    account = get_account(session, ctx, account_id)
    session.add(_token_row(ctx, account.id, data, session.get(SocialToken, account.id)))
    # A fresh token is the reconnect: the account may publish again.
    account.state = "active"
    account.state_reason = None
    account.updated_at = ctx.now()
    return account


def delete_account(session: Session, ctx: Context, account_id: str) -> None:
    account = get_account(session, ctx, account_id)
    busy = session.scalars(
        select(Post.id).where(Post.account_id == account.id, Post.status == PostStatus.PROCESSING)
    ).first()
    if busy:
        raise Conflict("A post of this account is being published right now; try again in a "
                       "moment.")
    queue.forget_account(session.connection(), account_id=account.id)
    session.execute(delete(Post).where(Post.account_id == account.id))
    session.execute(delete(SocialToken).where(SocialToken.account_id == account.id))
    session.delete(account)


# --- posts -------------------------------------------------------------------------------


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
    missing = [t for t in targets if t not in found]
    if missing:
        raise NotFound(f"No account with id {missing[0]!r}.")
    problems: list[str] = []
    for account in found.values():
        for post_type in SPLIT_TYPES.get((account.platform, data.post_type), (data.post_type,)):
            problems += _check(ctx, account, post_type, data.caption, media, data.options,
                               inspected)
    if problems:
        raise Invalid(problems[0] if len(problems) == 1 else
                      f"{len(problems)} problems: " + " ".join(problems), details=problems)
    now = ctx.now()
    group_id = new_id()
    rows: list[dict[str, Any]] = []
    for account_id in targets:
        account = found[account_id]
        for post_type in SPLIT_TYPES.get((account.platform, data.post_type), (data.post_type,)):
            rows.append({
                **_POST_COLUMNS, "id": new_id(), "company_id": ctx.company_id,
                "group_id": group_id, "account_id": account.id, "platform": account.platform,
                "post_type": post_type, "caption": data.caption, "media": media,
                "options": dict(data.options),
                "status": PostStatus.DRAFT if data.draft else PostStatus.PENDING,
                "scheduled_at": run_at, "attempts": 0, "created_by": ctx.actor,
                "created_at": now, "updated_at": now,
            })
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


def list_post_rows(session: Session, ctx: Context, filters: PostFilters, *,
                   cursor: str | None = None, limit: int = 50
                   ) -> tuple[list[Row[Any]], str | None]:
    """`list_posts` as Core rows (same attributes): a third cheaper, for read-only pages."""
    stmt = select(*cast(Table, Post.__table__).columns)
    rows = list(session.execute(_page_query(stmt, ctx, filters, cursor, limit)))
    return _page(rows, limit)


def _page_query(stmt: Select[Any], ctx: Context, filters: PostFilters, cursor: str | None,
                limit: int) -> Select[Any]:
    stmt = stmt.where(Post.company_id == ctx.company_id)
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
        return datetime.fromisoformat(created), str(post_id)
    except (ValueError, TypeError, binascii.Error):
        raise Invalid("The cursor is not valid; use the next_cursor of a previous page.") \
            from None


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
