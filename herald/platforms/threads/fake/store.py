"""What the fake Threads API remembers: profiles and their tokens, media containers, the
published threads (posts and replies) and each profile's publish times for the limit.
Kept in the fake's state under the platform's name, so FakeState.reset() forgets it with
everything else; every access holds the state's lock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from herald.platforms.fake.state import FakeState
from herald.platforms.threads import NAME

#: Threads' documented limit: 250 API-published posts per profile in a moving 24 hours.
QUOTA_TOTAL = 250
#: Containers not published within 24 hours expire.
CONTAINER_TTL = 86_400.0


@dataclass
class Profile:
    id: str
    username: str
    name: str
    quota_total: int = QUOTA_TOTAL


@dataclass
class Container:
    id: str
    user_id: str
    media_type: str
    text: str
    created_at: float
    image_url: str | None = None
    video_url: str | None = None
    is_carousel_item: bool = False
    children: tuple[str, ...] = ()
    reply_to_id: str | None = None
    #: Set by a processing_error fault: what the status's error_message will say.
    error_message: str | None = None
    #: The thread it was published as.
    media_id: str | None = None
    #: Status reads so far (a video's first says IN_PROGRESS).
    polls: int = 0


@dataclass
class Thread:
    id: str
    user_id: str
    container_id: str
    media_type: str
    text: str
    timestamp: float
    permalink: str
    reply_to_id: str | None = None


@dataclass
class ThreadsStore:
    profiles: dict[str, Profile] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> user id
    containers: dict[str, Container] = field(default_factory=dict)
    threads: dict[str, Thread] = field(default_factory=dict)
    #: user id -> its threads' ids, oldest first (posts only; replies are under replies).
    timeline: dict[str, list[str]] = field(default_factory=dict)
    #: thread id -> its replies' ids, oldest first.
    replies: dict[str, list[str]] = field(default_factory=dict)
    #: user id -> publish times (posts), for threads_publishing_limit.
    publishes: dict[str, list[float]] = field(default_factory=dict)
    #: People who may sign in to the fake's OAuth dialog: user id -> (name, username).
    users: dict[str, tuple[str, str]] = field(default_factory=dict)


def store(state: FakeState) -> ThreadsStore:
    """The state's Threads store (made on first use; the caller holds state.lock)."""
    found = state.data.platforms.get(NAME)
    if not isinstance(found, ThreadsStore):
        found = state.data.platforms[NAME] = ThreadsStore()
    return found


def add_account(state: FakeState, user_id: str, token: str, *, name: str | None = None,
                username: str | None = None, quota_total: int | None = None,
                **_: Any) -> Profile:
    """A Threads profile publishing with `token`."""
    profile = Profile(id=user_id, username=username or f"fake_{user_id[-6:]}",
                      name=name or user_id, quota_total=quota_total or QUOTA_TOTAL)
    with state.lock:
        threads = store(state)
        threads.profiles[user_id] = profile
        threads.tokens[token] = user_id
        threads.timeline.setdefault(user_id, [])
    return profile


def add_user(state: FakeState, user_id: str, name: str, body: dict[str, Any]) -> None:
    """Someone who may sign in to the fake's Threads OAuth dialog."""
    with state.lock:
        store(state).users[user_id] = (name, str(body.get("username") or f"fake_{user_id}"))


def posts(state: FakeState, user_id: str) -> list[Thread]:
    """The profile's published posts, oldest first."""
    with state.lock:
        threads = store(state)
        return [threads.threads[i] for i in threads.timeline.get(user_id, [])]


def replies_to(state: FakeState, thread_id: str) -> list[Thread]:
    with state.lock:
        threads = store(state)
        return [threads.threads[i] for i in threads.replies.get(thread_id, [])]
