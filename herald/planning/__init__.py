"""Planning a month: posting schedules and the queue of each account.

- slots.py: weekly slots in an IANA zone turned into UTC times (pure, DST-aware);
- schedules.py: an account's schedule, its free slots, "next_slot" for a create;
- queueing.py: an account's queue listed, reordered, shuffled, paused and resumed;
- schemas.py: the bodies of their routes.

Submodules are imported by name (nothing here): services.posts imports schedules.
"""
