"""two-person erasure: a withdrawal opens an erasure that a second person confirms; legal holds

Revision ID: 0014_erasures
Revises: 0013_custody_leaf_v2
"""

revision = "0014_erasures"
down_revision = "0013_custody_leaf_v2"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
