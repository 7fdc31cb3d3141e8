"""The web side of connecting accounts: which flows are configured, the OAuth `state`, and
carrying the offer from the callback to the pick form.

`state` is a random value kept in the signed session cookie: one per flow, used once, good
for STATE_SECONDS. A callback whose state is missing, reused, expired or from another
browser is refused before its code is touched (this is the CSRF protection of the callback).

The offer (accounts found, with their tokens) travels in the pick form itself, sealed with
a key of its own derived from HERALD_SECRET_KEY (Fernet: encrypted and authenticated), bound
to the user and company and to a one-time nonce in the session, and good for PICK_SECONDS.
So no server-side store is needed, any `serve --workers` process or host can take the POST,
and the browser never sees a token in the clear. (The session cookie is signed but not
encrypted, and too small for a list of tokens.)
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import time
from collections.abc import MutableMapping
from typing import Any

import httpx
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Request

from herald import connect
from herald.config import Settings
from herald.connect import Flow, Offer
from herald.connect.server_apps import ServerApps
from herald.runtime import Herald

#: Minutes a person may spend in the platform's dialog.
STATE_SECONDS = 15 * 60
#: Minutes a person may spend on the pick list.
PICK_SECONDS = 30 * 60
_STATES = "oauth_state"
_PICKS = "oauth_pick"

Session = MutableMapping[str, Any]


def flows(settings: Settings) -> dict[str, Flow]:
    """The flows whose app id and secret are set."""
    return connect.flows(settings)


def callback_url(request: Request, settings: Settings, flow: str) -> str:
    """The redirect_uri to register with the platform: HERALD_PUBLIC_URL when it is set (the
    address people use, behind any proxy), else the address this request came to."""
    if "public_url" in settings.model_fields_set:
        base = settings.public_url
    else:
        base = str(request.base_url).rstrip("/")
    return f"{base}/accounts/connect/{flow}/callback"


_SERVERS = "connect_servers"


def remember_server(session: Session, flow: str, server: str) -> None:
    """The server a per-server flow's sign-in went to (its callback carries no name)."""
    session[_SERVERS] = {**dict(session.get(_SERVERS) or {}), flow: server}


def server_of(session: Session, flow: str) -> str | None:
    found = (session.get(_SERVERS) or {}).get(flow)
    return found if isinstance(found, str) else None


def server_apps(herald: Herald) -> ServerApps:
    """Herald's OAuth apps on servers that register apps themselves."""
    return ServerApps(herald.db, herald.cipher)


def http_client() -> httpx.AsyncClient:
    """A client for one connect: a few calls, rarely; bounded like the platform clients."""
    return httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))


# --- state ---------------------------------------------------------------------------------


def begin(session: Session, flow: str, *, now: float | None = None) -> str:
    """A fresh state for `flow` (replacing any earlier one of that flow)."""
    state = secrets.token_urlsafe(32)
    states = dict(session.get(_STATES) or {})
    states[flow] = [state, (time.time() if now is None else now) + STATE_SECONDS]
    session[_STATES] = states
    return state


def take_state(session: Session, flow: str, given: str | None, *,
               now: float | None = None) -> bool:
    """Whether `given` is this session's current state for `flow`; it is used up either way."""
    states = dict(session.get(_STATES) or {})
    kept = states.pop(flow, None)
    session[_STATES] = states
    if not given or not isinstance(kept, list) or len(kept) != 2:
        return False
    expected, expires = kept
    if (time.time() if now is None else now) > float(expires):
        return False
    return hmac.compare_digest(str(expected), given)


# --- the offer between callback and pick form ----------------------------------------------


class Sealer:
    """Seals an offer for the pick form with a key used for nothing else."""

    def __init__(self, secret_key: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"herald connect offer v1").derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, session: Session, offer: Offer, *, user_id: str, company_id: str,
             now: float | None = None) -> str:
        nonce = secrets.token_urlsafe(16)
        picks = dict(session.get(_PICKS) or {})
        picks[offer.flow] = nonce
        session[_PICKS] = picks
        payload = json.dumps({"offer": offer.to_json(), "user": user_id,
                              "company": company_id, "nonce": nonce}).encode()
        at = int(time.time() if now is None else now)
        return self._fernet.encrypt_at_time(payload, at).decode()

    def open(self, session: Session, flow: str, sealed: str, *, user_id: str,
             company_id: str, now: float | None = None) -> Offer | None:
        """The offer if it was sealed for this flow, user, company and session, and is
        still fresh and unused; None otherwise."""
        at = int(time.time() if now is None else now)
        try:
            payload = json.loads(self._fernet.decrypt_at_time(sealed.encode(), PICK_SECONDS,
                                                              at))
        except (InvalidToken, ValueError):
            return None
        nonce = (session.get(_PICKS) or {}).get(flow)
        if (not nonce or not hmac.compare_digest(str(payload.get("nonce")), str(nonce))
                or payload.get("user") != user_id or payload.get("company") != company_id):
            return None
        offer = Offer.from_json(payload["offer"])
        return offer if offer.flow == flow else None

    @staticmethod
    def used(session: Session, flow: str) -> None:
        """Spend the nonce: the same pick form cannot be posted twice."""
        picks = dict(session.get(_PICKS) or {})
        picks.pop(flow, None)
        session[_PICKS] = picks
