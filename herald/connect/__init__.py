"""Connecting accounts through the platforms' own sign-in (OAuth 2).

Each platform's oauth.py (herald/platforms/<name>/oauth.py, found through its spec) builds
its authorization URL, reads the callback, and turns the code into an Offer (the accounts
the person may add, each with its token) over httpx; store.save writes the picked ones
through the services the API uses. No web code here: the routes in
herald/web/routes/accounts.py keep the state and show the pick list.
"""

from __future__ import annotations

from herald.config import Settings
from herald.connect.base import Candidate, ConnectError, Flow, Offer
from herald.connect.store import Saved, existing_ids, save


def flows(settings: Settings) -> dict[str, Flow]:
    """The connect flows whose app id and secret are set, by name, in reading order."""
    from herald.platforms.registry import connectable

    found: dict[str, Flow] = {}
    for spec in connectable():
        assert spec.connect is not None
        if (flow := spec.connect.bind(settings)) is not None:
            found[flow.name] = flow
    return found


__all__ = ["Candidate", "ConnectError", "Flow", "Offer", "Saved", "existing_ids", "flows",
           "save"]
