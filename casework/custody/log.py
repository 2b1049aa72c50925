"""The custody log as stored: intake, integration in batches, the tree's size.

Appending is split in two, as Trillian and Tessera split sequencing from integration, each half
with one verb in the code: ``intake`` (the event durable in the queue), then ``integrate`` (its
seq and nodes given: the event in the tree); ``append`` does both at once.

* ``intake`` seals a request's events (time, salt, leaf hash: leaf form v2 has no seq, so the
  leaf is known now) and appends them to ``custody_intake`` inside the request's own
  transaction, taking no shared lock: concurrent commits share PostgreSQL's WAL flush, and an
  event is durable when its request commits (synchronous commit, never turned off). What an
  upload's receipt promises is this leaf hash.
* ``integrate`` takes the oldest committed intake rows under the head row lock and gives each
  its gap-free seq and tree nodes (``storage``: on PostgreSQL a function of the custody owner,
  so the app's role never writes the tree, the head or the events itself). Every answered
  request's event is integrated within the merge delay by the background integrator
  (``casework.custody.integrator``); auditors' reads, publication and the export first integrate
  what is committed (``integrate_committed``).

Roots and proofs of the stored tree are ``casework.custody.proofs``; what is signed is
recomputed by the signer from the events (``casework.custody.publication``), never read here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from casework.custody.models import ENTRY_FIELDS, CustodyHead, CustodyIntake
from casework.custody.storage import postgresql, sqlite
from casework.db import db, utcnow
from casework.errors import LogCorrupted
from casework_verify import leaf
from casework_verify.canonical import canonical_json

HEAD_ID = 1
# Intake rows integrated per transaction: bounds the head lock's hold and the statement's size.
BATCH = 2000
_INTAKE_CHUNK = 500


@dataclass
class NewEvent:
    """An event waiting to be integrated into the log. ``seal`` fixes its time, salt and leaf hash."""

    action: str
    outcome: str
    actor_id: int | None = None
    actor_username: str | None = None
    actor_role: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    case_id: int | None = None
    witness_id: int | None = None
    request_id: str | None = None
    client_addr: str | None = None
    details: dict[str, Any] | None = None
    recorded_at: datetime | None = None
    salt: bytes | None = None
    leaf_hash: bytes | None = None

    def seal(self, now: datetime) -> bytes:
        """Fix what the leaf hashes (once: a retried transaction records the same leaf) and return it.

        The details (the event's one free-form part) are canonicalised here, so an event the log
        could never hash is refused while its request can still fail.
        """
        if self.leaf_hash is None:
            self.details = self.details or {}
            canonical_json(self.details)
            self.recorded_at, self.salt = now, os.urandom(leaf.SALT_BYTES)
            self.leaf_hash = leaf.leaf_hash(leaf.make_entry(None, now, self, self.salt))
        return self.leaf_hash

    def row(self) -> dict[str, Any]:
        return {
            "recorded_at": self.recorded_at,
            **{name: getattr(self, name) for name in ENTRY_FIELDS},
            "salt": self.salt,
            "leaf_hash": self.leaf_hash,
        }


def is_deferred(connection: Connection) -> bool:
    """PostgreSQL integrates after the request commits; SQLite (one writer) in its transaction."""
    return connection.dialect.name == "postgresql"


# --- intake: the request's part -------------------------------------------------------------


def seal(events: Iterable[NewEvent]) -> list[NewEvent]:
    now = utcnow()
    sealed = list(events)
    for event in sealed:
        event.seal(now)
    return sealed


def intake(connection: Connection, events: Iterable[NewEvent], *, commit: bool = False) -> list[int]:
    """Seal the events and append them to intake in the connection's transaction; their ids, in order.

    With ``commit`` (PostgreSQL) the transaction is committed in the same round trip as the last
    append. Without events nothing is sent, and the caller's commit ends the transaction.
    """
    rows = [event.row() for event in seal(events)]
    ids: list[int] = []
    for start in range(0, len(rows), _INTAKE_CHUNK):  # bounded statements, whatever a request records
        chunk, last = rows[start : start + _INTAKE_CHUNK], start + _INTAKE_CHUNK >= len(rows)
        if connection.dialect.name == "postgresql":
            ids.extend(postgresql.record(connection, chunk, commit=commit and last))
        else:
            assert not commit, "SQLite integrates events before its commit: see recorder.commit"
            ids.extend(sqlite.record(connection, chunk))
    return ids


# --- integration: one transaction per batch, under the head lock --------------------------------


def integrate(connection: Connection, *, wait: bool = True, limit: int = BATCH) -> dict[int, int] | None:
    """Integrate up to ``limit`` intake rows, in id order, in the connection's transaction.

    Returns the seq each intake row got, or None when ``wait`` is false and another integrator
    holds the head. The caller commits (promptly: the head lock is held).
    """
    if connection.dialect.name == "postgresql":
        return postgresql.integrate(connection, wait=wait, limit=limit)
    return sqlite.integrate(connection, limit=limit)


def integrate_through(connection: Connection, ids: Sequence[int]) -> dict[int, int]:
    """Integrate in the connection's transaction until the intake rows ``ids`` are in the tree."""
    seqs: dict[int, int] = {}
    while any(i not in seqs for i in ids):
        batch = integrate(connection, wait=True)
        if not batch:
            raise LogCorrupted("appended custody events did not reach the log")
        seqs.update(batch)
    return seqs


def append(events: Iterable[NewEvent]) -> list[int]:
    """Intake and integrate now, in the session's transaction: the seq of each (tests and benchmarks;
    requests append through ``casework.custody.recorder``)."""
    connection = db.session.connection()
    ids = intake(connection, events)
    seqs = integrate_through(connection, ids)
    return [seqs[i] for i in ids]


def pending_intake(connection: Connection) -> bool:
    return connection.execute(select(CustodyIntake.id).order_by(CustodyIntake.id).limit(1)).first() is not None


def integrate_committed(limit: int = BATCH) -> int:
    """Integrate every intake row committed so far; how many. Before serving anything of the tree.

    PostgreSQL: on a connection of its own, one transaction per batch, so the caller's
    transaction is untouched. SQLite: in the session's transaction (its intake is always empty
    between transactions, since SQLite integrates before each commit).
    """
    if not is_deferred(db.session.connection()):
        connection = db.session.connection()
        return len(integrate(connection, limit=limit) or {}) if pending_intake(connection) else 0
    total = 0
    with db.engine.connect() as connection:
        while True:
            with connection.begin():
                batch = integrate(connection, wait=True, limit=limit) if pending_intake(connection) else {}
            total += len(batch or {})
            if len(batch or {}) < limit:
                return total


def try_integrate(limit: int = BATCH) -> int | None:
    """One batch if no other integrator is at work (PostgreSQL); None when the head was busy."""
    with db.engine.connect() as connection, connection.begin():
        batch = integrate(connection, wait=False, limit=limit)
    return None if batch is None else len(batch)


def vacuum_intake() -> None:
    """VACUUM the intake queue and the head row (PostgreSQL), on a connection of its own.

    Both churn: an event's intake row dies when it is integrated, the head gets a new version
    per batch. A role that does not own the tables gets a warning from PostgreSQL and nothing
    is done: there, the owner's autovacuum must keep them.
    """
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"VACUUM (SKIP_LOCKED) {CustodyIntake.__tablename__}, {CustodyHead.__tablename__}")


def tree_size() -> int:
    return db.session.execute(select(CustodyHead.tree_size).where(CustodyHead.id == HEAD_ID)).scalar_one()


def store_checkpoint(size: int, root: bytes, note: str) -> bool:
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        return postgresql.store_checkpoint(connection, size, root, note)
    return sqlite.store_checkpoint(connection, size, root, note)


def store_cosignatures(size: int, lines: Sequence[tuple[str, str]]) -> None:
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        postgresql.store_cosignatures(connection, size, lines)
    else:
        sqlite.store_cosignatures(connection, size, lines)
