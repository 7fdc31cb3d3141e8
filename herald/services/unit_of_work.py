"""The one transaction seam: a session that commits, then wakes the worker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from herald.db import Database


class QueueSignal:
    """Tells the workers of this process that the queue changed (PostgreSQL also NOTIFYs).

    Safe to call from any thread; with no worker listening it does nothing.
    """

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def connect(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` on every change until the returned function is called."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def __call__(self) -> None:
        for listener in list(self._listeners):
            listener()


@contextmanager
def unit_of_work(db: Database, queue_changed: Callable[[], None] | None = None
                 ) -> Iterator[Session]:
    """One use case's transaction: a session that commits on success, then the wake-up.

    The worker is woken after the commit, never before: woken early it would look for the
    new rows before they exist and go back to sleep.
    """
    with db.session() as session:
        yield session
    if queue_changed is not None:
        queue_changed()
