"""recovery needs two people: resets, reactivation and first lawyers wait for a second person

Revision ID: 0015_two_person_recovery
Revises: 0014_erasures
"""

revision = "0015_two_person_recovery"
down_revision = "0014_erasures"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
