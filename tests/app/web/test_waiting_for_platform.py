"""A post held while its platform is down says so, and why, in the API and on its page."""

from __future__ import annotations

from herald.models import utcnow
from herald.queue import Outcome
from tests.helpers import add_account, add_posts


def _hold_the_account(herald, company_id: str) -> list[str]:
    """Five calls of one account that could not reach Facebook: the account is held."""
    account = add_account(herald, company_id, "facebook", "1001")
    ids = add_posts(herald, company_id, account, 6)
    queue = herald.queue()
    now = utcnow()
    claims = queue.claim(worker_id="w1", limit=5, now=now)
    queue.finish([Outcome(c, "retry", unreachable=True,
                          error_message="Facebook had a temporary problem (HTTP 503).")
                  for c in claims], now=now)
    return ids


def test_a_held_post_says_it_waits_for_the_platform_and_why(signed_in, herald, company):
    ids = _hold_the_account(herald, company[0])
    detail = signed_in.get(f"/api/v1/posts/{ids[-1]}",
                           headers={"Authorization": f"Bearer {company[1]}"}).json()
    assert detail["status"] == "pending"
    said = detail["waiting_for_platform"]
    assert said.startswith("Waiting for Facebook (for this account) to answer again")
    assert "Facebook had a temporary problem (HTTP 503)." in said
    assert "they spend no attempts meanwhile" in said
    page = signed_in.get(f"/posts/{ids[-1]}")
    assert "Waiting for the platform" in page.text
    assert "Facebook had a temporary problem (HTTP 503)." in page.text


def test_a_post_of_a_platform_that_answers_waits_for_nothing(client, auth, herald, company):
    account = add_account(herald, company[0], "facebook", "1001")
    [pid] = add_posts(herald, company[0], account)
    assert client.get(f"/api/v1/posts/{pid}", headers=auth).json()[
        "waiting_for_platform"] is None


def test_herald_posts_show_says_so_too(herald, company, database_url):
    from typer.testing import CliRunner

    from herald.cli import app
    from tests.conftest import SECRET

    ids = _hold_the_account(herald, company[0])
    shown = CliRunner().invoke(app, ["posts", "show", ids[-1], "--company", company[0]],
                               env={"HERALD_DATABASE_URL": database_url,
                                    "HERALD_SECRET_KEY": SECRET})
    assert shown.exit_code == 0, shown.output
    assert "waiting: Waiting for Facebook (for this account) to answer again" in shown.output
