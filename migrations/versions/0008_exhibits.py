"""exhibits, their encrypted chunks and upload sessions; derived transcript versions

Revision ID: 0008_exhibits
Revises: 0007_membership_approval

An exhibit row is also its tus upload session (status uploading, then complete). Encrypted
chunk records of the database blob store go to ``blob_chunks``; on PostgreSQL their column is
stored EXTERNAL (no TOAST compression: ciphertext does not compress). Transcript versions gain
their lineage: the exhibit they transcribe (with time codes) or the version they translate.
"""

import sqlalchemy as sa
from alembic import context, op

from migrations.frozen import roles

revision = "0008_exhibits"
down_revision = "0007_membership_approval"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "exhibits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("interview_id", sa.Integer(), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("witness_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("blob_store", sa.String(length=16), nullable=False),
        sa.Column("blob_key", sa.String(length=64), nullable=False),
        sa.Column("keyed_sha256", sa.LargeBinary(length=32), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("datakey_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("datakey_nonce", sa.LargeBinary(length=12), nullable=False),
        sa.Column("datakey_wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("datakey_kek_id", sa.String(length=32), nullable=False),
        sa.Column("freetext_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("freetext_nonce", sa.LargeBinary(length=12), nullable=True),
        sa.Column("freetext_wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("freetext_kek_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_exhibits_case_id_cases")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_exhibits_created_by_id_users")),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_exhibits_incident_id_incidents")),
        sa.ForeignKeyConstraint(["interview_id"], ["interviews.id"],
                                name=op.f("fk_exhibits_interview_id_interviews")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_exhibits_owner_id_users")),
        sa.ForeignKeyConstraint(["witness_id"], ["witnesses.id"], name=op.f("fk_exhibits_witness_id_witnesses")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exhibits")),
        sa.UniqueConstraint("blob_key", name=op.f("uq_exhibits_blob_key")),
    )
    with op.batch_alter_table("exhibits", schema=None) as batch_op:
        for column in ("case_id", "interview_id", "incident_id", "witness_id", "status", "datakey_kek_id",
                       "freetext_kek_id"):
            batch_op.create_index(batch_op.f(f"ix_exhibits_{column}"), [column], unique=False)
    op.create_table(
        "blob_chunks",
        sa.Column("blob_key", sa.String(length=64), nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("blob_key", "idx", name=op.f("pk_blob_chunks")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL")
    with op.batch_alter_table("transcript_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("derived_from_exhibit_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("time_codes", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("translation_of_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("translation_method", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("translation_certified", sa.Boolean(), nullable=True))
        batch_op.create_index(batch_op.f("ix_transcript_versions_derived_from_exhibit_id"),
                              ["derived_from_exhibit_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_transcript_versions_derived_from_exhibit_id_exhibits"),
                                    "exhibits", ["derived_from_exhibit_id"], ["id"])
    roles.grant_roles(op, context)


def downgrade():
    with op.batch_alter_table("transcript_versions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_transcript_versions_derived_from_exhibit_id_exhibits"),
                                 type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_transcript_versions_derived_from_exhibit_id"))
        for column in ("translation_certified", "translation_method", "translation_of_version", "time_codes",
                       "derived_from_exhibit_id"):
            batch_op.drop_column(column)
    op.drop_table("blob_chunks")
    with op.batch_alter_table("exhibits", schema=None) as batch_op:
        for column in ("case_id", "interview_id", "incident_id", "witness_id", "status", "datakey_kek_id",
                       "freetext_kek_id"):
            batch_op.drop_index(batch_op.f(f"ix_exhibits_{column}"))
    op.drop_table("exhibits")
