"""The webhook API's shapes (contract): what clients send and what they get back."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from herald.events.types import SUBSCRIBABLE

_NAMES = ", ".join(SUBSCRIBABLE)


def check_event_names(value: list[str]) -> list[str]:
    unknown = [name for name in value if name not in SUBSCRIBABLE]
    if unknown:
        raise ValueError(f"unknown event {', '.join(map(repr, unknown))}; the events are "
                         f"{_NAMES}")
    return list(dict.fromkeys(value))


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000)
    events: list[str] = Field(min_length=1, max_length=len(SUBSCRIBABLE))
    #: The signing secret; Herald makes one (shown once) when none is given.
    secret: str | None = Field(default=None, min_length=16, max_length=200)
    description: str = Field(default="", max_length=200)

    _events = field_validator("events")(check_event_names)


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=2000)
    events: list[str] | None = Field(default=None, min_length=1,
                                     max_length=len(SUBSCRIBABLE))
    description: str | None = Field(default=None, max_length=200)
    #: true turns a disabled webhook on again (its waiting deliveries go out).
    enabled: bool | None = None

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_event_names(value)


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    description: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None = None
    failing_since: datetime | None = None
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    #: The signing secret: shown here only, never again (rotate to get a new one).
    secret: str


class SecretRotated(BaseModel):
    secret: str
    #: Until then deliveries carry a second signature made with the old secret.
    previous_secret_valid_until: datetime


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    webhook_id: str
    event_id: str
    event_type: str
    subject_id: str
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None = Field(default=None, validation_alias="run_at")
    response_status: int | None = None
    response_body: str | None = None
    error_message: str | None = None
    duration_ms: int | None = None
    redelivery_of: str | None = None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None = None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
