"""The Bluesky client against the fake PDS over real HTTP: sessions, records, blobs, facets,
and exactly-once by record key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

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
    PublishResult,
    RateLimitedError,
)
from herald.platforms.base import Journal as JobJournal
from herald.platforms.bluesky.client import BlueskyPublisher
from herald.platforms.bluesky.fake import store as pds
from herald.platforms.fake import FakeServer, FakeState
from tests.media_files import image_bytes

HANDLE, PASSWORD = "alice.test", "abcd-efgh-ijkl-mnop"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def module_server() -> Iterator[FakeServer]:
    with FakeServer(FakeState(seed=1)) as server:
        yield server


@pytest.fixture
def fake(module_server: FakeServer) -> FakeServer:
    module_server.state.reset()
    pds.add_account(module_server.state, HANDLE, PASSWORD)
    pds.add_account(module_server.state, "bob.test", "other")
    return module_server


@pytest.fixture
async def client() -> Iterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as c:
        yield c


def publisher(client: httpx.AsyncClient, fake: FakeServer, **knobs) -> BlueskyPublisher:
    fetcher = SafeFetcher(client, FetchRules(allow_private=True))
    return BlueskyPublisher(client, fetcher=fetcher, base_url=f"{fake.url}/bluesky",
                            allow_private_servers=True, now=lambda: NOW, **knobs)


class Journal:
    def __init__(self) -> None:
        self.entries: list[tuple[str, dict]] = []

    async def __call__(self, phase, ids) -> None:
        self.entries.append((str(phase), dict(ids)))


def job(caption: str = "Hello @bob.test, see https://example.com #herald",
        post_type: str = "feed", media=(), history: History | None = None,
        password: str = PASSWORD, post_id: str = "post-1", **options) -> PublishJob:
    account = AccountRef(id="acc", platform="bluesky", external_id=HANDLE, name="Alice",
                         access_token=password)
    return PublishJob(post_id=post_id, attempt=1, platform="bluesky", post_type=post_type,
                      caption=caption, media=tuple(media), account=account, run_at=NOW,
                      options=options, history=history or History(),
                      journal=JobJournal(Journal()))


def repo(fake: FakeServer) -> dict[str, pds.BskyRecord]:
    return pds.records(fake.state, pds.did_for(HANDLE))


async def test_a_text_post_is_one_record_with_facets_at_byte_offsets(client, fake) -> None:
    text = "Café ☕ @bob.test https://example.com #herald"
    result = await publisher(client, fake).publish(job(text))
    [record] = repo(fake).values()
    assert result.external_id == record.uri
    assert record.uri.endswith("/" + result.permalink.rsplit("/", 1)[-1])
    text = record.value["text"].encode()
    found = {f["features"][0]["$type"].rsplit("#", 1)[-1]:
             text[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode()
             for f in record.value["facets"]}
    assert found == {"mention": "@bob.test", "link": "https://example.com", "tag": "#herald"}
    mention = next(f for f in record.value["facets"] if "did" in f["features"][0])
    assert mention["features"][0]["did"] == pds.did_for("bob.test")
    assert result.permalink.startswith("https://bsky.app/profile/did:plc:")


async def test_images_go_up_as_blobs_with_alt_text_and_aspect_ratio(client, fake) -> None:
    fake.state.add_file("a.jpg", image_bytes(size=(1200, 800)), "image/jpeg")
    fake.state.add_file("b.png", image_bytes(size=(400, 400), fmt="PNG"), "image/png")
    media = [MediaItem(f"{fake.url}/_fake/files/a.jpg", "image", "A teal square"),
             MediaItem(f"{fake.url}/_fake/files/b.png", "image")]
    await publisher(client, fake).publish(job("Two images", "carousel", media))
    [record] = repo(fake).values()
    images = record.value["embed"]["images"]
    assert [i["alt"] for i in images] == ["A teal square", ""]
    assert images[0]["aspectRatio"] == {"width": 1200, "height": 800}
    assert images[1]["image"]["mimeType"] == "image/png"
    [published] = fake.state.published(platform="bluesky")
    assert published.kind == "carousel" and len(published.media_urls) == 2


async def test_an_image_over_a_million_bytes_is_refused_before_any_upload(client, fake) -> None:
    fake.state.add_file("big.jpg", b"\xff\xd8\xff" + b"0" * 1_000_000, "image/jpeg")
    with pytest.raises(PermanentError, match="1,000,000"):
        await publisher(client, fake).publish(job("big", media=[
            MediaItem(f"{fake.url}/_fake/files/big.jpg", "image")]))
    assert repo(fake) == {}


async def test_a_link_card_carries_the_link_title_and_description(client, fake) -> None:
    await publisher(client, fake).publish(job(
        "Read this", "article", link="https://example.com/launch", title="Launch",
        description="All about it"))
    [record] = repo(fake).values()
    assert record.value["embed"] == {"$type": "app.bsky.embed.external", "external": {
        "uri": "https://example.com/launch", "title": "Launch", "description": "All about it"}}


async def test_a_resend_writes_the_same_key_and_is_not_a_second_post(client, fake) -> None:
    bsky = publisher(client, fake)
    first = await bsky.publish(job())
    again = await bsky.publish(job())  # as a retry after a lost answer would
    assert again.external_id == first.external_id and again.extra.get("reconciled")
    assert len(repo(fake)) == 1 and len(fake.state.published(platform="bluesky")) == 1
    # The PDS refused the second record under the key (as a real PDS does: HTTP 500).
    assert [c.outcome for c in fake.state.commits(platform="bluesky")] == ["ok", "error"]


async def test_a_dropped_answer_is_settled_by_reading_the_key(client, fake) -> None:
    fake.state.add_fault("drop", platform="bluesky", endpoint="commit", count=1)
    result = await publisher(client, fake).publish(job())
    assert result.extra.get("reconciled") and len(repo(fake)) == 1


async def test_reconcile_finds_the_post_or_sends_it_under_the_same_key(client, fake) -> None:
    bsky = publisher(client, fake)
    sent = await bsky.reconcile(job())  # nothing there yet: sent now, once
    assert sent is not None and len(repo(fake)) == 1
    found = await bsky.reconcile(job())
    assert found is not None and found.external_id == sent.external_id
    assert len(repo(fake)) == 1


async def test_the_journal_keeps_the_key_and_a_later_attempt_reuses_it(client, fake) -> None:
    first = job()
    fake.state.add_fault("error", platform="bluesky", endpoint="commit", count=1)
    with pytest.raises(OutcomeUnknownError):
        await publisher(client, fake).publish(first)
    entries = first.journal._record.entries  # type: ignore[attr-defined]
    [(_, committing)] = [e for e in entries if e[0].endswith("committing")]
    # A later attempt (a new scheduled time, say) still writes the recorded key.
    later = replace(job(), run_at=datetime(2027, 1, 1, tzinfo=UTC),
                    history=History(ids={"rkey": committing["rkey"]}))
    result = await publisher(client, fake).publish(later)
    assert result.external_id.endswith("/" + committing["rkey"])


async def test_one_session_serves_many_posts_and_an_expired_one_is_refreshed(client, fake) -> None:
    bsky = publisher(client, fake)
    await bsky.publish(job("one", post_id="p1"))
    await bsky.publish(job("two", post_id="p2"))
    assert pds.sign_ins(fake.state) == 1
    pds.expire_sessions(fake.state)
    await bsky.publish(job("three", post_id="p3"))
    assert pds.sign_ins(fake.state) == 1  # refreshSession, not a new sign-in
    assert len(repo(fake)) == 3


async def test_a_wrong_app_password_needs_reauth(client, fake) -> None:
    with pytest.raises(NeedsReauthError, match="app password"):
        await publisher(client, fake).publish(job(password="wrong"))


async def test_a_throttled_commit_backs_the_account_off(client, fake) -> None:
    fake.state.add_fault("throttle", platform="bluesky", endpoint="commit", count=1)
    with pytest.raises(RateLimitedError):
        await publisher(client, fake).publish(job())
    assert repo(fake) == {}


async def test_a_private_server_is_refused_unless_allowed(client, fake) -> None:
    bsky = publisher(client, fake)
    strict = BlueskyPublisher(client, fetcher=SafeFetcher(client, FetchRules()),
                              base_url=f"{fake.url}/bluesky", now=lambda: NOW)
    with pytest.raises(PermanentError, match="https"):
        await strict.publish(job())
    assert repo(fake) == {}
    await bsky.publish(job())


async def test_a_first_comment_is_one_reply_even_when_it_is_resent(client, fake) -> None:
    bsky = publisher(client, fake)
    post = job("The post")
    first = await bsky.publish(post)
    assert await bsky.find_comment(post, first, "And a comment #herald") is None
    uri = await bsky.comment(post, first, "And a comment #herald")
    # A resend after a lost answer writes the same key: the PDS refuses it, the key is read.
    assert await bsky.comment(post, first, "And a comment #herald") == uri
    assert await bsky.find_comment(post, first, "And a comment #herald") == uri
    records = {r.uri: r for r in repo(fake).values()}
    assert len(records) == 2
    reply = records[uri].value
    assert reply["text"] == "And a comment #herald" and reply["facets"]
    assert reply["reply"]["root"] == reply["reply"]["parent"] == {
        "uri": first.external_id, "cid": first.extra["cid"]}


async def test_a_comment_without_the_journaled_cid_reads_the_post_for_it(client, fake) -> None:
    bsky = publisher(client, fake)
    post = job("The post")
    first = await bsky.publish(post)
    bare = PublishResult(first.external_id, first.permalink)  # a retry of the comment alone
    uri = await bsky.comment(post, bare, "Later")
    assert repo(fake)[uri.rsplit("/", 1)[-1]].value["reply"]["parent"]["cid"] == \
        first.extra["cid"]


async def test_a_refused_first_comment_is_an_error_of_its_own(client, fake) -> None:
    # Past the rules (as a comment edited under them would be): the PDS refuses it.
    bsky = publisher(client, fake)
    post = job("Post")
    first = await bsky.publish(post)
    with pytest.raises(PermanentError, match="300 graphemes"):
        await bsky.comment(post, first, "x" * 301)
    assert [r.value["text"] for r in repo(fake).values()] == ["Post"]
