"""The custody log as stored: append under a lock, roots and proofs from stored perfect subtrees."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from psycopg.types.json import Json
from sqlalchemy import Table, bindparam, insert, select, tuple_, update

from casework.custody import merkle
from casework.custody.canonical import canonical_json
from casework.custody.models import ENTRY_FIELDS, CustodyEvent, CustodyHead, CustodyNode, leaf_entry
from casework.db import db, utcnow
from casework.errors import LogCorrupted

HEAD_ID = 1
_EVENTS: Table = CustodyEvent.__table__  # type: ignore[assignment]
_NODES: Table = CustodyNode.__table__  # type: ignore[assignment]
_HEAD: Table = CustodyHead.__table__  # type: ignore[assignment]
# Lock the head, reserve `count` seqs, and read the frontier they extend: one round trip.
_RESERVE = (
    update(_HEAD).where(_HEAD.c.id == bindparam("head_id"))
    .values(tree_size=_HEAD.c.tree_size + bindparam("count"))
    .returning(_HEAD.c.tree_size, _HEAD.c.frontier)
)


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


def append(events: Iterable[NewEvent]) -> list[Appended]:
    """Append events in the current transaction; the head row lock makes seq gap-free.

    This runs in every request, so it is two round trips on PostgreSQL: one UPDATE that
    locks the head, reserves the seqs and returns the frontier; one statement that inserts
    the events and tree nodes and stores the new frontier. The lock is held until the
    caller commits, so the caller commits promptly.
    """
    events = list(events)
    if not events:
        return []
    connection = db.session.connection()  # Core, not the ORM session: this is the hot path
    head = connection.execute(_RESERVE, {"head_id": HEAD_ID, "count": len(events)}).one()
    frontier = merkle.CompactRange.from_bytes(head.tree_size - len(events), head.frontier)
    now = utcnow()
    appended: list[Appended] = []
    params: dict[str, Any] = {}
    node_count = 0
    for i, event in enumerate(events):
        event.details = event.details or {}
        entry = leaf_entry(frontier.size, now, event)
        leaf = merkle.leaf_hash(canonical_json(entry))
        appended.append(Appended(frontier.size, now, leaf, event.resource_id))
        params.update({f"e{i}_{name}": entry[name] for name in ENTRY_FIELDS})
        params.update({f"e{i}_seq": frontier.size, f"e{i}_recorded_at": now, f"e{i}_leaf_hash": leaf})
        for level, index, value in frontier.append(leaf):
            params.update({f"n{node_count}_level": level, f"n{node_count}_idx": index, f"n{node_count}_hash": value})
            node_count += 1
    params.update(frontier=frontier.to_bytes(), head_id=HEAD_ID)
    dialect = connection.dialect
    if dialect.name == "postgresql":
        params.update({f"e{i}_details": Json(event.details) for i, event in enumerate(events)})
        connection.exec_driver_sql(_postgres_append_sql(dialect, len(events), node_count), params)
    else:
        for statement in _append_statements(len(events), node_count):
            connection.execute(statement, params)
    return appended


@lru_cache(maxsize=64)
def _append_statements(n_events: int, n_nodes: int) -> tuple[Any, Any, Any]:
    """Insert the events, insert the completed tree nodes, store the new frontier."""
    insert_events = insert(_EVENTS).values(
        [{c.key: bindparam(f"e{i}_{c.key}", type_=c.type) for c in _EVENTS.columns} for i in range(n_events)]
    )
    insert_nodes = insert(_NODES).values(
        [{c.key: bindparam(f"n{i}_{c.key}", type_=c.type) for c in _NODES.columns} for i in range(n_nodes)]
    )
    move_head = update(_HEAD).where(_HEAD.c.id == bindparam("head_id")).values(
        frontier=bindparam("frontier", type_=_HEAD.c.frontier.type)
    )
    return insert_events, insert_nodes, move_head


@lru_cache(maxsize=64)
def _postgres_append_sql(dialect: Any, n_events: int, n_nodes: int) -> str:
    """The same three writes as one PostgreSQL statement (data-modifying CTEs): one round trip.

    Compiled once per shape here because SQLAlchemy does not cache DML inside CTEs, and this
    runs in every request; it is sent as driver SQL, so JSON goes in wrapped as psycopg Json.
    """
    insert_events, insert_nodes, move_head = _append_statements(n_events, n_nodes)
    statement = move_head.add_cte(insert_events.cte("new_events")).add_cte(insert_nodes.cte("new_nodes"))
    return statement.compile(dialect=dialect).string


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
