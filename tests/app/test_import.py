"""POST /api/v1/posts/import: CSV or JSON, dry run, all-or-nothing, the bad inputs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from herald.models import Post, PostSchedule, utcnow
from tests.helpers import add_account

URL = "/api/v1/posts/import"


def _count(herald, model=Post) -> int:
    with herald.db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def _when(hours: int = 2) -> str:
    return (utcnow() + timedelta(hours=hours)).replace(microsecond=0).isoformat()


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _post(client, auth, body: bytes, *, dry_run=False, kind="text/csv", **headers):
    return client.post(URL + ("?dry_run=true" if dry_run else ""), content=body,
                       headers={**auth, "content-type": kind, **headers})


@pytest.fixture
def account(herald, company):
    return add_account(herald, company[0])  # named "facebook page-1"


def test_csv_import_creates_and_queues_every_row(client, auth, herald, account, image_url):
    body = _csv("caption,media,run_at,account",  # columns in any order
                *[f"Post {n},{image_url},{_when()},facebook page-1" for n in range(5)])
    response = _post(client, auth, body)
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["ok"] and report["stored"] and report["posts"] == 5
    assert [item["row"] for item in report["items"]] == [1, 2, 3, 4, 5]
    assert _count(herald) == 5 and _count(herald, PostSchedule) == 5


def test_dry_run_reports_per_row_and_stores_nothing(client, auth, herald, account):
    body = _csv("account,run_at,caption", f"{account},{_when()},fine",
                f"nobody,{_when()},who?")
    response = _post(client, auth, body, dry_run=True)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["message"] == ("Row 2 (account 'nobody'): no account with the id or name "
                                "'nobody' in this company.")
    assert error["details"] == [{"row": 2, "line": 3, "account": "nobody", "problems": [
        "no account with the id or name 'nobody' in this company"]}]
    assert _count(herald) == 0
    good = _post(client, auth, _csv("account,run_at,caption", f"{account},{_when()},fine"),
                 dry_run=True)
    assert good.status_code == 200, good.text
    assert good.json()["ok"] and not good.json()["stored"] and good.json()["rows"] == 1
    assert _count(herald) == 0


def test_a_bad_time_on_row_7_names_row_7_and_imports_nothing(client, auth, herald, account):
    rows = [f"{account},{_when()},ok {n}" for n in range(1, 11)]
    rows[6] = f"{account},next tuesday,bad"
    response = _post(client, auth, _csv("account,run_at,caption", *rows))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["message"].startswith("Row 7 (account ")
    assert "'next tuesday' is not an ISO 8601 time" in error["message"]
    assert "Nothing was imported" in error["message"]
    assert [d["row"] for d in error["details"]] == [7]
    assert _count(herald) == 0


def test_a_row_in_the_past_is_refused_by_the_create_check(client, auth, herald, account):
    past = (utcnow() - timedelta(hours=1)).isoformat()
    response = _post(client, auth, _csv("account,run_at,caption", f"{account},{_when()},a",
                                        f"{account},{past},b"))
    assert response.status_code == 422
    assert "Row 2" in response.json()["error"]["message"]
    assert "is in the past" in response.json()["error"]["message"]
    assert _count(herald) == 0


def test_platform_rules_apply_per_row(client, auth, herald, company):
    add_account(herald, company[0], "instagram", external_id="ig-1")
    response = _post(client, auth, _csv("account,run_at,caption",
                                        f"instagram ig-1,{_when()},no media"), dry_run=True)
    details = response.json()["error"]["details"]
    assert details[0]["row"] == 1
    assert details[0]["problems"]  # Instagram needs an image: the create's check


@pytest.mark.parametrize(("header", "message"), [
    ("account,caption", "The CSV has no 'run_at' column"),
    ("account,run_at,colour", "Unknown column 'colour'"),
])
def test_a_missing_or_unknown_column_refuses_the_file(client, auth, herald, account, header,
                                                      message):
    response = _post(client, auth, _csv(header, f"{account},x,y"))
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith(message)
    assert _count(herald) == 0


def test_an_unknown_account_is_refused(client, auth, herald, account):
    response = _post(client, auth, _csv("account,run_at", f"{account},{_when()}",
                                        f"no-such-account,{_when()}"))
    assert response.status_code == 422
    assert "no account with the id or name 'no-such-account'" in response.text
    assert _count(herald) == 0


def test_a_csv_over_the_size_limit_is_413(client, auth, herald, account):
    herald.settings.max_import_bytes = 1000
    body = _csv("account,run_at,caption", *[f"{account},{_when()},{'x' * 100}"] * 20)
    response = _post(client, auth, body)
    assert response.status_code == 413
    assert "HERALD_MAX_IMPORT_BYTES" in response.json()["error"]["message"]
    assert _count(herald) == 0


def test_too_many_rows_are_refused(client, auth, herald, account):
    herald.settings.max_import_rows = 3
    response = _post(client, auth, _csv("account,run_at,caption", *[f"{account},{_when()},a"] * 4))
    assert response.status_code == 422
    assert "at most 3" in response.json()["error"]["message"]


def test_an_idempotency_key_reused_with_another_csv_is_422(client, auth, herald, account):
    key = {"Idempotency-Key": "import-1"}
    first = _post(client, auth, _csv("account,run_at,caption", f"{account},{_when()},a"),
                  **key)
    assert first.status_code == 201
    assert _post(client, auth, first.request.content, **key).json() == first.json()
    other = _post(client, auth, _csv("account,run_at,caption", f"{account},{_when(3)},a"),
                  **key)
    assert other.status_code == 422
    assert "Idempotency-Key 'import-1' was used before" in other.json()["error"]["message"]
    assert _count(herald) == 1


def test_names_local_times_zones_and_media_lists(client, auth, herald, account, image_url):
    local = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%d 09:30")
    body = _csv("account,run_at,timezone,media,post_type,caption",
                f"Facebook Page-1,{local},Europe/Berlin,\"{image_url}\n{image_url}\",feed,a",
                f"{account},{local},,,feed,b",
                f"{account},{local},Mars/Olympus,,feed,c")
    details = _post(client, auth, body, dry_run=True).json()["error"]["details"]
    assert details == [{"row": 3, "line": 5, "account": account, "problems": [
        "unknown time zone 'Mars/Olympus'; use an IANA name such as 'Europe/Berlin'"]}]
    report = _post(client, auth, body.rsplit(b"\n", 2)[0] + b"\n", dry_run=True).json()
    assert report["items"][1]["notes"] == [
        f"run_at '{local}' read in UTC (the company's time zone)"]


def test_queue_means_next_slot(herald, company, account):
    from herald.imports import Accounts, read_import
    from herald.models import SocialAccount

    accounts = Accounts({account: SocialAccount(id=account, name="A")})
    [row] = read_import(_csv("account,run_at", f"{account},queue"), "text/csv", accounts,
                        max_rows=10)
    assert row.problems == [] and row.data is not None and row.data.run_at == "next_slot"


def test_queue_rows_take_the_accounts_next_free_slots(client, auth, herald, account):
    client.put(f"/api/v1/accounts/{account}/schedule", headers=auth, json={
        "timezone": "Europe/Berlin", "slots": [{"weekday": "mon", "time": "09:00"},
                                               {"weekday": "thu", "time": "18:00"}]})
    upcoming = client.get(f"/api/v1/accounts/{account}/schedule",
                          headers=auth).json()["upcoming"]
    local = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%d 10:15")
    body = _csv("account,run_at,caption", f"{account},queue,q1", f"{account},{local},own",
                "facebook page-1,QUEUE,q2")
    dry = _post(client, auth, body, dry_run=True)
    assert dry.status_code == 200, dry.text
    assert _count(herald) == 0
    # the local time is read in the account's schedule's zone
    assert dry.json()["items"][1]["notes"] == [
        f"run_at '{local}' read in Europe/Berlin (the account's time zone)"]
    response = _post(client, auth, body)
    assert response.status_code == 201, response.text
    with herald.db.session() as s:
        posts = {p.caption: p for p in s.scalars(select(Post))}
    assert [posts["q1"].queue_slot, posts["q2"].queue_slot] == [
        datetime.fromisoformat(u) for u in upcoming[:2]]
    assert posts["q1"].origin == "queue" and posts["own"].queue_slot is None
    assert _count(herald, PostSchedule) == 3


def test_queue_rows_of_an_account_with_no_schedule_name_their_row(client, auth, herald,
                                                                  account):
    body = _csv("account,run_at,caption", f"{account},{_when()},fine",
                f"{account},queue,q")
    response = _post(client, auth, body)
    assert response.status_code == 422, response.text
    [problem] = response.json()["error"]["details"]
    assert problem["row"] == 2 and "has no posting schedule" in problem["problems"][0]
    assert _count(herald) == 0 and _count(herald, PostSchedule) == 0


def test_first_comment_column_becomes_the_posts_first_comment(client, auth, herald, account):
    response = _post(client, auth, _csv("account,run_at,first_comment,caption",
                                        f"{account},{_when()},Nice!,a",
                                        f"{account},{_when()},,b"))
    assert response.status_code == 201, response.text
    with herald.db.session() as s:
        kept = {p.caption: p.options.get("first_comment") for p in s.query(Post)}
    assert kept == {"a": "Nice!", "b": None}


def test_a_first_comment_an_account_cannot_take_is_a_row_problem(client, auth, herald,
                                                                 company):
    member = add_account(herald, company[0], "linkedin", "urn:li:person:abc")
    response = _post(client, auth, _csv("account,run_at,first_comment,caption",
                                        f"{member},{_when()},Nice!,a"))
    assert response.status_code == 422, response.text
    [problem] = response.json()["error"]["details"]
    assert "posted as an organization" in problem["problems"][0]


def test_json_array_of_create_bodies(client, auth, herald, account):
    bodies = [{"account_id": account, "caption": f"J{n}", "run_at": _when()} for n in range(3)]
    bodies.append({"account_id": account, "draft": True, "caption": "a draft"})
    response = _post(client, auth, json.dumps(bodies).encode(), kind="application/json")
    assert response.status_code == 201, response.text
    assert response.json()["posts"] == 4
    assert _count(herald) == 4 and _count(herald, PostSchedule) == 3
    bad = _post(client, auth, json.dumps([{"account_id": account}]).encode(),
                kind="application/json")
    assert bad.status_code == 422 and "Row 1" in bad.json()["error"]["message"]


def test_identical_media_is_probed_once(herald, company, account, image_url, monkeypatch):
    from herald import services

    calls: list[int] = []
    original = herald.checks.inspect

    def counting(media, **kwargs):
        calls.append(len(media))
        return original(media, **kwargs)

    monkeypatch.setattr(herald.checks, "inspect", counting)
    body = _csv("account,run_at,media", *[f"{account},{_when()},{image_url}"] * 50)
    report = services.import_posts(herald.unit_of_work, herald.context(company[0]), body,
                                   "text/csv", dry_run=False, max_rows=100)
    assert report.stored and calls == [1]


@pytest.mark.all_engines
def test_import_is_all_or_nothing_on_every_engine(client, auth, herald, account):
    rows = [f"{account},{_when()},ok"] * 30
    good = _post(client, auth, _csv("account,run_at,caption", *rows))
    assert good.status_code == 201, good.text
    assert _count(herald) == 30 and _count(herald, PostSchedule) == 30
    bad = _post(client, auth, _csv("account,run_at,caption", *rows, f"{account},soon,x"))
    assert bad.status_code == 422
    assert _count(herald) == 30
