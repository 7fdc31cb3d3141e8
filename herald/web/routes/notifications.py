"""Settings > Notifications: your e-mail and chat channels, which events, the daily digest."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from herald.errors import AppError
from herald.events import SUBSCRIBABLE
from herald.runtime import Herald
from herald.services import notifications as service
from herald.web import sessions
from herald.web.deps import HeraldDep, UserDep, WebUser
from herald.web.render import page
from herald.web.routes import see_other, web_router

router = web_router()
HOME = "/settings/notifications"


def _page(request: Request, herald: Herald, user: WebUser, *, status_code: int = 200,
          **values: Any) -> Response:
    with herald.db.session() as session:
        mine = service.list_channels(session, user_id=user.id)
        prefs = service.prefs(session, user_id=user.id)
        sends = service.recent_sends(session, user_id=user.id)
        session.expunge_all()
    context: dict[str, Any] = {"values": {}, "errors": {}}
    context.update(values)
    return page(request, "notifications.html", user, title="Notifications",
                active="settings", channels=mine, prefs=prefs, sends=sends,
                event_types=SUBSCRIBABLE, email_ready=bool(herald.settings.smtp_host),
                status_code=status_code, **context)


@router.get(HOME)
def notifications_page(request: Request, herald: HeraldDep, user: UserDep) -> Response:
    return _page(request, herald, user)


@router.post(HOME + "/channels")
async def add_channel(request: Request, herald: HeraldDep, user: UserDep,
                      kind: Annotated[str, Form()] = "",
                      target: Annotated[str, Form()] = "") -> Response:
    try:
        checked = await run_in_threadpool(
            service.check_target, kind, target,
            allow_private=herald.settings.allow_private_webhook_urls,
            smtp_host=herald.settings.smtp_host)

        def add() -> str:
            with herald.unit_of_work() as session:
                return service.add_channel(session, user_id=user.id, kind=kind,
                                           target=checked, cipher=herald.cipher).label

        label = await run_in_threadpool(add)
    except AppError as exc:
        return await run_in_threadpool(_page, request, herald, user, status_code=exc.status,
                                       values={f"{kind}_target": target},
                                       errors={kind or "chat": exc.message})
    sessions.flash(request, f"Added {label}; send it a test message to be sure.")
    return see_other(HOME)


@router.post(HOME + "/channels/{channel_id}/test")
def test_channel(request: Request, channel_id: str, herald: HeraldDep,
                 user: UserDep) -> Response:
    with herald.unit_of_work() as session:
        service.send_test(session, user_id=user.id, channel_id=channel_id,
                          max_attempts=3)
    sessions.flash(request, "A test message is on its way; it shows below once sent.")
    return see_other(HOME)


@router.post(HOME + "/channels/{channel_id}/delete")
def delete_channel(request: Request, channel_id: str, herald: HeraldDep,
                   user: UserDep) -> Response:
    with herald.unit_of_work() as session:
        service.delete_channel(session, user_id=user.id, channel_id=channel_id)
    sessions.flash(request, "The channel is removed.")
    return see_other(HOME)


@router.post(HOME + "/prefs")
def save_prefs(request: Request, herald: HeraldDep, user: UserDep,
               events: Annotated[list[str] | None, Form()] = None,
               digest: Annotated[str, Form()] = "",
               digest_hour: Annotated[str, Form()] = "8") -> Response:
    try:
        hour = int(digest_hour)
    except ValueError:
        hour = -1
    try:
        with herald.unit_of_work() as session:
            service.set_prefs(session, user_id=user.id, events=events or [],
                              digest=digest == "on", digest_hour=hour)
    except AppError as exc:
        return _page(request, herald, user, status_code=exc.status,
                     errors={"prefs": exc.message})
    sessions.flash(request, "Your choices are saved.")
    return see_other(HOME)
