"""indexes for custody queries at scale (witness, action, resource, time)

Revision ID: 0011_custody_indexes
Revises: 0010_disclosures

Every auditor filter is answered by walking one index in (filter..., seq) order and stopping
after a page, so a query costs the same at 10 thousand and at 10 million events. 0001 already
has (resource_type, resource_id, seq), (case_id, seq), (witness_id, seq), (actor_id, seq) and
(action, seq). This adds the shapes that were served by scanning the whole log or sorting a
growing set: "who did ACTION to witness W" (witness_id, action, seq), the actor named by
username (actor_username, seq), one outcome such as every denial (outcome, seq), and time
ranges, now paged in (recorded_at, seq) order, which replaces the index on recorded_at alone.

Plain ``op.create_index`` (not batch mode): SQLite must not copy the table, which would drop
its append-only triggers. On a large PostgreSQL log this takes about a minute per index
while writes wait; build them CONCURRENTLY by hand first if that matters (same names).
"""

from alembic import op

revision = "0011_custody_indexes"
down_revision = "0010_disclosures"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_custody_events_witness_action", "custody_events", ["witness_id", "action", "seq"],
                    unique=False, if_not_exists=True)
    op.create_index("ix_custody_events_actor_username", "custody_events", ["actor_username", "seq"],
                    unique=False, if_not_exists=True)
    op.create_index("ix_custody_events_outcome", "custody_events", ["outcome", "seq"],
                    unique=False, if_not_exists=True)
    op.create_index("ix_custody_events_time", "custody_events", ["recorded_at", "seq"],
                    unique=False, if_not_exists=True)
    op.drop_index("ix_custody_events_recorded_at", table_name="custody_events")


def downgrade():
    op.create_index("ix_custody_events_recorded_at", "custody_events", ["recorded_at"], unique=False)
    op.drop_index("ix_custody_events_time", table_name="custody_events")
    op.drop_index("ix_custody_events_outcome", table_name="custody_events")
    op.drop_index("ix_custody_events_actor_username", table_name="custody_events")
    op.drop_index("ix_custody_events_witness_action", table_name="custody_events")
