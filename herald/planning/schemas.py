"""Request and response bodies of the planning routes (schedules, queues, series)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from herald.schemas import MediaIn, PostOut, RecurrenceIn, Strict


class SlotIn(Strict):
    weekday: str = Field(min_length=1, max_length=12, examples=["mon"])
    time: str = Field(min_length=1, max_length=8, examples=["09:00"])
    #: Only evergreen posts of this category refill the slot when it is still empty.
    category: str | None = Field(default=None, max_length=100)


class ScheduleIn(Strict):
    timezone: str = Field(min_length=1, max_length=64, examples=["Europe/Berlin"])
    slots: list[SlotIn] = Field(default_factory=list, max_length=1008)


class SlotOut(BaseModel):
    weekday: str
    time: str
    category: str | None = None


class ScheduleOut(BaseModel):
    account_id: str
    timezone: str
    slots: list[SlotOut]
    #: The next few slot times (UTC), free or not.
    upcoming: list[datetime] = Field(default_factory=list)


class QueueItem(BaseModel):
    slot: datetime
    #: "queue" or "evergreen".
    origin: str | None
    #: The queue row's status: "pending", "held" (the queue is paused), "processing" …
    queue_status: str | None
    posts: list[PostOut]


class QueueOut(BaseModel):
    account_id: str
    timezone: str | None
    paused: bool
    paused_at: datetime | None = None
    items: list[QueueItem]
    #: Free slots after now (UTC), the first `empty` of them.
    empty_slots: list[datetime]


class MoveIn(Strict):
    #: "up" (earlier: swap with the post before it) or "down"; or give `slot`.
    direction: Literal["up", "down"] | None = None
    #: An empty slot of the schedule to move the post to.
    slot: datetime | None = None



class RecurrenceOut(BaseModel):
    rule: str
    timezone: str
    until: datetime | None = None
    count: int | None = None


class SeriesOut(BaseModel):
    id: str
    #: "recurring" or "evergreen".
    kind: str
    account_ids: list[str]
    post_type: str
    caption: str
    media: list[dict[str, Any]]
    options: dict[str, Any]
    recurrence: RecurrenceOut | None = None
    #: Recurring: the first occurrence; occurrences up to expanded_until are posts.
    starts_at: datetime | None = None
    expanded_until: datetime | None = None
    #: Evergreen: the slot categories it refills.
    categories: list[str] = Field(default_factory=list)
    #: Set once the series was stopped (DELETE): it makes no more posts.
    stopped_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    #: Its posts still to come (pending), in time order, and the next times the rule
    #: gives beyond them.
    occurrences: list[PostOut] = Field(default_factory=list)
    next_times: list[datetime] = Field(default_factory=list)


class SeriesPage(BaseModel):
    items: list[SeriesOut]


class SeriesPatch(Strict):
    """Edits for the occurrences still to come (those edited on their own keep theirs)."""

    caption: str | None = Field(default=None, max_length=100_000)
    media: list[MediaIn] | None = Field(default=None, max_length=20)
    options: dict[str, Any] | None = None
    #: A new rule: the occurrences still to come are made again from it.
    recurrence: RecurrenceIn | None = None
    #: Evergreen: the slot categories it refills.
    categories: list[str] | None = Field(default=None, max_length=20)
