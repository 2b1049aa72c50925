"""custody intake queue: events are durable before they are sequenced

Revision ID: 0009_custody_intake
Revises: 0008_exhibits

A request's events are inserted into ``custody_intake`` in its own transaction (no shared lock),
and integrated into the tree in batches, in id order, by ``casework.custody.log.integrate``,
which deletes them here in the statement that copies them into ``custody_events``. Rows are
never updated (trigger on both databases; on PostgreSQL also no TRUNCATE, and the app role has
INSERT, SELECT and DELETE only).
"""

import sqlalchemy as sa
from alembic import context, op

from migrations.frozen import roles

revision = "0009_custody_intake"
down_revision = "0008_exhibits"
branch_labels = None
depends_on = None

# Frozen here: the statements as this revision runs them, whatever the application's
# casework.custody.append_only says later.
SQLITE_INTAKE_TRIGGERS = [
    "CREATE TRIGGER custody_intake_no_update BEFORE UPDATE ON custody_intake "
    "BEGIN SELECT RAISE(ABORT, 'custody intake rows are never changed'); END;",
]
SQLITE_INTAKE_DROP = ["DROP TRIGGER IF EXISTS custody_intake_no_update"]
POSTGRES_INTAKE_TRIGGERS = [
    """CREATE OR REPLACE FUNCTION custody_intake_unchanged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = '23000', MESSAGE = 'custody intake rows are never changed',
        DETAIL = TG_OP || ' on ' || TG_TABLE_NAME || ' refused';
END
$$""",
    "CREATE TRIGGER custody_append_only_row BEFORE UPDATE ON custody_intake "
    "FOR EACH ROW EXECUTE FUNCTION custody_intake_unchanged()",
    "CREATE TRIGGER custody_append_only_truncate BEFORE TRUNCATE ON custody_intake "
    "FOR EACH STATEMENT EXECUTE FUNCTION custody_intake_unchanged()",
]
POSTGRES_INTAKE_DROP = [
    "DROP TRIGGER IF EXISTS custody_append_only_row ON custody_intake",
    "DROP TRIGGER IF EXISTS custody_append_only_truncate ON custody_intake",
    "DROP FUNCTION IF EXISTS custody_intake_unchanged()",
]


def upgrade():
    op.create_table(
        "custody_intake",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_username", sa.String(length=64), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("resource_type", sa.String(length=32), nullable=True),
        sa.Column("resource_id", sa.String(length=64), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("witness_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("client_addr", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody_intake")),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_INTAKE_TRIGGERS:
            op.execute(statement)
    else:
        for statement in POSTGRES_INTAKE_TRIGGERS:
            op.execute(statement)
    roles.grant_roles(op, context)


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_INTAKE_DROP if dialect == "sqlite" else POSTGRES_INTAKE_DROP:
        op.execute(statement)
    op.drop_table("custody_intake")
