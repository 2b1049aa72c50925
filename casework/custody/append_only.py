"""The custody tables are append-only in the database itself, not only in the code.

Triggers refuse UPDATE and DELETE (and, on PostgreSQL, TRUNCATE) of the four custody tables
on both databases. On PostgreSQL two roles split the powers: ``casework_owner`` owns the
schema (migrations run as it) and ``casework_app`` is what the application connects as (through
a login role that is a member of it); the app role may read and append to the custody tables
but holds no UPDATE, DELETE or TRUNCATE on them. ``custody_head`` is not append-only: it is the
one mutable row every append moves forward.

The migration ``0004_append_only`` and the test suite (which empties the tables between tests)
both use the SQL below, so there is one definition of it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

TABLES: tuple[str, ...] = ("custody_events", "custody_nodes", "custody_checkpoints", "custody_cosignatures")
HEAD_TABLE = "custody_head"
INTAKE_TABLE = "custody_intake"  # see "The intake queue" below
MESSAGE = "custody tables are append-only"
# Class 23 (integrity constraint violation), as SQLite's RAISE(ABORT) is a constraint error:
# both drivers raise IntegrityError.
SQLSTATE = "23000"

OWNER_ROLE = "casework_owner"
APP_ROLE = "casework_app"

# --- SQLite: two triggers per table ---------------------------------------------------------


def _sqlite_trigger_names(table: str) -> tuple[str, str]:
    return f"{table}_no_update", f"{table}_no_delete"


SQLITE_TRIGGERS: list[str] = [
    f"CREATE TRIGGER {name} BEFORE {event} ON {table} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;"
    for table in TABLES
    for name, event in zip(_sqlite_trigger_names(table), ("UPDATE", "DELETE"), strict=True)
]
SQLITE_DROP: list[str] = [f"DROP TRIGGER IF EXISTS {name}" for table in TABLES for name in _sqlite_trigger_names(table)]

# --- PostgreSQL: one function, a row trigger and a TRUNCATE trigger per table ------------------

FUNCTION = "custody_append_only"
ROW_TRIGGER = "custody_append_only_row"
TRUNCATE_TRIGGER = "custody_append_only_truncate"

# No '%' and no ':' in these statements: they go through SQLAlchemy text() in the migration.
POSTGRES_TRIGGERS: list[str] = [
    f"""CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = '{SQLSTATE}', MESSAGE = '{MESSAGE}',
        DETAIL = TG_OP || ' on ' || TG_TABLE_NAME || ' refused',
        HINT = 'The chain-of-custody log is only ever appended to.';
END
$$""",
    *[
        statement
        for table in TABLES
        for statement in (
            (
                f"CREATE TRIGGER {ROW_TRIGGER} BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
            ),
            (
                f"CREATE TRIGGER {TRUNCATE_TRIGGER} BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
            ),
        )
    ],
]
POSTGRES_DROP: list[str] = [
    *[f"DROP TRIGGER IF EXISTS {name} ON {table}" for table in TABLES for name in (ROW_TRIGGER, TRUNCATE_TRIGGER)],
    f"DROP FUNCTION IF EXISTS {FUNCTION}()",
]
# What an owner (or superuser) can do to get around the triggers: the tamper tests act this out.
POSTGRES_DISABLE: list[str] = [
    f"ALTER TABLE {table} DISABLE TRIGGER {name}" for table in TABLES for name in (ROW_TRIGGER, TRUNCATE_TRIGGER)
]
POSTGRES_ENABLE: list[str] = [
    f"ALTER TABLE {table} ENABLE TRIGGER {name}" for table in TABLES for name in (ROW_TRIGGER, TRUNCATE_TRIGGER)
]

_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_role_name(name: str) -> str:
    """Role names are written into SQL, so only plain lower-case identifiers are accepted."""
    if not _ROLE_NAME.match(name):
        raise ValueError(f"role name {name!r}: use lower-case letters, digits and underscores")
    return name


def postgres_role_sql(owner: str = OWNER_ROLE, app: str = APP_ROLE) -> list[str]:
    """Create the two roles if missing, hand the schema to the owner, grant the app role its rights.

    Roles are cluster-wide: existing ones (another database, an operator, a concurrent test
    session) are left as they are, so an operator may give them LOGIN or members. Ownership
    moves to the owner role only if the migrating user may do that (superuser, or a member of
    the owner role owning the tables); otherwise a WARNING says so and the tables keep their owner.
    """
    owner, app = check_role_name(owner), check_role_name(app)
    create = [
        f"""DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{role}') THEN
        BEGIN
            CREATE ROLE {role} NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- created meanwhile by another session
        END;
    END IF;
END
$$"""
        for role in (owner, app)
    ]
    custody = ", ".join(TABLES)
    grants = f"""DO $$
DECLARE
    s text := quote_ident(current_schema());
    t record;
