"""Media is fetched before the transaction: a slow media server blocks no other writer."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from herald import services
from herald.errors import AppError
from herald.models import Post
from herald.runtime import Herald
from herald.schemas import PostCreate, PostPatch
from tests.helpers import add_account, add_posts
from tests.media_files import image_bytes

#: Every wait is bounded so that a regression fails the test instead of hanging it; the
#: bounds are far above what a passing run takes (milliseconds), never a measured figure.
BOUND = 15.0


class StallingMediaServer:
    """Serves one JPEG, but holds every request until `release` is set."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.release = threading.Event()
        body = image_bytes()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requested.set()
                outer.release.wait(BOUND * 2)
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slow.jpg"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def slow_media() -> Iterator[StallingMediaServer]:
    server = StallingMediaServer()
    server.thread.start()
    yield server
    server.release.set()
    server.server.shutdown()
    server.server.server_close()


class Background:
    """Runs a call in a thread; `done` is set when it returns or raises."""

    def __init__(self, call: Callable[[], object]) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.result: object = None

        def run() -> None:
            try:
                self.result = call()
            except BaseException as exc:  # reported by the test, not lost in the thread
                self.error = exc
            finally:
                self.done.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()


def test_a_slow_media_fetch_during_a_create_blocks_no_other_writer(
        herald: Herald, company: tuple[str, str], slow_media: StallingMediaServer) -> None:
    if herald.db.dialect != "sqlite":
        pytest.skip("only SQLite locks the whole database for a writer (BEGIN IMMEDIATE)")
    account_id = add_account(herald, company[0], "instagram", "ig-1")
    page_id = add_account(herald, company[0], "facebook", "page-1")
    ctx = herald.context(company[0])

    def slow_create() -> list[str]:
        with herald.db.session() as session:
            return [p.id for p in services.create_posts(session, ctx, PostCreate(
                account_id=account_id, run_at="now", caption="slow",
                media=[{"url": slow_media.url, "type": "image"}]))]

    slow = Background(slow_create)
    assert slow_media.requested.wait(BOUND), "the create never fetched its media"
    other = Background(lambda: add_posts(herald, company[0], page_id, caption="quick"))
    other.done.wait(BOUND)
    # The order of completion is the assertion: the other writer finished while the
    # media server still held the first create's fetch.
    finished_first = other.done.is_set() and not slow.done.is_set()
    slow_media.release.set()
    assert slow.done.wait(BOUND) and other.done.wait(BOUND)
    assert finished_first, f"the other writer waited for the media fetch: {other.error!r}"
    assert other.error is None and slow.error is None
    assert len(slow.result) == 1  # type: ignore[arg-type]


@pytest.mark.all_engines  # the row lock it must not hold is FOR UPDATE on the servers
def test_a_slow_media_fetch_during_an_edit_holds_no_lock_on_the_post(
        herald: Herald, company: tuple[str, str], slow_media: StallingMediaServer) -> None:
    page_id = add_account(herald, company[0], "facebook", "page-1")
    ctx = herald.context(company[0])
    [post_id] = add_posts(herald, company[0], page_id, run_at="2099-01-01T09:00:00Z",
                          caption="first")

    def slow_edit() -> str:
        with herald.db.session() as session:
            return services.update_post(session, ctx, post_id, PostPatch(
                media=[{"url": slow_media.url, "type": "image"}])).status

    def cancel() -> str:
        with herald.db.session() as session:
            return services.cancel_post(session, ctx, post_id).status

    slow = Background(slow_edit)
    assert slow_media.requested.wait(BOUND), "the edit never fetched its media"
    other = Background(cancel)
    other.done.wait(BOUND)
    finished_first = other.done.is_set() and not slow.done.is_set()
    slow_media.release.set()
    assert slow.done.wait(BOUND) and other.done.wait(BOUND)
    assert finished_first, f"the cancel waited for the edit's media fetch: {other.error!r}"
    assert other.error is None and other.result == "cancelled"
    # The edit then finds the post cancelled, as if it had come second.
    assert isinstance(slow.error, AppError) and "cancelled" in slow.error.message


def test_the_unit_of_work_wakes_the_worker_after_its_commit_and_not_after_a_failure(
        herald: Herald, company: tuple[str, str]) -> None:
    page_id = add_account(herald, company[0], "facebook", "page-1")
    ctx = herald.context(company[0])
    seen: list[int] = []

    def count_posts() -> None:
        # What a woken worker would find: the new post must already be committed.
        with herald.db.session() as session:
            seen.append(session.scalar(select(func.count()).select_from(Post)) or 0)

    herald.queue_changed.connect(count_posts)
    with herald.unit_of_work() as session:
        services.create_posts(session, ctx, PostCreate(account_id=page_id, run_at="now",
                                                        caption="hi"))
        assert seen == []
    assert seen == [1]
    with pytest.raises(AppError), herald.unit_of_work() as session:
        services.create_posts(session, ctx, PostCreate(account_id=page_id, run_at="now",
                                                        caption="hi"))
        services.create_posts(session, ctx, PostCreate(account_id="nobody", run_at="now"))
    assert seen == [1]
