"""witness cosignatures on published checkpoints

Revision ID: 0003_witnessed_checkpoints
Revises: 0002_transcripts
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_witnessed_checkpoints"
down_revision = "0002_transcripts"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "custody_cosignatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("witness", sa.String(length=255), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody_cosignatures")),
        sa.UniqueConstraint("tree_size", "witness", name="uq_custody_cosignatures_size_witness"),
    )
    with op.batch_alter_table("custody_cosignatures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custody_cosignatures_tree_size"), ["tree_size"], unique=False)


def downgrade():
    with op.batch_alter_table("custody_cosignatures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custody_cosignatures_tree_size"))
    op.drop_table("custody_cosignatures")
