"""A small OpenID Connect provider for the tests and for trying single sign-on locally.

Discovery document, authorize (it signs in whoever `person` says, at once, with no page),
token (checks the client's secret, the redirect URI and the PKCE verifier, and answers an
RS256-signed id_token) and JWKS. `tamper` overrides claims of the next id_tokens, so a
test can send a wrong audience, nonce or issuer, or an expired token.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route


@dataclass
class FakeProvider:
    issuer: str = "http://127.0.0.1"
    clients: dict[str, str] = field(default_factory=dict)
    #: The claims of the person the next authorization signs in.
    person: dict[str, Any] = field(default_factory=lambda: {
        "sub": "ada-1", "email": "ada@example.com", "email_verified": True, "name": "Ada"})
    #: Claims put over the next id_tokens (e.g. {"aud": "someone-else"}).
    tamper: dict[str, Any] = field(default_factory=dict)
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(
        2048, parameters={"kid": "fake-1", "use": "sig", "alg": "RS256"}))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/authorize", self.authorize),
            Route("/token", self.token, methods=["POST"]),
            Route("/jwks", self.jwks),
        ])

    async def discovery(self, request: Request) -> Response:
        return JSONResponse({
            "issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"]})

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") not in self.clients or q.get("response_type") != "code":
            return JSONResponse({"error": "unauthorized_client"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"client_id": q["client_id"], "redirect_uri": q["redirect_uri"],
                            "nonce": q.get("nonce"), "challenge": q.get("code_challenge"),
                            "person": dict(self.person)}
        return RedirectResponse(f"{q['redirect_uri']}?"
                                + urlencode({"code": code, "state": q.get("state", "")}),
                                status_code=302)

    async def token(self, request: Request) -> Response:
        form = await request.form()
        grant = self.codes.pop(str(form.get("code", "")), None)
        client_id, secret = _basic(request)
        if (grant is None or grant["client_id"] != client_id
                or self.clients.get(client_id) != secret
                or form.get("redirect_uri") != grant["redirect_uri"]
                or create_s256_code_challenge(str(form.get("code_verifier", "")))
                != grant["challenge"]):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": client_id, "iat": now, "exp": now + 300,
                  "nonce": grant["nonce"], **grant["person"], **self.tamper}
        id_token = jwt.encode({"alg": "RS256", "kid": "fake-1"}, claims, self.key)
        return JSONResponse({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                             "expires_in": 300, "id_token": id_token})


def _basic(request: Request) -> tuple[str, str]:
    import base64

    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    user, _, password = base64.b64decode(value).decode().partition(":")
    return user, password
