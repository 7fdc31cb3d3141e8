"""Request and response bodies of the REST API (shared with the CLI's --json output)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from herald.bounds import options_problem, storable_problem
from herald.models import PLATFORMS, POST_TYPES

# Built from the registry's names: the OpenAPI enums and the 422 messages ("Input should
# be 'a', 'b' or 'c'") list the platforms' folders.
if TYPE_CHECKING:
    Platform = str
    PostType = str
else:
    Platform = Literal[PLATFORMS]
    PostType = Literal[POST_TYPES]

RUN_AT_EXAMPLE = "2026-12-01T09:00:00+01:00"


def parse_run_at(value: Any) -> datetime | Literal["now"]:
    """A timezone-aware ISO 8601 time, or "now"; naive times are refused, not guessed."""
    if isinstance(value, str) and value.strip().lower() == "now":
        return "now"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"run_at {value!r} is not an ISO 8601 time; write e.g. {RUN_AT_EXAMPLE!r} "
                'or "now"'
            ) from None
    if not isinstance(value, datetime):
        raise ValueError(f'run_at must be an ISO 8601 string like {RUN_AT_EXAMPLE!r} or "now"')
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"run_at {value.isoformat()!r} has no timezone; add an offset, e.g. "
            f"{RUN_AT_EXAMPLE!r} or a trailing 'Z' for UTC"
        )
    return in_utc_range(value, "run_at")


def in_utc_range(value: datetime, name: str) -> datetime:
    """`value`, if it is a time in UTC too (0001-01-01T00:00+05:00 is not: year 0)."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{name} {value.isoformat()!r} is out of range: in UTC it falls outside the "
            "years 1 to 9999") from None
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        # Checked on the raw input, so every field of every body is covered, nested too.
        problem = storable_problem(data, "")
        if problem:
            raise ValueError(problem)
        return data


class MediaIn(Strict):
    url: str = Field(min_length=1, max_length=2000)
    type: Literal["image", "video", "document"] = "image"
    alt_text: str | None = Field(default=None, max_length=1000)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"media url {value!r} is not an http(s) URL")
        return value


