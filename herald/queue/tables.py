"""The tables the queue reads and writes, as SQLAlchemy Core tables."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from herald.models import PlatformHealth, Post, PostSchedule, PublishAttempt

# Declarative models type __table__ as FromClause; these are plain Tables.
schedule = cast(Table, PostSchedule.__table__)
posts = cast(Table, Post.__table__)
attempts_t = cast(Table, PublishAttempt.__table__)
health_t = cast(Table, PlatformHealth.__table__)
