"""In Chromium: a contributor sends a post for two accounts for approval, an editor approves
it in the inbox, the worker publishes both on time, and the audit log shows each step."""

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
from herald.web import users
from tests.app.web.conftest import PASSWORD, Member
from tests.process.browser.test_browser import (  # noqa: F401 (fixtures)
    DESKTOP,
    browser,
    live,
    shot,
    sign_in,
)


def _member(herald: Any, company_id: str, email: str, role: Role) -> Member:
    with herald.db.session() as session:
        user = users.create_user(session, company_id=company_id, email=email,
                                 password=PASSWORD, role=role, timezone="Europe/Paris")
        return Member(user.id, company_id, user.email)


@pytest.fixture
def tabs(live: Any, browser: Any) -> Iterator[Any]:  # noqa: F811 (the fixtures)
    contexts: list[Any] = []

    def new_tab() -> Any:
        context = browser.new_context(viewport=DESKTOP, base_url=live.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield new_tab
    for context in contexts:
        context.close()


def test_contributor_sends_for_approval_editor_approves_published_and_audited(
        live: Any, tabs: Any, company: tuple[str, str]) -> None:  # noqa: F811 (the fixture)
    herald = live.herald
    ctx = herald.context(company[0], actor="cli")
    with herald.unit_of_work() as session:
        for platform, name in (("facebook", "Acme Facebook"), ("linkedin", "Acme LinkedIn")):
            account = services.create_account(session, ctx, AccountCreate(
                platform=platform, name=name, sandbox=True))
            services.update_account_settings(session, ctx, account.id,
                                             requires_approval=True)
    contributor = _member(herald, company[0], "intern@example.com", Role.CONTRIBUTOR)
    editor = _member(herald, company[0], "lead@example.com", Role.EDITOR)

    tab = tabs()
    sign_in(tab, contributor)
    tab.goto("/compose")
    assert tab.get_by_role("button", name="Post now").count() == 0
    tab.get_by_role("checkbox", name=re.compile("Acme Facebook")).check()
    tab.get_by_role("checkbox", name=re.compile("Acme LinkedIn")).check()
    tab.get_by_label("Post type").select_option("text")
    tab.get_by_label("Caption", exact=True).fill("Our new opening hours, from Monday.")
    tab.get_by_role("button", name="Send for approval").click()
    tab.get_by_text("Sent 2 posts for approval").wait_for()

    # The form's times are whole minutes ahead; bring them to a few seconds from now, so
    # the test need not wait a minute for "on time".
    due = utcnow() + timedelta(seconds=8)
    with herald.unit_of_work() as session:
        session.execute(update(Post).where(Post.company_id == company[0])
                        .values(scheduled_at=due))

    lead = tabs()
    sign_in(lead, editor)
    lead.goto("/approvals")
    assert lead.locator(".approvals li").count() == 2
    shot(lead, "approvals", full=True)
    for _ in range(2):
        lead.get_by_role("button", name=re.compile("^Approve")).first.click()
        lead.wait_for_url(re.compile(r"/approvals$"))
    assert lead.get_by_text("Nothing awaits approval.").is_visible()

    deadline = time.monotonic() + 60
    while True:
        with herald.db.session() as session:
            posts, _ = services.list_posts(session, ctx, services.PostFilters())
        if all(p.status == "published" for p in posts):
            break
        assert time.monotonic() < deadline, [(p.status, p.error_message) for p in posts]
        time.sleep(0.5)
    assert all(p.published_at is not None and p.published_at >= due for p in posts)

    lead.goto("/audit")
    table = lead.locator("table.audit").inner_text()
    assert table.count("post.submitted") == 2 and table.count("post.approved") == 2
    assert "web:intern@example.com" in table and "web:lead@example.com" in table
    shot(lead, "audit", full=True)
