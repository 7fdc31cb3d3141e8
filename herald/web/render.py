"""Jinja2 templates, and the page response every route returns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from herald import __version__
from herald.platforms.registry import DISPLAY_NAMES, SHORT_NAMES
from herald.web.deps import WebUser
from herald.web.localtime import fmt, zone
from herald.web.sessions import csrf_token, pop_flashes

HERE = Path(__file__).parent
PLATFORM_NAMES = DISPLAY_NAMES
PLATFORM_SHORT = SHORT_NAMES
#: What each status is called on screen; the words carry the meaning, colours only help.
STATUS_LABELS = {
    "draft": "Draft", "pending": "Scheduled", "processing": "Publishing",
    "published": "Published", "failed": "Failed", "cancelled": "Cancelled",
    "unconfirmed": "Unconfirmed", "awaiting_approval": "Awaiting approval",
}
POST_TYPE_LABELS = {
    "feed": "Feed post", "carousel": "Carousel", "reel": "Reel", "story": "Story",
    "feed_story": "Feed post + story (Instagram)", "video": "Video", "article": "Link (article)",
    "text": "Text only", "poll": "Poll (LinkedIn)",
}
# No inline script or style anywhere: everything comes from /static, media from anywhere
# (S3 buckets and CDNs included).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src * data: blob:; media-src * blob:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
env.globals.update(
    platform_names=PLATFORM_NAMES, platform_short=PLATFORM_SHORT, status_labels=STATUS_LABELS,
    post_type_labels=POST_TYPE_LABELS, version=__version__,
)


def _number(value: int) -> str:
    return f"{value:,}"


def _web_url(value: str | None) -> str:
    """Only http(s) addresses become links: a stored "javascript:" URL must stay inert."""
    return value if value and value.startswith(("https://", "http://")) else ""


env.filters["number"] = _number
env.filters["web_url"] = _web_url


def _when(user: WebUser | None) -> Callable[..., str]:
    return partial(fmt, tz=user.tz if user else zone("UTC"))


def page(request: Request, template: str, user: WebUser | None = None, *,
         status_code: int = 200, **values: Any) -> HTMLResponse:
    """A whole page, or a fragment when the template is one (name starts with _)."""
    context: dict[str, Any] = {
        "request": request, "user": user, "csrf": csrf_token(request),
        "flashes": [] if template.startswith("_") else pop_flashes(request),
        "when": _when(user), "now": datetime.now().astimezone(),
        "active": "", "title": "", "values": {}, "errors": {}, "problems": [],
    }
    context.update(values)
    body = env.get_template(template).render(context)
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)
