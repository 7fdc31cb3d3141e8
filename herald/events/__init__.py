"""Events: what happened, told to machines (webhooks) and people (notifications).

- types.py: the event types (contract: receivers branch on these strings);
- outbox.py: writing an event in the transaction of the change it tells of;
- payloads.py: an event's data, the post or account as the API shows it;
- dispatcher.py: events → one delivery per subscribed webhook (and per notification);
- signing.py: the `Herald-Signature` header (HMAC-SHA256 of "<t>.<body>");
- sender.py: one POST to a receiver, by the rules media URLs follow;
- runner.py: the worker's side: dispatch, deliver, rescue, in a loop.

Only outbox and types are imported here: the queue writes events, and must not import
the dispatcher (which uses the queue) to do so.
"""

from __future__ import annotations

from herald.events.outbox import record
from herald.events.types import SUBSCRIBABLE, EventType, event_for_post_status

__all__ = ["SUBSCRIBABLE", "EventType", "event_for_post_status", "record"]
