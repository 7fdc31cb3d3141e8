"""Tables. The seed's post_details is `posts`, its post_schedule keeps its name."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from herald.platforms import registry
from herald.statuses import PostStatus, QueueStatus

# Derived from the one list of platforms (herald.platforms.registry).
PLATFORMS = registry.PLATFORMS
POST_TYPES = registry.POST_TYPES
# Post status is contract: API clients and scripts branch on these strings.
POST_STATUSES = tuple(PostStatus)
QUEUE_STATUSES = tuple(QueueStatus)
ACCOUNT_STATES = ("active", "needs_reauth")


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime, stored naive-UTC on every engine.

    MySQL's DATETIME has no zone and SQLite has no datetime type at all; storing naive
    UTC everywhere keeps comparisons in SQL uniform. Naive values are refused on the way
    in, so local time can never slip into the queue.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "mysql":
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=False))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Every account's posts by someone who may not schedule go to approval first.
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False,
                                                    server_default=false())
    #: The approval steps a post goes through, in order ("internal", "client");
    #: None: one internal step (herald.services.approval_steps).
    approval_steps: Mapped[list[str] | None] = mapped_column(JSON)
    #: Audit entries older than this many days are purged; None: kept for good.
    audit_retention_days: Mapped[int | None] = mapped_column(Integer)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    company_id: Mapped[str] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: What the token may do (herald.permissions); tokens made before roles are owners.
    role: Mapped[str] = mapped_column(String(20), default="owner", server_default="owner")


class User(Base):
    """A person who signs in to the web UI.

    `company_id`, `role` and `account_ids` are their home company's (where they land after
    signing in); herald.team_models.Membership holds every company they belong to, that one
    included, and is what permissions are read from."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    company_id: Mapped[str] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Web sessions carry the generation they began in; signing out or a new password
    #: adds one, which ends every session of this user on every server process.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Their role (herald.permissions); users made before roles are owners.
    role: Mapped[str] = mapped_column(String(20), default="owner", server_default="owner")
    #: The accounts they may use, when limited to some (None: every account).
    account_ids: Mapped[list[str] | None] = mapped_column(JSON)


