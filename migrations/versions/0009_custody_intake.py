"""custody intake queue: events are durable before they are sequenced

Revision ID: 0009_custody_intake
Revises: 0008_exhibits
"""

revision = "0009_custody_intake"
down_revision = "0008_exhibits"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
