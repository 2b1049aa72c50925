"""two-person erasure: a withdrawal opens an erasure that a second person confirms; legal holds

Revision ID: 0014_erasures
Revises: 0013_custody_leaf_v2

``erasures``: one row per withdrawal (pending, then confirmed or rejected), at most one pending
per witness (a partial unique index); ``legal_holds``: court-ordered holds that block
confirmation until two lawyers lift them. Witnesses shredded before this revision were shredded
at their withdrawal and need no row. On PostgreSQL the new tables are handed to the owner role
and granted to the app role like every other table (``roles.grant_roles``). Downgrading
drops both tables: pending erasures would no longer suspend their witnesses, so confirm or reject
them first.
"""

import sqlalchemy as sa
from alembic import context, op

from migrations.frozen import roles

revision = "0014_erasures"
down_revision = "0013_custody_leaf_v2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('erasures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('witness_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('consent_version', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('restored_consent_version', sa.Integer(), nullable=True),
    sa.Column('reason_ciphertext', sa.LargeBinary(), nullable=True),
    sa.Column('reason_nonce', sa.LargeBinary(length=12), nullable=True),
    sa.Column('reason_wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('reason_kek_id', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_erasures_case_id_cases')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_erasures_decided_by_id_users')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_erasures_requested_by_id_users')),
    sa.ForeignKeyConstraint(['witness_id'], ['witnesses.id'], name=op.f('fk_erasures_witness_id_witnesses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasures'))
    )
    with op.batch_alter_table('erasures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_erasures_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_erasures_reason_kek_id'), ['reason_kek_id'], unique=False)
        batch_op.create_index('ix_erasures_status_deadline', ['status', 'deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_erasures_witness_id'), ['witness_id'], unique=False)
        batch_op.create_index('uq_erasures_pending_witness', ['witness_id'], unique=True,
                              postgresql_where=sa.text("status = 'pending'"),
                              sqlite_where=sa.text("status = 'pending'"))

    op.create_table('legal_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('witness_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('placed_by_id', sa.Integer(), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lift_requested_by_id', sa.Integer(), nullable=True),
    sa.Column('lift_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lifted_by_id', sa.Integer(), nullable=True),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reference_ciphertext', sa.LargeBinary(), nullable=True),
    sa.Column('reference_nonce', sa.LargeBinary(length=12), nullable=True),
    sa.Column('reference_wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('reference_kek_id', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_legal_holds_case_id_cases')),
    sa.ForeignKeyConstraint(['lift_requested_by_id'], ['users.id'],
                            name=op.f('fk_legal_holds_lift_requested_by_id_users')),
    sa.ForeignKeyConstraint(['lifted_by_id'], ['users.id'], name=op.f('fk_legal_holds_lifted_by_id_users')),
    sa.ForeignKeyConstraint(['placed_by_id'], ['users.id'], name=op.f('fk_legal_holds_placed_by_id_users')),
    sa.ForeignKeyConstraint(['witness_id'], ['witnesses.id'], name=op.f('fk_legal_holds_witness_id_witnesses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_holds'))
    )
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_legal_holds_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_legal_holds_reference_kek_id'), ['reference_kek_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_legal_holds_witness_id'), ['witness_id'], unique=False)
    roles.grant_roles(op, context)


def downgrade():
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_legal_holds_witness_id'))
        batch_op.drop_index(batch_op.f('ix_legal_holds_reference_kek_id'))
        batch_op.drop_index(batch_op.f('ix_legal_holds_case_id'))

    op.drop_table('legal_holds')
    with op.batch_alter_table('erasures', schema=None) as batch_op:
        batch_op.drop_index('uq_erasures_pending_witness', postgresql_where=sa.text("status = 'pending'"),
                            sqlite_where=sa.text("status = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_erasures_witness_id'))
        batch_op.drop_index('ix_erasures_status_deadline')
        batch_op.drop_index(batch_op.f('ix_erasures_reason_kek_id'))
        batch_op.drop_index(batch_op.f('ix_erasures_case_id'))

    op.drop_table('erasures')
