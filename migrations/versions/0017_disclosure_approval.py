"""disclosures: a second lawyer's approval, staff identities only on request, the bundle frozen once

Revision ID: 0017_disclosure_approval
Revises: 0016_registered_media_types

A disclosure that needs a second lawyer (a witness identity, a transcript version that has a
redaction, anything to the defence, staff identities for a court) is ``pending`` until another
lawyer of the case approves it; rows made before this revision were released by one lawyer
under the old rules and stay ``approved`` (``approval_reasons`` NULL says they were never
asked). The ``bundle_*`` columns freeze the bundle at its first download (the checkpoint its
proofs point to, the witnesses' keys, the time it was bagged, and the length and SHA-256 of its
bytes), so every later download is the same file. Types are spelled out here, not imported, so
this migration keeps its meaning whatever the models become.
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_disclosure_approval"
down_revision = "0016_registered_media_types"
branch_labels = None
depends_on = None

_COLUMNS = (
    "status", "approval_reasons", "approved_by_id", "approved_at", "include_staff_identity", "bundle_tree_size",
    "bundle_checkpoint", "bundle_witness_vkeys", "bundle_frozen_at", "bundle_length", "bundle_sha256",
)


def upgrade():
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="approved"))
        batch_op.add_column(sa.Column("approval_reasons", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("approved_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("include_staff_identity", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column("bundle_tree_size", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("bundle_checkpoint", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("bundle_witness_vkeys", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("bundle_frozen_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("bundle_length", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("bundle_sha256", sa.LargeBinary(length=32), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_disclosures_approved_by_id_users"), "users",
                                    ["approved_by_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_disclosures_status"), ["status"], unique=False)


def downgrade():
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disclosures_status"))
        batch_op.drop_constraint(batch_op.f("fk_disclosures_approved_by_id_users"), type_="foreignkey")
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
