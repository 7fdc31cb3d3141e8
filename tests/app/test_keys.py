"""Key rotation (issue 17, #6): the new key first, old keys still decrypt, every token
re-encrypted by `herald keys rotate`, and a rotation cut off half-way loses nothing."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from herald.cli import app
from herald.crypto import TokenCipher
from herald.models import SocialToken
from herald.services import keys
from tests.helpers import add_account

OLD = "old-key-5f4dcc3b5aa765d61d8327deb882cf99"
NEW = "new-key-e99a18c428cb38d5f260853678922e03"


def _accounts(herald, company_id: str, count: int) -> list[str]:
    under_old = replace(herald, cipher=TokenCipher(OLD))
    return [add_account(under_old, company_id, "linkedin", f"urn:li:person:{n}",
                        refresh_token=f"refresh-{n}") for n in range(count)]


def _stored(herald) -> list[tuple[str, str | None]]:
    with herald.db.session() as session:
        return [(t.access_token_enc, t.refresh_token_enc)
                for t in session.scalars(select(SocialToken))]


def _readable(cipher: TokenCipher, stored) -> list[str]:
    return sorted(cipher.decrypt(v) for pair in stored for v in pair if v)


def test_old_keys_decrypt_and_only_the_new_key_encrypts():
    old, both = TokenCipher(OLD), TokenCipher(NEW, [OLD])
    value = old.encrypt("EAAB-token")
    assert both.decrypt(value) == "EAAB-token" and not both.is_current(value)
    fresh = both.encrypt("EAAB-token")
    assert both.is_current(fresh) and TokenCipher(NEW).decrypt(fresh) == "EAAB-token"
    with pytest.raises(ValueError, match="HERALD_OLD_SECRET_KEYS"):
        TokenCipher(NEW).decrypt(value)


@pytest.mark.all_engines
def test_rotate_re_encrypts_every_token_with_the_new_key(herald, company):
    _accounts(herald, company[0], 5)
    expected = sorted([f"secret-token-urn:li:person:{n}" for n in range(5)]
                      + [f"refresh-{n}" for n in range(5)])
    done = keys.rotate(herald.db, TokenCipher(NEW, [OLD]), batch=2)
    assert (done.rotated, done.current) == (10, 0)
    assert done.by_column == {"social_tokens.access_token_enc": 5,
                              "social_tokens.refresh_token_enc": 5}
    assert _readable(TokenCipher(NEW), _stored(herald)) == expected  # the old key not needed
    again = keys.rotate(herald.db, TokenCipher(NEW, [OLD]))
    assert (again.rotated, again.current) == (0, 10)


@pytest.mark.all_engines
def test_a_rotation_interrupted_half_way_loses_nothing(herald, company):
    _accounts(herald, company[0], 5)
    both = TokenCipher(NEW, [OLD])

    class Stop(Exception):
        pass

    def cut_off(progress: keys.Rotation) -> None:
        if progress.rotated >= 3:
            raise Stop

    with pytest.raises(Stop):
        keys.rotate(herald.db, both, batch=3, after_batch=cut_off)
    stored = _stored(herald)
    under_new = sum(both.is_current(v) for pair in stored for v in pair if v)
    assert under_new == 3  # some under each key...
    assert len(_readable(both, stored)) == 10  # ...and every one still readable
    finished = keys.rotate(herald.db, both)
    assert (finished.rotated, finished.current) == (7, 3)
    assert len(_readable(TokenCipher(NEW), _stored(herald))) == 10


def _secrets_and_channels(herald, company_id: str) -> list[str]:
    """Two webhooks (one mid secret-rotation) and a channel, saved under the old key."""
    from herald.events.schemas import WebhookCreate
    from herald.services import notifications, webhooks
    from herald.web import users

    under_old = replace(herald, cipher=TokenCipher(OLD))
    with under_old.unit_of_work() as session:
        ctx = under_old.context(company_id)
        first, _ = webhooks.create_webhook(session, ctx, WebhookCreate(
            url="https://hooks.example.test/a", events=["post.failed"],
            secret="whsec_first-secret-0001"))
        webhooks.create_webhook(session, ctx, WebhookCreate(
            url="https://hooks.example.test/b", events=["post.failed"],
            secret="whsec_second-secret-0002"))
    with under_old.unit_of_work() as session:
        rotated, _ = webhooks.rotate_secret(session, under_old.context(company_id), first.id)
    with herald.db.session() as session:
        user_id = users.create_user(session, company_id=company_id, email="ada@example.test",
                                    password="correct horse battery", name="Ada").id
    with under_old.unit_of_work() as session:
        notifications.add_channel(session, user_id=user_id, kind="chat",
                                  target="tgram://bot-token-123/chat-456",
                                  cipher=under_old.cipher)
    return sorted(["whsec_first-secret-0001", rotated,
                   "whsec_second-secret-0002", "tgram://bot-token-123/chat-456"])


def _stored_secrets(herald) -> list[str]:
    from herald.models import NotificationChannel, Webhook

    with herald.db.session() as session:
        hooks = [(w.secret_enc, w.previous_secret_enc) for w in session.scalars(select(Webhook))]
        targets = [c.target_enc for c in session.scalars(select(NotificationChannel))]
    return [v for pair in hooks for v in pair if v] + targets


@pytest.mark.all_engines
def test_webhook_secrets_and_channel_targets_are_rotated_too_even_when_interrupted(
        herald, company):
    expected = _secrets_and_channels(herald, company[0])
    both = TokenCipher(NEW, [OLD])
    assert keys.under_old_keys(herald.db, both) == 4

    class Stop(Exception):
        pass

    def cut_off(progress: keys.Rotation) -> None:
        if progress.rotated >= 1:
            raise Stop

    with pytest.raises(Stop):  # after the first webhook secret
        keys.rotate(herald.db, both, batch=1, after_batch=cut_off)
    assert sorted(both.decrypt(v) for v in _stored_secrets(herald)) == expected
    assert keys.under_old_keys(herald.db, both) == 3  # some under each key, all readable
    done = keys.rotate(herald.db, both)
    assert done.rotated == 3 and keys.under_old_keys(herald.db, both) == 0
    assert sorted(TokenCipher(NEW).decrypt(v) for v in _stored_secrets(herald)) == expected


def test_the_worker_publishes_with_tokens_under_either_key_during_a_rotation(herald,
                                                                            company):
    """Mid-rotation some tokens are under each key: the worker reads both."""
    import asyncio

    from tests.helpers import RecordingPublisher, add_posts

    first, second = _accounts(herald, company[0], 2)
    rotating = replace(herald, cipher=TokenCipher(NEW, [OLD]))
    with pytest.raises(_CutOff):
        keys.rotate(rotating.db, rotating.cipher, batch=1,
                    after_batch=lambda done: _stop_after(done, 1))  # one token rotated
    publisher = RecordingPublisher("linkedin")
    rotating.registry.register(publisher)
    for account in (first, second):
        add_posts(rotating, company[0], account, post_type="text")
    asyncio.run(rotating.build_worker(worker_id="w").run(until_idle=True))
    assert sorted(job.account.access_token for job, _ in publisher.calls) == [
        "secret-token-urn:li:person:0", "secret-token-urn:li:person:1"]


class _CutOff(Exception):
    pass


def _stop_after(done: keys.Rotation, count: int) -> None:
    if done.rotated >= count:
        raise _CutOff


def test_herald_keys_rotate_on_the_command_line(herald, company, database_url):
    _accounts(herald, company[0], 2)
    env = {"HERALD_DATABASE_URL": database_url, "HERALD_SECRET_KEY": NEW,
           "HERALD_OLD_SECRET_KEYS": OLD}
    result = CliRunner().invoke(app, ["keys", "rotate", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rotated"] == 4
    text = CliRunner().invoke(app, ["keys", "rotate"], env=env)
    assert "re-encrypted 0 value(s)" in text.stdout and "4 were already under it" in text.stdout
    # A value no configured key can read is named, not skipped.
    wrong = CliRunner().invoke(app, ["keys", "rotate"], env={
        **env, "HERALD_SECRET_KEY": "third-key-7215ee9c7d9dc229d2921a40e899ec5f",
        "HERALD_OLD_SECRET_KEYS": ""})
    assert wrong.exit_code == 1
    assert "social_tokens.access_token_enc of" in wrong.output


def test_doctor_says_whether_a_rotation_is_finished(herald, company):
    from herald import doctor

    _accounts(herald, company[0], 2)
    settings = herald.settings.model_copy(update={"secret_key": SecretStr(NEW),
                                                  "old_secret_keys": [SecretStr(OLD)]})

    def rotation() -> str:
        [found] = [f.message for f in doctor.diagnose(settings=settings, ask_platforms=False)
                   if f.check == "key rotation"]
        return found

    assert "4 stored value(s) are still under an old key" in rotation()
    keys.rotate(herald.db, TokenCipher(NEW, [OLD]))
    assert "HERALD_OLD_SECRET_KEYS can be emptied" in rotation()
