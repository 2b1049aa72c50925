"""custody tables append-only in the database: triggers on both databases, owner and app roles on PostgreSQL

Revision ID: 0004_append_only
Revises: 0003_witnessed_checkpoints

UPDATE and DELETE of custody_events, custody_nodes, custody_checkpoints and custody_cosignatures
are refused by triggers (and TRUNCATE too on PostgreSQL); custody_head stays updatable.

On PostgreSQL this also creates (if missing) the roles casework_owner and casework_app, both
NOLOGIN, hands the tables to the owner role when the migrating user may, and grants the app role
SELECT and INSERT only on the custody tables, SELECT and UPDATE on custody_head, and SELECT,
INSERT, UPDATE and DELETE on the other tables. Other names:
``flask db upgrade -x owner_role=NAME -x app_role=NAME`` or $CASEWORK_DB_OWNER_ROLE and
$CASEWORK_DB_APP_ROLE. The downgrade drops the triggers, not the roles or the grants.
"""

from alembic import context, op

from migrations.frozen import roles

revision = "0004_append_only"
down_revision = "0003_witnessed_checkpoints"
branch_labels = None
depends_on = None

# Frozen here: the statements as this revision runs them, whatever the application's
# casework.custody.append_only says later (the test suite and the app keep using that module).
SQLITE_TRIGGERS = [
    "CREATE TRIGGER custody_events_no_update BEFORE UPDATE ON custody_events "
    "BEGIN SELECT RAISE(ABORT, 'custody tables are append-only'); END;",
    "CREATE TRIGGER custody_events_no_delete BEFORE DELETE ON custody_events "
    "BEGIN SELECT RAISE(ABORT, 'custody tables are append-only'); END;",
    "CREATE TRIGGER custody_nodes_no_update BEFORE UPDATE ON custody_nodes "
    "BEGIN SELECT RAISE(ABORT, 'custody tables are append-only'); END;",
    "CREATE TRIGGER custody_nodes_no_delete BEFORE DELETE ON custody_nodes "
    "BEGIN SELECT RAISE(ABORT, 'custody tables are append-only'); END;",
    "CREATE TRIGGER custody_checkpoints_no_update BEFORE UPDATE ON custody_checkpoints "
    "BEGIN SELECT RAISE(ABORT, 'custody tables are append-only'); END;",
    "CREATE TRIGGER custody_checkpoints_no_delete BEFORE DELETE ON custody_checkpoints "
    "BEGIN SELECT RAISE(ABORT, 'custody tables are append-only'); END;",
    "CREATE TRIGGER custody_cosignatures_no_update BEFORE UPDATE ON custody_cosignatures "
    "BEGIN SELECT RAISE(ABORT, 'custody tables are append-only'); END;",
    "CREATE TRIGGER custody_cosignatures_no_delete BEFORE DELETE ON custody_cosignatures "
    "BEGIN SELECT RAISE(ABORT, 'custody tables are append-only'); END;",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS custody_events_no_update",
    "DROP TRIGGER IF EXISTS custody_events_no_delete",
    "DROP TRIGGER IF EXISTS custody_nodes_no_update",
    "DROP TRIGGER IF EXISTS custody_nodes_no_delete",
    "DROP TRIGGER IF EXISTS custody_checkpoints_no_update",
    "DROP TRIGGER IF EXISTS custody_checkpoints_no_delete",
    "DROP TRIGGER IF EXISTS custody_cosignatures_no_update",
    "DROP TRIGGER IF EXISTS custody_cosignatures_no_delete",
]
# No '%' and no ':' in these statements: they go through SQLAlchemy text().
POSTGRES_TRIGGERS = [
    """CREATE OR REPLACE FUNCTION custody_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = '23000', MESSAGE = 'custody tables are append-only',
        DETAIL = TG_OP || ' on ' || TG_TABLE_NAME || ' refused',
        HINT = 'The chain-of-custody log is only ever appended to.';
END
$$""",
    "CREATE TRIGGER custody_append_only_row BEFORE UPDATE OR DELETE ON custody_events "
    "FOR EACH ROW EXECUTE FUNCTION custody_append_only()",
    "CREATE TRIGGER custody_append_only_truncate BEFORE TRUNCATE ON custody_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION custody_append_only()",
    "CREATE TRIGGER custody_append_only_row BEFORE UPDATE OR DELETE ON custody_nodes "
    "FOR EACH ROW EXECUTE FUNCTION custody_append_only()",
    "CREATE TRIGGER custody_append_only_truncate BEFORE TRUNCATE ON custody_nodes "
    "FOR EACH STATEMENT EXECUTE FUNCTION custody_append_only()",
    "CREATE TRIGGER custody_append_only_row BEFORE UPDATE OR DELETE ON custody_checkpoints "
    "FOR EACH ROW EXECUTE FUNCTION custody_append_only()",
    "CREATE TRIGGER custody_append_only_truncate BEFORE TRUNCATE ON custody_checkpoints "
    "FOR EACH STATEMENT EXECUTE FUNCTION custody_append_only()",
    "CREATE TRIGGER custody_append_only_row BEFORE UPDATE OR DELETE ON custody_cosignatures "
    "FOR EACH ROW EXECUTE FUNCTION custody_append_only()",
    "CREATE TRIGGER custody_append_only_truncate BEFORE TRUNCATE ON custody_cosignatures "
    "FOR EACH STATEMENT EXECUTE FUNCTION custody_append_only()",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS custody_append_only_row ON custody_events",
    "DROP TRIGGER IF EXISTS custody_append_only_truncate ON custody_events",
    "DROP TRIGGER IF EXISTS custody_append_only_row ON custody_nodes",
    "DROP TRIGGER IF EXISTS custody_append_only_truncate ON custody_nodes",
    "DROP TRIGGER IF EXISTS custody_append_only_row ON custody_checkpoints",
    "DROP TRIGGER IF EXISTS custody_append_only_truncate ON custody_checkpoints",
    "DROP TRIGGER IF EXISTS custody_append_only_row ON custody_cosignatures",
    "DROP TRIGGER IF EXISTS custody_append_only_truncate ON custody_cosignatures",
    "DROP FUNCTION IF EXISTS custody_append_only()",
]


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    elif dialect == "postgresql":
        for statement in POSTGRES_TRIGGERS:
            op.execute(statement)
        roles.grant_roles(op, context)
    else:
        raise NotImplementedError(f"append-only custody tables are not implemented for {dialect}")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_DROP:
            op.execute(statement)
    elif dialect == "postgresql":
        for statement in POSTGRES_DROP:
            op.execute(statement)
