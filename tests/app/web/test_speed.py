"""Every page renders with 10,000 posts in the company, on each engine, and reports its
server time (Herald's own Server-Timing header).

No timing is asserted here: tests check behaviour, benchmarks measure. The printed figures
(run with `-s`) are how docs/benchmarks.md's page times were read."""

from __future__ import annotations

import random
import statistics
from datetime import timedelta

import pytest

from herald.models import Post, new_id, utcnow
from tests.helpers import add_account

POSTS = 10_000
STATUSES = ["published"] * 6 + ["pending"] * 2 + ["failed", "cancelled", "draft",
                                                   "unconfirmed"]


def _seed(herald, company_id: str, accounts: list[tuple[str, str]]) -> None:
    """10,000 posts over ±45 days, straight into the table (services would take minutes)."""
    rng = random.Random(7)
    now = utcnow()
    rows = []
    for n in range(POSTS):
        account_id, platform = accounts[n % len(accounts)]
        status = rng.choice(STATUSES)
        at = now + timedelta(minutes=rng.randint(-45 * 1440, 45 * 1440))
        rows.append({
            "id": new_id(), "company_id": company_id, "group_id": new_id(),
            "account_id": account_id, "platform": platform, "post_type": "feed",
            "caption": f"Post number {n} about our autumn menu #food", "media": [],
            "options": {}, "status": status, "scheduled_at": at, "attempts": 1,
            "error_message": "The platform said no." if status == "failed" else None,
            "created_at": at - timedelta(days=2), "updated_at": at,
        })
    with herald.db.engine.begin() as conn:
        for start in range(0, POSTS, 1000):
            conn.execute(Post.__table__.insert(), rows[start:start + 1000])


def _server_ms(browser, url: str, runs: int = 7) -> tuple[float, float]:
    """(fastest, median) of `runs` requests, after one that warms caches and templates."""
    times = []
    for _ in range(runs + 1):
        response = browser.get(url)
        assert response.status_code == 200, (url, response.text[:500])
        times.append(float(response.headers["server-timing"].split("dur=")[1]))
    return min(times[1:]), statistics.median(times[1:])


@pytest.mark.all_engines
def test_every_page_renders_with_10000_posts(signed_in, herald, company):
    accounts = [(add_account(herald, company[0], p, f"{p}-{n}"), p)
                for n in range(3) for p in ("facebook", "instagram", "linkedin")]
    _seed(herald, company[0], accounts)
    today = utcnow().date().isoformat()
    pages = ["/", "/calendar", f"/calendar?view=week&date={today}", "/posts",
             "/posts?status=failed", "/posts?q=autumn+menu", f"/posts?from={today}",
             "/compose", "/accounts", "/settings"]
    some_post = signed_in.get("/posts").text.split('href="/posts/')[1].split('"')[0]
    pages.append(f"/posts/{some_post}")
    timings = {url: _server_ms(signed_in, url) for url in pages}
    report = ", ".join(f"{url} {low:.0f}/{mid:.0f} ms" for url, (low, mid) in timings.items())
    print(f"\n[{herald.db.dialect}] fastest/median: {report}")
    assert set(timings) == set(pages)
