"""The web UI in a real browser (Debian's Chromium driven by Playwright) against a real
Herald: uvicorn on a free port, the in-app sandbox, a worker in the server's loop.

Runs on SQLite only (the pages' SQL is covered on every engine by the TestClient tests).
Saves a screenshot of each page to $HERALD_SCREENSHOTS_DIR, a temporary folder by default
(so a test run leaves docs/ alone); `make screenshots` points it at docs/screenshots/.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from herald import services
from herald.models import ApiToken, Post, utcnow
from herald.runtime import Herald
from herald.schemas import AccountCreate, PostCreate
from tests.app.web.conftest import PASSWORD, Member, add_member
from tests.conftest import jpeg_bytes
from tests.process.browser.live import (
    CHROMIUM_ARGS,
    LiveHerald,
    ensure_chromium,
    start_live,
    unavailable,
)

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install playwright; no "
                    "`playwright install` is needed: the tests use Debian's Chromium)")
    executable = ensure_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def live(herald: Herald, settings: Any) -> Iterator[LiveHerald]:
    if herald.db.dialect != "sqlite":
        pytest.skip("browser tests run on SQLite only")
    server = start_live(settings)
    yield server
    server.stop()


@pytest.fixture
def member(live: LiveHerald, company: tuple[str, str]) -> Member:
    return add_member(live.herald, company[0], timezone="Europe/Paris")


@pytest.fixture
def page(live: LiveHerald, browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, base_url=live.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield tab
    context.close()
    # A script error or a refused CSP rule shows here; a 4xx a test provoked does too.
    unexpected = [e for e in errors if "status of 4" not in e]
    assert not unexpected, unexpected


@functools.cache
def screenshots() -> Path:
    """HERALD_SCREENSHOTS_DIR, or one temporary folder for the run."""
    named = os.environ.get("HERALD_SCREENSHOTS_DIR")
    folder = Path(named) if named else Path(tempfile.mkdtemp(prefix="herald-screenshots-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shot(tab: Any, name: str, *, full: bool = False) -> None:
    tab.screenshot(path=str(screenshots() / f"{name}.png"), full_page=full)


def sign_in(tab: Any, member: Member, *, screenshot: bool = False) -> None:
    tab.goto("/")
    assert "/signin" in tab.url  # every page but sign-in needs a session
    tab.get_by_label("Email").fill(member.email)
    tab.get_by_label("Password").fill(PASSWORD)
    if screenshot:
        shot(tab, "signin")
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(re.compile(r"/$"))


def add_sandbox_account(tab: Any, platform: str, name: str) -> None:
    tab.goto("/accounts")
    tab.get_by_label("Platform").first.select_option(platform)
    tab.locator("#sb-name").fill(name)
    tab.get_by_role("button", name="Add sandbox account").click()
    tab.wait_for_url(re.compile(r"/accounts$"))
    assert tab.get_by_role("heading", name=re.compile(name)).is_visible()


def count_posts(herald: Herald, company_id: str) -> int:
    with herald.db.session() as session:
        return session.scalar(select(func.count()).select_from(Post)
                              .where(Post.company_id == company_id)) or 0


def test_compose_for_two_sandbox_accounts_then_calendar_worker_and_detail(
    live: LiveHerald, page: Any, member: Member, company: tuple[str, str], tmp_path: Path
) -> None:
    tab = page
    sign_in(tab, member, screenshot=True)
    add_sandbox_account(tab, "instagram", "Acme Instagram")
    add_sandbox_account(tab, "facebook", "Acme Facebook")

    tab.goto("/compose")
    tab.get_by_role("checkbox", name=re.compile("Acme Instagram")).check()
    tab.get_by_role("checkbox", name=re.compile("Acme Facebook")).check()
    caption = "Autumn menu is here — #food #autumn\nCome and taste it."
    tab.get_by_label("Caption", exact=True).fill(caption)
    image = tmp_path / "autumn.jpg"
    image.write_bytes(jpeg_bytes(1080, 1080))
    tab.locator("#files").set_input_files(str(image))
    tab.locator("#media-list img").wait_for()
    # The server's checks (the API's own) come back for each account as the form changes.
    checks = tab.locator("#checks")
    checks.get_by_text("ready").nth(1).wait_for()
    assert checks.get_by_text("will be refused").count() == 0
    assert tab.get_by_text(f"Instagram: {len(caption)} / 2,200 characters").is_visible()
    assert tab.get_by_text("Instagram: 2 / 30 hashtags").is_visible()
    shot(tab, "compose", full=True)
    tab.get_by_role("button", name="Post now").click()

    # Straight to the week on the calendar: both posts are there as chips.
    tab.wait_for_url(re.compile(r"/calendar\?view=week"))
    assert tab.get_by_text("Publishing 2 posts now.").is_visible()
    chips = tab.locator(".chip")
    assert chips.count() == 2
    assert chips.filter(has_text="Acme Instagram").count() == 1
    assert chips.filter(has_text="Acme Facebook").count() == 1

    # The worker publishes them through the real clients to the sandbox.
    deadline = time.monotonic() + 30
    while tab.locator(".chip .status-published").count() < 2:
        assert time.monotonic() < deadline, tab.locator(".calendar").inner_text()
        time.sleep(0.3)
        tab.reload()

    chips.filter(has_text="Acme Instagram").click()
    tab.wait_for_url(re.compile(r"/posts/[0-9a-f-]{36}$"))
    timeline = tab.locator(".timeline")
    assert "Attempt 1" in timeline.inner_text()
    assert "published" in timeline.inner_text().lower()
    assert "browser-test" in timeline.inner_text()
    permalink = tab.locator("a.permalink")
    assert "/sandbox/?id=" in (permalink.get_attribute("href") or "")
    shot(tab, "post-detail", full=True)

    # The permalink leads to the post on the sandbox's page.
    href = permalink.get_attribute("href") or ""
    tab.goto(href)
    assert "Autumn menu is here" in tab.content()

    _fill_the_month(live.herald, company[0])
    # The month ten days on: whatever today's date, it holds most of those posts.
    tab.goto(f"/calendar?date={(utcnow() + timedelta(days=10)).date().isoformat()}")
    tab.locator(".chip").first.wait_for()
    shot(tab, "calendar-month", full=True)
    tab.goto(f"/calendar?view=week&date={(utcnow() + timedelta(days=3)).date().isoformat()}")
    shot(tab, "calendar-week")
    tab.goto("/")
    shot(tab, "dashboard")
    tab.goto("/posts")
    shot(tab, "posts")
    # Cancel from the list: htmx swaps the row in place, no page load.
    row = tab.locator("tbody tr").filter(has=tab.get_by_role("button", name="Cancel")).first
    row_id = row.get_attribute("id")
    row.get_by_role("button", name="Cancel").click()
    swapped = tab.locator(f"#{row_id}")
    swapped.get_by_text("Cancelled.").wait_for()
    assert swapped.locator(".status-cancelled").is_visible()
    assert tab.url.endswith("/posts")
    tab.goto("/accounts")
    shot(tab, "accounts")
    tab.goto("/settings")
    tab.get_by_label("New token's name").fill("CI deploys")
    tab.get_by_role("button", name="Create token").click()
    assert tab.locator("#new-token").inner_text().startswith("hld_")
    shot(tab, "settings")

    phone = tab.context.browser.new_context(viewport=PHONE, base_url=live.url,
                                            storage_state=tab.context.storage_state())
    small = phone.new_page()
    for path, name in (("/", "phone-dashboard"), ("/calendar", "phone-calendar"),
                       ("/compose", "phone-compose"), ("/sandbox/", "phone-sandbox")):
        small.goto(path)
        shot(small, name)
        # Nothing sticks out sideways on a phone.
        assert small.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
        if path == "/calendar":  # the account filter's button is on screen, whole
            box = small.get_by_role("button", name="Show").bounding_box()
            assert box is not None and box["x"] + box["width"] <= PHONE["width"], box
    phone.close()


def _fill_the_month(herald: Herald, company_id: str) -> None:
    """A few more posts over the coming days, so the month view shows what it is for."""
    assert herald.media_store is not None
    image = herald.media_store.save(jpeg_bytes(1080, 1350), filename="team.jpg").url
    with herald.db.session() as session:
        ctx = herald.context(company_id)
        linkedin = services.create_account(session, ctx, AccountCreate(
            platform="linkedin", name="Acme on LinkedIn", sandbox=True))
        others = [a.id for a, _ in services.list_accounts(session, ctx) if a.id != linkedin.id]
        start = utcnow().replace(hour=8, minute=0, second=0, microsecond=0)
        captions = ["Meet the team behind the autumn menu", "Behind the scenes: sourcing",
                    "We are hiring a sous-chef", "Weekend brunch is back"]
        for day in range(1, 22, 2):
            visual = day % 3 != 0
            services.create_posts(session, ctx, PostCreate(
                account_ids=others if visual else [linkedin.id],
                caption=captions[day % len(captions)], post_type="feed" if visual else "text",
                media=[{"url": image}] if visual else [], draft=day == 5,
                run_at=start + timedelta(days=day, hours=day % 4)))


def test_a_too_long_instagram_caption_is_flagged_before_submitting(
    live: LiveHerald, page: Any, member: Member, company: tuple[str, str]
) -> None:
    with live.herald.db.session() as session:
        services.create_account(session, live.herald.context(company[0]), AccountCreate(
            platform="instagram", name="Acme Instagram", sandbox=True))
    tab = page
    sign_in(tab, member)
    tab.goto("/compose")
    tab.get_by_role("checkbox", name=re.compile("Acme Instagram")).check()
    # 2,201 characters as Instagram and the server count them (code points): the emoji is
    # one, though JavaScript's String.length says two.
    tab.get_by_label("Caption", exact=True).fill("🍂" + "x" * 2_200)
    # The local counter at once, and the server's own check (no submit) a moment later.
    counter = tab.locator("#counters-main .counter.over")
    assert counter.first.inner_text() == ("✗ Instagram: 2,201 / 2,200 characters — "
                                          "1 too many")
    tab.locator("#checks").get_by_text(
        "Instagram captions are limited to 2,200 characters; this one has 2,201.").wait_for()
    assert tab.locator("#checks").get_by_text("will be refused").is_visible()
    shot(tab, "compose-flagged")
    assert tab.url.endswith("/compose")
    assert count_posts(live.herald, company[0]) == 0


def test_another_companys_post_is_a_404_page(
    live: LiveHerald, page: Any, member: Member
) -> None:
    with live.herald.db.session() as session:
        other, _ = services.create_company(session, name="Other Co")
        ctx = live.herald.context(other.id)
        account = services.create_account(session, ctx, AccountCreate(
            platform="facebook", name="Other page", sandbox=True))
        [post] = services.create_posts(session, ctx, PostCreate(
            account_id=account.id, caption="Theirs", run_at=utcnow() + timedelta(days=3)))
    tab = page
    sign_in(tab, member)
    response = tab.goto(f"/posts/{post.id}")
    assert response is not None and response.status == 404
    assert tab.get_by_role("heading", name="Not found").is_visible()
    assert "Theirs" not in tab.content()
    shot(tab, "not-found")


def test_a_form_posted_without_its_csrf_token_is_refused(
    live: LiveHerald, page: Any, member: Member, company: tuple[str, str]
) -> None:
    tab = page
    sign_in(tab, member)
    tab.goto("/settings")
    # What a forged form looks like: the right fields, but not this session's token.
    tab.evaluate("document.querySelector('form[action=\"/settings/tokens\"] "
                 "input[name=csrf_token]').remove()")
    tab.get_by_label("New token's name").fill("forged")
    with tab.expect_navigation() as navigation:
        tab.get_by_role("button", name="Create token").click()
    assert navigation.value.status == 403
    assert tab.get_by_role("heading", name="Refused").is_visible()
    with live.herald.db.session() as session:
        names = session.scalars(select(ApiToken.name)
                                .where(ApiToken.company_id == company[0])).all()
    assert "forged" not in names


def test_keyboard_only_sign_in_and_pick_an_account(
    live: LiveHerald, page: Any, member: Member, company: tuple[str, str]
) -> None:
    with live.herald.db.session() as session:
        services.create_account(session, live.herald.context(company[0]), AccountCreate(
            platform="linkedin", name="Acme on LinkedIn", sandbox=True))
    tab = page
    tab.goto("/signin")
    tab.keyboard.type(member.email)  # the email field has the focus on arrival
    tab.keyboard.press("Tab")
    tab.keyboard.type(PASSWORD)
    tab.keyboard.press("Enter")
    tab.wait_for_url(re.compile(r"/$"))
    tab.goto("/compose")
    box = tab.get_by_role("checkbox", name=re.compile("Acme on LinkedIn"))
    for _ in range(20):  # Tab from the top of the page until the checkbox has the focus
        tab.keyboard.press("Tab")
        if box.evaluate("el => el === document.activeElement"):
            break
    tab.keyboard.press("Space")
    assert box.is_checked()
    # Picking it (a change event) runs the checks for it.
    tab.locator("#checks").get_by_text("Acme on LinkedIn").wait_for()


def test_dragging_a_post_to_another_day_moves_it(
    live: LiveHerald, page: Any, member: Member, company: tuple[str, str]
) -> None:
    from herald.web.calendar_grid import grid
    from herald.web.localtime import zone

    paris = zone("Europe/Paris")
    when = (utcnow() + timedelta(days=8)).astimezone(paris).replace(
        hour=10, minute=0, second=0, microsecond=0)
    with live.herald.db.session() as session:
        ctx = live.herald.context(company[0])
        account = services.create_account(session, ctx, AccountCreate(
            platform="facebook", name="Acme Facebook", sandbox=True))
        [post] = services.create_posts(session, ctx, PostCreate(
            account_id=account.id, caption="Move me", run_at=when))
    day = when.date()
    target = day - timedelta(days=1)
    if target < grid("month", day, day).first:
        target = day + timedelta(days=1)
    tab = page
    sign_in(tab, member)
    tab.goto(f"/calendar?date={day.isoformat()}")
    tab.locator(f'.chip[data-post="{post.id}"]').drag_to(
        tab.locator(f'.day[data-date="{target.isoformat()}"]'))
    tab.locator(f'.day[data-date="{target.isoformat()}"] .chip').wait_for()
    with live.herald.db.session() as session:
        moved = session.get(Post, post.id)
    assert moved is not None and moved.scheduled_at is not None
    local = moved.scheduled_at.astimezone(paris)
    assert (local.date(), local.hour, local.minute) == (target, 10, 0)
