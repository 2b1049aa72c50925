from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from casework.db import Model, utcnow
from casework_verify.leaf import ENTRY_FIELDS, TIME_FORMAT, make_entry, path_salt, present_paths
from casework_verify.leaf import VERSION as LEAF_VERSION

__all__ = ["ENTRY_FIELDS", "TIME_FORMAT", "leaf_entry"]

# SQLite only auto-increments INTEGER; PostgreSQL needs 64 bits for a long-lived log.
BigInt = BigInteger().with_variant(Integer(), "sqlite")


def leaf_entry(seq: int | None, recorded_at: datetime, event: Any) -> dict[str, Any]:
    """The auditor's entry of a stored event: leaf form v2 (values and their salts), or v1 for an
    event recorded before SPEC v3 (no salt; its leaf hashes it as it is, seq included)."""
    if not event.salt:
        return {
            **{name: getattr(event, name) for name in ENTRY_FIELDS},
            "seq": seq,
            "time": recorded_at.strftime(TIME_FORMAT),
        }
    return make_entry(seq, recorded_at, event, event.salt)


class EventFields:
    """What an event holds besides its place: the same columns in intake and in the log."""

    recorded_at: Mapped[datetime]
    actor_id: Mapped[int | None]
    actor_username: Mapped[str | None] = mapped_column(String(64))
    actor_role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(8))
    resource_type: Mapped[str | None] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[int | None]
    witness_id: Mapped[int | None]
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Leaf form v2: the event's own random salt (identifying values are committed under salts
    # derived from it) and the leaf hash, known at intake since the leaf holds no seq.
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class CustodyEvent(EventFields, Model):
    """One leaf of the custody Merkle tree. Rows are never updated or deleted."""

    __tablename__ = "custody_events"
    __table_args__ = (
        Index("ix_custody_events_resource", "resource_type", "resource_id", "seq"),
        Index("ix_custody_events_case", "case_id", "seq"),
        Index("ix_custody_events_witness", "witness_id", "seq"),
        Index("ix_custody_events_actor", "actor_id", "seq"),
        Index("ix_custody_events_action", "action", "seq"),
        # 0011: flat auditor queries at 10M events (see that migration).
        Index("ix_custody_events_witness_action", "witness_id", "action", "seq"),
        Index("ix_custody_events_actor_username", "actor_username", "seq"),
        Index("ix_custody_events_outcome", "outcome", "seq"),
        Index("ix_custody_events_time", "recorded_at", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)

    def entry(self) -> dict[str, Any]:
        return leaf_entry(self.seq, self.recorded_at, self)

    @property
    def leaf_version(self) -> int:
        return LEAF_VERSION if self.salt else 1

    @property
    def salts(self) -> dict[str, str] | None:
        """The salt of each identifying value (auditors check the leaf's commitments with them)."""
        if not self.salt:
            return None
        return {path: path_salt(self.salt, path).hex() for path in present_paths(self.entry())}

    @property
    def time(self) -> str:
        """The event time exactly as hashed into the leaf."""
        return self.recorded_at.strftime(TIME_FORMAT)


class CustodyNode(Model):
    """Hash of a perfect subtree (level k covers leaves [index*2^k, (index+1)*2^k)).

    Storing these lets any root or proof be assembled from O(log n) rows. On PostgreSQL the
    primary key carries the hash (migration 0012), so a proof reads index pages only.
    """

    __tablename__ = "custody_nodes"
    __table_args__ = (PrimaryKeyConstraint("level", "idx", postgresql_include=["hash"]),)

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column("idx", BigInt, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class CustodyHead(Model):
    """Single row: the tree size and its right frontier. Locked to serialise appends."""

    __tablename__ = "custody_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    tree_size: Mapped[int] = mapped_column(BigInt, default=0)
    frontier: Mapped[bytes] = mapped_column(LargeBinary, default=b"")


class CustodyCheckpoint(Model):
    """Every checkpoint the log has published (signed). The signer's own state, outside the
    database, is what a new one is proven consistent with; these rows are what is served."""

    __tablename__ = "custody_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInt, unique=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustodyCosignature(Model):
    """A witness's cosignature (C2SP tlog-cosignature line) on a published checkpoint."""

    __tablename__ = "custody_cosignatures"
    __table_args__ = (UniqueConstraint("tree_size", "witness", name="uq_custody_cosignatures_size_witness"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInt, index=True)
    witness: Mapped[str] = mapped_column(String(255))
    line: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustodyIntake(EventFields, Model):
    """Events recorded (durable) but not yet given their place in the tree.

    A request inserts its events here in its own transaction and commits without any shared
    lock, so concurrent commits share PostgreSQL's WAL flush. The integrator
    (``casework.custody.log.integrate``) moves them, in id order, into ``custody_events`` under the
    head lock and deletes them here in the same statement. Rows are never updated.
    """

    __tablename__ = "custody_intake"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
