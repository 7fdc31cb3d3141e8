"""Whether each platform, and each account on it, answers, counted by every worker in the
database (`platform_health`), so that a platform that is clearly down stops costing
posts their attempts.

- An attempt that could not reach the platform (Outcome.unreachable: a network failure,
  a timeout, a 5xx) is a failure of its account and of its platform; a published one is
  an answer and clears both counts.
- HERALD_OUTAGE_FAILURES failures in a row within HERALD_OUTAGE_WINDOW_SECONDS and the
  scope is down: claims leave its posts pending where they are (the post says it waits
  for the platform, and why), and let one of them through as a probe every
  HERALD_OUTAGE_PROBE_SECONDS, doubling up to HERALD_OUTAGE_PROBE_MAX_SECONDS while the
  probes fail.
- The first answer brings it back: nothing to move, its posts are simply claimed again,
  the longest due first.

Lock order, against deadlocks on PostgreSQL and MariaDB: a transaction that locks both
locks its queue rows first, then health rows in scope order (finish: the rows it holds,
then their scopes; a probe: the row it claims, then its scope).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, or_, select, update
from sqlalchemy.exc import IntegrityError

from herald.platforms.registry import DISPLAY_NAMES
from herald.queue.tables import health_t, posts


@dataclass(frozen=True)
class Rules:
    """When a scope is down, and how often it is probed."""

    failures: int = 5
    window_seconds: float = 120.0
    probe_seconds: float = 5.0
    probe_max_seconds: float = 300.0


@dataclass(frozen=True)
class State:
    """One scope's row, as the decisions below read and write it."""

    failures: int = 0
    first_failure_at: datetime | None = None
    last_account_id: str | None = None
    mixed: bool = False
    down_since: datetime | None = None
    reason: str | None = None
    probe_at: datetime | None = None
    probe_seconds: float | None = None
    probe_post_id: str | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None


# --- the decisions (pure) ---------------------------------------------------------------


def failed(state: State, *, now: datetime, reason: str | None, post_id: str,
           rules: Rules, account_id: str | None = None) -> State:
    """A call to the scope found nobody there.

    `account_id` is given for a platform's row: it goes down only once the failures come
    from more than one account (one account's trouble holds that account alone).
    """
    if state.down:
        if post_id != state.probe_post_id:
            return state  # sent before it went down: the probe decides, not stragglers
        wait = min(rules.probe_max_seconds, (state.probe_seconds or rules.probe_seconds) * 2)
        return replace(state, reason=reason or state.reason, probe_post_id=None,
                       probe_at=now + timedelta(seconds=wait), probe_seconds=wait)
    first = state.first_failure_at
    if first is None or (now - first).total_seconds() > rules.window_seconds:
        state = State(failures=1, first_failure_at=now, reason=reason,
                      last_account_id=account_id)
    else:
        state = replace(state, failures=state.failures + 1, reason=reason or state.reason,
                        last_account_id=account_id,
                        mixed=state.mixed or account_id != state.last_account_id)
    if state.failures < rules.failures or (account_id is not None and not state.mixed):
        return state
    return replace(state, down_since=now, probe_seconds=rules.probe_seconds,
                   probe_at=now + timedelta(seconds=rules.probe_seconds))


def answered(state: State) -> State:
    """The scope answered: its count starts again, and if it was down it is back."""
    return State()


# --- scopes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """What one finished attempt says about its account and platform."""

    platform: str
    account_id: str
    post_id: str
    #: True: it could not reach the platform; False: the platform published it.
    failure: bool
    reason: str | None = None


def platform_scope(platform: str) -> str:
    return f"platform:{platform}"


def account_scope(account_id: str) -> str:
    return f"account:{account_id}"


def _scopes(event: Event) -> list[tuple[str, str | None]]:
    return [(platform_scope(event.platform), None), (account_scope(event.account_id),
                                                     event.account_id)]


@dataclass(frozen=True)
class Down:
    """A scope held as down."""

    scope: str
    platform: str
    account_id: str | None
    since: datetime
    reason: str | None
    probe_at: datetime
    probe_seconds: float

    def posts_of(self) -> ColumnElement[bool]:
        """Its posts, as a condition on `posts`."""
        if self.account_id is None:
            return posts.c.platform == self.platform
        return posts.c.account_id == self.account_id


@dataclass(frozen=True)
class Holds:
    """Every scope held as down, read once per claim."""

    down: tuple[Down, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.down)

    def held(self) -> ColumnElement[bool] | None:
        """The posts that wait, as a condition on `posts` (None: nothing waits)."""
        if not self.down:
            return None
        return or_(*(d.posts_of() for d in self.down))

    def probes(self, now: datetime) -> list[Down]:
        """The scopes whose probe is due, platforms first: an account of a platform down
        probes only when its platform's probe found no post to send (Queue._probe)."""
        return sorted((d for d in self.down if d.probe_at <= now),
                      key=lambda d: (d.account_id is not None, d.scope))

    def probe_posts(self, probe: Down) -> list[ColumnElement[bool]]:
        """A probe's candidates: its scope's posts, but not those of accounts down of
        their own."""
        others = [d.posts_of() for d in self.down
                  if d.account_id is not None and d.scope != probe.scope]
        return [probe.posts_of(), *(~o for o in others)]

    def next_probe(self) -> datetime | None:
        return min((d.probe_at for d in self.down), default=None)


# --- statements -------------------------------------------------------------------------

#: The scopes held as down, as Down reads them.
_DOWN = select(health_t.c.scope, health_t.c.platform, health_t.c.account_id,
               health_t.c.down_since, health_t.c.reason, health_t.c.probe_at,
               health_t.c.probe_seconds).where(health_t.c.down_since.is_not(None))


