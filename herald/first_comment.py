"""The first comment: a second journaled step, run right after a post is out.

The post's commit is settled before this step starts, so nothing here can un-publish it:
a comment that fails leaves the post `published` with `first_comment_error` in its
journal, and a retry of the comment alone (herald.services.comments) runs this step again.

Exactly once: "commenting" goes to the journal durably before the one call that comments;
an attempt that finds an earlier "commenting" on record asks the platform first
(`Commenter.find_comment`, which lists the post's comments and matches ours) and posts
only when ours is provably not there. The step reads its state from the journal's ids:

* `first_comment_at`: an attempt reached the call (it may have gone out);
* `first_comment_id`: the comment is out, under this id;
* `first_comment_error`: the last attempt failed, and why.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from herald.models import utcnow
from herald.platforms.base import (
    Commenter,
    OutcomeUnknownError,
    PublishError,
    PublishJob,
    PublishResult,
)
from herald.statuses import Phase

log = logging.getLogger(__name__)

TRIED, DONE, ERROR = "first_comment_at", "first_comment_id", "first_comment_error"
#: What the API says of a post's first comment (**contract**).
PENDING, PUBLISHED, FAILED, RETRYING = "pending", "published", "failed", "retrying"

Record = Callable[[Phase, dict[str, Any]], Awaitable[None]]


def text_of(options: Mapping[str, Any] | None) -> str | None:
    """The post's first comment (kept in options.first_comment), or None."""
    value = (options or {}).get("first_comment")
    return value if isinstance(value, str) and value.strip() else None


@dataclass(frozen=True)
class CommentState:
    """A post's first comment as people see it: its text, where it stands, and why."""

    text: str
    status: str
    comment_id: str | None = None
    error: str | None = None


def state_of(options: Mapping[str, Any] | None, journal: Iterable[Mapping[str, Any] | None],
             *, retrying: bool = False) -> CommentState | None:
    """Where the first comment stands, from the attempts' ids (oldest first)."""
    text = text_of(options)
    if text is None:
        return None
    ids: dict[str, Any] = {}
    for entry in journal:
        ids.update(entry or {})
    if ids.get(DONE):
        return CommentState(text, PUBLISHED, comment_id=str(ids[DONE]))
    if retrying:
        return CommentState(text, RETRYING, error=ids.get(ERROR))
    if ids.get(ERROR):
        return CommentState(text, FAILED, error=str(ids[ERROR]))
    return CommentState(text, PENDING)


def needs_comment(job: PublishJob) -> str | None:
    """The text still to comment on this job's post; None when there is none or it is out."""
    text = text_of(job.options)
    if text is None or job.history.ids.get(DONE):
        return None
    return text


async def run(publisher: object, job: PublishJob, post: PublishResult, text: str, *,
              record: Record, now: Callable[[], datetime] = utcnow) -> dict[str, Any]:
    """Comment `text` under the published `post`; the ids the journal keeps of it."""
    if not isinstance(publisher, Commenter):
        return {ERROR: f"Herald cannot post first comments on {job.platform}."}
    tried_before = bool(job.history.ids.get(TRIED))
    if job.history.final_check:
        return await _last_look(publisher, job, post, text)
    try:
        # On record before the call: a crash from here on is settled by looking.
        await record(Phase.COMMENTING, {"external_id": post.external_id,
                                        "permalink": post.permalink,
                                        TRIED: now().isoformat()})
    except PublishError as exc:
        return {ERROR: f"The first comment was not sent: {exc.message}"}
    try:
        if tried_before:
            found = await publisher.find_comment(job, post, text)
            if found is not None:
                return {DONE: found}
        return {DONE: await publisher.comment(job, post, text)}
    except OutcomeUnknownError as exc:
        return await _look(publisher, job, post, text, exc)
    except PublishError as exc:
        log.warning("post %s: the first comment failed: %s", job.post_id, exc.message)
        return {ERROR: exc.message}
    except Exception as exc:  # a bug of ours: the post stays published whatever happens
        log.exception("post %s: the first comment failed unexpectedly", job.post_id)
        return {ERROR: f"Herald failed while commenting ({type(exc).__name__}); retry the "
                       "comment."}


async def _last_look(publisher: Commenter, job: PublishJob, post: PublishResult,
                     text: str) -> dict[str, Any]:
    """Its workers kept stopping: this attempt only looks, it never comments."""
    try:
        found = await publisher.find_comment(job, post, text)
    except PublishError as exc:
        found, why = None, f" ({exc.message})"
    else:
        why = ""
    if found is not None:
        return {DONE: found}
    return {ERROR: f"The workers posting this comment kept stopping, and it is not on the "
                   f"post{why}; check the workers' logs, then retry the comment."}


async def _look(publisher: Commenter, job: PublishJob, post: PublishResult, text: str,
                exc: OutcomeUnknownError) -> dict[str, Any]:
    """The comment call's answer was lost: is ours there? If nobody can tell, say so; a
    retry looks again before it comments."""
    try:
        found = await publisher.find_comment(job, post, text)
    except PublishError:
        found = None
    if found is not None:
        return {DONE: found}
    return {ERROR: f"{exc.message} Retrying the comment checks for it first, so it cannot "
                   "appear twice."}
