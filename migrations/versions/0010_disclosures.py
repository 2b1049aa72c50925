"""redactions and disclosures: redacted derivatives, disclosures, their items, evidence registration numbers

Revision ID: 0010_disclosures
Revises: 0009_custody_intake

On PostgreSQL the new tables are handed to the owner role and granted to the app role like every
other table (``roles.grant_roles``, as 0007 does).
"""

import sqlalchemy as sa
from alembic import context, op

from migrations.frozen import roles

revision = "0010_disclosures"
down_revision = "0009_custody_intake"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('disclosures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('recipient_name', sa.String(length=300), nullable=False),
    sa.Column('recipient_organisation', sa.String(length=300), nullable=False),
    sa.Column('recipient_kind', sa.String(length=16), nullable=False),
    sa.Column('include_identity', sa.Boolean(), nullable=False),
    sa.Column('purpose_ciphertext', sa.LargeBinary(), nullable=True),
    sa.Column('purpose_nonce', sa.LargeBinary(length=12), nullable=True),
    sa.Column('purpose_wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('purpose_kek_id', sa.String(length=32), nullable=True),
    sa.Column('included_count', sa.Integer(), nullable=False),
    sa.Column('excluded_count', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_disclosures_case_id_cases')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_disclosures_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosures'))
    )
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosures_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosures_purpose_kek_id'), ['purpose_kek_id'], unique=False)

    op.create_table('evidence_registrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('item_ref', sa.String(length=64), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=100), nullable=False),
    sa.Column('first_disclosure_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_evidence_registrations_case_id_cases')),
    sa.ForeignKeyConstraint(['first_disclosure_id'], ['disclosures.id'], name=op.f('fk_evidence_registrations_first_disclosure_id_disclosures')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_registrations')),
    sa.UniqueConstraint('case_id', 'kind', 'item_ref', name='uq_evidence_registrations_case_item'),
    sa.UniqueConstraint('case_id', 'sequence', name='uq_evidence_registrations_case_sequence'),
    sa.UniqueConstraint('number', name=op.f('uq_evidence_registrations_number'))
    )
    op.create_table('disclosure_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('disclosure_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('item_ref', sa.String(length=64), nullable=False),
    sa.Column('witness_id', sa.Integer(), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('consent_id', sa.Integer(), nullable=True),
    sa.Column('consent_version', sa.Integer(), nullable=True),
    sa.Column('registration_number', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_disclosure_items_case_id_cases')),
    sa.ForeignKeyConstraint(['consent_id'], ['consent_records.id'], name=op.f('fk_disclosure_items_consent_id_consent_records')),
    sa.ForeignKeyConstraint(['disclosure_id'], ['disclosures.id'], name=op.f('fk_disclosure_items_disclosure_id_disclosures')),
    sa.ForeignKeyConstraint(['registration_number'], ['evidence_registrations.number'], name=op.f('fk_disclosure_items_registration_number_evidence_registrations')),
    sa.ForeignKeyConstraint(['witness_id'], ['witnesses.id'], name=op.f('fk_disclosure_items_witness_id_witnesses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_items')),
    sa.UniqueConstraint('disclosure_id', 'kind', 'item_ref', name='uq_disclosure_items_disclosure_item'),
    sa.UniqueConstraint('disclosure_id', 'position', name='uq_disclosure_items_disclosure_position')
    )
    with op.batch_alter_table('disclosure_items', schema=None) as batch_op:
        batch_op.create_index('ix_disclosure_items_case_item', ['case_id', 'kind', 'item_ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_items_disclosure_id'), ['disclosure_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_items_registration_number'), ['registration_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_items_witness_id'), ['witness_id'], unique=False)

    op.create_table('redactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('interview_id', sa.Integer(), nullable=False),
    sa.Column('witness_id', sa.Integer(), nullable=False),
    sa.Column('source_version_id', sa.Integer(), nullable=False),
    sa.Column('source_version', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('spans', sa.JSON(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('keyed_sha256', sa.LargeBinary(length=32), nullable=False),
    sa.Column('content_ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('content_nonce', sa.LargeBinary(length=12), nullable=False),
    sa.Column('content_wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('content_kek_id', sa.String(length=32), nullable=False),
    sa.Column('segments_ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('segments_nonce', sa.LargeBinary(length=12), nullable=False),
    sa.Column('segments_wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('segments_kek_id', sa.String(length=32), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_redactions_case_id_cases')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_redactions_created_by_id_users')),
    sa.ForeignKeyConstraint(['interview_id'], ['interviews.id'], name=op.f('fk_redactions_interview_id_interviews')),
    sa.ForeignKeyConstraint(['source_version_id'], ['transcript_versions.id'], name=op.f('fk_redactions_source_version_id_transcript_versions')),
    sa.ForeignKeyConstraint(['witness_id'], ['witnesses.id'], name=op.f('fk_redactions_witness_id_witnesses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redactions')),
    sa.UniqueConstraint('source_version_id', 'number', name='uq_redactions_source_number')
    )
    with op.batch_alter_table('redactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redactions_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_redactions_content_kek_id'), ['content_kek_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_redactions_interview_id'), ['interview_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_redactions_segments_kek_id'), ['segments_kek_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_redactions_source_version_id'), ['source_version_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_redactions_witness_id'), ['witness_id'], unique=False)
    roles.grant_roles(op, context)


def downgrade():
    with op.batch_alter_table('redactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_redactions_witness_id'))
        batch_op.drop_index(batch_op.f('ix_redactions_source_version_id'))
        batch_op.drop_index(batch_op.f('ix_redactions_segments_kek_id'))
        batch_op.drop_index(batch_op.f('ix_redactions_interview_id'))
        batch_op.drop_index(batch_op.f('ix_redactions_content_kek_id'))
        batch_op.drop_index(batch_op.f('ix_redactions_case_id'))

    op.drop_table('redactions')
    with op.batch_alter_table('disclosure_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_items_witness_id'))
        batch_op.drop_index(batch_op.f('ix_disclosure_items_registration_number'))
        batch_op.drop_index(batch_op.f('ix_disclosure_items_disclosure_id'))
        batch_op.drop_index('ix_disclosure_items_case_item')

    op.drop_table('disclosure_items')
    op.drop_table('evidence_registrations')
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosures_purpose_kek_id'))
        batch_op.drop_index(batch_op.f('ix_disclosures_case_id'))

    op.drop_table('disclosures')
