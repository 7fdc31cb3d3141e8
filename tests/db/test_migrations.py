from __future__ import annotations

from sqlalchemy import inspect

from herald import migrate
from herald.db import Database


def test_migrations_upgrade_from_empty_to_head(herald):
    # The session fixture migrated a freshly created, empty database on this engine.
    assert migrate.is_up_to_date(herald.db.engine)
    tables = set(inspect(herald.db.engine).get_table_names())
    assert {"companies", "api_tokens", "social_accounts", "social_tokens", "posts",
            "post_schedule", "publish_attempts", "users"} <= tables


def test_queue_indexes_cover_due_and_rescue_queries(herald):
    indexes = {ix["name"]: ix["column_names"]
               for ix in inspect(herald.db.engine).get_indexes("post_schedule")}
    assert indexes["ix_post_schedule_due"] == ["status", "run_at", "post_id"]
    assert indexes["ix_post_schedule_lease"] == ["status", "lease_expires_at", "post_id"]


def test_upgrade_is_idempotent(herald):
    migrate.upgrade(herald.db.engine)
    assert migrate.current_revision(herald.db.engine) == migrate.head_revision()


def test_sqlite_file_is_created_and_migrated(tmp_path):
    from herald.config import Settings

    db = Database.from_settings(Settings(database_url=f"sqlite:///{tmp_path / 'new.db'}"))
    migrate.upgrade(db.engine)
    assert migrate.is_up_to_date(db.engine)
    db.dispose()


def test_the_head_the_workers_check_is_alembics_head():
    assert migrate.head_revision() == migrate.HEAD, (
        "a migration was added: set herald.migrate.HEAD to its revision")


def test_schema_check_without_alembic(tmp_path):
    from herald.config import Settings

    db = Database.from_settings(Settings(database_url=f"sqlite:///{tmp_path / 'new.db'}"))
    assert not migrate.is_up_to_date(db.engine)  # empty: no version table
    migrate.upgrade(db.engine, "0003")
    assert not migrate.is_up_to_date(db.engine)  # behind
    migrate.upgrade(db.engine)
    assert migrate.is_up_to_date(db.engine)
    db.dispose()


def test_0018_tells_people_who_chose_before_of_mentions_and_goes_back_down(tmp_path):
    from alembic import command
    from sqlalchemy import text

    from herald.config import Settings

    db = Database.from_settings(Settings(database_url=f"sqlite:///{tmp_path / 'old.db'}"))
    migrate.upgrade(db.engine, "0016")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO companies (id, name, timezone, created_at, "
                          "requires_approval) VALUES ('c', 'C', 'UTC', '2026-01-01', 0)"))
        for user_id, chosen in (("u1", '["post.failed"]'), ("u2", "[]")):
            conn.execute(text(
                "INSERT INTO users (id, company_id, email, name, password_hash, created_at, "
                "session_generation, role) VALUES (:id, 'c', :email, '', 'x', '2026-01-01', "
                "0, 'owner')"), {"id": user_id, "email": f"{user_id}@example.com"})
            conn.execute(text(
                "INSERT INTO notification_prefs (user_id, events, digest, digest_hour, "
                "updated_at) VALUES (:id, :events, 0, 8, '2026-01-01')"),
                {"id": user_id, "events": chosen})
    migrate.upgrade(db.engine)
    with db.engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT user_id, events FROM notification_prefs")).all())
    assert rows == {"u1": '["post.failed", "thread.mentioned"]', "u2": '["thread.mentioned"]'}
    config = migrate.alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0016")
    assert "post_comments" not in inspect(db.engine).get_table_names()
    assert "approval_step" not in {c["name"] for c in inspect(db.engine).get_columns("posts")}
    db.dispose()


def test_0023_makes_the_server_apps_table_and_goes_back_down(tmp_path):
    from alembic import command

    from herald.config import Settings

    db = Database.from_settings(Settings(database_url=f"sqlite:///{tmp_path / 'apps.db'}"))
    migrate.upgrade(db.engine)
    columns = {c["name"] for c in inspect(db.engine).get_columns("oauth_server_apps")}
    assert {"platform", "server_url", "redirect_uri", "client_id", "client_secret_enc",
            "scopes"} <= columns
    config = migrate.alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0022")
    assert "oauth_server_apps" not in inspect(db.engine).get_table_names()
    db.dispose()
