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

from casework.custody import append_only

revision = "0004_append_only"
down_revision = "0003_witnessed_checkpoints"
branch_labels = None
depends_on = None


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in append_only.SQLITE_TRIGGERS:
            op.execute(statement)
    elif dialect == "postgresql":
        for statement in append_only.POSTGRES_TRIGGERS:
            op.execute(statement)
        append_only.grant_roles(op, context)
    else:
        raise NotImplementedError(f"append-only custody tables are not implemented for {dialect}")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in append_only.SQLITE_DROP:
            op.execute(statement)
    elif dialect == "postgresql":
        for statement in append_only.POSTGRES_DROP:
            op.execute(statement)
