"""bench/scale.py fills its databases by a bulk path: its rows must be the API's rows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bench import scale_fill
from herald.models import AuditEntry, Post, PostSchedule, utcnow
from tests.helpers import add_account

#: What differs between any two posts, however they were made.
OWN = {"id", "group_id", "caption", "scheduled_at", "created_at", "updated_at"}


def _rows(herald, post_id):
    with herald.db.session() as session:
        post = session.get(Post, post_id)
        entry = session.get(PostSchedule, post_id)
        audit = session.scalars(select(AuditEntry).where(AuditEntry.post_id == post_id)).one()
        return (
            {c.key: getattr(post, c.key) for c in Post.__table__.columns if c.key not in OWN},
            {c.key: getattr(entry, c.key) for c in PostSchedule.__table__.columns
             if c.key not in {"post_id", "run_at", "created_at", "updated_at"}},
            {"action": audit.action, "actor": audit.actor, "account_id": audit.account_id,
             "after": {k: v for k, v in (audit.after or {}).items()
                       if k not in {"caption", "scheduled_at"}}},
        )


def test_a_bulk_made_post_is_the_row_the_api_makes(herald, client, company, auth):
    account = add_account(herald, company[0], "linkedin", "person-1")
    run_at = utcnow() + timedelta(days=3)
    response = client.post("/api/v1/posts", headers=auth, json={
        "account_id": account, "post_type": "text", "caption": "By the API",
        "run_at": run_at.isoformat()})
    assert response.status_code == 201, response.text
    by_api = response.json()["items"][0]["id"]
    tenant = scale_fill.Tenant(company[0], company[1], f"token:{company[1][:12]}", [account])
    scale_fill.fill(herald, [tenant], 1, days=3)
    with herald.db.session() as session:
        [by_fill] = session.scalars(select(Post.id).where(Post.id != by_api)).all()
    assert _rows(herald, by_fill) == _rows(herald, by_api)


def test_the_fill_spreads_posts_over_the_days_and_the_accounts(herald):
    tenants = scale_fill.add_companies(herald, 2, 4)
    assert [len(t.account_ids) for t in tenants] == [2, 2]
    scale_fill.fill(herald, tenants, 40, days=10)
    now = utcnow()
    with herald.db.session() as session:
        posts = session.scalars(select(Post)).all()
        queued = session.scalars(select(PostSchedule)).all()
    assert len(posts) == len(queued) == 40 == scale_fill.count_posts(herald)
    assert {p.account_id for p in posts} == {a for t in tenants for a in t.account_ids}
    assert all(now < p.scheduled_at < now + timedelta(days=10) for p in posts)
    assert {q.run_at for q in queued} == {p.scheduled_at for p in posts}
    assert len({p.created_at for p in posts}) == 40  # distinct: cursors page through ties
