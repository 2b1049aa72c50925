"""case membership proposals: the two-person rule (an admin proposes, a legal member approves)

Revision ID: 0007_membership_approval
Revises: 0006_witness_keys

On PostgreSQL the new table is handed to the owner role and granted to the app role like every
other table (the same idempotent statements as 0004_append_only): a migration run as a superuser
creates it owned by the superuser, where the owner role's default privileges do not reach.
"""

import sqlalchemy as sa
from alembic import context, op

from migrations.frozen import roles

revision = "0007_membership_approval"
down_revision = "0006_witness_keys"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "case_member_proposals",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("proposed_by_id", sa.Integer(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_member_proposals_case_id_cases")),
        sa.ForeignKeyConstraint(["proposed_by_id"], ["users.id"],
                                name=op.f("fk_case_member_proposals_proposed_by_id_users")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_case_member_proposals_user_id_users")),
        sa.PrimaryKeyConstraint("case_id", "user_id", name=op.f("pk_case_member_proposals")),
    )
    with op.batch_alter_table("case_member_proposals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_member_proposals_user_id"), ["user_id"], unique=False)
    roles.grant_roles(op, context)


def downgrade():
    with op.batch_alter_table("case_member_proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_member_proposals_user_id"))
    op.drop_table("case_member_proposals")
