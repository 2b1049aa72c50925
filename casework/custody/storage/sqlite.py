"""SQLite: the embedded default. One writer at a time, no roles: the triggers keep the custody
tables append-only against the app's own code, and the signer, which recomputes every leaf
and node it signs, catches whoever rewrites the file underneath."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select, update

from casework.custody.models import (
    CustodyCheckpoint,
    CustodyCosignature,
    CustodyEvent,
    CustodyHead,
    CustodyIntake,
    CustodyNode,
)
from casework.db import utcnow
from casework.errors import LogCorrupted
from casework_verify import merkle

HEAD_ID = 1
_EVENTS: Table = CustodyEvent.__table__  # type: ignore[assignment]
_NODES: Table = CustodyNode.__table__  # type: ignore[assignment]
_HEAD: Table = CustodyHead.__table__  # type: ignore[assignment]
_INTAKE: Table = CustodyIntake.__table__  # type: ignore[assignment]
_CHECKPOINTS: Table = CustodyCheckpoint.__table__  # type: ignore[assignment]
_COSIGNATURES: Table = CustodyCosignature.__table__  # type: ignore[assignment]


def record(connection: Connection, rows: list[dict[str, Any]]) -> list[int]:
    statement = insert(_INTAKE).values(rows).returning(_INTAKE.c.id)
    return sorted(row_id for (row_id,) in connection.execute(statement))


def integrate(connection: Connection, *, limit: int) -> dict[int, int]:
    """The oldest intake rows into the tree, in the caller's (serial) transaction: intake id -> seq."""
    head = connection.execute(select(_HEAD.c.tree_size, _HEAD.c.frontier).where(_HEAD.c.id == HEAD_ID)).one_or_none()
    if head is None:
        raise LogCorrupted("the custody log has no head row")
    rows = connection.execute(select(_INTAKE).order_by(_INTAKE.c.id).limit(limit)).all()
    if not rows:
        return {}
    frontier = merkle.CompactRange.from_bytes(head.tree_size, head.frontier)
    seqs: dict[int, int] = {}
    nodes: list[tuple[int, int, bytes]] = []
    for row in rows:
        seqs[row.id] = frontier.size
        nodes.extend(frontier.append(row.leaf_hash))
    columns = [c.name for c in _INTAKE.columns if c.name != "id"]
    connection.execute(
        insert(_EVENTS), [{"seq": seqs[row.id], **{name: getattr(row, name) for name in columns}} for row in rows]
    )
    connection.execute(insert(_NODES), [{"level": level, "idx": index, "hash": value} for level, index, value in nodes])
    gone = connection.execute(delete(_INTAKE).where(_INTAKE.c.id.in_(list(seqs))))
    moved = connection.execute(
        update(_HEAD)
        .where(_HEAD.c.id == HEAD_ID, _HEAD.c.tree_size == head.tree_size)
        .values(tree_size=frontier.size, frontier=frontier.to_bytes())
    )
    if gone.rowcount != len(seqs) or moved.rowcount != 1:
        raise LogCorrupted("custody intake rows changed under the integrator")
    return seqs


def store_checkpoint(connection: Connection, size: int, root: bytes, note: str) -> bool:
    """The same rules as PostgreSQL's ``custody_store_checkpoint``."""
    stored = connection.execute(select(_CHECKPOINTS.c.root_hash).where(_CHECKPOINTS.c.tree_size == size)).first()
    if stored is not None:
        if stored.root_hash != root:
            raise LogCorrupted(f"the stored checkpoint of size {size} has another root")
        return False
    connection.execute(insert(_CHECKPOINTS).values(tree_size=size, root_hash=root, note=note, created_at=utcnow()))
    return True


def store_cosignatures(connection: Connection, size: int, lines: Sequence[tuple[str, str]]) -> None:
    for witness, line in lines:
        have = connection.execute(
            select(_COSIGNATURES.c.id).where(_COSIGNATURES.c.tree_size == size, _COSIGNATURES.c.witness == witness)
        ).first()
        if have is None:
            connection.execute(
                insert(_COSIGNATURES).values(tree_size=size, witness=witness, line=line, received_at=utcnow())
            )
