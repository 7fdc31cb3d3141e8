"""What every platform client shares: the publish job, the result, the error hierarchy.

The worker only ever sees these types. Each platform maps its own error JSON to this
hierarchy in exactly one place (herald/platforms/<name>/errors.py, which for a Graph API
platform builds on graph/errors.py), and transport failures are mapped once for all
(http.transport_error), so the retry decision lives in the queue, not in the clients.

Error hierarchy:

* PublishError                 publishing failed (kind "error")
  + TransientError             a passing problem; the same post may be sent again later
  |  + RateLimitedError        throttled: back the account off, not just the post
  |  + NeedsNewContainer       (Graph) the media container is spoiled; build a fresh one
  |  + ContainerNotReady       (Graph) the container is still processing; poll again
  + PermanentError             refused; sending it again will not help
  |  + NeedsReauthError        the token is no longer valid; reconnect the account
  + OutcomeUnknownError        the publishing call may or may not have been accepted

"Maybe sent" rules — which errors mean the post may be out:

* Only OutcomeUnknownError does. The queue never sends such a post again on its own: it
  reconciles (asks the platform whether the post is there) or marks it unconfirmed.
* It belongs to the commit step, the one non-idempotent call: a commit whose connection
  failed after the request may have left (read/write timeouts, a dropped connection), a
  platform "server" error answered to it, a 2xx answer we cannot read or that names no
  post; and reconciliation raises it when it cannot settle the question.
* A connect-phase failure (ConnectError, ConnectTimeout, PoolTimeout) never left this
  machine: it is a TransientError even on the commit.
* Errors of prepare and read steps (uploads, containers, polls) are never "maybe sent":
  those calls are idempotent or publish nothing.
* TransientError and PermanentError on a commit mean the platform answered that it did
  not publish; the queue may retry (transient) or give up (permanent).

A result or an error may also carry an AccountPause, the platform's advice to keep the
account away for a while (the Graph toolkit gives one when Meta's usage headers near the
budget); publishing backs the account off for that long, whatever the outcome.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from herald.statuses import AttemptOutcome, Phase


class PublishError(Exception):
    """Publishing failed."""

    #: Short machine-readable kind, stored in the journal and shown by the API.
    kind = "error"
    #: Set by the client when the platform advises keeping the account away a while.
    pause: AccountPause | None = None

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 unreachable: bool = False) -> None:
        self.message = message or (self.__doc__ or "Publishing failed.").strip()
        self.code = code
        #: The platform could not be reached (a network failure, a timeout, a 5xx): what
        #: the queue counts towards a platform being down, not a refusal of this post.
        self.unreachable = unreachable
        super().__init__(self.message)


class TransientError(PublishError):
    """The platform had a passing problem; the same post may be sent again later."""

    kind = "transient"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        retry_after: float | None = None,
        unreachable: bool = False,
    ) -> None:
        super().__init__(message, code=code, unreachable=unreachable)
        self.retry_after = retry_after


class RateLimitedError(TransientError):
    """The platform throttled this account; back the account off, not just the post."""

    kind = "rate_limited"


class PermanentError(PublishError):
    """The platform refused the post; sending it again will not help."""

    kind = "permanent"


class NeedsReauthError(PermanentError):
    """The account's token is no longer valid; the account must be reconnected."""

    kind = "needs_reauth"


class OutcomeUnknownError(PublishError):
    """The publishing call may or may not have been accepted (timeout or crash mid-commit)."""

    kind = "outcome_unknown"


@dataclass(frozen=True)
class AccountPause:
    """Keep the account away from its platform for `seconds`, every worker; `reason` says
    why in the log ("usage at 95%")."""

    seconds: float
    reason: str


@dataclass(frozen=True)
class MediaItem:
    """One piece of media of a post, by public URL."""

    url: str
    type: str  # "image" | "video" | "document"
    alt_text: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaItem:
        return cls(url=str(data["url"]), type=str(data.get("type", "image")),
                   alt_text=data.get("alt_text"))


@dataclass(frozen=True)
class AccountRef:
    """The account a post goes to, with its decrypted token (never logged)."""

    id: str
    platform: str
    external_id: str
    name: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    token_expires_at: datetime | None = None
    #: A sandbox account publishes to Herald's built-in platform fake, never the real API.
    sandbox: bool = False
    #: The account's own server (a Bluesky PDS), for platforms whose accounts choose one.
    server_url: str | None = None


#: Records one phase of an attempt with the platform ids it obtained (see Journal).
JournalFn = Callable[[Phase, dict[str, Any]], Awaitable[None]]


async def _no_journal(phase: Phase, ids: dict[str, Any]) -> None:
    return None


