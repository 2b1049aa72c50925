"""PostgreSQL's owner and application roles and their grants, re-applied by every migration that adds a table.

Used by 0004, 0005, 0007, 0008, 0009, 0010, 0013, 0014 and 0015 (``grant_roles``) and 0013
(``role_names``). Copied from ``casework.custody.append_only`` when the migrations were frozen
(issue #25, head revision 0018; the text last changed with 0013). Every one of those revisions
imported that live module, so each ran the application's latest text, not the text of its own
day: 0009 brought the intake queue's revoke and 0013 took away the app role's INSERT on custody,
the head and the queue, for 0004 onwards alike. A database built from scratch got this text at
every step, and still does.

Create the two roles if missing, hand the schema to the owner, grant the app role its rights.
Roles are cluster-wide: existing ones (another database, an operator, a concurrent test session)
are left as they are. Ownership moves to the owner role only if the migrating user may do that
(superuser, or a member of the owner role owning the tables); otherwise a WARNING says so and the
tables keep their owner. Role names: ``-x owner_role=NAME -x app_role=NAME``, else
$CASEWORK_DB_OWNER_ROLE / $CASEWORK_DB_APP_ROLE, else casework_owner / casework_app.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

OWNER_ROLE = "casework_owner"
APP_ROLE = "casework_app"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_role_name(name: str) -> str:
    """Role names are written into SQL, so only plain lower-case identifiers are accepted."""
    if not _ROLE_NAME.match(name):
        raise ValueError(f"role name {name!r}: use lower-case letters, digits and underscores")
    return name


def role_names(x_args: Mapping[str, str], environ: Mapping[str, str]) -> tuple[str, str]:
    """The owner and application roles: ``-x owner_role= -x app_role=``, else the environment, else defaults."""
    owner = x_args.get("owner_role") or environ.get("CASEWORK_DB_OWNER_ROLE") or OWNER_ROLE
    app = x_args.get("app_role") or environ.get("CASEWORK_DB_APP_ROLE") or APP_ROLE
    return check_role_name(owner), check_role_name(app)


def postgres_role_sql(owner: str, app: str) -> list[str]:
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
        EXECUTE 'ALTER FUNCTION ' || s || '.custody_append_only() OWNER TO {owner}';
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
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON \
custody_events, custody_nodes, custody_checkpoints, custody_cosignatures, custody_head FROM {app};
    IF to_regclass(s || '.custody_intake') IS NOT NULL THEN
        EXECUTE 'REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ' || s || '.custody_intake FROM {app}';
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


def grant_roles(op: Any, context: Any) -> None:
    """(Re)apply the roles' grants on PostgreSQL; every migration that adds a table calls this."""
    if op.get_bind().dialect.name != "postgresql":
        return
    owner, app = role_names(context.get_x_argument(as_dictionary=True), os.environ)
    for statement in postgres_role_sql(owner, app):
        op.execute(statement)
