"""`herald doctor`'s question to each platform about each account's token.

Each platform's spec has a `check_token` hook (Meta's debug_token, LinkedIn's token
introspection or /v2/userinfo, a Bluesky session); this module asks them all at once,
a few at a time, with short timeouts, and turns the answers into findings. A platform
that cannot be reached is a warning (the stored checks still ran), not a failure.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from herald.config import Settings
from herald.doctor import EXPIRY_WARNING, Finding, Level
from herald.platforms.spec import PlatformSpec, TokenProbe, TokenStatus

#: Platforms asked at once, and how long one answer may take.
CONCURRENCY = 5
TIMEOUT = 10.0


@dataclass(frozen=True)
class Question:
    """One account whose stored token passed, to ask its platform about."""

    what: str
    spec: PlatformSpec
    external_id: str
    token: str
    server_url: str | None
    #: Herald refreshes this token itself: an expiry soon is not a problem.
    refreshed: bool


def ask(settings: Settings, questions: list[Question], *, now: datetime
        ) -> tuple[list[Finding], int]:
    """The findings of every question, and how many tokens the platforms call fine."""
    if not questions:
        return [], 0
    answers = asyncio.run(_ask_all(settings, questions))
    findings: list[Finding] = []
    fine = 0
    for question, answer in zip(questions, answers, strict=True):
        judged = _judge(question, answer, now)
        findings += judged
        fine += not judged
    return findings, fine


async def _ask_all(settings: Settings, questions: list[Question]
                   ) -> list[TokenStatus | Exception]:
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:
        async def one(q: Question) -> TokenStatus | Exception:
            assert q.spec.check_token is not None
            probe = TokenProbe(client, q.spec.endpoint(settings), settings, q.external_id,
                               q.token, q.server_url)
            async with gate:
                try:
                    return await q.spec.check_token(probe)
                except Exception as exc:  # unreachable, or an answer nobody expected
                    return exc

        return list(await asyncio.gather(*(one(q) for q in questions)))


def _judge(q: Question, answer: TokenStatus | Exception, now: datetime
           ) -> list[Finding]:
    name = q.spec.display_name
    if isinstance(answer, Exception):
        return [Finding("tokens", Level.WARN, f"{q.what}: could not ask {name} about its "
                        f"token ({type(answer).__name__}); only what Herald stores was "
                        "checked")]
    if not answer.valid:
        return [Finding("tokens", Level.FAIL, f"{q.what}: {name} says its token is not "
                        f"valid: {answer.problem}; connect the account again")]
    found: list[Finding] = []
    if answer.missing:
        found.append(Finding("tokens", Level.FAIL, f"{q.what}: its token lacks "
                             f"{', '.join(answer.missing)}, which publishing needs; connect "
                             "the account again and grant them"))
    left = answer.expires_at - now if answer.expires_at is not None else None
    if left is not None and left < EXPIRY_WARNING and not q.refreshed:
        found.append(Finding("tokens", Level.WARN, f"{q.what}: {name} says its token "
                             f"expires {answer.expires_at:%Y-%m-%d %H:%M} UTC"
                             f"{_in(left)} and Herald cannot refresh it; connect it again "
                             "before then"))
    return found


def _in(left: timedelta) -> str:
    return f" (in {left.days} day(s))" if left.days >= 1 else ""
