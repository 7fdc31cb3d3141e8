"""A person's notifications: their channels (e-mail, chat), which events, the digest.

The web settings page works on the signed-in person's own; the REST API
(/api/v1/members/{member_id}/notifications) on a member's, with manage_members.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.crypto import TokenCipher
from herald.errors import Conflict, Invalid, NotFound
from herald.events.types import SUBSCRIBABLE, EventType
from herald.models import (
    NotificationChannel,
    NotificationPref,
    NotificationSend,
    User,
    new_id,
    utcnow,
)
from herald.notifications import channels
from herald.permissions import Permission
from herald.queue import deliveries as dq
from herald.services.context import Context

#: What a person who adds their first channel is told of until they choose.
DEFAULT_EVENTS = (EventType.POST_FAILED, EventType.POST_UNCONFIRMED,
                  EventType.ACCOUNT_NEEDS_REAUTH, EventType.WEBHOOK_DISABLED,
                  EventType.THREAD_MENTIONED)
MAX_CHANNELS = 10
SEND_LOG = 20


def member_of(session: Session, ctx: Context, member_id: str) -> str:
    """The id of a member of ctx's company whose notifications the caller may manage."""
    ctx.require(Permission.MANAGE_MEMBERS)
    user = session.get(User, member_id)
    if user is None or user.company_id != ctx.company_id:
        raise NotFound("No such member in this company.")
    return user.id


def check_target(kind: str, target: str, *, allow_private: bool, smtp_host: str | None
                 ) -> str:
    """The address or chat URL, or Invalid (422) saying why not. Before the transaction:
    a chat URL's host may be resolved."""
    if kind not in channels.KINDS:
        raise Invalid(f"kind must be email or chat, not {kind!r}")
    try:
        if kind == channels.EMAIL:
            if not smtp_host:
                raise Conflict("E-mail is not set up on this Herald: its operator sets "
                               "HERALD_SMTP_HOST (see docs/notifications.md).")
            return channels.check_email(target)
        return channels.check_chat_url(target, allow_private=allow_private)
    except channels.BadTarget as exc:
        raise Invalid(str(exc)) from None


def add_channel(session: Session, *, user_id: str, kind: str, target: str,
                cipher: TokenCipher) -> NotificationChannel:
    """`target` must have passed check_target. The first channel turns on the defaults."""
    mine = list_channels(session, user_id=user_id)
    if len(mine) >= MAX_CHANNELS:
        raise Conflict(f"You have {MAX_CHANNELS} channels, the most Herald keeps.")
    channel = NotificationChannel(id=new_id(), user_id=user_id, kind=kind,
                                  target_enc=cipher.encrypt(target),
                                  label=channels.label(kind, target), enabled=True,
                                  created_at=utcnow())
    session.add(channel)
    if session.get(NotificationPref, user_id) is None:
        session.add(NotificationPref(user_id=user_id, events=list(DEFAULT_EVENTS),
                                     digest=False, digest_hour=8, updated_at=utcnow()))
    session.flush()
    return channel


def list_channels(session: Session, *, user_id: str) -> list[NotificationChannel]:
    return list(session.scalars(select(NotificationChannel)
                                .where(NotificationChannel.user_id == user_id)
                                .order_by(NotificationChannel.created_at)))


def get_channel(session: Session, *, user_id: str, channel_id: str) -> NotificationChannel:
    channel = session.get(NotificationChannel, channel_id)
    if channel is None or channel.user_id != user_id:
        raise NotFound("No such channel of yours.")
    return channel


def delete_channel(session: Session, *, user_id: str, channel_id: str) -> None:
    session.delete(get_channel(session, user_id=user_id, channel_id=channel_id))


def send_test(session: Session, *, user_id: str, channel_id: str, max_attempts: int) -> str:
    """A test message to one channel, through the queue like any other; its send id."""
    channel = get_channel(session, user_id=user_id, channel_id=channel_id)
    now = utcnow()
    send_id = new_id()
    dq.enqueue(session.connection(), dq.sends_t, [{
        "id": send_id, "channel_id": channel.id, "event_id": None,
        "title": "Herald: a test message",
        "body": "This channel works: Herald will tell you here what you asked for.",
        "run_at": now, "max_attempts": max_attempts, "created_at": now, "updated_at": now}])
    return send_id


def prefs(session: Session, *, user_id: str) -> NotificationPref:
    """The person's choices (not stored until they change them or add a channel)."""
    return session.get(NotificationPref, user_id) or NotificationPref(
        user_id=user_id, events=list(DEFAULT_EVENTS), digest=False, digest_hour=8)


def set_prefs(session: Session, *, user_id: str, events: list[str], digest: bool,
              digest_hour: int) -> NotificationPref:
    unknown = [e for e in events if e not in SUBSCRIBABLE]
    if unknown:
        raise Invalid(f"unknown event {', '.join(map(repr, unknown))}; the events are "
                      f"{', '.join(SUBSCRIBABLE)}")
    if not 0 <= digest_hour <= 23:
        raise Invalid(f"The digest hour must be 0 to 23, not {digest_hour}.")
    row = session.get(NotificationPref, user_id)
    if row is None:
        row = NotificationPref(user_id=user_id)
        session.add(row)
    row.events = list(dict.fromkeys(events))
    row.digest = digest
    row.digest_hour = digest_hour
    row.updated_at = utcnow()
    session.flush()
    return row


def recent_sends(session: Session, *, user_id: str, limit: int = SEND_LOG
                 ) -> list[tuple[NotificationSend, NotificationChannel]]:
    rows = session.execute(
        select(NotificationSend, NotificationChannel)
        .join(NotificationChannel, NotificationChannel.id == NotificationSend.channel_id)
        .where(NotificationChannel.user_id == user_id)
        .order_by(NotificationSend.created_at.desc()).limit(limit)).all()
    return [(s, c) for s, c in rows]