BEGIN
    BEGIN
        FOR t IN SELECT c.relname FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
        LOOP
            EXECUTE 'ALTER TABLE ' || s || '.' || quote_ident(t.relname) || ' OWNER TO {owner}';
        END LOOP;
        EXECUTE 'ALTER FUNCTION ' || s || '.{FUNCTION}() OWNER TO {owner}';
        EXECUTE 'ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA ' || s
            || ' GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}';
        EXECUTE 'ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA ' || s
            || ' GRANT USAGE, SELECT ON SEQUENCES TO {app}';
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING USING MESSAGE = 'casework: tables not handed to role {owner} (' || SQLERRM
            || '); run this migration as a superuser or as a member of {owner} that owns the tables';
    END;
    BEGIN
        EXECUTE 'GRANT USAGE ON SCHEMA ' || s || ' TO {app}';
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING USING MESSAGE = 'casework: could not grant USAGE on schema to {app} (' || SQLERRM || ')';
    END;
    EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ' || s || ' TO {app}';
    EXECUTE 'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ' || s || ' TO {app}';
    -- The custody tables, the head and the queue: read only. The app appends, integrates and
    -- stores checkpoints through the custody owner's functions (0013 on), and nothing else.
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {custody}, {HEAD_TABLE} FROM {app};
    IF to_regclass(s || '.{INTAKE_TABLE}') IS NOT NULL THEN
        EXECUTE 'REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ' || s || '.{INTAKE_TABLE} FROM {app}';
    END IF;
    FOR t IN SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind = 'S' AND left(c.relname, 8) = 'custody_'
    LOOP
        EXECUTE 'REVOKE ALL ON SEQUENCE ' || s || '.' || quote_ident(t.relname) || ' FROM {app}';
    END LOOP;
    -- The app does not migrate.
    IF to_regclass(s || '.alembic_version') IS NOT NULL THEN
        EXECUTE 'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ' || s || '.alembic_version FROM {app}';
    END IF;
END
$$"""
    return [*create, grants]


POSTGRES_SQL: list[str] = [*POSTGRES_TRIGGERS, *postgres_role_sql()]

# --- The intake queue: rows are inserted and (by the integrator) deleted, never updated ----------
#
# ``custody_intake`` holds events that are durable but not yet in the tree. The app role may
# insert and delete (the integrator deletes each row in the statement that copies it, unchanged,
# into custody_events), never update or truncate. The window: the app role could delete an
# un-integrated row; it lasts until the next integration (a batch, or any auditor read, which
# catches up first), and is the price of not holding the head lock across every commit.
INTAKE_MESSAGE = "custody intake rows are never changed"
SQLITE_INTAKE_TRIGGERS: list[str] = [
    (
        f"CREATE TRIGGER {INTAKE_TABLE}_no_update BEFORE UPDATE ON {INTAKE_TABLE} "
        f"BEGIN SELECT RAISE(ABORT, '{INTAKE_MESSAGE}'); END;"
    ),
]
SQLITE_INTAKE_DROP: list[str] = [f"DROP TRIGGER IF EXISTS {INTAKE_TABLE}_no_update"]
INTAKE_FUNCTION = "custody_intake_unchanged"
POSTGRES_INTAKE_TRIGGERS: list[str] = [
    f"""CREATE OR REPLACE FUNCTION {INTAKE_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = '{SQLSTATE}', MESSAGE = '{INTAKE_MESSAGE}',
        DETAIL = TG_OP || ' on ' || TG_TABLE_NAME || ' refused';
END
$$""",
    f"CREATE TRIGGER {ROW_TRIGGER} BEFORE UPDATE ON {INTAKE_TABLE} FOR EACH ROW EXECUTE FUNCTION {INTAKE_FUNCTION}()",
    (
        f"CREATE TRIGGER {TRUNCATE_TRIGGER} BEFORE TRUNCATE ON {INTAKE_TABLE} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {INTAKE_FUNCTION}()"
    ),
]
POSTGRES_INTAKE_DROP: list[str] = [
    *[f"DROP TRIGGER IF EXISTS {name} ON {INTAKE_TABLE}" for name in (ROW_TRIGGER, TRUNCATE_TRIGGER)],
    f"DROP FUNCTION IF EXISTS {INTAKE_FUNCTION}()",
]


def role_names(x_args: Mapping[str, str], environ: Mapping[str, str]) -> tuple[str, str]:
    """The owner and application roles: ``-x owner_role= -x app_role=``, else the environment, else defaults."""
    owner = x_args.get("owner_role") or environ.get("CASEWORK_DB_OWNER_ROLE") or OWNER_ROLE
    app = x_args.get("app_role") or environ.get("CASEWORK_DB_APP_ROLE") or APP_ROLE
    return check_role_name(owner), check_role_name(app)


def grant_roles(op: Any, context: Any) -> None:
    """(Re)apply the roles' grants on PostgreSQL; every migration that adds a table calls this."""
    if op.get_bind().dialect.name != "postgresql":
        return
    owner, app = role_names(context.get_x_argument(as_dictionary=True), os.environ)
    for statement in postgres_role_sql(owner, app):
        op.execute(statement)
