"""The custody log as stored: append under a lock, roots and proofs from stored perfect subtrees."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from psycopg.types.json import Json
from sqlalchemy import bindparam, insert, select, tuple_, update

from casework.custody import merkle
from casework.custody.canonical import canonical_json
from casework.custody.models import CustodyEvent, CustodyHead, CustodyNode
from casework.db import db, utcnow

HEAD_ID = 1
_EVENTS, _NODES, _HEAD = CustodyEvent.__table__, CustodyNode.__table__, CustodyHead.__table__
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


def append(events: Iterable[NewEvent]) -> list[CustodyEvent]:
    """Append events in the current transaction; the head row lock makes seq gap-free.

    This runs in every request, so it is two round trips on PostgreSQL: one UPDATE that
    locks the head, reserves the seqs and returns the frontier; one statement that inserts
    the events and tree nodes and stores the new frontier. The lock is held until the
    caller commits, so the caller commits promptly. Returned rows are detached records.
    """
    events = list(events)
    if not events:
        return []
    connection = db.session.connection()  # Core, not the ORM session: this is the hot path
    head = connection.execute(_RESERVE, {"head_id": HEAD_ID, "count": len(events)}).one()
    frontier = merkle.CompactRange.from_bytes(head.tree_size - len(events), head.frontier)
    now = utcnow()
    rows: list[CustodyEvent] = []
    nodes: list[dict[str, Any]] = []
    for event in events:
        row = CustodyEvent(
            seq=frontier.size,
            recorded_at=now,
            actor_id=event.actor_id,
            actor_username=event.actor_username,
            actor_role=event.actor_role,
            action=event.action,
            outcome=event.outcome,
            resource_type=event.resource_type,
            resource_id=event.resource_id,
            case_id=event.case_id,
            witness_id=event.witness_id,
            request_id=event.request_id,
            client_addr=event.client_addr,
            details=event.details or {},
        )
        row.leaf_hash = merkle.leaf_hash(canonical_json(row.entry()))
        nodes.extend({"level": lvl, "idx": idx, "hash": h} for lvl, idx, h in frontier.append(row.leaf_hash))
        rows.append(row)
    params: dict[str, Any] = {"frontier": frontier.to_bytes(), "head_id": HEAD_ID}
    for i, row in enumerate(rows):
        params.update({f"e{i}_{c.key}": getattr(row, c.key) for c in _EVENTS.columns})
    for i, node in enumerate(nodes):
        params.update({f"n{i}_{key}": value for key, value in node.items()})
    dialect = connection.dialect
    if dialect.name == "postgresql":
        params.update({f"e{i}_details": Json(row.details) for i, row in enumerate(rows)})
        connection.exec_driver_sql(_postgres_append_sql(dialect, len(rows), len(nodes)), params)
    else:
        for statement in _append_statements(len(rows), len(nodes)):
            connection.execute(statement, params)
    return rows


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


class LogCorrupted(RuntimeError):
    """The stored tree does not hold what the log needs; never sign or prove from it."""
