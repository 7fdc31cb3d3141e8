"""Settings, read from HERALD_* environment variables and a .env file."""

from __future__ import annotations

import ipaddress
import math
import os
import secrets
from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from herald.secret_files import SecretFileError, SecretFilesSource

# Values people paste from tutorials; a key like these protects nothing.
WEAK_SECRETS = frozenset(
    {"changeme", "change-me", "change_me", "secret", "secret-key", "secretkey", "password",
     "herald", "dev", "development", "test", "testing", "default", "insecure", "12345678"}
)
MIN_SECRET_LENGTH = 16
#: Bits the key's own characters carry, counted by how often each occurs: sixteen equal
#: characters carry none; `openssl rand -hex 32` about 240; 64 is what 16 random hex
#: digits carry. (zxcvbn would judge human passwords; a key is not one, and its word
#: lists would cost every process megabytes.)
MIN_SECRET_BITS = 64

_DRIVERS = {
    "sqlite": "sqlite+pysqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}


class ConfigError(ValueError):
    """The configuration is not usable."""


def normalize_database_url(raw: str) -> URL:
    """Turn what a user writes (postgresql://, mysql://, sqlite:///) into a URL with our driver."""
    raw = raw.strip()
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(
            f"HERALD_DATABASE_URL {raw!r} is not a database URL; expected e.g. "
            "sqlite:///herald.db, postgresql://user@host/db or mysql://user@host/db"
        ) from None
    backend = url.get_backend_name()
    if backend not in _DRIVERS:
        raise ConfigError(
            f"HERALD_DATABASE_URL uses {backend!r}; Herald supports sqlite, postgresql and mysql "
            "(MariaDB)"
        )
    if backend != "sqlite" and not url.database:
        raise ConfigError(f"HERALD_DATABASE_URL {url.render_as_string()!r} names no database")
    return url.set(drivername=_DRIVERS[backend])


class Settings(BaseSettings):
    """Everything Herald reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="HERALD_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///herald.db"
    #: The database is reached through PgBouncer in transaction pooling: no server-side
    #: prepared statements (PgBouncer before 1.21 cannot keep them), and LISTEN only over
    #: `listen_database_url`, a direct connection (a pooled one loses notifications).
    database_pgbouncer: bool = False
    #: Where workers LISTEN for new posts (PostgreSQL), when not the database URL itself.
    listen_database_url: str | None = None
    secret_key: SecretStr | None = None
    #: Keys used before HERALD_SECRET_KEY (comma-separated): they still decrypt what they
    #: encrypted, until `herald keys rotate` has re-encrypted it with the current key.
    old_secret_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    media_dir: Path = Path("media")
    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    #: The company CLI commands act on without --company (its id, name or id prefix).
    company: str | None = None
    log_level: str = "INFO"
    #: "json": one JSON object a log line, with the request id or the post, account,
    #: worker and attempt it is about.
    log_format: Literal["text", "json"] = "text"
    #: `Authorization: Bearer <this>` is required to read /metrics when set.
    metrics_token: SecretStr | None = None
    #: Where the processes of `serve --workers N` keep their counts for /metrics to add
    #: up (emptied at start); a temporary folder when unset.
    metrics_dir: Path | None = None
    #: `herald worker` serves its /metrics on this port (off when unset).
    worker_metrics_port: int | None = Field(default=None, ge=0, le=65535)
    worker_metrics_host: str = "127.0.0.1"

    graph_api_url: str = "https://graph.facebook.com"
    graph_api_version: str = "v25.0"
    #: The Instagram API with Instagram Login (accounts without a Facebook Page); it takes
    #: the Graph API's version (HERALD_GRAPH_API_VERSION).
    instagram_api_url: str = "https://graph.instagram.com"
    linkedin_api_url: str = "https://api.linkedin.com"
    linkedin_version: str = "202609"
    #: Meta's Threads API (graph.threads.net), versioned like the Graph API.
    threads_api_url: str = "https://graph.threads.net"
    threads_api_version: str = "v1.0"
    allow_private_media_urls: bool = False
    #: Accounts' own servers (a Bluesky PDS) may be http and on private addresses.
    allow_private_server_urls: bool = False

    # OAuth apps: connecting accounts, and refreshing LinkedIn tokens before they expire.
    facebook_app_id: str | None = None
    facebook_app_secret: SecretStr | None = None
    linkedin_client_id: str | None = None
    linkedin_client_secret: SecretStr | None = None
    #: The Threads app (Meta's "Threads use case"): connecting and refreshing Threads tokens.
    threads_app_id: str | None = None
    threads_app_secret: SecretStr | None = None
    #: Where "Connect Threads" sends the browser (the fake's: <fake>/threads/oauth/authorize).
    threads_auth_url: str = "https://threads.net/oauth/authorize"
    linkedin_token_url: str = "https://www.linkedin.com/oauth/v2/accessToken"
    #: Instagram Login's app (the Instagram app id and secret of the Meta app's "API setup
    #: with Instagram login", not the Facebook app's): connecting accounts. Refreshing their
    #: tokens needs no app.
    instagram_app_id: str | None = None
    instagram_app_secret: SecretStr | None = None
    #: Instagram Login's dialog and its code exchange (api.instagram.com); point both at the
    #: fake (<fake>/instagram/oauth/authorize, <fake>/instagram/oauth/access_token) to try it.
    instagram_auth_url: str = "https://www.instagram.com/oauth/authorize"
    instagram_token_url: str = "https://api.instagram.com/oauth/access_token"
    #: Where "Connect" sends the browser: Facebook Login's dialog is at
    #: {facebook_dialog_url}/{graph_api_version}/dialog/oauth; LinkedIn's is this URL itself.
    #: Point both at the platform fake (<fake>/facebook, <fake>/linkedin/oauth/v2/authorization)
    #: to try the flows without real apps.
    facebook_dialog_url: str = "https://www.facebook.com"
    linkedin_auth_url: str = "https://www.linkedin.com/oauth/v2/authorization"
    #: Refresh a LinkedIn token this long before it expires (its tokens live 60 days).
    token_refresh_ahead_seconds: float = Field(default=7 * 86400, ge=0)

    # Web sign-in throttling: this many failed sign-ins for one email (or, many more, from
    # one client address) within the window refuse further attempts until they age out.
    signin_max_failures: int = Field(default=5, ge=1)
    signin_max_failures_per_ip: int = Field(default=50, ge=1)
    signin_failure_window_seconds: float = Field(default=900.0, gt=0)
    #: Reverse proxies whose X-Forwarded-For is believed (addresses or CIDRs, separated by
    #: commas); none by default, so the client address is the connecting peer's.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Media store: a local folder served at /media/ (default) or an S3-compatible bucket.
    media_store: Literal["local", "s3"] = "local"
    media_max_upload_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    #: Largest body of a request that carries no file (JSON, a web form): 413 above it.
    max_json_bytes: int = Field(default=1024 * 1024, gt=0)
    #: Bulk import (POST /api/v1/posts/import, `herald posts import`): largest file, most rows.
    max_import_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_import_rows: int = Field(default=10_000, gt=0)
    media_fetch_timeout: float = Field(default=30.0, gt=0)
    #: Schedule-time media downloads at once, per process and per company (429/503 above).
    media_fetch_concurrency: int = Field(default=4, ge=1)
    media_fetch_per_company: int = Field(default=2, ge=1)
    media_jpeg_quality: int = Field(default=90, ge=1, le=100)
    #: Images decoded at once per process (uploads, media checks); the rest queue, so memory
    #: stays at this many worst-case images (about 250 MB each).
    max_concurrent_decodes: int = Field(default=2, ge=1)
    media_cdn_url: str | None = None
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_prefix: str = ""
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_acl: str | None = None

    # Worker knobs. The seed published 5 posts a minute, one at a time. A post in flight
    # mostly waits on its platform's answers, and that wait costs a coroutine (and a
    # connection), not a thread: the database calls go through a few threads whatever
    # this is (herald.worker.DB_THREADS). So the default lets a worker take what a burst
    # brings (a 9:00 burst of 5,000 posts across 4 workers is all in flight at once),
    # bounded by HERALD_PLATFORM_CONCURRENCY and each account's own platform limits (the
    # Instagram quota, Meta's usage headers), not by a small fixed number: at 50, 4
    # workers took 5,000 posts 200 at a time (docs/benchmarks.md, "Burst").
    worker_concurrency: int = Field(default=1000, ge=1)
    #: Posts claimed per query, ahead of free slots; one claim is one short transaction.
    worker_batch_size: int = Field(default=200, ge=1)
    lease_seconds: float = Field(default=60.0, gt=0)
    #: A retried post gives up only once it has had this many attempts that reached the
    #: platform AND its time budget (from its first retry) is spent.
    max_attempts: int = Field(default=3, ge=1)
    retry_budget_seconds: float = Field(default=6 * 3600.0, ge=0)
    retry_base_seconds: float = Field(default=30.0, ge=0)
    retry_max_seconds: float = Field(default=60.0, ge=0)
    #: The first delay after an attempt that could not reach the platform (a 5xx or a
    #: network failure before anything was sent, or while checking an earlier commit):
    #: such an attempt spends no count, only time; its delays double up to the cap above.
    retry_unreachable_seconds: float = Field(default=2.0, gt=0)
    #: A platform, or one account on it, that this many calls in a row within the window
    #: could not reach is held as down (every worker counts, in the database): its posts
    #: wait, spending no attempts, and one goes as a probe every `outage_probe_seconds`,
    #: doubling up to the max while probes fail; the first answer releases them in order.
    outage_failures: int = Field(default=5, ge=1)
    outage_window_seconds: float = Field(default=120.0, gt=0)
    outage_probe_seconds: float = Field(default=5.0, gt=0)
    outage_probe_max_seconds: float = Field(default=300.0, gt=0)
    poll_interval: float = Field(default=1.0, gt=0, le=1.0)
    rescue_interval: float = Field(default=15.0, gt=0)
    shutdown_grace: float = Field(default=30.0, ge=0)
    #: Seconds a worker waits for any one answer from the database before it drops the
    #: connection (herald.queue.deadline): a blackholed network sends no error. 0: never.
    db_timeout: float = Field(default=30.0, ge=0)
    #: Most posts of one platform being published at once, counted across every worker
    #: through the database: HERALD_PLATFORM_CONCURRENCY is JSON of platform names and
    #: caps, e.g. '{"<platform>": 20}'. A platform not named has no cap.
    platform_concurrency: dict[str, int] = Field(default_factory=dict)
    # Planning (herald/planning/): how often a worker expands series and refills empty
    # slots; how far ahead occurrences become posts; evergreen refills.
    planning_interval: float = Field(default=60.0, gt=0)
    series_window_days: int = Field(default=35, ge=1, le=366)
    evergreen_lead_minutes: float = Field(default=60.0, gt=0)
    evergreen_min_gap_days: float = Field(default=30.0, ge=0)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # HERALD_<NAME>_FILE after the environment (both set is refused), before .env.
        return (init_settings, env_settings, SecretFilesSource(settings_cls),
                dotenv_settings, file_secret_settings)

    @field_validator("old_secret_keys", mode="before")
    @classmethod
    def _split_old_keys(cls, value: Any) -> list[Any]:
        if isinstance(value, str | SecretStr):
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            # Commas or lines: a _FILE may hold one old key a line.
            return [k.strip() for k in raw.replace("\n", ",").split(",") if k.strip()]
        return list(value)

    # Webhooks and the event outbox (docs/webhooks.md).
    #: How often a worker looks for new events and due deliveries when idle.
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Tries per delivery (backoff from 30 s doubling to an hour: about a day in all).
    webhook_max_attempts: int = Field(default=30, ge=1)
    webhook_retry_base_seconds: float = Field(default=30.0, ge=0)
    webhook_retry_max_seconds: float = Field(default=3600.0, ge=0)
    #: A webhook whose deliveries all failed for this long is disabled (with a notice).
    webhook_disable_after_seconds: float = Field(default=86400.0, gt=0)
    #: Deliveries sent at once per worker (they never hold up its posts).
    webhook_concurrency: int = Field(default=10, ge=1)
    allow_private_webhook_urls: bool = False
    #: Events, webhook deliveries and notifications finished this many days ago are
    #: deleted by the workers' housekeeping; 0 keeps them for ever.
    event_retention_days: int = Field(default=30, ge=0)

    # Notifications to people (docs/notifications.md): e-mail through an SMTP server.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    #: The From address of Herald's messages.
    smtp_from: str = "herald@localhost"
    #: "starttls" (port 587), "ssl" (port 465) or "none" (a relay on your own network).
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("database_url", "listen_database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is not None:
            normalize_database_url(value)
        return value

    @field_validator("platform_concurrency")
    @classmethod
    def _check_caps(cls, value: dict[str, int]) -> dict[str, int]:
        from herald.models import PLATFORMS

        for platform, cap in value.items():
            if platform not in PLATFORMS:
                raise ValueError(f"unknown platform {platform!r} (one of "
                                 f"{', '.join(PLATFORMS)})")
            if cap < 1:
                raise ValueError(f"the cap for {platform} must be at least 1, not {cap}")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _check_proxies(cls, value: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else list(value)
        proxies = [str(item).strip() for item in items if str(item).strip()]
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or CIDR (e.g. 10.0.0.5 or "
                                 "10.0.0.0/8)") from None
        return proxies

    @field_validator("smtp_from")
    @classmethod
    def _check_from(cls, value: str) -> str:
        from email.utils import parseaddr

        address = parseaddr(value)[1]
        if "@" not in address or any(c.isspace() for c in address):
            raise ValueError(f"{value!r} is not an e-mail address (e.g. herald@example.com "
                             "or 'Herald <herald@example.com>')")
        return value

    @field_validator("public_url", "graph_api_url", "linkedin_api_url", "instagram_api_url",
                     "threads_api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("facebook_dialog_url")
    @classmethod
    def _strip_dialog_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @cached_property
    def sqlalchemy_url(self) -> URL:
        return normalize_database_url(self.database_url)

    @property
    def listen_url(self) -> URL | None:
        """Where to LISTEN: the direct URL given, else the database's unless that is a
        PgBouncer pool (None: the workers poll)."""
        if self.listen_database_url:
            return normalize_database_url(self.listen_database_url)
        return None if self.database_pgbouncer else self.sqlalchemy_url

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.get_backend_name() == "sqlite"

    def resolved_secret_key(self) -> str:
        """The secret key; on the embedded SQLite default one is made and kept beside the DB."""
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
            if is_weak_secret(value):
                raise ConfigError(
                    "HERALD_SECRET_KEY is too weak: use at least "
                    f"{MIN_SECRET_LENGTH} random characters, not a repeated few "
                    "(e.g. `openssl rand -hex 32`)"
                )
            return value
        if not self.is_sqlite:
            raise ConfigError(
                "HERALD_SECRET_KEY is required with PostgreSQL or MariaDB: every host must "
                "share it to read the stored tokens (e.g. `openssl rand -hex 32`)"
            )
        return _embedded_secret(self.sqlalchemy_url)


    def resolved_old_secret_keys(self) -> list[str]:
        """The keys before the current one, which still decrypt (none unless rotating)."""
        return [key.get_secret_value() for key in self.old_secret_keys]


def is_weak_secret(value: str) -> bool:
    """A tutorial word, too short, or too few different characters."""
    return (value.strip().lower() in WEAK_SECRETS or len(value) < MIN_SECRET_LENGTH
            or secret_bits(value) < MIN_SECRET_BITS)


def secret_bits(value: str) -> float:
    """The bits in the key's characters' frequencies (length times Shannon entropy), counted
    over one period of a key that repeats itself ("abcd" * 8 carries no more than "abcd")."""
    period = next((p for p in range(1, len(value) // 2 + 1) if value[p:] == value[:-p]),
                  len(value))
    unit = value[:period]
    return -sum(c * math.log2(c / period) for c in Counter(unit).values())


def _embedded_secret(url: URL) -> str:
    database = url.database
    if not database or database == ":memory:" or url.query.get("mode") == "memory":
        return secrets.token_hex(32)
    path = Path(database).resolve().with_name(".herald-secret")
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    # O_EXCL: two processes starting at once on a fresh folder must agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(value)
    return value


def _problem(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if message.startswith("HERALD_"):
        return message
    return f"HERALD_{'_'.join(str(p) for p in error['loc']).upper()}: {message}"


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning validation errors into one readable ConfigError."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except SecretFileError as exc:
        raise ConfigError(str(exc)) from None
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors())
        raise ConfigError(problems) from None
