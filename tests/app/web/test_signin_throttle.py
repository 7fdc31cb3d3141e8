"""Failed sign-ins are throttled per email and per client address, in the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from herald.models import SigninFailure, utcnow
from tests.app.web.conftest import PASSWORD, build_app, csrf_of

TOO_MANY = "Too many failed sign-ins. For your safety, wait 15 minutes and try again."


def attempt(client: TestClient, email: str, password: str):
    token = csrf_of(client.get("/signin").text)
    return client.post("/signin", data={"email": email, "password": password,
                                        "csrf_token": token})


def failures(herald) -> int:
    with herald.db.session() as session:
        return session.scalar(select(func.count()).select_from(SigninFailure)) or 0


@pytest.mark.all_engines
def test_five_failures_refuse_even_the_right_password_for_a_while(web, herald, member):
    for _ in range(5):
        assert attempt(web, member.email, "wrong password").status_code == 401
    response = attempt(web, member.email.upper(), PASSWORD)
    assert response.status_code == 429
    assert TOO_MANY in response.text
    assert 0 < int(response.headers["retry-after"]) <= 900
    assert web.get("/").status_code == 303  # still signed out
    # Refused attempts are not counted, and check no password.
    assert failures(herald) == 10  # five for the email, five for the address

    # Fifteen minutes on, the failures have aged out: the right password works, and
    # clears the email's count.
    with herald.db.session() as session:
        session.execute(update(SigninFailure).values(
            failed_at=utcnow() - timedelta(minutes=16)))
    assert attempt(web, member.email, PASSWORD).status_code == 303


def test_the_refusal_says_nothing_about_whether_the_email_exists(web, herald, member):
    for email in (member.email, "nobody@example.com"):
        for _ in range(5):
            assert attempt(web, email, "wrong password").status_code == 401
    known = attempt(web, member.email, "wrong password")
    unknown = attempt(web, "nobody@example.com", "wrong password")
    assert known.status_code == unknown.status_code == 429
    assert TOO_MANY in known.text and TOO_MANY in unknown.text
    # Another email from the same address is not held up by these ten.
    assert attempt(web, "someone@example.com", "wrong password").status_code == 401


@pytest.mark.all_engines
def test_a_successful_sign_in_resets_the_email_count(web, herald, member):
    for _ in range(4):
        assert attempt(web, member.email, "wrong password").status_code == 401
    assert attempt(web, member.email, PASSWORD).status_code == 303
    web.post("/signout", data={"csrf_token": csrf_of(web.get("/settings").text)})
    for _ in range(4):
        assert attempt(web, member.email, "wrong password").status_code == 401
    assert attempt(web, member.email, PASSWORD).status_code == 303


@pytest.mark.all_engines
def test_one_address_trying_many_emails_is_throttled_too(web, herald, member):
    herald.settings.signin_max_failures_per_ip = 3
    for n in range(3):
        assert attempt(web, f"guess{n}@example.com", "wrong password").status_code == 401
    response = attempt(web, member.email, PASSWORD)
    assert response.status_code == 429 and TOO_MANY in response.text


@pytest.mark.all_engines
def test_every_server_process_counts_the_same_failures(web, herald, member):
    for _ in range(5):
        assert attempt(web, member.email, "wrong password").status_code == 401
    # Another process (another app on the same database) refuses as well.
    with TestClient(build_app(herald), follow_redirects=False) as other:
        assert attempt(other, member.email, PASSWORD).status_code == 429