class Journal:
    """What a client calls as it goes through the phases of one attempt.

    Only `committing` is written durably, before the commit call (herald.publishing);
    the ids of the other phases ride along with it or with the outcome.
    """

    def __init__(self, record: JournalFn = _no_journal) -> None:
        self._record = record

    async def prepared(self, **ids: Any) -> None:
        """Idempotent steps done: these ids (uploads, containers) may be reused."""
        await self._record(Phase.PREPARED, ids)

    async def committing(self, *, at: datetime, **ids: Any) -> None:
        """About to make the one non-idempotent call, at `at`; on record before it."""
        await self._record(Phase.COMMITTING, {**ids, "committing_at": at.isoformat()})

    async def committed(self, external_id: str, **ids: Any) -> None:
        """The platform has the post under `external_id`."""
        await self._record(Phase.COMMITTED, {"external_id": external_id, **ids})


def _no_ids() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class History:
    """What earlier attempts at a post left in the journal (herald.queue.journal reads it)."""

    #: Platform ids obtained so far, oldest to newest: container_id, children, photo_ids,
    #: media_urns, endpoint, external_id… (read-only). `committing_at`, which the journal
    #: stores among them, is read out into `committing_at` below, not kept here.
    ids: Mapping[str, Any] = field(default_factory=_no_ids)
    #: An earlier attempt reached its commit and no attempt since learned its result.
    unsettled_commit: bool = False
    #: The last attempt that reached its commit lost its worker before the call was
    #: answered: the call may still be on the wire.
    commit_cut_off: bool = False
    #: When the last attempt that reached its commit began it.
    committing_at: datetime | None = None
    #: Its workers stopped MAX_RESCUES times: this attempt only checks, never sends.
    final_check: bool = False
    #: The post is out (an attempt published it, or stopped while commenting on it): an
    #: attempt now only posts its first comment (herald.first_comment).
    post_out: bool = False
    last_phase: Phase | None = None
    last_outcome: AttemptOutcome | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.ids, MappingProxyType):
            object.__setattr__(self, "ids", MappingProxyType(dict(self.ids)))


@dataclass(frozen=True)
class PublishJob:
    """Everything a publisher needs for one attempt at one post."""

    post_id: str
    attempt: int
    platform: str
    post_type: str
    caption: str
    media: tuple[MediaItem, ...]
    account: AccountRef
    run_at: datetime
    options: dict[str, Any] = field(default_factory=dict)
    #: What earlier attempts recorded (e.g. an Instagram container to reuse).
    history: History = field(default_factory=History)
    journal: Journal = field(default_factory=Journal)


@dataclass(frozen=True)
class PublishResult:
    """What the platform gave back for a published post."""

    external_id: str
    permalink: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: The platform advises keeping the account away a while (not stored in the journal).
    pause: AccountPause | None = None


class Publisher(Protocol):
    """Publishes posts of one platform."""

    platform: str

    async def publish(self, job: PublishJob) -> PublishResult: ...


@runtime_checkable
class Reconciler(Protocol):
    """A publisher that can tell whether an earlier, unfinished commit went out."""

    async def reconcile(self, job: PublishJob) -> PublishResult | None:
        """The result if the post is out, None if it provably is not.

        Raises OutcomeUnknownError when it cannot be settled.
        """
        ...


@runtime_checkable
class Commenter(Protocol):
    """A publisher that posts a first comment under a published post (the spec's
    `first_comments`): herald.first_comment runs it as a second journaled step.

    `post` is the published post: its external id, permalink and the ids the journal
    holds for it (`extra`, e.g. Bluesky's cid).
    """

    async def comment(self, job: PublishJob, post: PublishResult, text: str) -> str:
        """Post `text` as the first comment; the comment's id. The one call that comments."""
        ...

    async def find_comment(self, job: PublishJob, post: PublishResult,
                           text: str) -> str | None:
        """The id of our comment if the post already carries it, None if provably not.

        Raises OutcomeUnknownError when the platform cannot be asked.
        """
        ...


class PublisherRegistry:
    """Publishers keyed by platform name."""

    def __init__(self, publishers: dict[str, Publisher] | None = None) -> None:
        self._publishers: dict[str, Publisher] = dict(publishers or {})

    def register(self, publisher: Publisher) -> None:
        self._publishers[publisher.platform] = publisher

    def get(self, platform: str) -> Publisher:
        try:
            return self._publishers[platform]
        except KeyError:
            raise PermanentError(
                f"No publisher is configured for platform {platform!r}.", code="no_publisher"
            ) from None

    def __contains__(self, platform: object) -> bool:
        return platform in self._publishers
