"""tree nodes: the primary key carries the hash, so a proof reads index pages only

Revision ID: 0012_custody_nodes_covering
Revises: 0011_custody_indexes

A proof at 10 million events probes about 30 to 70 stored perfect-subtree hashes by
(level, idx). With a plain primary key each probe reads an index leaf and then a heap page of
the 1.6 GB table, and both are cold for the lower levels; with ``INCLUDE (hash)`` PostgreSQL
answers from the index alone (the table is append-only, so after VACUUM every page is
all-visible). PostgreSQL only: SQLite has no covering constraints, and its log is small.

On a large log the new key is built while writes wait (about 20 s per 20 million nodes).
"""

from alembic import op

revision = "0012_custody_nodes_covering"
down_revision = "0011_custody_indexes"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE custody_nodes DROP CONSTRAINT pk_custody_nodes, "
               "ADD CONSTRAINT pk_custody_nodes PRIMARY KEY (level, idx) INCLUDE (hash)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE custody_nodes DROP CONSTRAINT pk_custody_nodes, "
               "ADD CONSTRAINT pk_custody_nodes PRIMARY KEY (level, idx)")
