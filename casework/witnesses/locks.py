"""One lock order for every path that changes what a witness said or who they are.

Transcript uploads and corrections, identity changes (``PATCH /witnesses/{id}``) and consent,
withdrawal included, all take their locks in this order, and only in this order:

1. **the witness row**: ``lock_witness(witness_id)``, first, right after the access decision and
   before any other row is locked or written;
2. **the interview row** (uploads and corrections only: it numbers the versions);
3. **the custody head**, last: SQLite places the request's events under it just before the
   commit; on PostgreSQL a request never takes it (its events wait in the intake queue, and an
   upload's receipt is a promise over its leaf hash), the integrator does, after the commit.

Taking the witness first makes these paths one queue per witness: a withdrawal waits for an
upload that holds the witness and then shreds the version it committed, and an upload that
waits for a withdrawal finds ``shredded_at`` set once it holds the lock (it must check it after
``lock_witness``, never before) and stores nothing. Two paths never hold each other's next lock,
so PostgreSQL never has a deadlock to break (it would surface as a 503 when the log's commit
fails). The lock is ``FOR NO KEY UPDATE``: it excludes every other witness path, but not an
insert that merely references the witness (a new interview), which takes ``KEY SHARE``.

SQLite takes its one write lock at ``BEGIN IMMEDIATE`` (``casework.db``), so requests there are
serial and the order holds trivially; the statement runs without ``FOR ...`` there.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import lazyload

from casework.db import db
from casework.witnesses.models import Witness


def lock_witness(witness_id: int) -> Witness:
    """Lock the witness row for this transaction and return it as now committed.

    The row is read again (``populate_existing``) even if the session already holds the
    witness, so ``shredded_at`` and the identity are those of the latest committed change.
    Its consent records are read only if the caller asks for them (after the lock, so fresh).
    """
    statement = (
        select(Witness)
        .where(Witness.id == witness_id)
        .with_for_update(key_share=True)
        .options(lazyload(Witness.consents))
        .execution_options(populate_existing=True)
    )
    return db.session.execute(statement).scalar_one()