def _down(row: Any) -> Down:
    return Down(row.scope, row.platform, row.account_id, row.down_since, row.reason,
                row.probe_at or row.down_since, row.probe_seconds or 0.0)



def holds(conn: Connection) -> Holds:
    """The scopes down right now (a primary-key table of a few rows: cheap)."""
    rows = conn.execute(_DOWN.order_by(health_t.c.scope)).all()
    return Holds(tuple(_down(r) for r in rows))


def ensure_rows(engine: Engine, events: Sequence[Event], *, now: datetime) -> None:
    """Create the scopes' rows that do not exist yet, each in its own transaction, so
    that the counting transaction only ever locks rows that exist (an insert racing
    another worker's would be a deadlock on MariaDB)."""
    wanted = {scope: (e.platform, account) for e in events if e.failure
              for scope, account in _scopes(e)}
    if not wanted:
        return
    with engine.connect() as conn:
        have = set(conn.execute(select(health_t.c.scope)
                                .where(health_t.c.scope.in_(list(wanted)))).scalars())
    for scope in sorted(set(wanted) - have):
        platform, account = wanted[scope]
        try:
            with engine.begin() as conn:
                conn.execute(health_t.insert().values(
                    scope=scope, platform=platform, account_id=account, failures=0,
                    mixed=False, updated_at=now))
        except IntegrityError:
            pass  # another worker made it (or the account is gone)


def record(conn: Connection, events: Sequence[Event], *, now: datetime, rules: Rules
           ) -> tuple[list[str], list[str]]:
    """Count the events into their scopes' rows; returns (scopes now down, scopes back).

    Healthy traffic writes nothing: rows are locked (in scope order) only when an event
    changes one.
    """
    by_scope: dict[str, list[Event]] = {}
    for event in events:
        for scope, _ in _scopes(event):
            by_scope.setdefault(scope, []).append(event)
    if not by_scope:
        return [], []
    if not _any_change(conn, by_scope):
        return [], []
    rows = conn.execute(
        select(health_t).where(health_t.c.scope.in_(sorted(by_scope)))
        .order_by(health_t.c.scope).with_for_update()
    ).all()
    went_down: list[str] = []
    came_back: list[str] = []
    for row in rows:
        before = _state(row)
        after = before
        for event in by_scope[row.scope]:
            account = event.account_id if row.account_id is None else None
            after = (failed(after, now=now, reason=event.reason, post_id=event.post_id,
                            rules=rules, account_id=account)
                     if event.failure else answered(after))
        if after == before:
            continue
        conn.execute(update(health_t).where(health_t.c.scope == row.scope)
                     .values(**_values(after), updated_at=now))
        if after.down and not before.down:
            went_down.append(row.scope)
        elif before.down and not after.down:
            came_back.append(row.scope)
    return went_down, came_back


def _any_change(conn: Connection, by_scope: dict[str, list[Event]]) -> bool:
    if any(e.failure for evs in by_scope.values() for e in evs):
        return True
    # Only answers: they change a row only where something was counted.
    return conn.execute(
        select(health_t.c.scope).where(health_t.c.scope.in_(list(by_scope)),
                                       or_(health_t.c.failures > 0,
                                           health_t.c.down_since.is_not(None))).limit(1)
    ).first() is not None


def take_probe(conn: Connection, down: Down, post_id: str, *, now: datetime) -> bool:
    """Make `post_id` the scope's probe, unless another worker took this probe first."""
    result = conn.execute(
        update(health_t)
        .where(health_t.c.scope == down.scope, health_t.c.down_since.is_not(None),
               health_t.c.probe_at <= now)
        .values(probe_post_id=post_id, updated_at=now,
                probe_at=now + timedelta(seconds=down.probe_seconds))
    )
    return bool(result.rowcount == 1)


def waiting_for(conn: Connection, *, platform: str, account_id: str) -> str | None:
    """Why a pending post of this account waits for its platform, if it does."""
    down = held_by(conn, platform=platform, account_id=account_id)
    return None if down is None else describe(down)


def held_by(conn: Connection, *, platform: str, account_id: str) -> Down | None:
    """The down scope a post of this account waits for, if any (its platform first)."""
    row = conn.execute(
        _DOWN.where(or_(health_t.c.scope == platform_scope(platform),
                        health_t.c.scope == account_scope(account_id)))
        .order_by(health_t.c.account_id.is_not(None))
    ).first()
    return None if row is None else _down(row)


def describe(down: Down) -> str:
    """What a waiting post says about it."""
    name = DISPLAY_NAMES.get(down.platform, down.platform)
    who = name if down.account_id is None else f"{name} (for this account)"
    since = down.since.strftime("%Y-%m-%d %H:%M:%S UTC")
    why = f": {down.reason}" if down.reason else ""
    return (f"Waiting for {who} to answer again: it has not answered since {since}{why}. "
            f"Herald sends one post to check every {round(down.probe_seconds)} s or so, and "
            "publishes the waiting posts in their order once it answers; they spend no "
            "attempts meanwhile.")


def _state(row: Any) -> State:
    return State(failures=row.failures or 0, first_failure_at=row.first_failure_at,
                 last_account_id=row.last_account_id, mixed=bool(row.mixed),
                 down_since=row.down_since, reason=row.reason, probe_at=row.probe_at,
                 probe_seconds=row.probe_seconds, probe_post_id=row.probe_post_id)


def _values(state: State) -> dict[str, Any]:
    return dict(failures=state.failures, first_failure_at=state.first_failure_at,
                last_account_id=state.last_account_id, mixed=state.mixed,
                down_since=state.down_since, reason=_short(state.reason),
                probe_at=state.probe_at, probe_seconds=state.probe_seconds,
                probe_post_id=state.probe_post_id)


def _short(reason: str | None) -> str | None:
    return reason[:500] if reason else reason
