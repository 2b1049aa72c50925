"""exhibits, their encrypted chunks and upload sessions; derived transcript versions

Revision ID: 0008_exhibits
Revises: 0007_membership_approval
"""

revision = "0008_exhibits"
down_revision = "0007_membership_approval"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
