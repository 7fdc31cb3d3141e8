"""Schemathesis against the API's own OpenAPI schema, in-process, as a company.

Every operation gets valid and invalid requests (a fixed number each, derandomized, so a
run is the same every time): no 5xx, every status it answers is documented, responses
match their schema, valid input is accepted and invalid input refused. Routes with ids
run against a seeded account and posts as well as made-up ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from herald.app import create_app
from herald.events.schemas import WebhookCreate
from herald.runtime import Herald
from herald.services import invitations, notifications, webhooks
from herald.web import users
from tests.helpers import add_account, add_posts

#: Examples per operation and run (valid, invalid, valid at real ids): ~430 requests in all.
EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection]
#: Bodies whose rules go beyond what a schema says (a platform's limits, a time not in the
#: past, credentials unless sandbox): a schema-valid one may rightly get a 422. Every
#: other operation must accept whatever its schema allows.
BEYOND_SCHEMA = {"POST /api/v1/accounts", "POST /api/v1/posts", "PATCH /api/v1/posts/{post_id}",
                 "POST /api/v1/posts/{post_id}/schedule", "POST /api/v1/schedule-post",
                 "POST /api/v1/media", "POST /api/v1/posts/import",
                 # a time zone's name, a slot's time, a slot of the schedule
                 "PUT /api/v1/accounts/{account_id}/schedule",
                 "POST /api/v1/accounts/{account_id}/queue/{post_id}/move",
                 # a rule, its zone, a first occurrence not in the past; the template's
                 # platform rules
                 "POST /api/v1/series", "PATCH /api/v1/series/{series_id}",
                 # an address and a password of the member's; a reason not blank; a time
                 "POST /api/v1/members", "POST /api/v1/posts/{post_id}/reject",
                 "POST /api/v1/posts/{post_id}/approve",
                 # the approval steps' order; a comment not blank
                 "PATCH /api/v1/company", "POST /api/v1/posts/{post_id}/comments",
                 # a webhook's URL must be http(s) on a public address (its host resolved).
                 "POST /api/v1/webhooks", "PATCH /api/v1/webhooks/{webhook_id}",
                 # one scope of three (posts, a group, a range), real times, an expiry
                 # ahead and within 90 days
                 "POST /api/v1/review-links",
                 # event names (as a webhook's); an address, or a URL apprise can use
                 "PUT /api/v1/members/{member_id}/notifications",
                 "POST /api/v1/members/{member_id}/notifications/channels",
                 # an e-mail address; an issuer URL and a role map or default role
                 "POST /api/v1/invitations", "PUT /api/v1/company/sso"}



_FUTURE = "2099-01-01T09:00:00Z"


def _seed(herald: Herald, company_id: str, number: int) -> dict[str, str]:
    """A fresh account, a pending post of it with a comment, a series, a webhook and a
    delivery of it, a member and a notification channel of theirs, an invitation, for the
    routes' ids (a run may delete)."""
    from herald import services
    from herald.schemas import PostCreate, RecurrenceIn
    from herald.services import comments, review_links

    account_id = add_account(herald, company_id, external_id=f"page-{number}")
    (post_id,) = add_posts(herald, company_id, account_id, 1, run_at=_FUTURE)
    with herald.unit_of_work() as session:
        [occurrence] = services.create_posts(session, herald.context(company_id), PostCreate(
            account_id=account_id, caption="daily", run_at=_FUTURE,
            recurrence=RecurrenceIn(rule="FREQ=DAILY", timezone="UTC", count=1)))
    with herald.db.session() as session:
        member = users.create_user(session, company_id=company_id, role="viewer",
                                   email=f"member-{number}@example.com",
                                   password="a-long-password")
    with herald.unit_of_work() as session:
        ctx = herald.context(company_id)
        webhook, _ = webhooks.create_webhook(session, ctx, WebhookCreate(
            url="https://hooks.example.test/herald", events=["post.failed"]))
        delivery = webhooks.ping(session, ctx, webhook.id, max_attempts=3)
        ids = {"webhook_id": webhook.id, "delivery_id": delivery.id}
        link, _ = review_links.create_link(session, ctx,
                                           review_links.Scope(post_ids=(post_id,)))
        ids["link_id"] = link.id
        channel = notifications.add_channel(session, user_id=member.id, kind="chat",
                                            target="slack://T000/B000/XXXXXXXX",
                                            cipher=herald.cipher)
        ids["channel_id"] = channel.id
        ids["comment_id"] = comments.add_comment(session, ctx, post_id, "Seeded").id
        invited = invitations.invite(session, ctx, email=f"invited-{number}@example.com")
        ids["invitation_id"] = invited.invitation.id
    return {"account_id": account_id, "post_id": post_id, "member_id": member.id,
            "series_id": occurrence.series_id or "", **ids}