class SocialAccount(Base):
    __tablename__ = "social_accounts"
    __table_args__ = (UniqueConstraint("company_id", "platform", "external_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    company_id: Mapped[str] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(20), default="active")
    state_reason: Mapped[str | None] = mapped_column(Text)
    backoff_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The account's own server (a Bluesky PDS) for platforms whose accounts choose one.
    server_url: Mapped[str | None] = mapped_column(String(2048))
    #: Set while a person paused the account's queue: its pending posts are held.
    queue_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Posts by someone who may not schedule go to approval first.
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False,
                                                    server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AccountSchedule(Base):
    """An account's posting schedule: weekly slots, wall-clock times in `timezone`."""

    __tablename__ = "account_schedules"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    timezone: Mapped[str] = mapped_column(String(64))
    #: [{"weekday": "mon", "time": "09:00", "category": None | "tips"}, …]
    slots: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PostSeries(Base):
    """A post made again and again: a recurrence rule, or an evergreen library entry.

    Either way it is a template; each occurrence is an ordinary post (with its own queue
    row) pointing back here by `posts.series_id`.
    """

    __tablename__ = "post_series"
    __table_args__ = (Index("ix_post_series_company_kind", "company_id", "kind"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    #: "recurring" or "evergreen".
    kind: Mapped[str] = mapped_column(String(20))
    account_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_type: Mapped[str] = mapped_column(String(20))
    caption: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Recurring: the RFC 5545 RRULE, its zone and first occurrence (UTC).
    rule: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str | None] = mapped_column(String(64))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Occurrences up to this time are posts already (the rolling window's edge).
    expanded_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Evergreen: the categories a slot may ask for.
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SocialToken(Base):
    """Platform tokens, encrypted at rest (see herald.crypto)."""

    __tablename__ = "social_tokens"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    access_token_enc: Mapped[str] = mapped_column(Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Set while one worker refreshes the token, so workers never refresh it at once.
    refresh_lock_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OAuthServerApp(Base):
    """Herald's OAuth app on one server that registers apps itself (a Mastodon instance's
    POST /api/v1/apps): registered once per server and redirect URI, its secret encrypted
    like the tokens (herald/connect/server_apps.py)."""

    __tablename__ = "oauth_server_apps"
    __table_args__ = (UniqueConstraint("platform", "server_url",
                                       name="uq_oauth_server_apps_server"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    platform: Mapped[str] = mapped_column(String(20))
    server_url: Mapped[str] = mapped_column(String(255))
    redirect_uri: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_enc: Mapped[str] = mapped_column(Text)
    scopes: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Post(Base):
    """One post to one account (the seed's post_details)."""

    __tablename__ = "posts"
    __table_args__ = (
        Index("ix_posts_company_created", "company_id", "created_at", "id"),
        # With id: the calendar ranks a month's posts from the index alone.
        Index("ix_posts_company_scheduled", "company_id", "scheduled_at", "id"),
        # The list by account, newest first. (The foreign key's index is the unique
        # (account_id, queue_slot, post_type) below.)
        Index("ix_posts_company_account_created", "company_id", "account_id", "created_at",
              "id"),
        # The dashboard's counts and "needs attention"; `herald status`'s day.
        Index("ix_posts_company_status_updated", "company_id", "status", "updated_at", "id"),
        Index("ix_posts_status_updated", "status", "updated_at"),
        # Migration 0021 also makes ix_posts_company_sort_time on (company_id,
        # coalesce(scheduled_at, created_at), id) where the engine indexes expressions.
        # One post per queue slot of an account (a split type's parts share it), and one
        # per occurrence of a series: two racing planners cannot both make it.
        UniqueConstraint("account_id", "queue_slot", "post_type"),
        UniqueConstraint("series_id", "occurrence_at", "account_id", "post_type"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    group_id: Mapped[str] = mapped_column(String(36), index=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="CASCADE")
    )
    platform: Mapped[str] = mapped_column(String(20))
    post_type: Mapped[str] = mapped_column(String(20))
    caption: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    #: When the user wants it out; the queue's run_at moves with retries, this does not.
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    external_post_id: Mapped[str | None] = mapped_column(String(500))
    permalink: Mapped[str | None] = mapped_column(String(1000))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: A cancel that arrived while a worker held the post; honoured before the commit.
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: How it was scheduled: None (a time given), "queue" (the account's next free slot),
    #: "series" (an occurrence of a recurring series), "evergreen" (a refill).
    origin: Mapped[str | None] = mapped_column(String(20))
    #: The account's schedule slot the post holds (queued and evergreen posts), else None.
    queue_slot: Mapped[datetime | None] = mapped_column(UTCDateTime)
    series_id: Mapped[str | None] = mapped_column(
        ForeignKey("post_series.id", ondelete="SET NULL"))
    #: The series occurrence (or evergreen slot) this post is.
    occurrence_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Edited on its own: the series' edits no longer reach it.
    detached: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: One more at every edit: an approval names the revision it saw (a stale one is
    #: refused), so an edit racing an approval is never published on the old approval.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Why it was rejected (it went back to draft), for its author.
    review_note: Mapped[str | None] = mapped_column(Text)
    #: The approval step it waits at ("internal", "client") while awaiting approval.
    approval_step: Mapped[str | None] = mapped_column(String(20))


class PostSchedule(Base):
    """The queue (the seed's post_schedule). Only herald.queue writes it."""

    __tablename__ = "post_schedule"
    __table_args__ = (
        # Covering indexes: the due query and the rescue sweep read the index only.
        Index("ix_post_schedule_due", "status", "run_at", "post_id"),
        Index("ix_post_schedule_lease", "status", "lease_expires_at", "post_id"),
    )

    post_id: Mapped[str] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    #: When the post is next due: the scheduled time, then the retry time after a failure.
    run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    worker_id: Mapped[str | None] = mapped_column(String(255))
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Claims so far; also the fencing number a worker must show to finish its claim.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    #: Leases that ran out (worker crashed or hung); bounded so a poison post stops.
    rescues: Mapped[int] = mapped_column(Integer, default=0)
    #: The end of the post's time budget for retries, set at its first retry (None until
    #: then, and again after a person retries it): it gives up only once this has passed.
    retry_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


#: The kept counts' row ids: 64-bit (every status change appends rows), and SQLite's
#: rowid, which only INTEGER PRIMARY KEY names.
CountId = BigInteger().with_variant(Integer, "sqlite")


class PostCount(Base):
    """Posts by company, account and status, kept by database triggers on posts (migration
    0022): each insert, delete or change of status appends a row (+1/-1, or a statement's
    sum), never updates one, so no counter row is a lock every worker's completion waits
    on. The housekeeping folds each key's rows into one (herald/queue/counts.py); a count
    is the sum of its key's few rows. Nothing else writes it."""

    __tablename__ = "post_counts"
    __table_args__ = (Index("ix_post_counts_key", "company_id", "account_id", "status", "n"),)

    id: Mapped[int] = mapped_column(CountId, primary_key=True, autoincrement=True)
    # No foreign keys: a trigger's row for a post deleted with its account (a cascade)
    # would refer to the account being deleted.
    company_id: Mapped[str] = mapped_column(String(36))
    account_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20))
    n: Mapped[int] = mapped_column(Integer)


class QueueCount(Base):
    """Queue rows (post_schedule) by status, kept like PostCount: `herald status` and
    /metrics read the pending count without scanning the queue."""

    __tablename__ = "queue_counts"
    __table_args__ = (Index("ix_queue_counts_key", "status", "n"),)

    id: Mapped[int] = mapped_column(CountId, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(20))
    n: Mapped[int] = mapped_column(Integer)


class PlatformHealth(Base):
    """Whether a platform, or one account on it, answers: counted by every worker through
    the database (herald/queue/health.py). Only herald.queue writes it."""

    __tablename__ = "platform_health"

    #: "platform:<name>" or "account:<account id>".
    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    #: None for a platform's row.
    account_id: Mapped[str | None] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="CASCADE"))
    #: Failures to reach it in a row (no answer between), since first_failure_at.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The account of the last failure, and whether the failures came from more than one
    #: (a platform is held as down only then: one account's trouble is that account's).
    last_account_id: Mapped[str | None] = mapped_column(String(36))
    mixed: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Set while it is held as down: its posts wait, one probes at probe_at.
    down_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: What the last failure said.
    reason: Mapped[str | None] = mapped_column(Text)
    probe_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The wait before the next probe, doubling after each probe that fails.
    probe_seconds: Mapped[float | None] = mapped_column(Float)
    #: The post sent as the current probe.
    probe_post_id: Mapped[str | None] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PublishAttempt(Base):
    """The journal: one row per attempt, written as the attempt goes."""

    __tablename__ = "publish_attempts"
    __table_args__ = (UniqueConstraint("post_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phase: Mapped[str] = mapped_column(String(30), default="claimed")
    platform_ids: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(String(30), default="running")
    error_code: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(Text)


class SigninFailure(Base):
    """A failed web sign-in, one row per counted key (email, client address), so that every
    `serve` process and host counts the same failures (herald/web/throttle.py)."""

    __tablename__ = "signin_failures"
    __table_args__ = (Index("ix_signin_failures_key_failed_at", "key", "failed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: "email:" or "ip:" and a SHA-256 of the value: no typed-in addresses kept in clear.
    key: Mapped[str] = mapped_column(String(80))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime)


#: MySQL's TEXT holds 64 KB; a stored answer (an import's per-row report) may be larger.
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


class IdempotencyKey(Base):
    """A POST's Idempotency-Key: pending while the first request runs, then its answer.

    The unique (company_id, idempotency_key) is what makes two racing requests one: the
    second INSERT fails and reads the first's row instead of running the request again.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("company_id", "idempotency_key"),
                      Index("ix_idempotency_keys_created_at", "created_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    #: SHA-256 of the route, the query and the raw body.
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default="pending")
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_type: Mapped[str | None] = mapped_column(String(200))
    response_body: Mapped[str | None] = mapped_column(LongText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarFeed(Base):
    """A user's secret iCalendar feed URL (/calendar/<token>.ics); only its hash is kept."""

    __tablename__ = "calendar_feeds"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewLink(Base):
    """A secret, expiring, revocable URL that shows some posts to a client without an
    account (posts by id, a composed group, or a date range); only its hash is kept."""

    __tablename__ = "review_links"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"),
                                            index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: What it shows: listed posts, a group's posts, or the posts due in [at_from, at_to).
    post_ids: Mapped[list[str] | None] = mapped_column(JSON)
    group_id: Mapped[str | None] = mapped_column(String(36))
    at_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    at_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The accounts its maker could see (a membership limited to some), else None: all.
    account_ids: Mapped[list[str] | None] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    """The outbox: one row per thing that happened (a post failed, an account needs
    reconnecting), written in the same transaction as the change it tells of, so no change
    is ever without its event nor an event without its change. The dispatcher
    (herald/events/dispatcher.py) fills in the company and the data and fans it out."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_dispatched_at_seq", "dispatched_at", "seq"),)

    #: The order events happened in (deliveries of one post go out in this order).
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The id receivers de-duplicate by: the same in every delivery of this event.
    id: Mapped[str] = mapped_column(String(36), unique=True, default=new_id)
    type: Mapped[str] = mapped_column(String(40))
    #: The post, account or webhook the event is about.
    subject_id: Mapped[str] = mapped_column(String(36))
    company_id: Mapped[str | None] = mapped_column(String(36))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Webhook(Base):
    """An HTTP endpoint that receives a company's events, signed with its secret."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    company_id: Mapped[str] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    #: The event types it receives.
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: The signing secret, encrypted (herald.crypto); shown once, when made.
    secret_enc: Mapped[str] = mapped_column(Text)
    #: After a rotation the old secret still signs (a second v1=) until this time, so
    #: receivers can switch without losing a delivery.
    previous_secret_enc: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    #: Since when every delivery failed; cleared by a success. Past a day it is disabled.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """One event to one webhook: a queue row (claimed, leased, retried like a post's)
    and its log (the last answer). Only herald.queue.deliveries writes its queue columns."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "run_at"),
        Index("ix_webhook_deliveries_lease", "status", "lease_expires_at"),
        Index("ix_webhook_deliveries_order", "webhook_id", "subject_id", "event_seq"),
        Index("ix_webhook_deliveries_log", "webhook_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(36))
    event_seq: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_status: Mapped[int | None] = mapped_column(Integer)
    #: The start of the receiver's last answer (at most 1,000 characters).
    response_body: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    #: The delivery this one sends again (POST …/redeliver).
    redelivery_of: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationChannel(Base):
    """Where a person is told: an e-mail address or a chat URL (apprise), encrypted."""

    __tablename__ = "notification_channels"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    #: "email" or "chat".
    kind: Mapped[str] = mapped_column(String(20))
    #: The address or the apprise URL (which holds the chat's token), encrypted.
    target_enc: Mapped[str] = mapped_column(Text)
    #: What the pages show instead: "j…@example.com", "slack://…".
    label: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationPref(Base):
    """Which events a person is told of, and whether they get the daily digest."""

    __tablename__ = "notification_prefs"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The hour (0-23, in the person's time zone) the digest goes out.
    digest_hour: Mapped[int] = mapped_column(Integer, default=8)
    #: The last day a digest was made for ("2026-12-03"), so each day gets one.
    digest_sent_for: Mapped[str | None] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class NotificationSend(Base):
    """One message to one channel: a queue row like a webhook delivery, and its log."""

    __tablename__ = "notification_sends"
    __table_args__ = (
        Index("ix_notification_sends_due", "status", "run_at"),
        Index("ix_notification_sends_lease", "status", "lease_expires_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    channel_id: Mapped[str] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE"), index=True
    )
    #: The event told of; None for a digest.
    event_id: Mapped[str | None] = mapped_column(String(36))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Who did what, with the before and after: written in the transaction of the change."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_company_at", "company_id", "at", "id"),
                      Index("ix_audit_log_post_id", "post_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    #: No foreign keys: the log outlives the posts and accounts it names.
    post_id: Mapped[str | None] = mapped_column(String(36))
    account_id: Mapped[str | None] = mapped_column(String(36))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class PostComment(Base):
    """A comment in a post's thread: by a member, a token, or a client through a review
    link (then `review_link_id` names the link and `author_name` the name they gave)."""

    __tablename__ = "post_comments"
    __table_args__ = (Index("ix_post_comments_post_created", "post_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    #: Who, as the audit log names them: web:<email>, token:<prefix>, cli, review:<link>.
    actor: Mapped[str] = mapped_column(String(100))
    author_name: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: No foreign key: review links have their own table and lifetime.
    review_link_id: Mapped[str | None] = mapped_column(String(36))
    body: Mapped[str] = mapped_column(Text)
    #: The members it mentions (their user ids), each told of it.
    mentions: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The tables of teams across companies live beside (kept small); importing them here puts
# them in Base.metadata for every reader of the schema.
from herald import team_models as _team_models  # noqa: E402,F401
