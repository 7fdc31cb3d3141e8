"""A member's notifications: which events, the daily digest, their e-mail and chat channels.

The same service as Settings > Notifications in the web UI; an API token manages any
member's (manage_members), since tokens act for the company, not for one person.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from herald.api.deps import ContextDep, HeraldDep
from herald.api.errors import documented
from herald.runtime import Herald
from herald.schemas import Strict
from herald.services import Context
from herald.services import notifications as service

router = APIRouter(prefix="/members/{member_id}/notifications", tags=["notifications"],
                   responses=documented(401, 403, 404, 422))

#: Tries for a test message, as the web page's "Send a test".
TEST_ATTEMPTS = 3


class ChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    #: "email" or "chat".
    kind: str
    #: What Herald shows of the target: "j…@example.com", "slack://…" (never the token).
    label: str
    enabled: bool
    created_at: datetime


class ChannelCreate(Strict):
    kind: Literal["email", "chat"]
    #: An e-mail address, or an apprise URL (slack://…, discord://…, tgram://…).
    target: str = Field(max_length=2000)


class Preferences(Strict):
    #: The event types to be told of (post.failed, post.unconfirmed, …).
    events: list[str] = Field(max_length=50)
    digest: bool = False
    #: The hour (0-23, in the member's time zone) the daily digest goes out.
    digest_hour: int = Field(default=8, ge=0, le=23)


class NotificationSettings(BaseModel):
    events: list[str]
    digest: bool
    digest_hour: int
    channels: list[ChannelOut]


class TestSent(BaseModel):
    #: The queued message; it shows in the web page's log once sent.
    send_id: str


def _settings(session: Session, user_id: str) -> NotificationSettings:
    prefs = service.prefs(session, user_id=user_id)
    return NotificationSettings(
        events=list(prefs.events), digest=prefs.digest, digest_hour=prefs.digest_hour,
        channels=[ChannelOut.model_validate(c)
                  for c in service.list_channels(session, user_id=user_id)])


@router.get("")
def get_notifications(member_id: str, herald: HeraldDep, ctx: ContextDep
                      ) -> NotificationSettings:
    """The member's choices and channels (defaults until they choose)."""
    with herald.db.session() as session:
        return _settings(session, service.member_of(session, ctx, member_id))


@router.put("", responses=documented(400, 413))
def set_notifications(member_id: str, data: Preferences, herald: HeraldDep,
                      ctx: ContextDep) -> NotificationSettings:
    """Replace which events the member is told of and their digest."""
    with herald.unit_of_work() as session:
        user_id = service.member_of(session, ctx, member_id)
        service.set_prefs(session, user_id=user_id, events=data.events, digest=data.digest,
                          digest_hour=data.digest_hour)
        return _settings(session, user_id)


@router.post("/channels", status_code=201, responses=documented(400, 409, 413))
async def add_channel(member_id: str, data: ChannelCreate, herald: HeraldDep,
                      ctx: ContextDep) -> ChannelOut:
    """Add an e-mail address or a chat URL (checked like webhook URLs)."""
    await run_in_threadpool(_member, herald, ctx, member_id)  # refused before resolving
    target = await run_in_threadpool(
        service.check_target, data.kind, data.target,
        allow_private=herald.settings.allow_private_webhook_urls,
        smtp_host=herald.settings.smtp_host)

    def add() -> ChannelOut:
        with herald.unit_of_work() as session:
            user_id = service.member_of(session, ctx, member_id)
            return ChannelOut.model_validate(service.add_channel(
                session, user_id=user_id, kind=data.kind, target=target,
                cipher=herald.cipher))

    return await run_in_threadpool(add)


def _member(herald: Herald, ctx: Context, member_id: str) -> str:
    with herald.db.session() as session:
        return service.member_of(session, ctx, member_id)


@router.delete("/channels/{channel_id}", status_code=204)
def delete_channel(member_id: str, channel_id: str, herald: HeraldDep,
                   ctx: ContextDep) -> Response:
    with herald.unit_of_work() as session:
        service.delete_channel(session, user_id=service.member_of(session, ctx, member_id),
                               channel_id=channel_id)
    return Response(status_code=204)


@router.post("/channels/{channel_id}/test", status_code=202)
def test_channel(member_id: str, channel_id: str, herald: HeraldDep,
                 ctx: ContextDep) -> TestSent:
    """Queue a test message to the channel; the worker sends it like any other."""
    with herald.unit_of_work() as session:
        send_id = service.send_test(session, user_id=service.member_of(session, ctx,
                                                                       member_id),
                                    channel_id=channel_id, max_attempts=TEST_ATTEMPTS)
    return TestSent(send_id=send_id)
