"""The custody log as stored: intake, integration in batches, roots and proofs from stored subtrees.

Appending is split in two, as Trillian and Tessera split sequencing from integration:

* ``intake`` inserts a request's events into ``custody_intake`` inside the request's own
  transaction. No shared lock is taken, so concurrent commits share PostgreSQL's WAL flush,
  and an event is durable when its request commits (synchronous commit, never turned off).
* ``integrate`` takes every committed intake row, in id order, under the head row lock, gives
  each its gap-free seq, leaf hash and tree nodes, and in one statement copies the rows into
  ``custody_events`` (the database copies them: what was hashed is what was stored) and deletes
  them from intake, checking that exactly the rows taken were consumed. The lock is held for
  one short transaction per batch, however many requests the batch serves.

Nothing is served from the tree before it has caught up (``catch_up``): auditors' reads, the
publication of a checkpoint and the export go through it first. ``append`` intakes and
integrates in the caller's transaction: for receipts, which quote their event's place, and
for SQLite, where transactions are serial anyway.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from psycopg.types.json import Json
from sqlalchemy import Connection, Table, delete, insert, select, tuple_, update

from casework.custody import merkle
from casework.custody.canonical import canonical_json
from casework.custody.models import (
    ENTRY_FIELDS,
    CustodyEvent,
    CustodyHead,
    CustodyIntake,
    CustodyNode,
    leaf_entry,
)
from casework.db import db, utcnow
from casework.errors import LogCorrupted

HEAD_ID = 1
# Intake rows integrated per transaction: bounds the head lock's hold and the statement's size.
BATCH = 2000
_EVENTS: Table = CustodyEvent.__table__  # type: ignore[assignment]
_NODES: Table = CustodyNode.__table__  # type: ignore[assignment]
_HEAD: Table = CustodyHead.__table__  # type: ignore[assignment]
_INTAKE: Table = CustodyIntake.__table__  # type: ignore[assignment]
INTAKE_COLUMNS = ("recorded_at", *ENTRY_FIELDS)


@dataclass
class NewEvent:
    """An event waiting for its place in the log (seq and time are assigned on append)."""

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


@dataclass(frozen=True)
class Appended:
    """Where an event landed: what a receipt quotes."""

    seq: int
    recorded_at: datetime
    leaf_hash: bytes
    resource_id: str | None


def is_deferred(connection: Connection) -> bool:
    """PostgreSQL integrates after the request commits; SQLite (one writer) in its transaction."""
    return connection.dialect.name == "postgresql"


# --- intake: the request's part -------------------------------------------------------------


def intake(connection: Connection, events: Iterable[NewEvent], *, commit: bool = False) -> list[int]:
    """Insert events into the intake queue in the connection's transaction; their ids, in order.

    With ``commit`` (PostgreSQL) the transaction is committed too, in the same round trip as the
    last INSERT: every audited request ends so, and most (reads) write nothing else, so a
    separate INSERT would cost each of them one more blocking wait on the database. Without
    events nothing is sent, and the caller's commit ends the transaction.
    """
    rows = _intake_rows(events)
    ids: list[int] = []
    for start in range(0, len(rows), _INTAKE_CHUNK):  # bounded statements, whatever a request records
        last = start + _INTAKE_CHUNK >= len(rows)
        ids.extend(_insert_intake(connection, rows[start:start + _INTAKE_CHUNK], commit=commit and last))
    return ids


_INTAKE_CHUNK = 500


def _intake_rows(events: Iterable[NewEvent]) -> list[dict[str, Any]]:
    """Intake rows of the events; each event's details (its one free-form part; every other
    field is a typed column, read back as str, int or None) are canonicalised here, so an
    event the log could never hash is refused while its request can still fail, never later
    by the integrator."""
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for event in events:
        event.details = event.details or {}
        canonical_json(event.details)
        rows.append({"recorded_at": now, **{name: getattr(event, name) for name in ENTRY_FIELDS}})
    return rows


def _insert_intake(connection: Connection, rows: list[dict[str, Any]], *, commit: bool = False) -> list[int]:
    """One multi-row INSERT; ids are drawn in row order, so sorted ids are the events' order.

    On PostgreSQL it is every audited request's one write, so it goes to the driver directly
    (a prepared statement after a few uses, or with ``commit`` one simple query that also
    commits), without SQLAlchemy's result machinery.
    """
    if connection.dialect.name == "postgresql":
        params = _intake_params(rows)
        driver = _driver(connection)
        if not commit:
            return sorted(row_id for (row_id,) in driver.execute(_postgres_intake_sql(len(rows)), params))
        with psycopg.ClientCursor(driver) as cursor:
            cursor.execute(_postgres_intake_sql(len(rows)) + b"; COMMIT", params)
            return sorted(row_id for (row_id,) in cursor.fetchall())
    assert not commit, "SQLite places events before its commit: see recorder.commit"
    statement = insert(_INTAKE).values(rows).returning(_INTAKE.c.id)
    return sorted(row_id for (row_id,) in connection.execute(statement))


def _intake_params(rows: list[dict[str, Any]]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for i, row in enumerate(rows):
        params.update({f"{name}{i}": value for name, value in row.items()})
        params[f"details{i}"] = Json(row["details"])
    return params


def _driver(connection: Connection) -> psycopg.Connection[Any]:
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver


@lru_cache(maxsize=32)
def _postgres_intake_sql(n_events: int) -> bytes:
    """One INSERT of n rows (the hot path of every request): written once per size, sent as is."""
    columns = ", ".join(INTAKE_COLUMNS)
    values = ", ".join("(" + ", ".join(f"%({name}{i})s" for name in INTAKE_COLUMNS) + ")" for i in range(n_events))
    return f"INSERT INTO {_INTAKE.name} ({columns}) VALUES {values} RETURNING id".encode()


# --- integration: one transaction per batch, under the head lock --------------------------------


def integrate(connection: Connection, *, wait: bool = True, limit: int = BATCH) -> dict[int, Appended] | None:
    """Integrate up to ``limit`` intake rows, in id order, in the connection's transaction.

    Returns where each intake row landed (by intake id), or None when ``wait`` is false and
    another integrator holds the head. The caller commits (promptly: the head lock is held).
    """
    lock = select(_HEAD.c.tree_size, _HEAD.c.frontier).where(_HEAD.c.id == HEAD_ID).with_for_update(
        skip_locked=not wait)
    head = connection.execute(lock).one_or_none()
    if head is None:
        if wait:
            raise LogCorrupted("the custody log has no head row")
        return None
    rows = connection.execute(select(_INTAKE).order_by(_INTAKE.c.id).limit(limit)).all()
    return _place(connection, head.tree_size, head.frontier, rows) if rows else {}


def _place(connection: Connection, old_size: int, old_frontier: bytes, rows: Sequence[Any]) -> dict[int, Appended]:
    """Give the intake rows taken their places after the head (locked by the caller) and write them."""
    frontier = merkle.CompactRange.from_bytes(old_size, old_frontier)
    placed: dict[int, Appended] = {}
    nodes: list[tuple[int, int, bytes]] = []
    for row in rows:
        seq = frontier.size
        leaf = merkle.leaf_hash(canonical_json(leaf_entry(seq, row.recorded_at, row)))
        nodes.extend(frontier.append(leaf))
        placed[row.id] = Appended(seq, row.recorded_at, leaf, row.resource_id)
    if connection.dialect.name == "postgresql":
        moved = connection.exec_driver_sql(_POSTGRES_INTEGRATE, {
            "ids": list(placed), "seqs": [a.seq for a in placed.values()],
            "leaves": [a.leaf_hash for a in placed.values()],
            "levels": [n[0] for n in nodes], "idxs": [n[1] for n in nodes], "hashes": [n[2] for n in nodes],
            "n": len(placed), "old_size": old_size, "size": frontier.size,
            "frontier": frontier.to_bytes(), "head_id": HEAD_ID,
        })
        if moved.rowcount != 1:  # not exactly the rows taken were consumed: the caller rolls back
            raise LogCorrupted("custody intake rows changed under the integrator")
    else:
        _sqlite_integrate(connection, rows, placed, nodes, old_size, frontier)
    return placed


def _sqlite_integrate(connection: Connection, rows: Sequence[Any], placed: dict[int, Appended],
                      nodes: list[tuple[int, int, bytes]], old_size: int, frontier: merkle.CompactRange) -> None:
    connection.execute(insert(_EVENTS), [
        {"seq": placed[row.id].seq, "leaf_hash": placed[row.id].leaf_hash,
         **{name: getattr(row, name) for name in INTAKE_COLUMNS}} for row in rows])
    connection.execute(insert(_NODES), [{"level": level, "idx": index, "hash": value} for level, index, value in nodes])
    gone = connection.execute(delete(_INTAKE).where(_INTAKE.c.id.in_(list(placed))))
    moved = connection.execute(update(_HEAD).where(_HEAD.c.id == HEAD_ID, _HEAD.c.tree_size == old_size)
                               .values(tree_size=frontier.size, frontier=frontier.to_bytes()))
    if gone.rowcount != len(placed) or moved.rowcount != 1:
        raise LogCorrupted("custody intake rows changed under the integrator")


# The rows deleted from intake are the rows inserted as events (copied by the database, beside
# the seq and leaf hash computed from them), and the head moves only if exactly n were consumed.
_COPIED = ", ".join(INTAKE_COLUMNS)
_POSTGRES_INTEGRATE = f"""
WITH batch AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(seqs)s::bigint[], %(leaves)s::bytea[]) AS b(intake_id, seq, leaf_hash)
), gone AS (
    DELETE FROM {_INTAKE.name} i USING batch b WHERE i.id = b.intake_id
    RETURNING b.seq, {", ".join(f"i.{name}" for name in INTAKE_COLUMNS)}, b.leaf_hash
), new_events AS (
    INSERT INTO {_EVENTS.name} (seq, {_COPIED}, leaf_hash) SELECT seq, {_COPIED}, leaf_hash FROM gone RETURNING seq
), new_nodes AS (
    INSERT INTO {_NODES.name} (level, idx, hash)
    SELECT * FROM unnest(%(levels)s::smallint[], %(idxs)s::bigint[], %(hashes)s::bytea[])
)
UPDATE {_HEAD.name} SET tree_size = %(size)s, frontier = %(frontier)s
WHERE id = %(head_id)s AND tree_size = %(old_size)s AND (SELECT count(*) FROM new_events) = %(n)s
"""


def append(events: Iterable[NewEvent]) -> list[Appended]:
    """Append events in the current transaction (intake, then integrate under the head lock).

    For requests that must quote where their event landed (receipts): the head lock is held
    until the caller commits, so the stored object, its event and its receipt commit together
    or not at all. The batch integrated also places every intake row committed before it.
    """
    ids, placed = intake_and_integrate(db.session.connection(), list(events))
    return [placed[i] for i in ids]


def intake_and_integrate(connection: Connection, events: list[NewEvent],
                         through: Sequence[int] = ()) -> tuple[list[int], dict[int, Appended]]:
    """Intake ``events`` and integrate until they and the intake rows ``through`` are placed.

    On PostgreSQL the INSERT, the head lock and the read of the queue go to the server in one
    round trip (an upload's three waits become one): three statements in one simple query, each
    with a snapshot of its own, so the queue is read only once the lock is granted, and never
    misses or repeats the rows of an integrator that committed while this one waited.
    """
    if connection.dialect.name != "postgresql" or not events or len(events) > _INTAKE_CHUNK:
        ids = intake(connection, events)
        return ids, integrate_through(connection, [*through, *ids])
    rows = _intake_rows(events)
    params = {**_intake_params(rows), "head_id": HEAD_ID, "limit": BATCH}
    with psycopg.ClientCursor(_driver(connection), row_factory=namedtuple_row) as cursor:
        cursor.execute(_postgres_intake_sql(len(rows)) + _POSTGRES_LOCK_AND_READ, params)
        ids = sorted(row_id for (row_id,) in cursor.fetchall())
        head = cursor.fetchone() if cursor.nextset() else None
        queued = cursor.fetchall() if cursor.nextset() else []
    if head is None:
        raise LogCorrupted("the custody log has no head row")
    size, frontier = head
    placed = _place(connection, size, frontier, queued) if queued else {}
    missing = [i for i in (*through, *ids) if i not in placed]
    if missing:  # more than a batch was queued ahead of these: the rest as integrate_through does
        placed.update(integrate_through(connection, missing))
    return ids, placed


_POSTGRES_LOCK_AND_READ = (
    f"; SELECT tree_size, frontier FROM {_HEAD.name} WHERE id = %(head_id)s FOR UPDATE"
    f"; SELECT id, {', '.join(INTAKE_COLUMNS)} FROM {_INTAKE.name} ORDER BY id LIMIT %(limit)s"
).encode()


def integrate_through(connection: Connection, ids: Sequence[int]) -> dict[int, Appended]:
    """Integrate in the connection's transaction until the intake rows ``ids`` are placed."""
    placed: dict[int, Appended] = {}
    while any(i not in placed for i in ids):
        batch = integrate(connection, wait=True)
        if not batch:
            raise LogCorrupted("appended custody events did not reach the log")
        placed.update(batch)
    return placed


def pending_intake(connection: Connection) -> bool:
    return connection.execute(select(_INTAKE.c.id).order_by(_INTAKE.c.id).limit(1)).first() is not None


def catch_up(limit: int = BATCH) -> int:
    """Integrate every intake row committed so far; how many. Before serving anything of the tree.

    PostgreSQL: on a connection of its own, one transaction per batch, so the caller's
    transaction is untouched. SQLite: in the session's transaction (its intake is always empty
    between transactions, since SQLite integrates before each commit).
    """
    if not is_deferred(db.session.connection()):
        batch = integrate(db.session.connection(), wait=True, limit=limit) if pending_intake(
            db.session.connection()) else {}
        return len(batch or {})
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
    per batch. Without vacuuming, the queue's table and index only grow, and the integrator's
    ``ORDER BY id LIMIT n`` walks ever more dead entries (seen on this machine, whose PostgreSQL
    runs with autovacuum off: 170,000 dead rows, 38 MB, for a queue of a few dozen). A role that
    does not own the tables gets a warning from PostgreSQL and nothing is done: there, the
    owner's autovacuum must keep them.
    """
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"VACUUM (SKIP_LOCKED) {_INTAKE.name}, {_HEAD.name}")


def tree_size_on(connection: Connection) -> int:
    return connection.execute(select(_HEAD.c.tree_size).where(_HEAD.c.id == HEAD_ID)).scalar_one()


def tree_size() -> int:
    return db.session.execute(select(CustodyHead.tree_size).where(CustodyHead.id == HEAD_ID)).scalar_one()


def fetch_nodes(wanted: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Read the requested perfect-subtree hashes in one query."""
    if not wanted:
        return {}
    rows = db.session.execute(
        select(CustodyNode.level, CustodyNode.index, CustodyNode.hash).where(
            tuple_(CustodyNode.level, CustodyNode.index).in_(list(wanted))
        )
    )
    found = {(level, index): value for level, index, value in rows}
    missing = wanted - found.keys()
    if missing:
        raise LogCorrupted(f"custody tree nodes missing: {sorted(missing)[:5]}")
    return found


def root_hash(size: int) -> bytes:
    return merkle.root_hash(size, fetch_nodes)


def inclusion_proof(index: int, size: int) -> list[bytes]:
    return merkle.inclusion_proof(index, size, fetch_nodes)


def consistency_proof(first: int, second: int) -> list[bytes]:
    return merkle.consistency_proof(first, second, fetch_nodes)
