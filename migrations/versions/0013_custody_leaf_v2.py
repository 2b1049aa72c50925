"""custody leaf form v2, and a custody the app's database role cannot rewrite (SPEC v3)

Revision ID: 0013_custody_leaf_v2
Revises: 0012_custody_nodes_covering

* Leaf form v2: each event has a random salt (identifying values are hashed into the leaf as
  salted commitments) and the leaf holds no seq, so intake rows carry their leaf hash.
* PostgreSQL: the app role keeps SELECT on the custody tables and nothing else; it appends,
  integrates and stores checkpoints only through functions of the custody owner role
  (``migrations/frozen/custody_functions_0013.py``).

Events already in the log stay leaf form v1 (no salt: their leaves hash them with their seq);
every event after them is v2, and the signer, the export and the verifiers read both. The intake
queue must be empty (integrate before upgrading): its rows have no leaf hash to place.
"""

import os

import sqlalchemy as sa
from alembic import context, op

from migrations.frozen import custody_functions_0013 as functions
from migrations.frozen import roles

revision = "0013_custody_leaf_v2"
down_revision = "0012_custody_nodes_covering"
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM custody_intake LIMIT 1")).first() is not None:
        raise RuntimeError("custody_intake holds events not yet in the tree: integrate them first "
                           "(any auditor's read, or `flask custody publish`), then upgrade")
    postgres = bind.dialect.name == "postgresql"
    empty = sa.text("decode('', 'hex')") if postgres else sa.text("x''")  # v1 events: no salt
    op.add_column("custody_events", sa.Column("salt", sa.LargeBinary(32), nullable=False, server_default=empty))
    op.add_column("custody_intake", sa.Column("salt", sa.LargeBinary(32), nullable=False, server_default=empty))
    op.add_column("custody_intake", sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False, server_default=empty))
    if not postgres:
        return
    for table, column in (("custody_events", "salt"), ("custody_intake", "salt"), ("custody_intake", "leaf_hash")):
        op.alter_column(table, column, server_default=None)
    for statement in functions.FUNCTION_SQL:
        bind.exec_driver_sql(statement)
    owner, app = roles.role_names(context.get_x_argument(as_dictionary=True), os.environ)
    for statement in functions.secure_functions_sql(owner, app):
        bind.exec_driver_sql(statement)
    roles.grant_roles(op, context)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for name, args in functions.FUNCTIONS.items():
            op.execute(f"DROP FUNCTION IF EXISTS {name}({args})")
    op.drop_column("custody_intake", "leaf_hash")
    op.drop_column("custody_intake", "salt")
    op.drop_column("custody_events", "salt")