class AccountCreate(Strict):
    platform: Platform
    external_id: str | None = Field(default=None, min_length=1, max_length=255)
    name: str = Field(min_length=1, max_length=255)
    access_token: str | None = Field(default=None, min_length=1)
    refresh_token: str | None = None
    token_expires_at: datetime | None = None
    refresh_token_expires_at: datetime | None = None
    sandbox: bool = False
    #: The account's own server, for platforms whose accounts choose one (a Bluesky PDS;
    #: default https://bsky.social). Must be https and public unless
    #: HERALD_ALLOW_PRIVATE_SERVER_URLS is set.
    server_url: str | None = Field(default=None, min_length=1, max_length=2048)

    @field_validator("token_expires_at", "refresh_token_expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("expiry times need a timezone, e.g. 2027-01-31T00:00:00Z")
        return None if value is None else in_utc_range(value, "the expiry time")

    @model_validator(mode="after")
    def _credentials(self) -> AccountCreate:
        # Sandbox accounts get made-up ids and tokens; real ones must bring theirs.
        if not self.sandbox and (self.external_id is None or self.access_token is None):
            raise ValueError("external_id and access_token are required (or set sandbox: "
                             "true for a sandbox account)")
        # Herald assigns a sandbox account's id and token: one chosen by the caller could
        # be another company's, and would let it speak to the fake directly.
        chosen = [name for name in ("external_id", "access_token", "refresh_token",
                                    "server_url")
                  if getattr(self, name) is not None]
        if self.sandbox and chosen:
            raise ValueError(f"a sandbox account gets its id and token from Herald; leave "
                             f"out {' and '.join(chosen)}")
        return self


class AccountTokenUpdate(Strict):
    access_token: str = Field(min_length=1)
    refresh_token: str | None = None
    token_expires_at: datetime | None = None
    refresh_token_expires_at: datetime | None = None

    _aware = field_validator("token_expires_at", "refresh_token_expires_at")(
        AccountCreate._aware.__func__  # type: ignore[attr-defined]
    )


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    platform: str
    external_id: str
    name: str
    state: str
    state_reason: str | None = None
    backoff_until: datetime | None = None
    token_expires_at: datetime | None = None
    sandbox: bool = False
    #: The account's own server (a Bluesky PDS); null for platforms with one API.
    server_url: str | None = None
    #: Set while the account's queue is paused (its posts are held).
    queue_paused_at: datetime | None = None
    #: Posts by a role that may not schedule go to approval first.
    requires_approval: bool = False
    created_at: datetime


class AccountPatch(Strict):
    requires_approval: bool | None = None


class CompanyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    timezone: str
    #: Every account's posts by a role that may not schedule go to approval first.
    requires_approval: bool = False
    #: The steps an approval goes through, in order (null: one internal step).
    approval_steps: list[str] = Field(default_factory=lambda: ["internal"])
    #: Days the audit log keeps an entry; null: for good.
    audit_retention_days: int | None = None

    @field_validator("approval_steps", mode="before")
    @classmethod
    def _default_steps(cls, value: Any) -> Any:
        return value or ["internal"]


class CompanyPatch(Strict):
    requires_approval: bool | None = None
    #: The approval steps, in order: ["internal"] or ["internal", "client"].
    approval_steps: list[str] | None = Field(default=None, max_length=2)
    #: Days the audit log keeps an entry (1 to 36500); null: for good.
    audit_retention_days: int | None = Field(default=None, ge=1, le=36500)

    @field_validator("audit_retention_days", mode="before")
    @classmethod
    def _days_not_a_flag(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("audit_retention_days is a number of days, not true or false")
        return value


class RecurrenceIn(Strict):
    """A recurring post: an RFC 5545 RRULE read in `timezone`, starting at run_at."""

    rule: str = Field(min_length=1, max_length=1000, examples=["FREQ=WEEKLY;BYDAY=MO"])
    timezone: str = Field(min_length=1, max_length=64, examples=["Europe/Berlin"])
    until: datetime | None = None
    count: int | None = Field(default=None, ge=1, le=10_000)

    @field_validator("until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("until needs a timezone, e.g. 2027-06-30T23:59:00+02:00")
        return None if value is None else in_utc_range(value, "until")


class EvergreenIn(Strict):
    """An evergreen library entry: it refills empty slots of its accounts' schedules."""

    categories: list[str] = Field(default_factory=list, max_length=20)


class PostCreate(Strict):
    account_id: str | None = None
    account_ids: list[str] | None = Field(default=None, min_length=1, max_length=100)
    post_type: PostType = "feed"
    caption: str = Field(default="", max_length=100_000)
    media: list[MediaIn] = Field(default_factory=list, max_length=20)
    options: dict[str, Any] = Field(default_factory=dict, description=(
        "Per-platform settings, checked when scheduled: `link` (article posts), `title` "
        "(LinkedIn articles and documents, Facebook videos and reels), `description` "
        "(LinkedIn articles), `visibility` (LinkedIn), `first_comment`; "
        "Instagram (either login): collaborators (up to 5 usernames), user_tags "
        "([{username, x, y, media}], x and y 0-1), location_id, trial_params "
        '({"graduation_strategy": "MANUAL" | "SS_PERFORMANCE"}, reels), share_to_feed, '
        "thumb_offset, cover_url (reels); "
        "a LinkedIn `poll`: `poll` = {\"question\": text of up to 140 characters, "
        "\"options\": 2 to 4 texts of up to 30, \"duration\": ONE_DAY, THREE_DAYS, "
        "SEVEN_DAYS (default) or FOURTEEN_DAYS}. Facebook `reel` (one 9:16 video, 3-90 s) "
        "and `story` (one photo or 9:16 video of 3-60 s, no caption) take none."))
    #: Posted as the first comment right after the post (kept as options.first_comment,
    #: which is accepted too).
    first_comment: str | None = Field(default=None, max_length=10_000)
    #: A time, "now", or "next_slot": each account's next free slot of its schedule.
    run_at: datetime | Literal["now", "next_slot"] | None = None
    draft: bool = False
    #: Make the post again and again: occurrences become posts a rolling window ahead.
    recurrence: RecurrenceIn | None = None
    #: Keep it in the evergreen library instead (no run_at): it refills empty slots.
    evergreen: EvergreenIn | None = None

    @field_validator("run_at", mode="before")
    @classmethod
    def _run_at(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() == "next_slot":
            return "next_slot"
        return None if value is None else parse_run_at(value)

    @field_validator("options")
    @classmethod
    def _options(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        problem = None if value is None else options_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _comment(self) -> PostCreate:
        self.options = fold_comment(self.first_comment, self.options)
        self.first_comment = self.options.get("first_comment")
        return self

    @model_validator(mode="after")
    def _targets(self) -> PostCreate:
        if (self.account_id is None) == (self.account_ids is None):
            raise ValueError("give either account_id or account_ids (one post per account)")
        if self.evergreen is not None:
            if self.run_at is not None or self.draft or self.recurrence is not None:
                raise ValueError("an evergreen post has no run_at, draft or recurrence: "
                                 "it refills empty slots of its accounts' schedules")
            return self
        if self.recurrence is not None and (self.draft or not isinstance(self.run_at,
                                                                           datetime)):
            raise ValueError("a recurring post needs run_at, the time of its first "
                             "occurrence (not now, next_slot or a draft)")
        if self.run_at is None and not self.draft:
            raise ValueError('run_at is required (an ISO 8601 time with timezone, "now" or '
                             '"next_slot") unless draft is true')
        if self.run_at == "next_slot" and self.draft:
            raise ValueError('a draft holds no queue slot; leave out run_at "next_slot" or '
                             "draft")
        return self

    @property
    def targets(self) -> list[str]:
        ids = self.account_ids if self.account_ids is not None else [self.account_id or ""]
        return list(dict.fromkeys(ids))


def fold_comment(comment: str | None, options: dict[str, Any]) -> dict[str, Any]:
    """`first_comment` kept where publishers read it, options.first_comment; both given
    must agree."""
    if comment is None:
        return options
    kept = options.get("first_comment")
    if kept is not None and kept != comment:
        raise ValueError("first_comment and options.first_comment differ; give one")
    if not comment.strip():
        return {k: v for k, v in options.items() if k != "first_comment"}
    return {**options, "first_comment": comment}


class PostPatch(Strict):
    caption: str | None = Field(default=None, max_length=100_000)
    media: list[MediaIn] | None = Field(default=None, max_length=20)
    options: dict[str, Any] | None = None
    #: The first comment's new text; "" removes it.
    first_comment: str | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _comment(self) -> PostPatch:
        if self.first_comment is not None and self.options is not None:
            fold_comment(self.first_comment, self.options)  # both given: they must agree
        return self
    run_at: datetime | Literal["now"] | None = None

    @field_validator("run_at", mode="before")
    @classmethod
    def _run_at(cls, value: Any) -> Any:
        return None if value is None else parse_run_at(value)
    _options = field_validator("options")(
        PostCreate._options.__func__  # type: ignore[attr-defined]
    )


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    worker_id: str
    started_at: datetime
    finished_at: datetime | None
    phase: str
    outcome: str
    platform_ids: dict[str, Any]
    error_code: str | None
    error_message: str | None


class FirstCommentOut(BaseModel):
    """A post's first comment: its text, where it stands and why (**contract**)."""

    text: str
    #: pending (the post is not out yet), published, failed, retrying.
    status: str
    comment_id: str | None = None
    error: str | None = None


class PostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    group_id: str
    account_id: str
    platform: str
    post_type: str
    caption: str
    media: list[dict[str, Any]]
    options: dict[str, Any]
    status: str
    run_at: datetime | None = Field(validation_alias="scheduled_at")
    external_post_id: str | None
    permalink: str | None
    error_message: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    #: Set when a cancel arrived while the post was being published.
    cancel_requested_at: datetime | None = None
    #: How it was scheduled: null (a time given), "queue" (a slot of the account's
    #: schedule), "series" (an occurrence of a recurring series), "evergreen" (a refill).
    origin: str | None = None
    #: The slot of the account's schedule it holds (queued and evergreen posts).
    queue_slot: datetime | None = None
    series_id: str | None = None
    #: An occurrence edited on its own: its series' edits no longer reach it.
    detached: bool = False
    #: Who wrote it: "web:<email>", "token:<prefix>", "cli".
    created_by: str | None = None
    #: One more at every edit; an approval may name the revision it saw.
    revision: int = 0
    approved_by: str | None = None
    approved_at: datetime | None = None
    #: Why it was rejected, or that its time passed while it waited for approval.
    review_note: str | None = None
    #: While awaiting approval, the step it waits at: "internal" or "client".
    approval_step: str | None = None
    #: Its first comment's text (options.first_comment), posted right after it.
    first_comment: str | None = None

    @model_validator(mode="after")
    def _step_while_awaiting(self) -> PostOut:
        # Stored only once a step is passed: a post waiting at none yet waits internally.
        waiting = self.status == "awaiting_approval"
        self.approval_step = (self.approval_step or "internal") if waiting else None
        return self

    @model_validator(mode="after")
    def _first_comment_text(self) -> PostOut:
        value = self.options.get("first_comment")
        self.first_comment = value if isinstance(value, str) else None
        return self


class CommentOut(BaseModel):
    """A comment in a post's thread."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    post_id: str
    #: The author's name (a member's name or e-mail, a token's prefix, a client's name).
    author: str = Field(validation_alias="author_name")
    #: Who, as the audit log names them: web:<email>, token:<prefix>, cli, review:<link>.
    actor: str
    user_id: str | None = None
    #: Set when a client wrote it through a review link.
    review_link_id: str | None = None
    body: str
    #: The members it mentions (user ids).
    mentions: list[str] = Field(default_factory=list)
    created_at: datetime


class CommentIn(Strict):
    body: str = Field(min_length=1, max_length=5000)


class PostDetail(PostOut):
    next_attempt_at: datetime | None = None
    #: Set while the post is pending and its platform (or account) is held as down: why
    #: it waits, since when, and what Herald does meanwhile.
    waiting_for_platform: str | None = None
    #: Every account the create named (the post's group), so a script can compare.
    account_ids: list[str] = Field(default_factory=list)
    #: The post_type the create was given (Instagram's feed_story is stored as two posts).
    requested_post_type: str | None = None
    attempt_log: list[AttemptOut] = Field(default_factory=list)
    #: Where its first comment stands (null: it has none).
    first_comment_state: FirstCommentOut | None = None


class PostPage(BaseModel):
    items: list[PostOut]
    next_cursor: str | None


class CompanyCreated(BaseModel):
    company_id: str
    api_token: str
