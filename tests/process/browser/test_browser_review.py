"""Issue #16's "Done when", in Chromium: a contributor drafts a post for two accounts, the
editor approves it, a client opens the review link on a phone-sized window, comments and
approves, the posts are published on time, and the audit log shows each step with who
did it. The compose page's live preview is checked on the way."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from herald import services
from herald.models import Post, utcnow
from herald.permissions import Role
from herald.schemas import AccountCreate
from tests.process.browser.test_browser import (  # noqa: F401 (fixtures)
    DESKTOP,
    PHONE,
    browser,
    live,
    shot,
    sign_in,
)
from tests.process.browser.test_browser_approvals import _member

#: Seconds from the editor's approval to the posts' time: the client's part fits in it.
LEAD = 45


@pytest.fixture
def tabs(live: Any, browser: Any) -> Iterator[Any]:  # noqa: F811 (the fixtures)
    contexts: list[Any] = []
    errors: list[str] = []

    def new_tab(viewport: dict[str, int] = DESKTOP) -> Any:
        context = browser.new_context(viewport=viewport, base_url=live.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        tab = context.new_page()
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        return tab

    yield new_tab
    for context in contexts:
        context.close()
    # A script error or a refused CSP rule (an inline style, say) shows here.
    assert not [e for e in errors if "status of 4" not in e], errors


def _setup(herald: Any, company_id: str) -> None:
    ctx = herald.context(company_id, actor="cli")
    with herald.unit_of_work() as session:
        services.update_company_settings(session, ctx, requires_approval=True,
                                         approval_steps=["internal", "client"])
        for platform, name in (("facebook", "Acme Facebook"), ("linkedin", "Acme LinkedIn")):
            services.create_account(session, ctx, AccountCreate(
                platform=platform, name=name, sandbox=True))


def _compose(tab: Any) -> None:
    tab.goto("/compose")
    tab.get_by_role("checkbox", name=re.compile("Acme Facebook")).check()
    tab.get_by_role("checkbox", name=re.compile("Acme LinkedIn")).check()
    tab.get_by_label("Post type").select_option("text")
    tab.get_by_label("Caption", exact=True).fill(
        "Our new opening hours, from Monday. #hours https://example.com/hours")
    # Redrawn as one types: one preview per account, the hashtag marked in each.
    tags = tab.locator("#previews .pv-hashtag", has_text="#hours")
    tags.nth(1).wait_for()
    assert tags.count() == 2 and tab.locator("#previews article.pv").count() == 2
    shot(tab, "compose-preview", full=True)
    tab.get_by_role("button", name="Send for approval").click()
    tab.get_by_text("Sent 2 posts for approval").wait_for()


def _link(lead: Any) -> str:
    """The editor makes a review link for the post and the one composed with it."""
    lead.goto("/posts")
    lead.locator("table.posts a[href^='/posts/']").first.click()
    lead.locator("#link-scope").select_option("group")
    lead.get_by_role("button", name="Make a review link").click()
    message = lead.get_by_text("Review link made").inner_text()
    found = re.search(r"/review/[\w-]+", message)
    assert found, message
    return found.group(0)


def _client(client: Any, path: str) -> None:
    client.goto(path)
    assert client.locator("section.review-post").count() == 2
    assert client.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(client, "review-phone", full=True)
    first = client.locator("section.review-post").first
    first.locator("form[action$='/comment']").get_by_label("Your name").fill("Clara Client")
    assert first.locator("form[action$='/reject']").get_by_label("Your name").input_value() \
        == "Clara Client"
    first.get_by_label("Add a comment").fill("Lovely. Can we add the Sunday hours next week?")
    first.get_by_role("button", name="Comment").click()
    client.get_by_text("Comment added").wait_for()
    for index in range(2):
        section = client.locator("section.review-post").nth(index)
        approve = section.locator("form[action$='/approve']")
        # Typed once (review.js fills every form), and kept after each form is sent.
        assert approve.get_by_label("Your name").input_value() == "Clara Client"
        approve.get_by_role("button", name="Approve").click()
        client.get_by_text("Approved: thank you.").wait_for()
    assert client.get_by_text("Lovely. Can we add the Sunday hours").is_visible()


def test_contributor_drafts_editor_approves_client_comments_and_approves_by_link(
        live: Any, tabs: Any, company: tuple[str, str]) -> None:  # noqa: F811 (the fixture)
    herald = live.herald
    _setup(herald, company[0])
    contributor = _member(herald, company[0], "intern@example.com", Role.CONTRIBUTOR)
    editor = _member(herald, company[0], "lead@example.com", Role.EDITOR)

    intern = tabs()
    sign_in(intern, contributor)
    _compose(intern)

    lead = tabs()
    sign_in(lead, editor)
    lead.goto("/approvals")
    for _ in range(2):
        # The team's step: each post then waits for the client (and says so).
        waiting = lead.locator(".approvals li").filter(has_not_text="waits for the client")
        waiting.first.get_by_role("button", name=re.compile("^Approve")).click()
        lead.wait_for_url(re.compile(r"/approvals$"))
    assert lead.locator(".approvals .tag", has_text="waits for the client").count() == 2
    # The form's times are whole minutes ahead; bring them close, so that the test need
    # not wait for "on time" (the client's step still comes before it).
    due = utcnow() + timedelta(seconds=LEAD)
    with herald.unit_of_work() as session:
        session.execute(update(Post).where(Post.company_id == company[0])
                        .values(scheduled_at=due))
    path = _link(lead)

    _client(tabs(PHONE), path)

    ctx = herald.context(company[0], actor="cli")
    deadline = time.monotonic() + LEAD + 60
    while True:
        with herald.db.session() as session:
            posts, _ = services.list_posts(session, ctx, services.PostFilters())
        if all(p.status == "published" for p in posts):
            break
        assert time.monotonic() < deadline, [(p.status, p.error_message) for p in posts]
        time.sleep(0.5)
    assert len(posts) == 2
    assert all(p.published_at is not None and p.published_at >= due for p in posts)

    lead.goto("/audit")
    table = lead.locator("table.audit").inner_text()
    link_actor = re.compile(r"review link [\w-]+ \(Clara Client\)")
    assert table.count("post.submitted") == 2 and "web:intern@example.com" in table
    assert table.count("post.approved") == 4  # two by the editor, two by the client
    assert table.count("web:lead@example.com") >= 3  # two approvals and the link
    assert "review_link.created" in table and "review_link.opened" in table
    assert "thread.commented" in table
    # The actor of a comment and two approvals (approved_by in their "after" says it too).
    assert len(link_actor.findall(table)) >= 3
    shot(lead, "audit-review", full=True)
