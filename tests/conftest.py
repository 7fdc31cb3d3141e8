"""Which engines a test runs on, and a clean database for each test.

Where a test lives says what it needs:

    tests/unit/     no database (asking for one fails the test: move it to tests/app)
    tests/db/       the store contract: every test on SQLite, PostgreSQL and MariaDB
    tests/app/      API, services, web UI, the in-process worker, the CLI in-process: on
                    SQLite, except tests marked `@pytest.mark.all_engines`
    tests/process/  spawned servers, workers, browsers and the bench: marked `slow`;
                    every engine, as before the tree was split

A test anywhere else follows tests/app's rule. Mark an app test `all_engines` when what
it checks rests on SQL or locking that differs per engine and that no tests/db test pins
with the same outcome: a create's enqueue and its NOTIFY, locking a post for edit,
cursor listing (timestamps' precision), integrity errors, the conditional updates that
workers or server processes race on (claims, token refresh, the sign-in throttle's
count), the worker's wake-up. A test that only reads and writes rows through the ORM's
portable statements stays on SQLite.

HERALD_TEST_ENGINES (default "sqlite,postgresql,mariadb") names the engines of the
all-engine tests; the others run on SQLite, or on the first engine named if SQLite is
not. HERALD_TEST_EVERY_ENGINE=true runs every database test on every named engine.
With CI=true an unreachable server fails the run instead of skipping its tests.

Each engine's database is migrated from empty once per session (so migrations run on
all three); `database_url` then hands each test a clean one that any process can open.
Per-test cost, measured on the shared 2-core box after a typical test (a company, an
account, five posts), December 2026:
- SQLite: a copy of the migrated (VACUUMed) file, 0.1 ms. Refused: deleting every
  table's rows, 0.6-0.7 ms.
- PostgreSQL and MariaDB: the session's database, rows deleted from the tables that
  have any (one probe, then a DELETE for each), 2.5-3.3 ms. Refused: PostgreSQL
  TRUNCATE 17-37 ms, CREATE DATABASE ... TEMPLATE and its DROP 33 ms (WAL_LOG) or
  100 ms (FILE_COPY); MariaDB TRUNCATE 21 ms, a new database with the schema replayed
  46 ms. A DELETE of every table costs about the same as the probe (2-4 ms): the probe
  leaves the tables a test never wrote alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from herald import migrate, services
from herald.app import create_app
from herald.config import Settings
from herald.db import Database
from herald.models import Base
from herald.platforms import registry
from herald.runtime import Herald
from tests.helpers import RecordingPublisher
from tests.smtp_server import Mailbox, smtp_server

ENGINES = [e.strip() for e in os.environ.get(
    "HERALD_TEST_ENGINES", "sqlite,postgresql,mariadb").split(",") if e.strip()]
ONE_ENGINE = "sqlite" if "sqlite" in ENGINES else ENGINES[0]
EVERY_ENGINE = os.environ.get("HERALD_TEST_EVERY_ENGINE", "").lower() == "true"
PG_SERVER = os.environ.get("HERALD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
MARIADB_SERVER = os.environ.get("HERALD_TEST_MARIADB", "mysql://root@127.0.0.1:3306")
SECRET = "test-secret-key-0123456789abcdef"
TESTS = Path(__file__).resolve().parent
#: Folders whose database tests run on every engine (see the docstring).
EVERY_ENGINE_FOLDERS = {"db", "process"}


def _folder(node: pytest.Item) -> str:
    parts = Path(node.path).resolve().relative_to(TESTS).parts
    return parts[0] if len(parts) > 1 else ""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" not in metafunc.fixturenames or _folder(metafunc.definition) == "unit":
        return
    every = (EVERY_ENGINE or _folder(metafunc.definition) in EVERY_ENGINE_FOLDERS
             or metafunc.definition.get_closest_marker("all_engines") is not None)
    metafunc.parametrize("migrated_database", ENGINES if every else [ONE_ENGINE],
                         indirect=True, scope="session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _folder(item) == "process":
            item.add_marker(pytest.mark.slow)


def _db_name() -> str:
    # Per process: two test runs on one machine (a clone and a work tree) must not drop
    # each other's databases.
    return f"herald_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


def _unreachable(engine: str, exc: Exception) -> None:
    message = f"{engine} is not reachable: {str(exc).splitlines()[0]}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _admin_engine(engine: str) -> Engine:
    if engine == "postgresql":
        return create_engine(
            PG_SERVER.replace("postgresql://", "postgresql+psycopg://") + "/postgres",
            isolation_level="AUTOCOMMIT")
    return create_engine(MARIADB_SERVER.replace("mysql://", "mysql+pymysql://") + "/")


def _drop_server_database(engine: str) -> None:
    admin = _admin_engine(engine)
    name = _db_name()
    with admin.connect() as conn:
        if engine == "postgresql":
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


def _fresh_server_database(engine: str) -> str:
    _drop_server_database(engine)
    admin = _admin_engine(engine)
    name = _db_name()
    with admin.connect() as conn:
        if engine == "postgresql":
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        else:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    admin.dispose()
    server = PG_SERVER if engine == "postgresql" else MARIADB_SERVER
    return f"{server}/{name}"


@dataclass
class MigratedDatabase:
    """One engine's database, migrated once per session; `fresh` cleans it for a test."""

    engine: str
    url: str
    #: Servers: a pool on the session's database, to delete what a test left.
    cleaner: Engine | None = None

    def fresh(self, folder: Path) -> str:
        if self.cleaner is None:  # SQLite: a copy of the migrated file
            copy = folder / "herald.db"
            shutil.copyfile(self.url.removeprefix("sqlite:///"), copy)
            return f"sqlite:///{copy}"
        _delete_leftovers(self.cleaner)
        return self.url


