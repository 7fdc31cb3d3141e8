"""`herald doctor`: every part of an install checked, and what to fix for each fault.

The configuration, the secret key, the database and its migrations, the media store
(written, then read back by its public URL), the platform API versions against their
sunsets, each account's token, and a key rotation left unfinished. Each check is a function
that yields findings; one that cannot run (no database) is skipped with the reason.
A token is judged first by what Herald stores (readable, connected, its expiry), then by
asking its platform (herald/doctor_tokens.py: valid, expiring, missing permissions).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import httpx
from sqlalchemy import select

from herald import migrate
from herald.config import ConfigError, Settings, load_settings
from herald.crypto import TokenCipher
from herald.db import Database
from herald.models import SocialAccount, SocialToken, utcnow
from herald.platforms import versions

#: A token that expires sooner than this, and is not refreshed by Herald, is a warning.
EXPIRY_WARNING = timedelta(days=7)


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "level": str(self.level), "message": self.message}


@dataclass
class _Install:
    """What the checks found so far, for the checks after them."""

    settings: Settings
    cipher: TokenCipher | None = None
    db: Database | None = None
    migrated: bool = False
    #: Ask each account's platform about its token (`herald doctor --offline`: not).
    ask_platforms: bool = True


Fetch = Callable[[str], httpx.Response]


def _fetch(url: str) -> httpx.Response:
    return httpx.get(url, timeout=5.0, follow_redirects=False)


def diagnose(*, today: date | None = None, fetch: Fetch = _fetch,
             settings: Settings | None = None, ask_platforms: bool = True) -> list[Finding]:
    """Every finding, in the order a person fixes them."""
    try:
        install = _Install(settings or load_settings(), ask_platforms=ask_platforms)
    except ConfigError as exc:
        return [Finding("configuration", Level.FAIL, f"{exc}; fix the setting and run "
                                                     "`herald doctor` again")]
    findings = [Finding("configuration", Level.OK, "the settings load")]
    for check in (_secret_key, _database, _migrations, _media_store):
        findings += check(install, fetch)
    findings += _api_versions(install.settings, today or date.today())
    findings += _tokens(install)
    findings += _rotation(install)
    return findings


def _secret_key(install: _Install, fetch: Fetch) -> Iterator[Finding]:
    settings = install.settings
    try:
        key = settings.resolved_secret_key()
    except ConfigError as exc:
        yield Finding("secret key", Level.FAIL, str(exc))
        return
    install.cipher = TokenCipher(key, settings.resolved_old_secret_keys())
    where = ("HERALD_SECRET_KEY" if settings.secret_key is not None
             else "kept in .herald-secret beside the SQLite file")
    yield Finding("secret key", Level.OK, f"strong ({where})")


def _database(install: _Install, fetch: Fetch) -> Iterator[Finding]:
    settings = install.settings
    db = Database.from_settings(settings, pool_size=1)
    try:
        db.check_connection()
    except ConfigError as exc:
        yield Finding("database", Level.FAIL, f"{exc}; check HERALD_DATABASE_URL and that "
                                              "the server is running")
        db.dispose()
        return
    install.db = db
    yield Finding("database", Level.OK, f"reachable ({db.dialect})")


def _migrations(install: _Install, fetch: Fetch) -> Iterator[Finding]:
    if install.db is None:
        yield Finding("migrations", Level.WARN, "not checked: no database")
        return
    current, head = migrate.current_revision(install.db.engine), migrate.head_revision()
    if current != head:
        yield Finding("migrations", Level.FAIL, f"the schema is at {current or 'nothing'}, "
                                                f"this Herald needs {head}; run "
                                                "`herald db upgrade`")
        return
    install.migrated = True
    yield Finding("migrations", Level.OK, f"at the latest revision ({head})")


def _media_store(install: _Install, fetch: Fetch) -> Iterator[Finding]:
    from herald.media import build_store
    from herald.media.stores import LocalMediaStore, MediaStoreError

    settings = install.settings
    try:
        store = build_store(settings)
    except ConfigError as exc:
        yield Finding("media store", Level.FAIL, str(exc))
        return
    if isinstance(store, LocalMediaStore):
        problem = _writable(store.directory)
        if problem:
            yield Finding("media store", Level.FAIL, problem)
            return
    try:
        saved = store.save(_probe_image(), filename="herald-doctor.png")
    except MediaStoreError as exc:
        yield Finding("media store", Level.FAIL, f"{exc}; check the store's settings and "
                                                 "permissions")
        return
    try:
        response = fetch(saved.url)
    except httpx.HTTPError as exc:
        if isinstance(store, LocalMediaStore) and isinstance(exc, httpx.ConnectError):
            # A fresh install: nothing serves HERALD_PUBLIC_URL until `herald serve` runs.
            yield Finding("media store", Level.OK, f"{store.directory} is writable; its "
                          f"files are served at {saved.url.rsplit('/', 1)[0]}/ once `herald "
                          "serve` (or `run`) runs there (nothing answers now)")
            return
        yield Finding("media store", Level.FAIL, f"saved, but {saved.url} cannot be read "
                      f"back ({type(exc).__name__}): the platforms fetch media from this "
                      "URL; check HERALD_PUBLIC_URL or HERALD_MEDIA_CDN_URL")
        return
    if response.status_code != 200 or len(response.content) != saved.size:
        yield Finding("media store", Level.FAIL, f"saved, but {saved.url} answers "
                      f"{response.status_code} with {len(response.content)} bytes, not the "
                      f"{saved.size} saved: check HERALD_PUBLIC_URL or HERALD_MEDIA_CDN_URL")
        return
    yield Finding("media store", Level.OK, f"written and read back at {saved.url}")


def _writable(directory: Path) -> str | None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".herald-doctor-"):
            pass
    except OSError as exc:
        return (f"cannot write in {directory} ({exc.strerror}); give Herald's user write "
                "access or set HERALD_MEDIA_DIR")
    return None


def _probe_image() -> bytes:
    """A small PNG, the same bytes every run (the store names files by their content)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (40, 90, 160)).save(out, format="PNG")
    return out.getvalue()


