"""Deadlines for a worker cut off from its database or paused: it gives up safely.

Two guards, both about time the worker cannot see passing:

- `Watchdog`: a database call that gets no answer within `seconds` has its connection's
  socket shut down, so the call fails as a lost connection instead of holding a worker
  thread forever. A blackholed network (a firewall dropping packets, a dead NAT entry, a
  proxy that stopped forwarding) sends no error at all: the kernel keeps the connection
  open, and psycopg has no read timeout of its own. The worker then rides it out as any
  outage (herald.worker): what had not reached its commit is not sent, the leases run
  out, and whichever worker can reach the database rescues the posts, reconciling
  before it sends anything again.
- `send_by`: the monotonic time until which this process surely still holds the lease
  it renewed just before a commit (the renewal's start plus the lease, less a margin).
  Publishing sets it (herald.platforms.transport.SEND_BY) and the transport refuses to
  send a request after it: a worker paused past its lease (SIGSTOP, a frozen VM, a long
  swap storm), whose posts another worker rescued and published meanwhile, wakes up
  unable to post them a second time. The monotonic clock runs on while a process is
  stopped, so the pause counts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger(__name__)

#: The dialect methods that wait for the server: statements, commits, rollbacks, pings.
_CALLS = ("do_execute", "do_executemany", "do_execute_no_params", "do_commit",
          "do_rollback", "do_ping")
_watchdogs: weakref.WeakKeyDictionary[Engine, Watchdog] = weakref.WeakKeyDictionary()


def send_by(renewed_at: float, lease_seconds: float) -> float:
    """Until when a lease renewed at monotonic `renewed_at` surely still holds.

    The database set the lease from its own clock at or after `renewed_at` (the call
    started then); the margin leaves room for a clock rate that differs a little and for
    the request's own way to the platform.
    """
    return renewed_at + lease_seconds - min(5.0, lease_seconds / 4)


class Watchdog:
    """Shuts down the connection under any database call of `engine` that outlasts
    `seconds` (see the module's docstring). One per engine: see `watch`."""

    def __init__(self, engine: Engine, seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.name = engine.url.render_as_string(hide_password=True)
        #: Calls waiting for the server: id(DBAPI connection) → (started, connection).
        self._busy: dict[int, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        #: How many connections it has cut (for tests and logs).
        self.cut = 0
        dialect = engine.dialect
        for name in _CALLS:
            setattr(dialect, name, self._guarded(getattr(dialect, name), name))
        self._thread = threading.Thread(target=self._watch, name="herald-db-watchdog",
                                        daemon=True)
        self._thread.start()

    def _guarded(self, call: Callable[..., Any], name: str) -> Callable[..., Any]:
        on_cursor = name.startswith("do_execute")

        def guarded(target: Any, *args: Any, **kwargs: Any) -> Any:
            conn = target.connection if on_cursor else target
            with self._waiting(conn):
                return call(target, *args, **kwargs)

        return guarded

    @contextlib.contextmanager
    def _waiting(self, conn: Any) -> Iterator[None]:
        key = id(conn)
        with self._lock:
            self._busy[key] = (self.clock(), conn)
        try:
            yield
        finally:
            with self._lock:
                self._busy.pop(key, None)

    def overdue(self) -> list[Any]:
        """Connections whose call has waited longer than `seconds`, no longer watched."""
        now = self.clock()
        with self._lock:
            late = [k for k, (started, _) in self._busy.items()
                    if now - started > self.seconds]
            return [self._busy.pop(k)[1] for k in late]

    def _watch(self) -> None:
        tick = max(0.05, min(1.0, self.seconds / 4))
        while True:
            time.sleep(tick)
            for conn in self.overdue():
                self.cut += 1
                log.warning("no answer from the database %s in %.0fs; dropping the "
                            "connection (the network may be cut)", self.name, self.seconds)
                shut_down(conn)


def watch(engine: Engine, seconds: float) -> Watchdog | None:
    """The watchdog of `engine`, made on first call (None for SQLite: no network)."""
    if engine.dialect.name == "sqlite" or seconds <= 0:
        return None
    found = _watchdogs.get(engine)
    if found is None:
        found = _watchdogs[engine] = Watchdog(engine, seconds)
    return found


def shut_down(conn: Any) -> None:
    """Shut down a DBAPI connection's socket from another thread: a call blocked on it
    returns at once with a lost connection, which SQLAlchemy then discards."""
    try:
        fd = conn.fileno() if hasattr(conn, "fileno") else conn._sock.fileno()  # psycopg; PyMySQL
    except Exception:  # already closed
        return
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fd)) as sock:
        sock.shutdown(socket.SHUT_RDWR)
