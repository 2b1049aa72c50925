"""indexes for searching incidents, witnesses and interviews within a case

Revision ID: 0018_search_indexes
Revises: 0017_disclosure_approval

The list endpoints take search filters (issue 24). Each filter reads an index rather than the
whole table:

- incidents ``occurred_after`` / ``occurred_before``: (case_id, occurred_from);
- incidents ``q`` (a substring of the reference or title, any case): trigram GIN indexes on
  PostgreSQL (the ``pg_trgm`` extension, created here if missing). On SQLite they are plain
  indexes no substring search can use: SQLite reads the case's incidents;
- incidents ``violation_type``: a GIN index on the list as jsonb (containment), PostgreSQL only;
- interviews ``language``: (case_id, lower(language), id), pages in id order;
  ``conducted_after`` / ``conducted_before``: (case_id, conducted_at). ``witness_id`` already
  has its index (0001), and witnesses' ``pseudonym`` its unique (case_id, pseudonym) one.

Creating ``pg_trgm`` needs the CREATE privilege on the database (it is a trusted extension). A
migrating role without it fails here: have a superuser run ``CREATE EXTENSION pg_trgm`` in the
database first; the downgrade leaves the extension in place. Plain ``op.create_index``: no batch
mode, so SQLite copies no table.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_search_indexes"
down_revision = "0017_disclosure_approval"
branch_labels = None
depends_on = None


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index("ix_incidents_case_occurred", "incidents", ["case_id", "occurred_from"], unique=False)
    op.create_index("ix_incidents_reference_trgm", "incidents", ["reference"], unique=False,
                    postgresql_using="gin", postgresql_ops={"reference": "gin_trgm_ops"})
    op.create_index("ix_incidents_title_trgm", "incidents", ["title"], unique=False,
                    postgresql_using="gin", postgresql_ops={"title": "gin_trgm_ops"})
    if postgres:
        op.create_index("ix_incidents_violation_types", "incidents",
                        [sa.text("CAST(violation_types AS JSONB)")], unique=False, postgresql_using="gin")
    op.create_index("ix_interviews_case_conducted", "interviews", ["case_id", "conducted_at"], unique=False)
    op.create_index("ix_interviews_case_language", "interviews",
                    ["case_id", sa.text("lower(language)"), "id"], unique=False)


def downgrade():
    op.drop_index("ix_interviews_case_language", table_name="interviews")
    op.drop_index("ix_interviews_case_conducted", table_name="interviews")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_incidents_violation_types", table_name="incidents")
    op.drop_index("ix_incidents_title_trgm", table_name="incidents")
    op.drop_index("ix_incidents_reference_trgm", table_name="incidents")
    op.drop_index("ix_incidents_case_occurred", table_name="incidents")
