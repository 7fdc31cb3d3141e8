"""The OpenID Connect authorization-code flow (with PKCE) against a company's provider.

authlib builds the authorization request and the PKCE challenge; joserfc (authlib's own
JOSE successor) checks the RS256-signed id_token against the provider's published keys:
its issuer, audience (our client id), nonce (the one this browser's session sent) and
expiry, each refused with a message that says which. Network calls only, no database:
the caller reads the provider before and provisions the member after.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, cast

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import KeySet

from herald.errors import AppError
from herald.sso.providers import Provider

#: Clock difference tolerated between Herald and the provider.
LEEWAY_SECONDS = 60


class SsoRefused(AppError):
    """Single sign-on did not work; try again, or sign in with your password."""

    status = 401
    code = "sso"


@dataclass(frozen=True)
class Pending:
    """What the browser's session keeps between the redirect and the callback."""

    company_id: str
    state: str
    nonce: str
    verifier: str
    next_url: str

    def as_dict(self) -> dict[str, str]:
        return {"company_id": self.company_id, "state": self.state, "nonce": self.nonce,
                "verifier": self.verifier, "next_url": self.next_url}


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise SsoRefused(f"The identity provider answered {response.status_code} to the "
                         f"{what} request.")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise SsoRefused(f"The identity provider's {what} answer is not JSON.")
    return body


def discover(http: httpx.Client, issuer: str) -> dict[str, Any]:
    try:
        doc = _json(http.get(f"{issuer}/.well-known/openid-configuration"), "discovery")
    except httpx.HTTPError as exc:
        raise SsoRefused(f"Herald cannot reach the identity provider at {issuer} ({exc}).") \
            from None
    if doc.get("issuer") != issuer:
        raise SsoRefused(f"The identity provider says its issuer is {doc.get('issuer')!r}, "
                         f"not {issuer!r}: check the issuer in the company's settings.")
    return doc


def start(http: httpx.Client, provider: Provider, *, redirect_uri: str, next_url: str
          ) -> tuple[str, Pending]:
    """The URL to send the browser to, and what its session must keep."""
    doc = discover(http, provider.issuer)
    pending = Pending(provider.company_id, secrets.token_urlsafe(24),
                      secrets.token_urlsafe(24), secrets.token_urlsafe(48), next_url)
    url = prepare_grant_uri(
        doc["authorization_endpoint"], provider.client_id, "code", redirect_uri=redirect_uri,
        scope="openid email profile", state=pending.state, nonce=pending.nonce,
        code_challenge=create_s256_code_challenge(pending.verifier),
        code_challenge_method="S256")
    return url, pending


def finish(http: httpx.Client, provider: Provider, pending: Pending, *, redirect_uri: str,
           code: str, state: str) -> dict[str, Any]:
    """The checked id_token's claims for the code the provider sent back."""
    if not secrets.compare_digest(state, pending.state):
        raise SsoRefused("This sign-in answer is not the one this browser asked for; "
                         "start again.")
    doc = discover(http, provider.issuer)
    try:
        tokens = _json(http.post(doc["token_endpoint"], data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": pending.verifier},
            auth=(provider.client_id, provider.client_secret)), "token")
        keys = _json(http.get(doc["jwks_uri"]), "keys")
    except httpx.HTTPError as exc:
        raise SsoRefused(f"Herald cannot reach the identity provider ({exc}).") from None
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise SsoRefused("The identity provider sent no id_token.")
    return check_id_token(id_token, keys, provider, pending.nonce)


def check_id_token(id_token: str, jwks: dict[str, Any], provider: Provider,
                   nonce: str) -> dict[str, Any]:
    try:
        token = jwt.decode(id_token, KeySet.import_key_set(cast(Any, jwks)), algorithms=["RS256"])
    except (JoseError, ValueError) as exc:
        raise SsoRefused(f"The id_token's signature does not check out ({exc}).") from None
    claims = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS, iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": provider.client_id},
        nonce={"essential": True, "value": nonce}, exp={"essential": True},
        sub={"essential": True})
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise SsoRefused("The id_token has expired; sign in again.") from None
    except (InvalidClaimError, MissingClaimError) as exc:
        raise SsoRefused(f"The id_token's {_claim_of(exc)} is not right: it was not issued "
                         "for this sign-in.") from None
    except JoseError as exc:
        raise SsoRefused(f"The id_token is not valid ({exc}).") from None
    if not isinstance(claims.get("email"), str) or claims.get("email_verified") is False:
        raise SsoRefused("The identity provider did not give a verified e-mail address.")
    return claims


def _claim_of(exc: JoseError) -> str:
    text = str(exc)
    for name in ("aud", "iss", "nonce", "sub", "exp"):
        if f"'{name}'" in text:
            return {"aud": "audience", "iss": "issuer"}.get(name, name)
    return "claims"
