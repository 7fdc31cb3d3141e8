"""In Chromium: an agency's person switches between their companies, and a person signs in
with the company's identity provider (the project's fake OIDC provider, over HTTP)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from herald import services
from herald.permissions import Role
from herald.services import memberships
from herald.sso import providers
from herald.sso.fake import FakeProvider
from herald.web import users
from tests.app.web.conftest import Member
from tests.oidc_server import oidc_provider
from tests.process.browser.test_browser import (  # noqa: F401 (fixtures)
    browser,
    live,
    member,
    page,
    shot,
    sign_in,
)


@pytest.fixture
def idp() -> Iterator[FakeProvider]:
    with oidc_provider() as fake:
        yield fake


def test_an_agency_member_switches_company_with_the_switcher(
        live: Any, page: Any, member: Member) -> None:  # noqa: F811 (the fixtures)
    herald = live.herald
    with herald.unit_of_work() as session:
        globex, _ = services.create_company(session, name="Globex")
        memberships.join(session, user=users.get_user(session, member.id),
                         company_id=globex.id, role=Role.VIEWER)
    sign_in(page, member)
    switcher = page.get_by_label("Company")
    assert switcher.input_value() == member.company_id
    switcher.select_option(label="Globex")
    page.get_by_role("button", name="Switch").click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.get_by_label("Company").input_value() == globex.id
    page.goto("/settings")
    assert page.get_by_role("heading", name="Members of Globex").is_visible()
    shot(page, "company-switcher")
    page.goto("/audit")  # a viewer in Globex may not read its audit log
    assert page.get_by_role("heading", name="Refused").is_visible()


def test_signing_in_with_the_companys_identity_provider(
        live: Any, page: Any, company: tuple[str, str],  # noqa: F811 (the fixtures)
        idp: FakeProvider
) -> None:
    herald = live.herald
    with herald.unit_of_work() as session:
        providers.configure(session, herald.context(company[0]), issuer=idp.issuer,
                            client_id="herald", client_secret="s3cret-client",
                            role_claim="groups", role_map={"marketing": "editor"})
    idp.person = {"sub": "grace-1", "email": "grace@example.com", "email_verified": True,
                  "name": "Grace", "groups": ["marketing"]}
    page.goto("/signin")
    page.get_by_label("Or sign in with your company's single sign-on").fill("Acme")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.get_by_text("Grace").first.is_visible()
    page.goto("/compose")  # an editor composes
    assert page.get_by_role("button", name=re.compile("Schedule")).count() >= 1
