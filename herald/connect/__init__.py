"""Connecting accounts through the platforms' own sign-in (OAuth 2): Facebook Login for
Pages and Instagram, LinkedIn for members and organizations.

Each platform module builds its authorization URL, reads the callback, and turns the code
into an Offer (the accounts the person may add, each with its token) over httpx; store.save
writes the picked ones through the services the API uses. No web code here: the routes in
herald/web/routes/accounts.py keep the state and show the pick list.
"""

from __future__ import annotations

from herald.connect.base import Candidate, ConnectError, Offer
from herald.connect.facebook import FacebookApp
from herald.connect.linkedin import LinkedInApp
from herald.connect.store import Saved, existing_ids, save

__all__ = ["Candidate", "ConnectError", "FacebookApp", "LinkedInApp", "Offer", "Saved",
           "existing_ids", "save"]