def _api_versions(settings: Settings, today: date) -> Iterator[Finding]:
    for version in versions.configured(settings):
        problem = version.problem(today)
        left = version.days_left(today)
        if problem is None:
            yield Finding("API version", Level.OK, f"{version.setting}={version.version}, "
                          f"answers until {version.sunset:%Y-%m-%d} ({left} days left)")
        else:
            yield Finding("API version", Level.FAIL if left is not None and left < 0
                          else Level.WARN, problem)


def _tokens(install: _Install) -> Iterator[Finding]:
    if install.db is None or install.cipher is None or not install.migrated:
        yield Finding("tokens", Level.WARN, "not checked: the database is not usable yet")
        return
    from herald.doctor_tokens import Question, ask
    from herald.platforms.registry import find

    now = utcnow()
    with install.db.session() as session:
        rows = session.execute(
            select(SocialAccount, SocialToken)
            .outerjoin(SocialToken, SocialToken.account_id == SocialAccount.id)
            .order_by(SocialAccount.company_id, SocialAccount.name)).all()
    fine, questions = 0, []
    for account, token in rows:
        what = f"{account.platform} account {account.name!r} ({account.id})"
        spec = find(account.platform)
        # Herald refreshes it itself: a refresh token and the platform's app configured.
        refreshed = (spec is not None and spec.refresh is not None and token is not None
                     and token.refresh_token_enc is not None and spec.connect is not None
                     and spec.connect.bind(install.settings) is not None)
        problem = _stored_problem(install.cipher, what, account, token, now, refreshed)
        if problem is not None:
            yield problem
        elif (install.ask_platforms and spec is not None and spec.check_token is not None
              and not account.sandbox and token is not None):
            questions.append(Question(what, spec, account.external_id,
                                      install.cipher.decrypt(token.access_token_enc),
                                      account.server_url, refreshed))
        else:
            fine += 1
    answered, asked_fine = ask(install.settings, questions, now=now)
    yield from answered
    asked = f"; {len(questions)} checked with their platform" if questions else ""
    yield Finding("tokens", Level.OK, f"{fine + asked_fine} of {len(rows)} account(s) have "
                                      f"a usable token{asked}")


def _stored_problem(cipher: TokenCipher, what: str, account: SocialAccount,
                    token: SocialToken | None, now: datetime, refreshed: bool
                    ) -> Finding | None:
    """What is wrong with the token as Herald stores it, before asking its platform."""
    if token is None:
        return Finding("tokens", Level.FAIL, f"{what} has no token; connect it again")
    if account.state == "needs_reauth":
        return Finding("tokens", Level.FAIL, f"{what} needs reconnecting"
                       f"{f' ({account.state_reason})' if account.state_reason else ''}")
    if not _readable(cipher, token):
        return Finding("tokens", Level.FAIL, f"{what}: its token cannot be decrypted with "
                       "HERALD_SECRET_KEY or HERALD_OLD_SECRET_KEYS; set the key it was "
                       "saved with, or connect the account again")
    if token.expires_at is not None and token.expires_at <= now and not refreshed:
        return Finding("tokens", Level.FAIL, f"{what}: its token expired "
                       f"{token.expires_at:%Y-%m-%d %H:%M} UTC; connect it again")
    if (token.expires_at is not None and token.expires_at - now < EXPIRY_WARNING
            and not refreshed):
        return Finding("tokens", Level.WARN, f"{what}: its token expires "
                       f"{token.expires_at:%Y-%m-%d %H:%M} UTC and Herald cannot refresh "
                       "it; connect it again before then")
    return None


def _readable(cipher: TokenCipher, token: SocialToken) -> bool:
    try:
        cipher.decrypt(token.access_token_enc)
        if token.refresh_token_enc:
            cipher.decrypt(token.refresh_token_enc)
    except ValueError:
        return False
    return True


def _rotation(install: _Install) -> Iterator[Finding]:
    if not install.settings.old_secret_keys or install.cipher is None or not install.migrated:
        return
    assert install.db is not None
    from herald.services.keys import under_old_keys

    left = under_old_keys(install.db, install.cipher)
    if left:
        yield Finding("key rotation", Level.WARN, f"{left} stored value(s) are still under "
                      "an old key; run `herald keys rotate`")
    else:
        yield Finding("key rotation", Level.OK, "everything is under HERALD_SECRET_KEY; "
                      "HERALD_OLD_SECRET_KEYS can be emptied")


def exit_status(findings: list[Finding]) -> int:
    """The exit status: 1 when anything failed."""
    return 1 if any(f.level == Level.FAIL for f in findings) else 0


