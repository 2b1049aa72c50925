"""indexes for custody queries at scale (witness, action, resource, time)

Revision ID: 0011_custody_indexes
Revises: 0010_disclosures
"""

revision = "0011_custody_indexes"
down_revision = "0010_disclosures"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
