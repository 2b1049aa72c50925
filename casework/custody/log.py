"""The custody log as stored: append under a lock, roots and proofs from stored perfect subtrees."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, tuple_

from casework.custody import merkle
from casework.custody.canonical import canonical_json
from casework.custody.models import CustodyEvent, CustodyHead, CustodyNode
from casework.db import db, utcnow

HEAD_ID = 1


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

    The lock is held until the caller commits, so the caller commits promptly.
    """
    events = list(events)
    if not events:
        return []
    head = db.session.execute(
        select(CustodyHead).where(CustodyHead.id == HEAD_ID).with_for_update()
    ).scalar_one()
    frontier = merkle.CompactRange.from_bytes(head.tree_size, head.frontier)
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
        nodes.extend({"level": lvl, "index": idx, "hash": h} for lvl, idx, h in frontier.append(row.leaf_hash))
        rows.append(row)
    db.session.add_all(rows)
    db.session.execute(insert(CustodyNode), nodes)
    head.tree_size = frontier.size
    head.frontier = frontier.to_bytes()
    db.session.flush()
    return rows


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
