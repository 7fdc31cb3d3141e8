"""The first comment's step (herald.first_comment) against a publisher that records its calls."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from herald import first_comment
from herald.platforms.base import (
    AccountRef,
    History,
    OutcomeUnknownError,
    PermanentError,
    PublishJob,
    PublishResult,
    TransientError,
)
from herald.statuses import Phase

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
POST = PublishResult("E1", "https://example.test/E1")


class Commenting:
    def __init__(self, *, there: str | None = None, fail: Exception | None = None) -> None:
        self.there, self.fail = there, fail
        self.calls: list[str] = []

    async def comment(self, job: PublishJob, post: PublishResult, text: str) -> str:
        self.calls.append("comment")
        if self.fail is not None:
            raise self.fail
        return "C1"

    async def find_comment(self, job: PublishJob, post: PublishResult,
                           text: str) -> str | None:
        self.calls.append("find")
        return self.there


def job(history: History | None = None) -> PublishJob:
    account = AccountRef(id="a", platform="facebook", external_id="1001", name="Page",
                         access_token="t")
    return PublishJob(post_id="p", attempt=2, platform="facebook", post_type="text",
                      caption="Hi", media=(), account=account, run_at=NOW,
                      options={"first_comment": "More below"}, history=history or History())


async def run(publisher: Any, history: History | None = None,
              record_error: Exception | None = None) -> tuple[dict[str, Any], list[Any]]:
    recorded: list[Any] = []

    async def record(phase: Phase, ids: dict[str, Any]) -> None:
        if record_error is not None:
            raise record_error
        recorded.append((phase, sorted(ids)))

    ids = await first_comment.run(publisher, job(history), POST, "More below", record=record,
                             now=lambda: NOW)
    return ids, recorded


async def test_commenting_is_on_record_before_the_call():
    publisher = Commenting()
    ids, recorded = await run(publisher)
    assert ids == {"first_comment_id": "C1"}
    assert recorded == [(Phase.COMMENTING, ["external_id", "first_comment_at", "permalink"])]
    assert publisher.calls == ["comment"]  # a first try does not look


async def test_a_try_after_an_earlier_one_looks_first_and_never_comments_twice():
    publisher = Commenting(there="C0")
    ids, _ = await run(publisher, History(ids={"first_comment_at": "t"}))
    assert ids == {"first_comment_id": "C0"} and publisher.calls == ["find"]


async def test_a_lost_answer_is_settled_by_looking():
    found = Commenting(there="C9", fail=OutcomeUnknownError("Timed out."))
    assert (await run(found))[0] == {"first_comment_id": "C9"}
    missing = Commenting(fail=OutcomeUnknownError("Timed out."))
    ids, _ = await run(missing)
    assert ids["first_comment_error"].startswith("Timed out. Retrying the comment checks")
    assert missing.calls == ["comment", "find"]


async def test_a_refusal_is_the_comments_error_and_nothing_is_raised():
    ids, _ = await run(Commenting(fail=PermanentError("Facebook refused the comment.")))
    assert ids == {"first_comment_error": "Facebook refused the comment."}
    ids, _ = await run(Commenting(fail=RuntimeError("bug")))
    assert ids == {"first_comment_error": "Herald failed while commenting (RuntimeError); "
                                          "retry the comment."}


async def test_nothing_is_sent_when_commenting_could_not_be_put_on_record():
    publisher = Commenting()
    ids, _ = await run(publisher, record_error=TransientError("The database was away."))
    assert ids == {"first_comment_error": "The first comment was not sent: The database "
                                          "was away."}
    assert publisher.calls == []


@pytest.mark.parametrize(("there", "said"), [("C5", None), (None, "kept stopping")])
async def test_a_final_check_only_looks(there, said):
    publisher = Commenting(there=there)
    ids, recorded = await run(publisher, History(final_check=True))
    assert publisher.calls == ["find"] and recorded == []
    if said is None:
        assert ids == {"first_comment_id": "C5"}
    else:
        assert said in ids["first_comment_error"]


async def test_a_publisher_without_comments_says_so():
    ids, _ = await run(object())
    assert ids == {"first_comment_error": "Herald cannot post first comments on facebook."}


def test_the_state_people_see():
    options = {"first_comment": "More below"}
    assert first_comment.state_of({}, []) is None
    assert first_comment.state_of(options, [None, {}]).status == "pending"
    failed = first_comment.state_of(options, [{"first_comment_error": "no"}])
    assert (failed.status, failed.error) == ("failed", "no")
    assert first_comment.state_of(options, [{"first_comment_error": "no"}],
                             retrying=True).status == "retrying"
    done = first_comment.state_of(options, [{"first_comment_error": "no"},
                                       {"first_comment_id": "C1"}])
    assert (done.status, done.comment_id) == ("published", "C1")
