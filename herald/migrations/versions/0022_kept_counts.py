"""Kept counts: posts by company, account and status, and queue rows by status (issue 18)

The dashboard's counts, the accounts page's posts per account and `herald status`'s
pending count were COUNTs over every row they count: 44x slower at 1M posts than at 10k.
Now triggers keep them in two tables, post_counts and queue_counts:

- every INSERT, DELETE, and UPDATE that changes a counted column appends rows (+1 for the
  new key, -1 for the old), never updates one: a single counter row per key would be a
  lock that every worker's completion queues on;
- PostgreSQL: statement triggers with transition tables append one row per key a
  statement touched (a claim of 200 posts: two rows); SQLite and MariaDB have row
  triggers only: one row per change;
- MariaDB does not fire triggers for rows a foreign key's ON DELETE CASCADE deletes, so
  deleting a company or an account there subtracts its posts' and queue rows' counts in a
  BEFORE DELETE trigger on companies and social_accounts (PostgreSQL and SQLite fire the
  posts' and post_schedule's own triggers for cascaded deletes; MariaDB fires neither for
  an account deleted by its company's cascade, so the company's trigger counts all of it);
- the workers' housekeeping folds each key's rows into one (herald/queue/counts.py).

The tables are filled from the rows that exist, in the same transaction as the triggers
are made on PostgreSQL and SQLite (writers wait for the triggers' lock). MariaDB commits
each DDL statement: run it with the workers stopped, as `herald run` does.

A later migration that rebuilds posts or post_schedule on SQLite (batch_alter_table
recreates the table) drops these triggers with the old table: it must make them again
(`create_triggers`).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POST_KEY = ("company_id", "account_id", "status")
QUEUE_KEY = ("status",)
#: (table counted, counts table, key columns)
COUNTED = (("posts", "post_counts", POST_KEY), ("post_schedule", "queue_counts", QUEUE_KEY))


def _cols(key: Sequence[str], prefix: str = "") -> str:
    return ", ".join(prefix + c for c in key)


def _postgresql(table: str, counts: str, key: Sequence[str]) -> list[str]:
    cols = _cols(key)
    # One row per key a statement touched; an UPDATE that moved nothing appends nothing.
    bodies = {
        "insert": f"INSERT INTO {counts} ({cols}, n) SELECT {cols}, count(*) FROM new_rows "
                  f"GROUP BY {cols};",
        "delete": f"INSERT INTO {counts} ({cols}, n) SELECT {cols}, -count(*) FROM old_rows "
                  f"GROUP BY {cols};",
        "update": f"INSERT INTO {counts} ({cols}, n) SELECT {cols}, sum(n) FROM ("
                  f"SELECT {cols}, -1 AS n FROM old_rows UNION ALL "
                  f"SELECT {cols}, 1 AS n FROM new_rows) AS moved "
                  f"GROUP BY {cols} HAVING sum(n) <> 0;",
    }
    referencing = {"insert": "NEW TABLE AS new_rows", "delete": "OLD TABLE AS old_rows",
                   "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}
    out = []
    for event, body in bodies.items():
        name = f"herald_{counts}_{event}"
        out.append(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                   f"BEGIN\n    {body}\n    RETURN NULL;\nEND\n$$")
        out.append(f"CREATE TRIGGER {table}_{counts}_{event} AFTER {event.upper()} ON {table} "
                   f"REFERENCING {referencing[event]} FOR EACH STATEMENT "
                   f"EXECUTE FUNCTION {name}()")
    return out


def _row_triggers(dialect: str, table: str, counts: str, key: Sequence[str]) -> list[str]:
    cols = _cols(key)
    insert = f"INSERT INTO {counts} ({cols}, n) VALUES "
    changed = " OR ".join(
        (f"NOT (OLD.{c} <=> NEW.{c})" if dialect == "mysql" else f"OLD.{c} IS NOT NEW.{c}")
        for c in key)
    moved = f"{insert}({_cols(key, 'OLD.')}, -1), ({_cols(key, 'NEW.')}, 1);"
    each = " FOR EACH ROW" if dialect == "mysql" else ""
    if dialect == "mysql":
        update = f"BEGIN IF {changed} THEN {moved} END IF; END"
        added, removed = f"{insert}({_cols(key, 'NEW.')}, 1)", f"{insert}({_cols(key, 'OLD.')}, -1)"
        when = ""
    else:
        update = f"BEGIN {moved} END"
        added = f"BEGIN {insert}({_cols(key, 'NEW.')}, 1); END"
        removed = f"BEGIN {insert}({_cols(key, 'OLD.')}, -1); END"
        when = f" WHEN {changed}"
    return [
        f"CREATE TRIGGER {table}_{counts}_insert AFTER INSERT ON {table}{each} {added}",
        f"CREATE TRIGGER {table}_{counts}_delete AFTER DELETE ON {table}{each} {removed}",
        f"CREATE TRIGGER {table}_{counts}_update AFTER UPDATE ON {table}{each}{when} {update}",
    ]


def _mariadb_cascades() -> list[str]:
    """BEFORE DELETE on companies and social_accounts: what their cascade will delete,
    subtracted (MariaDB fires no trigger for rows a foreign key action deletes)."""
    out = []
    for parent, column in (("companies", "company_id"), ("social_accounts", "account_id")):
        out.append(
            f"CREATE TRIGGER {parent}_kept_counts_delete BEFORE DELETE ON {parent} "
            f"FOR EACH ROW BEGIN "
            f"INSERT INTO post_counts (company_id, account_id, status, n) "
            f"SELECT company_id, account_id, status, -count(*) FROM posts "
            f"WHERE {column} = OLD.id GROUP BY company_id, account_id, status; "
            f"INSERT INTO queue_counts (status, n) "
            f"SELECT s.status, -count(*) FROM post_schedule s JOIN posts p ON p.id = s.post_id "
            f"WHERE p.{column} = OLD.id GROUP BY s.status; "
            f"END")
    return out


def trigger_statements(dialect: str) -> list[str]:
    out: list[str] = []
    for table, counts, key in COUNTED:
        out += (_postgresql(table, counts, key) if dialect == "postgresql"
                else _row_triggers(dialect, table, counts, key))
    if dialect == "mysql":
        out += _mariadb_cascades()
    return out


def create_triggers() -> None:
    for statement in trigger_statements(op.get_bind().dialect.name):
        op.execute(statement)


def drop_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for table, counts, _ in COUNTED:
        for event in ("insert", "delete", "update"):
            if dialect == "postgresql":
                op.execute(f"DROP TRIGGER {table}_{counts}_{event} ON {table}")
                op.execute(f"DROP FUNCTION herald_{counts}_{event}()")
            else:
                op.execute(f"DROP TRIGGER {table}_{counts}_{event}")
    if dialect == "mysql":
        for parent in ("companies", "social_accounts"):
            op.execute(f"DROP TRIGGER {parent}_kept_counts_delete")


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "post_counts",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("company_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    op.create_index("ix_post_counts_key", "post_counts",
                    ["company_id", "account_id", "status", "n"])
    op.create_table(
        "queue_counts",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    op.create_index("ix_queue_counts_key", "queue_counts", ["status", "n"])
    # Triggers first, then the fill: on PostgreSQL and SQLite both in this transaction,
    # so a write made meanwhile waits and is counted once, by its trigger.
    create_triggers()
    op.execute("INSERT INTO post_counts (company_id, account_id, status, n) "
               "SELECT company_id, account_id, status, count(*) FROM posts "
               "GROUP BY company_id, account_id, status")
    op.execute("INSERT INTO queue_counts (status, n) "
               "SELECT status, count(*) FROM post_schedule GROUP BY status")


def downgrade() -> None:
    drop_triggers()
    op.drop_table("queue_counts")
    op.drop_table("post_counts")
