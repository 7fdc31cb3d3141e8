"""The compose form: what was typed, the checks the API runs, and the posts it becomes.

The service takes one caption per call, and per-account caption overrides need several:
accounts are grouped by their caption and `services.create_posts` is called once per
group, all in one transaction, so either every post is created or none is. Accounts that
share the caption share a group id; an account with its own caption gets its own group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.orm import Session

from herald import services
from herald.errors import AppError, Invalid
from herald.media import InspectedMedia
from herald.models import POST_TYPES, Post, SocialAccount
from herald.platforms.registry import split_post_type
from herald.runtime import Herald
from herald.schemas import PostCreate
from herald.services import Context
from herald.web.localtime import fmt, parse_local

ACTIONS = ("schedule", "now", "queue", "draft")
MEDIA_TYPES = ("image", "video", "document")


@dataclass
class ComposeForm:
    account_ids: list[str] = field(default_factory=list)
    post_type: str = "feed"
    caption: str = ""
    overrides: dict[str, str] = field(default_factory=dict)
    media: list[dict[str, str]] = field(default_factory=list)
    link: str = ""
    first_comment: str = ""
    #: A poll's question, its options (one a line) and how long it runs (LinkedIn).
    poll_question: str = ""
    poll_options: str = ""
    poll_duration: str = ""
    #: Instagram's options as typed (herald.platforms.instagram.options): usernames
    #: separated by commas or spaces; one tag a line, "username x y [item]"; a Page id;
    #: a trial reel's graduation strategy.
    collaborators: str = ""
    user_tags: str = ""
    location_id: str = ""
    trial_reel: str = ""
    date: str = ""
    time: str = ""
    action: str = "schedule"

    @classmethod
    def parse(cls, form: Mapping[str, Any], lists: Mapping[str, Sequence[Any]]) -> ComposeForm:
        """From a submitted form; `lists` gives the repeated fields (accounts, media)."""
        def text(name: str) -> str:
            value = form.get(name)
            # Browsers send textarea line breaks as CRLF; platforms count one character.
            return value.replace("\r\n", "\n") if isinstance(value, str) else ""

        accounts = [a for a in lists.get("account_ids", []) if isinstance(a, str) and a]
        media = []
        for entry in lists.get("media", []):
            kind, _, url = str(entry).partition(" ")
            if url:
                media.append({"url": url, "type": kind if kind in MEDIA_TYPES else "image"})
        overrides = {a: text(f"caption_{a}") for a in accounts if text(f"caption_{a}").strip()}
        action = text("action")
        return cls(account_ids=list(dict.fromkeys(accounts)),
                   post_type=text("post_type") or "feed", caption=text("caption"),
                   overrides=overrides, media=media, link=text("link").strip(),
                   first_comment=text("first_comment").strip(),
                   poll_question=text("poll_question").strip(),
                   poll_options=text("poll_options"), poll_duration=text("poll_duration"),
                   collaborators=text("collaborators").strip(),
                   user_tags=text("user_tags").strip(),
                   location_id=text("location_id").strip(),
                   trial_reel=text("trial_reel").strip(),
                   date=text("date").strip(), time=text("time").strip(),
                   action=action if action in ACTIONS else "schedule")

    def caption_for(self, account_id: str) -> str:
        return self.overrides.get(account_id, self.caption)

    @property
    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"link": self.link} if self.link else {}
        if self.first_comment:
            options["first_comment"] = self.first_comment
        if self.post_type == "poll":
            # Checked with the platform's rules like any options.poll from the API.
            options["poll"] = {
                "question": self.poll_question,
                "options": [line.strip() for line in self.poll_options.splitlines()
                            if line.strip()],
                **({"duration": self.poll_duration} if self.poll_duration else {})}
        if self.collaborators:
            options["collaborators"] = self.collaborators.replace(",", " ").split()
        if self.user_tags:
            options["user_tags"] = [_tag(line.split()) for line in self.user_tags.splitlines()
                                    if line.strip()]
        if self.location_id:
            options["location_id"] = self.location_id
        if self.trial_reel:
            options["trial_params"] = {"graduation_strategy": self.trial_reel}
        return options

    def groups(self) -> list[tuple[str, list[str]]]:
        """Accounts grouped by the caption they get, in the order they were picked."""
        grouped: dict[str, list[str]] = {}
        for account_id in self.account_ids:
            grouped.setdefault(self.caption_for(account_id), []).append(account_id)
        return list(grouped.items())


def _tag(words: list[str]) -> dict[str, Any]:
    """"jane.doe 0.5 0.25 [2]" as a user tag; what is not a number is passed on as typed,
    so the scheduling checks name it."""
    def number(word: str) -> float | str:
        try:
            return float(word)
        except ValueError:
            return word

    tag: dict[str, Any] = {"username": words[0]}
    if len(words) >= 3:
        tag["x"], tag["y"] = number(words[1]), number(words[2])
    elif len(words) == 2:
        tag["x"] = number(words[1])
    if len(words) >= 4:
        item = number(words[3])
        tag["media"] = int(item) if isinstance(item, float) and item.is_integer() else item
    return tag


@dataclass
class Outcome:
    """What submitting (or checking) the form gave: problems by field and by account."""

    errors: dict[str, str] = field(default_factory=dict)
    by_account: dict[str, list[str]] = field(default_factory=dict)
    posts: list[Post] = field(default_factory=list)
    run_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and not any(self.by_account.values())


def run_at(form: ComposeForm, tz: ZoneInfo, now: datetime
           ) -> datetime | Literal["now", "next_slot"] | None:
    """The chosen time (aware), "now", "next_slot" (Add to queue: each account's next free
    slot), or None for a draft without a time."""
    if form.action == "now":
        return "now"
    if form.action == "queue":
        return "next_slot"
    if form.action == "draft" and not (form.date or form.time):
        return None
    when = parse_local(form.date, form.time, tz)
    if when < now - services.PAST_TOLERANCE:
        raise Invalid(f"{fmt(when, tz)} has passed (it is {fmt(now, tz, '%H:%M')} in "
                      f"{tz.key}); pick a later time or choose “Post now”.")
    return when


def check(herald: Herald, accounts: Mapping[str, SocialAccount], form: ComposeForm,
          tz: ZoneInfo, now: datetime, inspected: InspectedMedia | None = None) -> Outcome:
    """Every problem the API would report, by field and by account, without saving.

    Fetches the media unless `inspected` holds it: call it outside any transaction.
    """
    out = Outcome()
    if not form.account_ids:
        out.errors["accounts"] = "Pick at least one account to post to."
    elif any(a not in accounts for a in form.account_ids):
        out.errors["accounts"] = "One of the accounts picked is not there any more; reload."
    if form.post_type not in POST_TYPES:
        out.errors["post_type"] = f"{form.post_type!r} is not a post type."
    try:
        when = run_at(form, tz, now)
        out.run_at = now if when == "now" else None if when == "next_slot" else when
    except Invalid as exc:
        out.errors["when"] = exc.message
    if "post_type" in out.errors or herald.checks is None:
        return out
    if inspected is None or not inspected.covers(form.media):
        inspected = herald.checks.inspect(form.media, company_id=_company(accounts))
    for account_id in form.account_ids:
        account = accounts.get(account_id)
        if account is None:
            continue
        problems: list[str] = []
        for post_type in split_post_type(account.platform, form.post_type):
            problems += herald.checks.check(account, {
                "post_type": post_type, "caption": form.caption_for(account_id),
                "media": form.media, "options": form.options}, inspected)
        # Split types repeat caption problems once per part; say each once.
        out.by_account[account_id] = list(dict.fromkeys(problems))
    return out


def _company(accounts: Mapping[str, SocialAccount]) -> str | None:
    """The company whose accounts these are (its media download slots), if any."""
    return next((a.company_id for a in accounts.values()), None)


class _Refused(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__("refused")
        self.outcome = outcome


def create(herald: Herald, ctx: Context, accounts: Mapping[str, SocialAccount],
           form: ComposeForm, tz: ZoneInfo) -> Outcome:
    """Check, then create the posts through the service, one call per caption group, in
    one transaction: a refusal of any group leaves nothing behind."""
    # Fetched before the transaction begins (on SQLite it holds the write lock).
    inspected = (herald.checks.inspect(form.media, company_id=ctx.company_id)
                 if herald.checks is not None else None)
    try:
        with herald.unit_of_work() as session:
            out = _create(herald, session, ctx, accounts, form, tz, inspected)
            if not out.ok:
                raise _Refused(out)
            return out
    except _Refused as refused:
        return refused.outcome


def _create(herald: Herald, session: Session, ctx: Context,
            accounts: Mapping[str, SocialAccount], form: ComposeForm, tz: ZoneInfo,
            inspected: InspectedMedia | None) -> Outcome:
    now = ctx.now()
    out = check(herald, accounts, form, tz, now, inspected)
    if not out.ok:
        return out
    when = run_at(form, tz, now)
    for caption, account_ids in form.groups():
        try:
            data = PostCreate.model_validate({
                "account_ids": account_ids, "post_type": form.post_type, "caption": caption,
                "media": form.media, "options": form.options, "run_at": when,
                "draft": form.action == "draft"})
        except ValidationError as exc:
            out.errors["form"] = "; ".join(
                str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            return out
        try:
            out.posts += services.create_posts(session, ctx, data, inspected=inspected)
        except AppError as exc:
            # The checks above are the service's own, so this is a race (an account
            # removed meanwhile) or the clock; show it rather than lose the form.
            out.errors["form"] = exc.message
            return out
    return out


def default_when(now: datetime, tz: ZoneInfo) -> tuple[str, str]:
    slot = (now.astimezone(tz) + timedelta(minutes=30)).replace(minute=0, second=0,
                                                                microsecond=0)
    slot += timedelta(hours=1)
    return slot.strftime("%Y-%m-%d"), slot.strftime("%H:%M")