#: What a schema's "string" cannot say: the times, statuses and cursors the API means.
_TIMES = st.sampled_from(["", "2026-01-01T00:00:00Z", "2030-06-01T12:00:00+02:00"])
_STATUSES = st.sampled_from([[], ["pending"], ["failed,unconfirmed", "draft"]])


def _meant(case: Case, run_from: str, run_to: str, status: list[str]) -> Case:
    """A valid case as the API means it: no NUL (README), real times and statuses, no
    made-up cursor."""
    query = {name: _no_nul(value) for name, value in (case.query or {}).items()
             if name != "cursor"}
    for name, value in (("from", run_from), ("to", run_to), ("status", status)):
        if name in query:
            query[name] = value
    case.query = query
    case.path_parameters = {name: _no_nul(value) or "x"
                            for name, value in (case.path_parameters or {}).items()}
    if isinstance(case.body, dict | list):
        case.body = _no_nul(case.body)
    return case


def _no_nul(value: Any) -> Any:
    if isinstance(value, dict):
        return {_no_nul(k): _no_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nul(v) for v in value]
    return value.replace("\x00", "") if isinstance(value, str) else value


def _positive(operation: Any, **kwargs: Any) -> Any:
    return st.builds(_meant, operation.as_strategy(GenerationMode.POSITIVE, **kwargs),
                     _TIMES, _TIMES, _STATUSES)


def _runs(operation: Any, ids: dict[str, str]) -> list[tuple[str, Any]]:
    """(label, strategy): valid and invalid requests, and valid ones at a real id."""
    runs = [("positive", _positive(operation)),
            ("negative", operation.as_strategy(GenerationMode.NEGATIVE))]
    names = {p.name for p in operation.path_parameters}
    if names:
        real = {name: ids[name] for name in names}
        runs.append(("positive at real ids", _positive(operation, path_parameters=real)))
    return runs


def _fuzz(strategy: Any, call: Callable[[Case], None]) -> None:
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Case) -> None:
        call(case)

    run()


def test_every_operation_holds_to_its_schema(herald: Herald, company: tuple[str, str],
                                             auth: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(herald))
    failures: list[str] = []
    called: list[str] = []

    def call(case: Case) -> None:
        called.append(case.operation.label)
        response = case.call(headers=auth)
        extra = [] if case.operation.label in BEYOND_SCHEMA else [positive_data_acceptance]
        checks = CHECKS + extra
        if response.status_code == 413:
            # A body over its route's cap (documented) is refused before it is read: a
            # rejection, though not one of the statuses negative_data_rejection lists.
            checks = [check for check in checks if check is not negative_data_rejection]
        case.validate_response(response, checks=checks)

    operations = [result.ok() for result in schema.get_all_operations()]
    for number, operation in enumerate(operations):
        for label, strategy in _runs(operation, _seed(herald, company[0], number)):
            try:
                _fuzz(strategy, call)
            except Unsatisfiable:
                pass  # nothing of it can be made invalid (a path id is any string)
            except (Exception, BaseExceptionGroup) as exc:  # every operation's failures
                failures.append(f"{operation.label} ({label}): {exc}")
    assert not failures, "\n\n".join(failures)
    # It tested what it says: every operation, a few hundred requests in all.
    assert set(called) == {operation.label for operation in operations}
    assert len(called) >= 20 * len(operations), len(called)
