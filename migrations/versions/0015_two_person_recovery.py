"""recovery needs two people: resets, reactivation and first lawyers wait for a second person

Revision ID: 0015_two_person_recovery
Revises: 0014_erasures

case_member_proposals.kind (add, restore, remove; existing rows are additions) and .reason (why
a membership was suspended); credential_setters: the admins who chose an account's password or
removed its second factor, so that "a second admin" is never one who may hold a way into the
first admin's or the account's credentials. Existing accounts get no rows: nobody can tell now
which admin set which password (the operator may reset them to start the record).

Memberships of accounts that are inactive today are suspended as a deactivation would: each
becomes a pending restore proposal, proposed by the member's own account (so any second person
but the account itself may restore it after reactivation). On PostgreSQL the new table is handed
to the owner role and granted to the app role like every other table (as 0007 does).
"""

import sqlalchemy as sa
from alembic import context, op

from migrations.frozen import roles

revision = "0015_two_person_recovery"
down_revision = "0014_erasures"
branch_labels = None
depends_on = None


def upgrade():
    # case_member_proposals is referred to by no table: SQLite's batch mode may recreate it.
    with op.batch_alter_table("case_member_proposals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), server_default="add", nullable=False))
        batch_op.add_column(sa.Column("reason", sa.String(length=32), nullable=True))
        batch_op.create_check_constraint(op.f("ck_case_member_proposals_kind"), "kind IN ('add', 'restore', 'remove')")

    op.create_table(
        "credential_setters",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["set_by_id"], ["users.id"], name=op.f("fk_credential_setters_set_by_id_users")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_credential_setters_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "set_by_id", name=op.f("pk_credential_setters")),
    )
    with op.batch_alter_table("credential_setters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credential_setters_set_by_id"), ["set_by_id"], unique=False)

    # Inactive accounts' memberships: suspended, as deactivation now does.
    inactive = "SELECT id FROM users WHERE active = :no"
    bind = op.get_bind()
    params = {"no": False}
    bind.execute(sa.text(
        "INSERT INTO case_member_proposals (case_id, user_id, proposed_by_id, proposed_at, kind, reason) "
        "SELECT m.case_id, m.user_id, m.user_id, CURRENT_TIMESTAMP, 'restore', 'deactivation' "
        f"FROM case_members m WHERE m.user_id IN ({inactive}) AND NOT EXISTS ("
        "SELECT 1 FROM case_member_proposals p WHERE p.case_id = m.case_id AND p.user_id = m.user_id)"
    ), params)
    bind.execute(sa.text(f"DELETE FROM case_members WHERE user_id IN ({inactive})"), params)
    roles.grant_roles(op, context)


def downgrade():
    # Suspended memberships come back as plain proposals (kind and reason go); removals were never applied.
    op.execute("DELETE FROM case_member_proposals WHERE kind = 'remove'")
    with op.batch_alter_table("credential_setters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credential_setters_set_by_id"))
    op.drop_table("credential_setters")
    with op.batch_alter_table("case_member_proposals", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_case_member_proposals_kind"), type_="check")
        batch_op.drop_column("reason")
        batch_op.drop_column("kind")
