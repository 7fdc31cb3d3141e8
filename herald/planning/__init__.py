"""Planning a month: posting schedules, the queue of each account, series and evergreen.

- slots.py: weekly slots in an IANA zone turned into UTC times (pure, DST-aware);
- schedules.py: an account's schedule, its free slots, "next_slot" for a create;
- queueing.py: an account's queue listed, reordered, shuffled, paused and resumed;
- rules.py: RRULEs checked and expanded with python-dateutil (pure);
- series.py: recurring series and evergreen entries; occurrences made as ordinary posts;
- evergreen.py: empty slots refilled from the evergreen library;
- loop.py: one planning pass (what each worker runs every HERALD_PLANNING_INTERVAL);
- schemas.py: the bodies of their routes.

Submodules are imported by name (nothing here): services.posts imports schedules (and
series, lazily), and series imports services.posts.
"""
