"""redactions and disclosures

Revision ID: 0010_disclosures
Revises: 0009_custody_intake
"""

revision = "0010_disclosures"
down_revision = "0009_custody_intake"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
