"""The dispatcher's hook for people: an event → a send to each channel of each person of
the company who asked for that event, in the dispatcher's transaction (so exactly once)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, select

from herald.events.dispatcher import Dispatched
from herald.events.types import EventType
from herald.models import NotificationChannel, NotificationPref, new_id
from herald.notifications import messages
from herald.queue import deliveries as dq
from herald.team_models import Membership

channels_t = cast(Table, NotificationChannel.__table__)
prefs_t = cast(Table, NotificationPref.__table__)
# Memberships, not users.company_id: an agency's people hear from each of their companies.
members_t = cast(Table, Membership.__table__)


class NotifyPeople:
    """A dispatcher fan-out (herald.events.dispatcher.FanOut)."""

    def __init__(self, *, public_url: str, max_attempts: int) -> None:
        self.public_url = public_url
        self.max_attempts = max_attempts

    def __call__(self, conn: Connection, events: Sequence[Dispatched], now: datetime) -> None:
        companies = {e.company_id for e in events}
        if not companies:
            return
        rows = conn.execute(
            select(members_t.c.company_id, members_t.c.user_id, prefs_t.c.events,
                   channels_t.c.id)
            .select_from(members_t.join(prefs_t, prefs_t.c.user_id == members_t.c.user_id)
                         .join(channels_t, channels_t.c.user_id == members_t.c.user_id))
            .where(members_t.c.company_id.in_(companies), channels_t.c.enabled)).all()
        if not rows:
            return
        sends: list[dict[str, Any]] = []
        for event in events:
            wanted = [r.id for r in rows
                      if r.company_id == event.company_id and event.type in (r.events or [])
                      and _addressed(event, r.user_id)]
            if not wanted:
                continue
            title, body = messages.render(event.type, event.data, public_url=self.public_url)
            sends += [{"id": new_id(), "channel_id": channel_id, "event_id": event.id,
                       "title": title, "body": body, "run_at": now,
                       "max_attempts": self.max_attempts, "created_at": now,
                       "updated_at": now} for channel_id in wanted]
        dq.enqueue(conn, dq.sends_t, sends)


def _addressed(event: Dispatched, user_id: str) -> bool:
    """Whether a person is told of this event at all: a mention only tells those it
    mentions, and nobody is told of their own comment."""
    if event.type == EventType.THREAD_MENTIONED:
        return user_id in (event.data.get("mentions") or [])
    if event.type == EventType.THREAD_COMMENTED:
        return user_id != event.data.get("user_id")
    return True
