"""User use cases and local-time helpers (no HTTP)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from herald.errors import Invalid, NotFound, Unauthorized
from herald.web import users
from herald.web.localtime import day_bounds, local_datetime, parse_local, zone


def test_create_user_hashes_the_password_and_normalises_the_email(herald, company):
    with herald.db.session() as session:
        user = users.create_user(session, company_id=company[0], email=" Ada@Example.COM ",
                                 password="a long password", timezone="Europe/Paris")
        assert user.email == "ada@example.com"
        assert user.password_hash.startswith("$argon2id$")
        assert "a long password" not in user.password_hash


@pytest.mark.parametrize(("email", "password", "error"), [
    ("not-an-email", "a long password", Invalid),
    ("ada@example.com", "short", Invalid),
    ("ada@example.com", "x" * 2000, Invalid),
])
def test_create_user_refuses_bad_input(herald, company, email, password, error):
    with herald.db.session() as session, pytest.raises(error):
        users.create_user(session, company_id=company[0], email=email, password=password)


@pytest.mark.all_engines
def test_create_user_refuses_duplicates_unknown_companies_and_zones(herald, company):
    with herald.db.session() as session:
        users.create_user(session, company_id=company[0], email="ada@example.com",
                          password="a long password")
    with herald.db.session() as session, pytest.raises(Invalid, match="cannot add"):
        users.create_user(session, company_id=company[0], email="ADA@example.com",
                          password="a long password")
    with herald.db.session() as session, pytest.raises(NotFound):
        users.create_user(session, company_id="nope", email="b@example.com",
                          password="a long password")
    with herald.db.session() as session, pytest.raises(Invalid):
        users.create_user(session, company_id=company[0], email="c@example.com",
                          password="a long password", timezone="Nowhere/Town")


def test_authenticate(herald, company):
    with herald.db.session() as session:
        created = users.create_user(session, company_id=company[0], email="ada@example.com",
                                    password="a long password")
    with herald.db.session() as session:
        user = users.authenticate(session, email="ADA@example.com",
                                  password="a long password")
        assert user.id == created.id and user.last_login_at is not None
    for email, password in (("ada@example.com", "wrong password"),
                            ("nobody@example.com", "a long password")):
        with herald.db.session() as session, pytest.raises(Unauthorized) as refused:
            users.authenticate(session, email=email, password=password)
        # The same words whether the email or the password was wrong.
        assert refused.value.message == "The email or the password is not right."


def test_list_members_is_per_company(herald, company):
    from herald import services

    with herald.db.session() as session:
        other, _ = services.create_company(session, name="Other")
        users.create_user(session, company_id=company[0], email="a@example.com",
                          password="a long password")
        users.create_user(session, company_id=other.id, email="b@example.com",
                          password="a long password")
    with herald.db.session() as session:
        assert [u.email for u in users.list_members(session, company_id=company[0])] == [
            "a@example.com"]


def test_local_times_and_clock_changes():
    paris = zone("Europe/Paris")
    assert local_datetime(date(2030, 7, 1), time(9), paris).astimezone(UTC) == datetime(
        2030, 7, 1, 7, tzinfo=UTC)
    with pytest.raises(Invalid, match="does not exist"):
        local_datetime(date(2030, 3, 31), time(2, 30), paris)
    # The hour that happens twice: the first one is meant.
    first = local_datetime(date(2030, 10, 27), time(2, 30), paris)
    assert first.astimezone(UTC) == datetime(2030, 10, 27, 0, 30, tzinfo=UTC)
    start, end = day_bounds(date(2030, 10, 27), paris)
    assert (end - start).total_seconds() == 25 * 3600
    with pytest.raises(Invalid, match="both a date and a time"):
        parse_local("2030-01-01", "", paris)
    assert zone("Not/AZone").key == "UTC"
