"""The posts list, the post page, and editing, moving, cancelling and retrying a post."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta

import pytest

from herald import services
from herald.app import build_worker
from herald.models import Post, utcnow
from herald.platforms.base import OutcomeUnknownError, PermanentError
from herald.schemas import PostCreate
from tests.helpers import RecordingPublisher, add_account, add_posts


def publish_due(herald, *ids: str, until: str | None = None) -> None:
    """Run a worker until nothing is due (and, given `until`, the posts reach it)."""
    for _ in range(50):
        asyncio.run(build_worker(herald, worker_id="web-test").run(until_idle=True))
        if until is None or all(_post(herald, i).status == until for i in ids):
            return
        time.sleep(0.1)  # a retry is due in a moment (test backoff is 50 ms)
    raise AssertionError(f"posts never became {until}")


def _post(herald, post_id) -> Post:
    with herald.db.session() as session:
        return session.get(Post, post_id)


def _later(hours=24):
    return utcnow() + timedelta(hours=hours)


@pytest.mark.all_engines
def test_the_list_filters_searches_and_pages(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    li = add_account(herald, company[0], "linkedin", "urn:li:person:1")
    add_posts(herald, company[0], fb, 30, run_at=_later(), caption="Plain news")
    add_posts(herald, company[0], li, 2, run_at=_later(48), caption="Café 100% open")
    page = signed_in.get("/posts")
    assert page.status_code == 200
    assert page.text.count('<tr id="post-') == 25
    next_url = re.search(r'href="(/posts\?cursor=[^"]+)" rel="next"', page.text).group(1)
    second = signed_in.get(next_url.replace("&amp;", "&"))
    assert second.text.count('<tr id="post-') == 7
    assert "First page" in second.text and 'rel="next"' not in second.text

    found = signed_in.get("/posts", params={"q": "100%"})
    assert found.text.count('<tr id="post-') == 2  # % is a character here, not a wildcard
    assert signed_in.get("/posts", params={"platform": "linkedin"}).text.count("<tr id=") == 2
    assert signed_in.get("/posts", params={"account": fb}).text.count("<tr id=") == 25
    assert signed_in.get("/posts", params={"status": "failed"}).text.count("<tr id=") == 0
    assert "No post matches these filters." in signed_in.get(
        "/posts", params={"status": "failed"}).text
    day = _later(48).date().isoformat()
    ranged = signed_in.get("/posts", params={"from": day, "to": day})
    assert ranged.text.count("<tr id=") == 2


def test_bad_filters_say_what_is_wrong_and_keep_the_values(signed_in):
    response = signed_in.get("/posts", params={"from": "someday", "q": "kept"})
    assert response.status_code == 422
    assert "“From” &#39;someday&#39; is not a date" in response.text
    assert 'value="kept"' in response.text
    response = signed_in.get("/posts", params={"cursor": "garbage!"})
    assert "The cursor is not valid" in response.text


def test_the_post_page_shows_attempts_and_the_permalink(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    [pid] = add_posts(herald, company[0], fb, caption="Out it goes")
    publish_due(herald)
    page = signed_in.get(f"/posts/{pid}")
    assert page.status_code == 200
    assert "Published" in page.text
    assert f'href="https://example.test/{pid}"' in page.text  # the permalink
    assert "Attempt 1" in page.text and "web-test" in page.text
    assert "Edit or move" not in page.text  # published posts are not editable


def test_failed_and_unconfirmed_posts_say_why_and_can_be_retried(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    failed, unsure = add_posts(herald, company[0], fb, 2)
    herald.registry.get("facebook").fail(failed, PermanentError("The image is too large."))
    herald.registry.get("facebook").fail(unsure, OutcomeUnknownError("Timed out."))
    publish_due(herald, failed, until="failed")
    publish_due(herald, unsure, until="unconfirmed")
    page = signed_in.get(f"/posts/{failed}")
    assert "The image is too large." in page.text
    response = signed_in.post(f"/posts/{failed}/retry")
    assert response.status_code == 303
    assert _post(herald, failed).status == "pending"
    assert "Back in the queue." in signed_in.get(f"/posts/{failed}").text

    assert "cannot tell whether" in signed_in.get(f"/posts/{unsure}").text
    signed_in.post(f"/posts/{unsure}/retry")  # without "it is not there"
    assert _post(herald, unsure).status == "unconfirmed"
    assert "Look for it on Facebook first" in signed_in.get(f"/posts/{unsure}").text
    signed_in.post(f"/posts/{unsure}/retry", data={"force": "yes"})
    assert _post(herald, unsure).status == "pending"


def test_the_dashboard_shows_what_needs_a_person(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    [failed] = add_posts(herald, company[0], fb, caption="Broken one")
    add_posts(herald, company[0], fb, caption="Next one", run_at=_later())
    herald.registry.get("facebook").fail(failed, PermanentError("Nope."))
    publish_due(herald)
    page = signed_in.get("/").text
    attention = page[page.index("Needs a person"):page.index("Going out next")]
    assert "Broken one" in attention and "Nope." in attention
    assert "Next one" in page[page.index("Going out next"):]


def test_editing_a_pending_post_changes_caption_and_time(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    [pid] = add_posts(herald, company[0], fb, run_at=_later(), caption="Old")
    new = _later(72).replace(second=0, microsecond=0)
    response = signed_in.post(f"/posts/{pid}/edit", data={
        "caption": "New\r\ntext", "date": new.date().isoformat(),
        "time": new.strftime("%H:%M")})
    assert response.status_code == 303, response.text
    post = _post(herald, pid)
    assert (post.caption, post.scheduled_at) == ("New\ntext", new)
    assert "Saved." in signed_in.get(f"/posts/{pid}").text


def test_a_bad_edit_says_why_and_keeps_what_was_typed(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    [pid] = add_posts(herald, company[0], fb, run_at=_later(), caption="Old")
    response = signed_in.post(f"/posts/{pid}/edit", data={
        "caption": "x" * 63_207, "date": "2020-01-01", "time": "10:00"})
    assert response.status_code == 422
    assert "has passed" in response.text
    assert 'value="2020-01-01"' in response.text
    response = signed_in.post(f"/posts/{pid}/edit", data={
        "caption": "x" * 63_207, "date": _later().date().isoformat(), "time": "10:00"})
    assert response.status_code == 422
    assert "Facebook post messages are limited to 63,206 characters" in response.text
    assert "x" * 63_207 + "</textarea>" in response.text
    assert _post(herald, pid).caption == "Old"


@pytest.mark.all_engines  # PostgreSQL refuses NUL in text: refused before it gets there
def test_an_edit_with_a_nul_says_why_and_keeps_the_post(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    [pid] = add_posts(herald, company[0], fb, run_at=_later(), caption="Old")
    when = _later(72)
    response = signed_in.post(f"/posts/{pid}/edit", data={
        "caption": "New\x00text", "date": when.date().isoformat(),
        "time": when.strftime("%H:%M")})
    assert response.status_code == 422
    assert "NUL character" in response.text
    assert _post(herald, pid).caption == "Old"


def test_a_draft_is_scheduled_from_its_page(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    with herald.db.session() as session:
        from herald.schemas import PostCreate

        [draft] = services.create_posts(session, herald.context(company[0]), PostCreate(
            account_id=fb, caption="Draft", draft=True))
    when = _later(5).replace(second=0, microsecond=0)
    response = signed_in.post(f"/posts/{draft.id}/edit", data={
        "caption": "Draft, final", "date": when.date().isoformat(),
        "time": when.strftime("%H:%M"), "action": "schedule"})
    assert response.status_code == 303, response.text
    post = _post(herald, draft.id)
    assert (post.status, post.caption, post.scheduled_at) == ("pending", "Draft, final", when)


def test_moving_a_post_to_another_day_keeps_its_time_of_day(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    start = _later(24).replace(hour=9, minute=15, second=0, microsecond=0)
    [pid] = add_posts(herald, company[0], fb, run_at=start)
    target = (start + timedelta(days=3)).date().isoformat()
    response = signed_in.client.post(f"/posts/{pid}/move", data={"date": target},
                                     headers={"X-CSRF-Token": signed_in.csrf})
    assert response.status_code == 200, response.text
    assert _post(herald, pid).scheduled_at == start + timedelta(days=3)
    response = signed_in.client.post(f"/posts/{pid}/move", data={"date": "2020-01-01"},
                                     headers={"X-CSRF-Token": signed_in.csrf})
    assert response.status_code == 422 and "has passed" in response.text


def test_cancel_from_the_list_with_htmx_swaps_the_row(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    [pid] = add_posts(herald, company[0], fb, run_at=_later())
    response = signed_in.client.post(f"/posts/{pid}/cancel", data={"next": "/posts"},
                                     headers={"HX-Request": "true",
                                              "X-CSRF-Token": signed_in.csrf})
    assert response.status_code == 200
    assert response.text.lstrip().startswith(f'<tr id="post-{pid}">')
    assert "Cancelled" in response.text
    assert _post(herald, pid).status == "cancelled"
    # Without htmx: back to where the form was, with a message.
    [other] = add_posts(herald, company[0], fb, run_at=_later())
    response = signed_in.post(f"/posts/{other}/cancel", data={"next": "/posts?status=pending"})
    assert response.headers["location"] == "/posts?status=pending"


def test_a_published_post_cannot_be_cancelled_and_says_why(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    [pid] = add_posts(herald, company[0], fb)
    publish_due(herald)
    response = signed_in.client.post(f"/posts/{pid}/cancel", headers={
        "HX-Request": "true", "X-CSRF-Token": signed_in.csrf})
    assert response.status_code == 409
    assert "already published" in response.text


def test_another_companys_post_is_not_found_everywhere(signed_in, herald):
    with herald.db.session() as session:
        other, _ = services.create_company(session, name="Other")
    theirs = add_account(herald, other.id, "facebook", "999")
    [pid] = add_posts(herald, other.id, theirs, run_at=_later(), caption="Secret plans")
    page = signed_in.get(f"/posts/{pid}")
    assert page.status_code == 404
    assert "Secret plans" not in page.text
    assert "belongs to another company" in page.text
    for action in ("cancel", "retry", "edit"):
        assert signed_in.post(f"/posts/{pid}/{action}").status_code == 404, action
    moved = signed_in.client.post(f"/posts/{pid}/move", data={"date": "2031-01-01"},
                                  headers={"X-CSRF-Token": signed_in.csrf})
    assert moved.status_code == 404
    assert _post(herald, pid).status == "pending"
    assert "Secret plans" not in signed_in.get("/posts").text
    assert signed_in.get("/posts/no-such-id").status_code == 404


def test_stored_links_that_are_not_web_addresses_are_not_links(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    [pid] = add_posts(herald, company[0], fb, run_at=_later())
    with herald.db.session() as session:  # as if a platform or an old client stored them
        post = session.get(Post, pid)
        post.permalink, post.options = "javascript:alert(1)", {"link": "javascript:alert(2)"}
    page = signed_in.get(f"/posts/{pid}").text
    assert "javascript:alert(1)" in page and 'href="javascript' not in page


def test_a_post_in_flight_counts_its_running_attempt_and_refreshes_itself(signed_in, herald,
                                                                           company):
    """After "Post now": not "Attempts 0" beside "Attempt 1 — running", and the page
    follows the post until it settles (issue 17, the first hour)."""
    from herald.models import PublishAttempt

    fb = add_account(herald, company[0], "facebook", "1001")
    [pid] = add_posts(herald, company[0], fb, caption="Now")
    due = signed_in.get(f"/posts/{pid}").text
    assert '<meta http-equiv="refresh" content="3">' in due  # due this very moment
    herald.queue().claim(worker_id="w1", limit=1, now=utcnow())  # journals attempt 1
    with herald.db.session() as session:
        assert session.get(Post, pid).attempts == 0  # counted when the attempt finishes
        assert session.query(PublishAttempt).filter_by(post_id=pid).count() == 1
    page = signed_in.get(f"/posts/{pid}").text
    assert re.search(r"<dt>Attempts</dt><dd>1</dd>", page), page
    assert "Attempt 1" in page and '<meta http-equiv="refresh" content="3">' in page
    assert "refreshes itself" in page
    later = add_posts(herald, company[0], fb, run_at=_later(), caption="Later")[0]
    assert 'http-equiv="refresh"' not in signed_in.get(f"/posts/{later}").text


def test_the_list_is_by_time_unless_asked_by_creation(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    late = add_posts(herald, company[0], fb, run_at=_later(48), caption="Late one")[0]
    soon = add_posts(herald, company[0], fb, run_at=_later(1), caption="Soon one")[0]
    by_time = signed_in.get("/posts").text
    assert by_time.index(f'id="post-{late}"') < by_time.index(f'id="post-{soon}"')
    by_creation = signed_in.get("/posts", params={"sort": "created"}).text
    assert by_creation.index(f'id="post-{soon}"') < by_creation.index(f'id="post-{late}"')
    assert '<option value="created" selected>' in by_creation


class _Commenting(RecordingPublisher):
    """A publisher that also posts first comments, once each."""

    def __init__(self, platform: str) -> None:
        super().__init__(platform)
        self.comments: list[str] = []

    async def comment(self, job, post, text: str) -> str:
        self.comments.append(text)
        return f"comment-{len(self.comments)}"

    async def find_comment(self, job, post, text: str) -> str | None:
        return None


def test_a_failed_first_comment_is_shown_and_retried_alone_from_the_post_page(
        signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    with herald.db.session() as session:
        [post] = services.create_posts(session, herald.context(company[0]), PostCreate(
            account_id=fb, caption="With a comment", run_at="now", post_type="text",
            first_comment="Link in the comments"))
        pid = post.id
    # The recording publisher takes no comments: the post goes out, its comment fails.
    publish_due(herald, pid, until="published")
    page = signed_in.get(f"/posts/{pid}")
    assert "Link in the comments" in page.text
    assert "The post is published; its first comment failed" in page.text
    assert f'action="/posts/{pid}/first-comment/retry"' in page.text
    commenting = _Commenting("facebook")
    herald.registry.register(commenting)
    response = signed_in.post(f"/posts/{pid}/first-comment/retry")
    assert response.status_code == 303
    assert _post(herald, pid).status == "published"
    assert "queued again; the post stays published" in signed_in.get(f"/posts/{pid}").text
    publish_due(herald)
    page = signed_in.get(f"/posts/{pid}")
    assert commenting.comments == ["Link in the comments"]
    assert commenting.calls == []  # the post itself was not sent again
    assert "comment-1" in page.text and "Retry the comment" not in page.text
    assert "reached <em>commented</em>" in page.text  # both steps on the timeline


def test_the_cli_shows_a_failed_first_comment_and_retries_it(herald, company, database_url):
    from typer.testing import CliRunner

    from herald.cli import app
    from tests.conftest import SECRET

    fb = add_account(herald, company[0], "facebook", "1001")
    with herald.db.session() as session:
        [post] = services.create_posts(session, herald.context(company[0]), PostCreate(
            account_id=fb, caption="With a comment", run_at="now", post_type="text",
            first_comment="Link in the comments"))
    publish_due(herald, post.id, until="published")
    env = {"HERALD_DATABASE_URL": database_url, "HERALD_SECRET_KEY": SECRET}
    shown = CliRunner().invoke(app, ["posts", "show", post.id, "--company", company[0]],
                               env=env)
    assert shown.exit_code == 0, shown.output
    assert ("first comment: failed 'Link in the comments' Herald cannot post first "
            "comments on facebook.") in shown.output
    again = CliRunner().invoke(app, ["posts", "retry-comment", post.id, "--company",
                                     company[0]], env=env)
    assert again.exit_code == 0, again.output
    assert "published: its first comment is queued again" in again.output
    twice = CliRunner().invoke(app, ["posts", "retry-comment", post.id, "--company",
                                     company[0]], env=env)
    assert twice.exit_code == 1 and "being worked on" in twice.output
