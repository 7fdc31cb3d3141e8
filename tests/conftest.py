"""One suite, three engines: every DB-backed test runs on SQLite, PostgreSQL and MariaDB.

Each engine gets one freshly migrated database per test session (so migrations from
empty are exercised on all three); each test starts from empty tables.
HERALD_TEST_ENGINES picks engines (default all three). With CI=true an unreachable
server fails the run instead of skipping its tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
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
from herald.runtime import Herald
from tests.helpers import RecordingPublisher

ENGINES = [e.strip() for e in os.environ.get(
    "HERALD_TEST_ENGINES", "sqlite,postgresql,mariadb").split(",") if e.strip()]
PG_SERVER = os.environ.get("HERALD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
MARIADB_SERVER = os.environ.get("HERALD_TEST_MARIADB", "mysql://root@127.0.0.1:3306")
SECRET = "test-secret-key-0123456789abcdef"


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


@pytest.fixture(scope="session", params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[str]:
    """A migrated, empty database on one engine, for the whole session."""
    engine: str = request.param
    if engine == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'herald.db'}"
    else:
        try:
            url = _fresh_server_database(engine)
        except OperationalError as exc:
            _unreachable(engine, exc)
    settings = Settings(database_url=url, secret_key=SECRET)
    db = Database.from_settings(settings)
    migrate.upgrade(db.engine)
    db.dispose()
    yield url
    if engine != "sqlite":
        _drop_server_database(engine)


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        database_url=database_url, secret_key=SECRET, retry_base_seconds=0.05,
        retry_max_seconds=1.0, poll_interval=0.2, rescue_interval=0.5, lease_seconds=30.0,
        shutdown_grace=5.0, allow_private_media_urls=True,
    )
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, media_dir=tmp_path / "media",
                         public_url="http://testserver")


def _empty_tables(db: Database) -> None:
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def herald(settings: Settings) -> Iterator[Herald]:
    instance = Herald.from_settings(settings)
    instance.registry.register(RecordingPublisher("facebook"))
    instance.registry.register(RecordingPublisher("instagram"))
    instance.registry.register(RecordingPublisher("linkedin"))
    _empty_tables(instance.db)
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
