"""Herald's OAuth apps on servers that register apps themselves (a Mastodon instance's
POST /api/v1/apps): registered once per server and redirect URI, kept in
oauth_server_apps with the secret encrypted like the tokens."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from herald.crypto import TokenCipher
from herald.db import Database
from herald.models import OAuthServerApp, utcnow


@dataclass(frozen=True)
class ServerApp:
    client_id: str
    client_secret: str = field(repr=False)
    scopes: str


class ServerApps:
    """The registered apps, by platform and server (blocking: call from a thread)."""

    def __init__(self, db: Database, cipher: TokenCipher) -> None:
        self.db, self.cipher = db, cipher

    def find(self, platform: str, server_url: str, redirect_uri: str,
             scopes: str) -> ServerApp | None:
        """The app registered with this redirect URI and scopes (another is out of date)."""
        with self.db.session() as session:
            row = session.scalars(select(OAuthServerApp).where(
                OAuthServerApp.platform == platform,
                OAuthServerApp.server_url == server_url)).first()
            if row is None or row.redirect_uri != redirect_uri or row.scopes != scopes:
                return None
            return ServerApp(row.client_id, self.cipher.decrypt(row.client_secret_enc),
                             row.scopes)

    def save(self, platform: str, server_url: str, redirect_uri: str,
             app: ServerApp) -> ServerApp:
        """Keep `app` for the server (replacing an out-of-date one). Two registrations at
        once: the first saved wins and both sign-ins use it (the other app stays unused)."""
        try:
            with self.db.session() as session:
                session.execute(delete(OAuthServerApp).where(
                    OAuthServerApp.platform == platform,
                    OAuthServerApp.server_url == server_url))
                session.add(OAuthServerApp(
                    platform=platform, server_url=server_url, redirect_uri=redirect_uri,
                    client_id=app.client_id,
                    client_secret_enc=self.cipher.encrypt(app.client_secret),
                    scopes=app.scopes, created_at=utcnow()))
        except IntegrityError:
            found = self.find(platform, server_url, redirect_uri, app.scopes)
            if found is None:
                raise
            return found
        return app