def _delete_leftovers(engine: Engine) -> None:
    tables = Base.metadata.sorted_tables
    # One round trip finds the tables a test wrote to (usually three or four of them).
    dual = " FROM DUAL" if engine.dialect.name == "mysql" else ""
    probe = " UNION ALL ".join(
        f"SELECT '{t.name}'{dual} WHERE EXISTS (SELECT 1 FROM {t.name})" for t in tables)
    with engine.begin() as conn:
        written = set(conn.execute(text(probe)).scalars())
        # Children before parents; the kept counts last: deleting posts appends their
        # rows there (the triggers of migration 0022).
        kept = ("post_counts", "queue_counts")
        ordered = ([t for t in reversed(tables) if t.name not in kept]
                   + [t for t in tables if t.name in kept])
        for table in ordered:
            if table.name in written or table.name in kept:
                conn.execute(table.delete())


@pytest.fixture(scope="session")
def migrated_database(request: pytest.FixtureRequest,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedDatabase]:
    """A database on the engine named by the test's parameter, migrated from empty."""
    engine: str = request.param
    if engine == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'herald.db'}"
    else:
        try:
            url = _fresh_server_database(engine)
        except OperationalError as exc:
            _unreachable(engine, exc)
    db = Database.from_settings(Settings(database_url=url, secret_key=SECRET))
    migrate.upgrade(db.engine)
    db.dispose()  # SQLite: the last connection's close folds the WAL into the file
    if engine == "sqlite":
        # The migrations' table rebuilds leave 80% of the file free pages: each test's
        # copy is 140 KB instead of 770.
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            conn.execute("VACUUM")
        yield MigratedDatabase(engine, url)
        return
    cleaner = Database.from_settings(Settings(database_url=url, secret_key=SECRET),
                                     pool_size=1).engine
    yield MigratedDatabase(engine, url, cleaner)
    cleaner.dispose()
    _drop_server_database(engine)


@pytest.fixture
def database_url(migrated_database: MigratedDatabase, tmp_path: Path) -> str:
    """A migrated, empty database of this test's own, by URL (processes can open it)."""
    folder = tmp_path / "database"
    folder.mkdir()
    return migrated_database.fresh(folder)


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        database_url=database_url, secret_key=SECRET, retry_base_seconds=0.05,
        retry_max_seconds=1.0, retry_unreachable_seconds=0.05, poll_interval=0.2,
        rescue_interval=0.5, lease_seconds=30.0,
        shutdown_grace=5.0, allow_private_media_urls=True,
    )
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def mail_settings(database_url: str, tmp_path: Path, mailbox: Mailbox,
                  **overrides: object) -> Settings:
    """Settings whose mail goes to `mailbox`, a real SMTP server on loopback."""
    values: dict[str, object] = dict(
        media_dir=tmp_path / "media", public_url="https://herald.example.test",
        smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_security="none",
        smtp_from="Herald <herald@example.test>", smtp_timeout_seconds=5)
    values.update(overrides)
    return make_settings(database_url, **values)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server on loopback that keeps what it receives."""
    with smtp_server() as box:
        yield box


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, media_dir=tmp_path / "media",
                         public_url="http://testserver")


@pytest.fixture
def herald(settings: Settings) -> Iterator[Herald]:
    instance = Herald.from_settings(settings)
    for platform in registry.NAMES:
        instance.registry.register(RecordingPublisher(platform))
    yield instance
    instance.db.dispose()


@pytest.fixture
def client(herald: Herald) -> Iterator[TestClient]:
    with TestClient(create_app(herald)) as test_client:
        yield test_client


@pytest.fixture
def company(herald: Herald) -> tuple[str, str]:
    """(company id, API token)."""
    with herald.db.session() as session:
        created, token = services.create_company(session, name="Acme")
        return created.id, token


@pytest.fixture
def image_url(herald: Herald) -> str:
    """A 1080x1080 JPEG in the local media store: valid for every platform."""
    assert herald.media_store is not None
    return herald.media_store.save(jpeg_bytes(1080, 1080), filename="square.jpg").url


def jpeg_bytes(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


@pytest.fixture
def auth(company: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {company[1]}"}
