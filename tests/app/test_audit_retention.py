"""The audit log is kept as long as the company wants: for good by default, or
`audit_retention_days`, past which the workers' housekeeping deletes entries."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from herald import services
from herald.models import AuditEntry, utcnow
from herald.services import audit


def _entries(herald, company_id: str, *, days_ago: float, count: int = 1) -> None:
    at = utcnow() - timedelta(days=days_ago)
    ctx = replace(herald.context(company_id, actor="cli"), now=lambda: at)
    with herald.unit_of_work() as session:
        for _ in range(count):
            audit.record(session, ctx, audit.Action.TOKEN_CREATED, after={"name": "x"})


def _count(herald, company_id: str) -> int:
    with herald.db.session() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.company_id == company_id)) or 0


def _retain(herald, company_id: str, days: int | None) -> None:
    with herald.unit_of_work() as session:
        services.update_company_settings(session, herald.context(company_id),
                                         audit_retention_days=days)


@pytest.mark.all_engines
def test_entries_past_the_retention_go_and_the_rest_stay(herald, company):
    with herald.db.session() as session:
        other, _ = services.create_company(session, name="Keeps all")
        session.commit()
        other_id = other.id
    _retain(herald, company[0], 30)  # itself an entry, of now
    _entries(herald, company[0], days_ago=31, count=5)
    _entries(herald, company[0], days_ago=29, count=2)
    _entries(herald, other_id, days_ago=4000, count=3)
    assert audit.purge(herald.db.engine, now=utcnow(), batch=2) == 5
    assert _count(herald, company[0]) == 3 and _count(herald, other_id) == 3
    assert audit.purge(herald.db.engine, now=utcnow()) == 0


def test_by_default_entries_are_kept_for_good(herald, company):
    _entries(herald, company[0], days_ago=36500)
    assert audit.purge(herald.db.engine, now=utcnow()) == 0
    assert _count(herald, company[0]) == 1


def test_the_setting_through_the_api_and_back_to_for_good(client, herald, company):
    owner = {"Authorization": f"Bearer {company[1]}"}
    set_ = client.patch("/api/v1/company", headers=owner, json={"audit_retention_days": 90})
    assert set_.status_code == 200 and set_.json()["audit_retention_days"] == 90
    other = client.patch("/api/v1/company", headers=owner, json={"requires_approval": True})
    assert other.json()["audit_retention_days"] == 90  # left as it was
    back = client.patch("/api/v1/company", headers=owner, json={"audit_retention_days": None})
    assert back.status_code == 200 and back.json()["audit_retention_days"] is None
    [last, _, first] = client.get("/api/v1/audit", headers=owner, params={
        "action": "company.settings"}).json()["items"]
    assert first["after"] == {"audit_retention_days": 90}
    assert (last["before"], last["after"]) == ({"audit_retention_days": 90},
                                               {"audit_retention_days": None})


@pytest.mark.parametrize("value", [0, -1, 36501, "a year", 1.5, True])
def test_a_retention_that_is_not_a_number_of_days_is_a_422(client, company, value):
    answer = client.patch("/api/v1/company", headers={"Authorization": f"Bearer {company[1]}"},
                          json={"audit_retention_days": value})
    assert answer.status_code == 422, answer.text
    assert "audit_retention_days" in answer.text


def test_housekeeping_purges_at_most_once_an_hour(herald, company):
    _retain(herald, company[0], 1)
    _entries(herald, company[0], days_ago=2)
    chores = audit.Housekeeping(herald.db.engine)
    assert chores(utcnow()) == 1
    _entries(herald, company[0], days_ago=2)
    assert chores(utcnow()) == 0  # within the hour: not looked at
    assert _count(herald, company[0]) == 2


async def test_a_workers_event_runner_does_the_housekeeping(herald, company):
    _retain(herald, company[0], 7)
    _entries(herald, company[0], days_ago=8, count=2)
    runner = herald.event_runner("w1")
    await runner.cycle(False)
    await runner.drain(rounds=1)
    assert await asyncio.to_thread(_count, herald, company[0]) == 1  # the setting's own
