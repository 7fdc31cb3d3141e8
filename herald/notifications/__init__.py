"""Notifications to people: e-mail (SMTP) and chat (apprise), per person, and a daily digest.

- channels.py: sending one message, by e-mail or to a chat URL (blocking: run in a thread);
- messages.py: an event as a message a person reads (never a token or a secret);
- fanout.py: the dispatcher's hook: an event → one send per channel of each person who
  asked for it; digest.py: the daily digest, made once a day per person.

Sends ride the deliveries' queue (herald/queue/deliveries.py, `notification_sends`) and
are sent by the worker's event runner, as webhook deliveries are.
"""

from __future__ import annotations

#: Tries per notification (30 s doubling: about four hours in all).
NOTIFY_MAX_ATTEMPTS = 10
