"""The Mastodon client against the fake instance over real HTTP: media uploads polled,
statuses under an Idempotency-Key, the instance's own limits, reconciliation, replies."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from herald.media.fetch import FetchRules, SafeFetcher
from herald.platforms.base import (
    AccountRef,
    History,
    MediaItem,
    NeedsReauthError,
    OutcomeUnknownError,
    PermanentError,
    PublishJob,
    RateLimitedError,
    TransientError,
)
from herald.platforms.base import Journal as JobJournal
from herald.platforms.fake import FakeServer, FakeState
from herald.platforms.mastodon import instance
from herald.platforms.mastodon.client import MastodonPublisher
from herald.platforms.mastodon.fake import store as masto
from tests.media_files import image_bytes, mp4_bytes

TOKEN = "alice-token"


@pytest.fixture(scope="module")
def module_server() -> Iterator[FakeServer]:
    with FakeServer(FakeState(seed=1)) as server:
        yield server


@pytest.fixture
def fake(module_server: FakeServer) -> FakeServer:
    module_server.state.reset()
    instance.forget()
    masto.add_account(module_server.state, "alice", TOKEN)
    masto.add_account(module_server.state, "bob", "bob-token")
    module_server.state.add_file("a.jpg", image_bytes(size=(800, 600)), "image/jpeg")
    return module_server


@pytest.fixture
async def client() -> Iterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as c:
        yield c


async def _no_sleep(_: float) -> None:
    return None


def publisher(client: httpx.AsyncClient, fake: FakeServer, **knobs) -> MastodonPublisher:
    fetcher = SafeFetcher(client, FetchRules(allow_private=True))
    return MastodonPublisher(client, fetcher=fetcher, base_url=f"{fake.url}/mastodon",
                             allow_private_servers=True, sleep=_no_sleep, **knobs)


class Journal:
    def __init__(self) -> None:
        self.entries: list[tuple[str, dict]] = []

    async def __call__(self, phase, ids) -> None:
        self.entries.append((str(phase), dict(ids)))


def job(caption: str = "Hello from Herald https://example.com/launch", post_type: str = "feed",
        media=(), history: History | None = None, token: str = TOKEN,
        post_id: str = "post-1", server_url: str | None = None, **options) -> PublishJob:
    account = AccountRef(id="acc", platform="mastodon", external_id="alice", name="Alice",
                         access_token=token, server_url=server_url)
    return PublishJob(post_id=post_id, attempt=1, platform="mastodon", post_type=post_type,
                      caption=caption, media=tuple(media), account=account,
                      run_at=datetime.now(UTC), options=options,
                      history=history or History(), journal=JobJournal(Journal()))


def entries(j: PublishJob) -> list[tuple[str, dict]]:
    return j.journal._record.entries  # type: ignore[attr-defined]


def alice(fake: FakeServer) -> list[masto.MastoStatus]:
    account = masto.account_by_name(fake.state, "alice")
    assert account is not None
    return masto.statuses(fake.state, account.id)


async def test_a_status_carries_visibility_content_warning_and_language(client, fake) -> None:
    post = job(visibility="unlisted", spoiler_text="Launch news", language="de")
    result = await publisher(client, fake).publish(post)
    [status] = alice(fake)
    assert result.external_id == status.id and result.permalink
    assert (status.visibility, status.spoiler_text, status.language, status.sensitive) == (
        "unlisted", "Launch news", "de", True)
    assert result.extra["idempotency_key"] == "herald-post-1"
    [(_, committing)] = [e for e in entries(post) if e[0].endswith("committing")]
    assert committing["idempotency_key"] == "herald-post-1"


async def test_images_are_uploaded_with_alt_text_and_polled_until_processed(client,
                                                                          fake) -> None:
    masto.configure(fake.state, processing_polls=3)  # 202, then 206 three times, then 200
    media = [MediaItem(f"{fake.url}/_fake/files/a.jpg", "image", "A teal square"),
             MediaItem(f"{fake.url}/_fake/files/a.jpg", "image")]
    post = job("Two images", "carousel", media)
    await publisher(client, fake).publish(post)
    [status] = alice(fake)
    with fake.state.lock:
        kept = [masto.store(fake.state).media[m] for m in status.media_ids]
    assert [m.description for m in kept] == ["A teal square", ""]
    assert all(m.polls_left < 0 for m in kept)  # polled past processing, not posted early
    [published] = fake.state.published(platform="mastodon")
    assert published.kind == "carousel" and len(published.media_urls) == 2
    prepared = [e for e in entries(post) if e[0].endswith("prepared")]
    assert prepared[-1][1]["media_ids"] == status.media_ids


async def test_a_video_is_waited_for_before_the_status(client, fake) -> None:
    fake.state.add_file("v.mp4", mp4_bytes(), "video/mp4")
    await publisher(client, fake).publish(job("A video", "video", [
        MediaItem(f"{fake.url}/_fake/files/v.mp4", "video")]))
    [published] = fake.state.published(platform="mastodon")
    assert published.kind == "video"


async def test_a_resend_under_the_same_key_is_the_same_status(client, fake) -> None:
    masto_pub = publisher(client, fake)
    first = await masto_pub.publish(job())
    again = await masto_pub.publish(job())  # as a retry after a lost answer would
    assert again.external_id == first.external_id
    assert len(alice(fake)) == 1 and len(fake.state.published(platform="mastodon")) == 1


async def test_a_key_is_remembered_for_an_hour_per_account(client, fake) -> None:
    masto_pub = publisher(client, fake)
    first = await masto_pub.publish(job())
    other = await masto_pub.publish(job(token="bob-token"))  # bob's key space is his own
    assert other.external_id != first.external_id
    fake.state.advance(3601)
    later = await masto_pub.publish(job())
    assert later.external_id != first.external_id  # the instance forgot the key
    assert len(alice(fake)) == 2


async def test_a_dropped_answer_is_reconciled_without_a_duplicate(client, fake) -> None:
    masto_pub = publisher(client, fake)
    post = job()
    fake.state.add_fault("drop", platform="mastodon", endpoint="commit", count=1)
    with pytest.raises(OutcomeUnknownError):
        await masto_pub.publish(post)
    [(_, committing)] = [e for e in entries(post) if e[0].endswith("committing")]
    later = replace(post, history=History(
        ids={"idempotency_key": committing["idempotency_key"]}, unsettled_commit=True,
        committing_at=datetime.fromisoformat(committing["committing_at"])))
    found = await masto_pub.reconcile(later)
    assert found is not None and found.extra.get("reconciled")
    assert len(alice(fake)) == 1
    # And a resend (what publishing does when reconcile finds nothing) is the same status.
    assert (await masto_pub.publish(later)).external_id == found.external_id
    assert len(alice(fake)) == 1


async def test_reconcile_says_not_out_when_the_account_does_not_have_it(client, fake) -> None:
    masto_pub = publisher(client, fake)
    await masto_pub.publish(job("Something else", post_id="p0"))
    post = job(history=History(unsettled_commit=True,
                               committing_at=datetime.now(UTC) - timedelta(seconds=5)))
    assert await masto_pub.reconcile(post) is None


async def test_an_unfinished_commit_is_not_guessed_when_the_list_is_too_short(client,
                                                                            fake) -> None:
    masto_pub = publisher(client, fake)
    for n in range(41):
        await masto_pub.publish(job(f"Filler {n}", post_id=f"f{n}"))
    # Two hours on: Mastodon no longer remembers the key, so only the list could tell.
    post = job(history=History(unsettled_commit=True,
                               committing_at=datetime.now(UTC) - timedelta(hours=2)))
    with pytest.raises(OutcomeUnknownError, match="more statuses"):
        await masto_pub.reconcile(post)


async def test_the_instances_limits_are_read_and_used(client, fake) -> None:
    masto.configure(fake.state, max_characters=20, max_media_attachments=1)
    masto_pub = publisher(client, fake)
    with pytest.raises(PermanentError, match="20 characters"):
        await masto_pub.publish(job("x" * 21, "text"))
    # The figures the client checked against are the instance's, now cached for the rules.
    limits = instance.cached(f"{fake.url}/mastodon")
    assert (limits.max_characters, limits.max_media, limits.source) == (20, 1, "instance")
    assert alice(fake) == []


async def test_a_wrong_token_needs_reauth(client, fake) -> None:
    with pytest.raises(NeedsReauthError, match="access token"):
        await publisher(client, fake).publish(job(token="wrong"))


async def test_a_throttled_commit_waits_until_the_reset(client, fake) -> None:
    fake.state.add_fault("throttle", platform="mastodon", endpoint="commit", count=1)
    with pytest.raises(RateLimitedError) as caught:
        await publisher(client, fake).publish(job())
    assert caught.value.retry_after is not None and 200 < caught.value.retry_after <= 300
    assert alice(fake) == []


async def test_a_server_error_on_the_commit_is_an_unknown_outcome(client, fake) -> None:
    fake.state.add_fault("error", platform="mastodon", endpoint="commit", count=1)
    with pytest.raises(OutcomeUnknownError):
        await publisher(client, fake).publish(job())


async def test_a_server_error_on_an_upload_is_transient(client, fake) -> None:
    fake.state.add_fault("error", platform="mastodon", endpoint="upload", count=1)
    with pytest.raises(TransientError) as caught:
        await publisher(client, fake).publish(job("img", media=[
            MediaItem(f"{fake.url}/_fake/files/a.jpg", "image")]))
    assert not isinstance(caught.value, OutcomeUnknownError)


async def test_a_busy_media_poll_is_polled_through(client, fake) -> None:
    masto.configure(fake.state, processing_polls=2)
    fake.state.add_fault("error", platform="mastodon", endpoint="status", count=2)
    await publisher(client, fake).publish(job("img", media=[
        MediaItem(f"{fake.url}/_fake/files/a.jpg", "image")]))
    assert len(alice(fake)) == 1


async def test_a_retry_reuses_the_uploaded_media(client, fake) -> None:
    masto_pub = publisher(client, fake)
    post = job("img", media=[MediaItem(f"{fake.url}/_fake/files/a.jpg", "image")])
    fake.state.add_fault("throttle", platform="mastodon", endpoint="commit", count=1)
    with pytest.raises(RateLimitedError):
        await masto_pub.publish(post)
    [(_, prepared)] = [e for e in entries(post) if e[0].endswith("prepared")]
    retry = replace(post, history=History(ids={"media_ids": prepared["media_ids"]}))
    await masto_pub.publish(retry)
    [status] = alice(fake)
    assert status.media_ids == prepared["media_ids"]
    with fake.state.lock:
        assert len(masto.store(fake.state).media) == 1  # not uploaded twice


async def test_a_private_server_is_refused_unless_allowed(client, fake) -> None:
    strict = MastodonPublisher(client, fetcher=SafeFetcher(client, FetchRules()),
                               base_url=f"{fake.url}/mastodon")
    with pytest.raises(PermanentError, match="https"):
        await strict.publish(job())
    assert alice(fake) == []


async def test_a_first_comment_is_one_reply_even_when_it_is_resent(client, fake) -> None:
    masto_pub = publisher(client, fake)
    post = job("The post", visibility="unlisted")
    first = await masto_pub.publish(post)
    assert await masto_pub.find_comment(post, first, "And a comment") is None
    reply = await masto_pub.comment(post, first, "And a comment")
    assert await masto_pub.comment(post, first, "And a comment") == reply  # same key
    assert await masto_pub.find_comment(post, first, "And a comment") == reply
    statuses = {s.id: s for s in alice(fake)}
    assert len(statuses) == 2
    assert statuses[reply].in_reply_to_id == first.external_id
    assert statuses[reply].visibility == "unlisted"


async def test_a_refused_first_comment_is_an_error_of_its_own(client, fake) -> None:
    masto_pub = publisher(client, fake)
    post = job("Post")
    first = await masto_pub.publish(post)
    with pytest.raises(PermanentError, match="character limit"):
        await masto_pub.comment(post, first, "x" * 501)
    assert [s.text for s in alice(fake)] == ["Post"]


async def test_an_unreadable_account_is_settled_by_resending_under_the_key(client,
                                                                          fake) -> None:
    masto_pub = publisher(client, fake)
    sent = await masto_pub.publish(job())
    history = History(ids={"idempotency_key": "herald-post-1"}, unsettled_commit=True,
                      committing_at=datetime.now(UTC) - timedelta(minutes=2))
    fake.state.add_fault("error", platform="mastodon", endpoint="read", count=1)
    found = await masto_pub.reconcile(job(history=history))
    assert found is not None and found.external_id == sent.external_id
    assert len(alice(fake)) == 1


async def test_a_cut_off_commit_is_not_resent_while_it_may_be_on_the_wire(client,
                                                                         fake) -> None:
    history = History(ids={"idempotency_key": "herald-post-1"}, unsettled_commit=True,
                      commit_cut_off=True, committing_at=datetime.now(UTC))
    fake.state.add_fault("error", platform="mastodon", endpoint="read", count=1)
    with pytest.raises(OutcomeUnknownError):
        await publisher(client, fake).reconcile(job(history=history))
    assert alice(fake) == []
