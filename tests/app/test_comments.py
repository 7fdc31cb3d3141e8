"""A post's thread: comments through the API and the web UI, @mentions that notify the
members they name (and only them), review-link comments by a client, deleting one's own,
their audit entries and events, and each bad input."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from herald import services
from herald.config import Settings
from herald.errors import Forbidden, Invalid, NotFound
from herald.events import dispatcher, payloads
from herald.models import Event, NotificationChannel, NotificationSend, utcnow
from herald.notifications.fanout import NotifyPeople
from herald.permissions import Role
from herald.runtime import Herald
from herald.services import comments
from herald.services import notifications as prefs
from herald.web import users
from tests.conftest import mail_settings
from tests.helpers import add_account, add_posts
from tests.smtp_server import Mailbox

LATER = "2030-01-01T09:00:00Z"
PASSWORD = "a-long-password"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, mailbox: Mailbox) -> Settings:
    return mail_settings(database_url, tmp_path, mailbox, outbox_poll_seconds=0.05)


def _owner(company: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {company[1]}"}


def _post(herald: Herald, company_id: str, account_id: str | None = None) -> str:
    account_id = account_id or add_account(herald, company_id)
    return add_posts(herald, company_id, account_id, run_at=LATER, post_type="text",
                     caption="Our autumn sale")[0]


def _member(herald: Herald, company_id: str, email: str, *, role: Role = Role.EDITOR,
            account_ids: list[str] | None = None, channel: bool = True) -> str:
    with herald.unit_of_work() as session:
        user = users.create_user(session, company_id=company_id, email=email,
                                 password=PASSWORD, name=email.split("@")[0].title(),
                                 role=role, account_ids=account_ids)
        if channel:
            prefs.add_channel(session, user_id=user.id, kind="email", target=email,
                              cipher=herald.cipher)
        return user.id


def _ctx(herald: Herald, company_id: str, email: str, role: Role = Role.EDITOR) -> Any:
    return herald.context(company_id, actor=f"web:{email}", role=role)


def _dispatch(herald: Herald) -> list[NotificationSend]:
    people = NotifyPeople(public_url="https://herald.example.test", max_attempts=3)
    dispatcher.dispatch(herald.db.engine, now=utcnow(), max_attempts=3, fan_outs=(people,))
    with herald.db.session() as session:
        return list(session.scalars(select(NotificationSend)))


def _owners_of(herald: Herald, sends: list[NotificationSend]) -> set[str]:
    with herald.db.session() as session:
        return {session.get(NotificationChannel, s.channel_id).user_id  # type: ignore[union-attr]
                for s in sends}


# --- the API -----------------------------------------------------------------------------


def test_a_comment_is_added_listed_and_deleted_by_its_author(client, herald, company):
    post_id = _post(herald, company[0])
    url = f"/api/v1/posts/{post_id}/comments"
    made = client.post(url, headers=_owner(company), json={"body": "  Love it\r\nship it "})
    assert made.status_code == 201, made.text
    comment = made.json()
    assert comment["body"] == "Love it\nship it"
    assert comment["post_id"] == post_id and comment["actor"].startswith("token:")
    assert comment["author"] == comment["actor"] and comment["review_link_id"] is None
    second = client.post(url, headers=_owner(company), json={"body": "And another"}).json()
    listed = client.get(url, headers=_owner(company)).json()["items"]
    assert [c["id"] for c in listed] == [comment["id"], second["id"]]
    gone = client.delete(f"{url}/{comment['id']}", headers=_owner(company))
    assert gone.status_code == 204
    assert [c["id"] for c in client.get(url, headers=_owner(company)).json()["items"]] == [
        second["id"]]
    again = client.delete(f"{url}/{comment['id']}", headers=_owner(company))
    assert again.status_code == 404


@pytest.mark.parametrize("body, fragment", [
    ({"body": ""}, "at least 1 character"),
    ({"body": "   \n "}, "needs some text"),
    ({"body": "x" * 5001}, "at most 5000 characters"),
    ({"body": "ok", "author": "me"}, "unknown field"),
    ({"body": "nul \x00 inside"}, "NUL"),
    ({}, "body is required"),
])
def test_a_bad_comment_is_a_422_saying_why(client, herald, company, body, fragment):
    post_id = _post(herald, company[0])
    answer = client.post(f"/api/v1/posts/{post_id}/comments", headers=_owner(company),
                         json=body)
    assert answer.status_code == 422, answer.text
    assert fragment in answer.text


def test_a_comment_on_a_post_that_is_not_there_or_of_another_company_is_a_404(
        client, herald, company):
    with herald.db.session() as session:
        other, _ = services.create_company(session, name="Other")
        session.commit()
        other_id = other.id
    their_post = _post(herald, other_id)
    for post_id in ("no-such-post", their_post):
        url = f"/api/v1/posts/{post_id}/comments"
        assert client.post(url, headers=_owner(company), json={"body": "hi"}).status_code == 404
        assert client.get(url, headers=_owner(company)).status_code == 404


def test_nobody_deletes_anothers_comment_and_a_comment_of_another_post_is_not_found(
        client, herald, company):
    post_id = _post(herald, company[0])
    account = add_account(herald, company[0], external_id="page-2")
    other_post = _post(herald, company[0], account)
    made = client.post(f"/api/v1/posts/{post_id}/comments", headers=_owner(company),
                       json={"body": "Mine"}).json()
    with herald.db.session() as session:
        token = services.create_api_token(session, company_id=company[0], name="e",
                                          role=Role.EDITOR)
    editor = {"Authorization": f"Bearer {token}"}
    refused = client.delete(f"/api/v1/posts/{post_id}/comments/{made['id']}", headers=editor)
    assert refused.status_code == 403
    assert refused.json()["error"]["details"] == [{"permission": "comment_author"}]
    elsewhere = client.delete(f"/api/v1/posts/{other_post}/comments/{made['id']}",
                              headers=_owner(company))
    assert elsewhere.status_code == 404


def test_a_viewer_reads_the_thread_but_may_not_comment(client, herald, company):
    post_id = _post(herald, company[0])
    with herald.db.session() as session:
        token = services.create_api_token(session, company_id=company[0], name="v",
                                          role=Role.VIEWER)
    viewer = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/posts/{post_id}/comments"
    assert client.get(url, headers=viewer).status_code == 200
    refused = client.post(url, headers=viewer, json={"body": "hi"})
    assert refused.status_code == 403 and "'comment'" in refused.json()["error"]["message"]


# --- mentions ----------------------------------------------------------------------------


def test_mentions_name_members_by_address_or_its_unique_first_part(herald, company):
    account = add_account(herald, company[0])
    other = add_account(herald, company[0], external_id="page-2")
    post_id = _post(herald, company[0], account)
    author = _member(herald, company[0], "ada@example.com")
    bob = _member(herald, company[0], "bob@example.com")
    ann = _member(herald, company[0], "ann@example.com")
    _member(herald, company[0], "ann@other.org")  # "@ann" could be either: nobody
    _member(herald, company[0], "ig@example.com", account_ids=[other])  # cannot see it
    body = ("@bob, thanks! @ann@example.com see this; @ann? @ig @nobody @ada "
            "mail@bob.example and @BOB again.")
    with herald.unit_of_work() as session:
        comment = comments.add_comment(session, _ctx(herald, company[0], "ada@example.com"),
                                       post_id, body)
        assert comment.mentions == [bob, ann]
        assert comment.author_name == "Ada" and comment.user_id == author


def test_a_mention_notifies_only_the_mentioned_member_by_their_channel(herald, company):
    post_id = _post(herald, company[0])
    _member(herald, company[0], "ada@example.com")
    bob = _member(herald, company[0], "bob@example.com")
    _member(herald, company[0], "cy@example.com")  # default choices: mentions only
    with herald.unit_of_work() as session:
        comments.add_comment(session, _ctx(herald, company[0], "ada@example.com"), post_id,
                             "@bob can you check the price?")
    sends = _dispatch(herald)
    assert _owners_of(herald, sends) == {bob}
    [send] = sends
    assert send.title == "Ada mentioned you on a Facebook post"
    assert "“@bob can you check the price?”" in send.body
    assert f"https://herald.example.test/posts/{post_id}#comments" in send.body


def test_who_asked_for_every_comment_is_told_of_each_but_their_own(herald, company):
    post_id = _post(herald, company[0])
    ada = _member(herald, company[0], "ada@example.com")
    cy = _member(herald, company[0], "cy@example.com")
    for user_id in (ada, cy):
        with herald.unit_of_work() as session:
            prefs.set_prefs(session, user_id=user_id, events=["thread.commented"],
                            digest=False, digest_hour=8)
    with herald.unit_of_work() as session:
        comments.add_comment(session, _ctx(herald, company[0], "ada@example.com"), post_id,
                             "No mention here")
    sends = _dispatch(herald)
    assert _owners_of(herald, sends) == {cy}
    assert sends[0].title == "Ada commented on a Facebook post"


async def test_a_mention_reaches_the_smtp_server(herald, company, mailbox):
    post_id = _post(herald, company[0])
    _member(herald, company[0], "ada@example.com")
    _member(herald, company[0], "bob@example.com")
    with herald.unit_of_work() as session:
        comments.add_comment(session, _ctx(herald, company[0], "ada@example.com"), post_id,
                             "@bob@example.com please look")
    worker = herald.build_worker(worker_id="w1")
    task = asyncio.create_task(worker.run())
    try:
        [mail] = await asyncio.to_thread(mailbox.wait_for, 1)
    finally:
        worker.stop()
        await task
    assert mail["To"] == "bob@example.com"
    assert mail["Subject"] == "Ada mentioned you on a Facebook post"


def test_a_comment_writes_its_events_and_their_data_names_the_comment_and_post(
        herald, company):
    post_id = _post(herald, company[0])
    _member(herald, company[0], "ada@example.com")
    bob = _member(herald, company[0], "bob@example.com", channel=False)
    with herald.unit_of_work() as session:
        comment = comments.add_comment(session, _ctx(herald, company[0], "ada@example.com"),
                                       post_id, "@bob hi")
        comment_id = comment.id
    with herald.db.session() as session:
        kinds = sorted(e.type for e in session.scalars(
            select(Event).where(Event.subject_id == comment_id)))
        assert kinds == ["thread.commented", "thread.mentioned"]
        described = payloads.describe(session, "thread.mentioned", comment_id)
    assert described is not None
    company_id, data = described
    assert company_id == company[0] and data["mentions"] == [bob]
    assert data["post"]["id"] == post_id and data["author"] == "Ada"


# --- review links, the audit log, the web UI ---------------------------------------------


def test_a_client_comments_through_a_review_link_with_the_name_they_give(herald, company):
    post_id = _post(herald, company[0])
    ctx = herald.context(company[0], actor=comments.link_actor("link-1"), role=Role.CLIENT)
    with herald.unit_of_work() as session:
        comment = comments.add_link_comment(session, ctx, post_id, link_id="link-1",
                                            author_name="  Carla   (Acme) ",
                                            body="Approved from our side")
        assert (comment.author_name, comment.actor, comment.review_link_id) == (
            "Carla (Acme)", "review:link-1", "link-1")
    with herald.unit_of_work() as session, pytest.raises(Invalid, match="a name"):
        comments.add_link_comment(session, ctx, post_id, link_id="link-1",
                                  author_name=" ", body="hi")
    viewer = herald.context(company[0], actor="review:link-2", role=Role.VIEWER)
    with herald.unit_of_work() as session, pytest.raises(Forbidden, match="'comment'"):
        comments.add_link_comment(session, viewer, post_id, link_id="link-2",
                                  author_name="V", body="hi")


def test_a_member_limited_to_other_accounts_cannot_comment_on_the_post(herald, company):
    post_id = _post(herald, company[0])
    other = add_account(herald, company[0], external_id="page-2")
    ctx = herald.context(company[0], actor="web:ig@example.com", role=Role.CONTRIBUTOR,
                         account_ids=frozenset({other}))
    with herald.unit_of_work() as session, pytest.raises(NotFound):
        comments.add_comment(session, ctx, post_id, "hi")


def test_comments_and_their_deletion_are_in_the_audit_log(client, herald, company):
    post_id = _post(herald, company[0])
    url = f"/api/v1/posts/{post_id}/comments"
    made = client.post(url, headers=_owner(company), json={"body": "Check the date"}).json()
    client.delete(f"{url}/{made['id']}", headers=_owner(company))
    entries = client.get("/api/v1/audit", headers=_owner(company),
                         params={"post_id": post_id}).json()["items"]
    deleted, added = entries[0], entries[1]
    assert added["action"] == "thread.commented" and added["actor"] == made["actor"]
    assert added["after"] == {"comment_id": made["id"], "author": made["author"],
                              "body": "Check the date", "mentions": []}
    assert deleted["action"] == "thread.comment_deleted"
    assert deleted["before"]["comment_id"] == made["id"] and deleted["after"] is None
