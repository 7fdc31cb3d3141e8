"""Read-only queries the pages need and the services do not offer. Writes go through
herald.services (and herald.web.users); nothing here changes a row.

Each query is bounded by an index or a LIMIT, so pages stay fast with many posts: the
calendar reads only a few narrow columns per post, the dashboard at most a few dozen rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, literal, select
from sqlalchemy.orm import QueryableAttribute, Session

from herald.models import ApiToken, Post, SocialAccount, SocialToken
from herald.queue import counts
from herald.services.companies import company_api_tokens

NEEDS_A_PERSON = ("failed", "unconfirmed")
#: Tokens that expire this soon and cannot be refreshed are worth a warning.
EXPIRY_WARNING = timedelta(days=7)


@dataclass(frozen=True)
class Chip:
    """One post on the calendar: enough to draw it, not the whole row."""

    id: str
    account_id: str
    platform: str
    post_type: str
    status: str
    at: datetime
    caption: str
    #: None, "queue", "series" or "evergreen" (how it was scheduled).
    origin: str | None = None


def calendar_chips(session: Session, company_id: str, bounds: Sequence[datetime],
                   per_day: int, *, account_id: str | None = None
                   ) -> tuple[list[tuple[int, Chip]], dict[int, int]]:
    """The first `per_day` posts of each day, and how many each day has.

    `bounds` are the UTC instants where the days start, then where the last one ends (the
    caller works out the user's midnights). The days are told apart in SQL, with a CASE
    over those bounds and window functions, so a month holding 10,000 posts sends back at
    most a few chips a day, not 10,000 rows (window functions: SQLite 3.25, PostgreSQL,
    MariaDB 10.2).
    """
    # Narrow on purpose: the day is worked out once per post and only (id, time, day) is
    # ranked; the few posts shown are then read in full by primary key.
    day = _day_index(Post.scheduled_at, bounds[1:-1], 0)
    inner = (
        select(Post.id, Post.scheduled_at, day.label("day"))
        .where(Post.company_id == company_id, Post.scheduled_at >= bounds[0],
               Post.scheduled_at < bounds[-1])
    )
    if account_id:
        inner = inner.where(Post.account_id == account_id)
    posts = inner.subquery()
    ranked = select(
        posts.c.id, posts.c.day,
        func.row_number().over(partition_by=posts.c.day,
                               order_by=(posts.c.scheduled_at, posts.c.id)).label("rank"),
        func.count().over(partition_by=posts.c.day).label("total"),
    ).subquery()
    # Two statements, not a join: joined, PostgreSQL's planner hashed the ranked few
    # against a scan of every post of the table (316 ms at 1M posts for 140 chips).
    shown = session.execute(
        select(ranked.c.id, ranked.c.day, ranked.c.total).where(ranked.c.rank <= per_day)
    ).all()
    days = {row.id: (row.day, row.total) for row in shown}
    rows = session.execute(
        select(Post.id, Post.account_id, Post.platform, Post.post_type, Post.status,
               Post.scheduled_at, func.substr(Post.caption, 1, 80), Post.origin)
        .where(Post.id.in_(list(days))).order_by(Post.scheduled_at, Post.id)
    ).all() if days else []
    chips = [(days[row.id][0], Chip(*row)) for row in rows]
    totals = {day: total for day, total in days.values()}
    return chips, totals


def _day_index(column: QueryableAttribute[datetime | None], cuts: Sequence[datetime], first: int
               ) -> ColumnElement[int]:
    """Which day a time falls on, as a CASE that halves the days at each step: about six
    comparisons a post for a six-week month, not forty-two."""
    if not cuts:
        return literal(first)
    middle = len(cuts) // 2
    return case((column < cuts[middle], _day_index(column, cuts[:middle], first)),
                else_=_day_index(column, cuts[middle + 1:], first + middle + 1))


def accounts_by_id(session: Session, company_id: str) -> dict[str, SocialAccount]:
    return {a.id: a for a in session.scalars(
        select(SocialAccount).where(SocialAccount.company_id == company_id)
        .order_by(SocialAccount.name, SocialAccount.id))}


@dataclass
class Dashboard:
    next_up: list[Post] = field(default_factory=list)
    attention: list[Post] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    reauth: list[SocialAccount] = field(default_factory=list)
    expiring: list[tuple[SocialAccount, datetime]] = field(default_factory=list)

    @property
    def attention_count(self) -> int:
        return sum(self.counts[s] for s in NEEDS_A_PERSON)


def dashboard(session: Session, company_id: str, now: datetime, *, limit: int = 8
              ) -> Dashboard:
    board = Dashboard()
    board.next_up = list(session.scalars(
        select(Post).where(Post.company_id == company_id, Post.status == "pending")
        .order_by(Post.scheduled_at, Post.id).limit(limit)))
    board.attention = list(session.scalars(
        select(Post).where(Post.company_id == company_id, Post.status.in_(NEEDS_A_PERSON))
        .order_by(Post.updated_at.desc(), Post.id).limit(limit)))
    # Kept counts: a COUNT by status read every post of the company (7x at 1M posts).
    board.counts = Counter(counts.posts_by_status(session.connection(), company_id))
    for account, token in session.execute(
        select(SocialAccount, SocialToken)
        .join(SocialToken, SocialToken.account_id == SocialAccount.id, isouter=True)
        .where(SocialAccount.company_id == company_id).order_by(SocialAccount.name)
    ):
        if account.state == "needs_reauth":
            board.reauth.append(account)
        elif (token is not None and token.expires_at is not None
              and token.refresh_token_enc is None
              and token.expires_at < now + EXPIRY_WARNING):
            board.expiring.append((account, token.expires_at))
    return board


def group_posts(session: Session, company_id: str, group_id: str) -> list[Post]:
    return list(session.scalars(
        select(Post).where(Post.company_id == company_id, Post.group_id == group_id)
        .order_by(Post.created_at, Post.id)))


def post_counts(session: Session, company_id: str) -> dict[str, int]:
    """Posts per account, to say what removing an account takes with it: the kept counts
    (a COUNT read every post of the company's accounts, 4x at 1M posts)."""
    return counts.posts_by_account(session.connection(), company_id)


def company_tokens(session: Session, company_id: str) -> list[ApiToken]:
    return company_api_tokens(session, company_id=company_id)


def company_token(session: Session, company_id: str, token_id: str) -> ApiToken | None:
    """The token by id, only if it is this company's (revoking goes by id across companies)."""
    return session.scalars(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.company_id == company_id)
    ).first()
