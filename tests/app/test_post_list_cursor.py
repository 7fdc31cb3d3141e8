"""Paging the posts list by cursor: every post once, in the list's order, ties included
(the keyset condition is a row value on PostgreSQL and a bounded AND/OR elsewhere)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from herald.models import Post, utcnow
from tests.helpers import add_account, add_posts


def _pages(client, auth, **params):
    seen, cursor, pages = [], None, 0
    while True:
        page = client.get("/api/v1/posts", headers=auth,
                          params={"limit": 4, **params} | ({"cursor": cursor} if cursor else {})
                          ).json()
        seen += [p["id"] for p in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return seen, pages


@pytest.mark.all_engines
@pytest.mark.parametrize("sort", ["created", "time"])
def test_pages_hold_every_post_once_in_order_with_ties(client, auth, herald, company, sort):
    account = add_account(herald, company[0])
    ids = add_posts(herald, company[0], account, 15, run_at=utcnow() + timedelta(hours=1))
    base = utcnow().replace(microsecond=0) - timedelta(days=1)
    # Three instants shared by five posts each: the cursor must split ties by id.
    with herald.db.session() as session:
        for n, post_id in enumerate(ids):
            at = base + timedelta(minutes=n % 3)
            session.execute(update(Post).where(Post.id == post_id).values(
                created_at=at, scheduled_at=at + timedelta(days=1)))
    times = {post_id: n % 3 for n, post_id in enumerate(ids)}
    expected = sorted(ids, key=lambda i: (times[i], i), reverse=True)
    seen, pages = _pages(client, auth, sort=sort)
    assert seen == expected and pages == 4
    first, *_ = _pages(client, auth, sort=sort, account_id=account)
    assert first == expected
