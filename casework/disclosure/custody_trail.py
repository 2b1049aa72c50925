"""Every custody event of a resource, each with its RFC 9162 inclusion proof to one checkpoint.

Events are read in keyset batches (never a list of a resource's events) as Core rows, so the
session's identity map does not grow; the proofs of a batch are assembled from one read of
the stored perfect subtrees they share. Each proof is verified against the checkpoint root
before it is handed out: a bundle never carries a proof the verifier would reject.
"""
from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select

from casework.custody import merkle, proofs
from casework.custody.canonical import canonical_json
from casework.custody.leaf import leaf_hash as entry_leaf_hash
from casework.custody.models import CustodyEvent, leaf_entry
from casework.db import db
from casework.errors import LogCorrupted

_EVENTS: Table = CustodyEvent.__table__  # type: ignore[assignment]
_NODE_CHUNK = 400  # tuples per IN (...) query


def events_of(resource_type: str, resource_id: str, tree_size: int, batch: int = 200) -> Iterator[dict[str, Any]]:
    """Leaf entries of the resource's events with seq < tree_size, in seq order."""
    after = -1
    while True:
        rows = db.session.execute(
            select(_EVENTS).where(_EVENTS.c.resource_type == resource_type, _EVENTS.c.resource_id == resource_id,
                                  _EVENTS.c.seq > after, _EVENTS.c.seq < tree_size)
            .order_by(_EVENTS.c.seq).limit(batch)
        ).all()
        for row in rows:
            yield leaf_entry(row.seq, row.recorded_at, row)
        if len(rows) < batch:
            return
        after = rows[-1].seq


@dataclass(frozen=True)
class Origin:
    """The event that created an item, recorded against its parent (a transcript version's upload
    is recorded against the interview, naming the version in ``details[key]``)."""

    resource_type: str
    resource_id: str
    action: str
    key: str
    value: str | int

    def to_json(self) -> dict[str, Any]:
        return {"type": self.resource_type, "id": self.resource_id, "action": self.action,
                "detail": self.key, "value": self.value}


def _origin_events(origin: Origin, tree_size: int, batch: int = 200) -> Iterator[dict[str, Any]]:
    after = -1
    while True:
        rows = db.session.execute(
            select(_EVENTS).where(_EVENTS.c.resource_type == origin.resource_type,
                                  _EVENTS.c.resource_id == origin.resource_id, _EVENTS.c.action == origin.action,
                                  _EVENTS.c.seq > after, _EVENTS.c.seq < tree_size)
            .order_by(_EVENTS.c.seq).limit(batch)
        ).all()
        for row in rows:
            if (row.details or {}).get(origin.key) == origin.value:
                yield leaf_entry(row.seq, row.recorded_at, row)
        if len(rows) < batch:
            return
        after = rows[-1].seq


def trail(resource_type: str, resource_id: str, tree_size: int,
          origin: Origin | None = None) -> Iterator[dict[str, Any]]:
    """The resource's events, and its origin event if any, in seq order."""
    events = events_of(resource_type, resource_id, tree_size)
    if origin is None:
        return events
    return heapq.merge(events, _origin_events(origin, tree_size), key=lambda entry: int(entry["seq"]))


def _fetch(wanted: set[merkle.Node]) -> dict[merkle.Node, bytes]:
    found: dict[merkle.Node, bytes] = {}
    pending = sorted(wanted)
    for start in range(0, len(pending), _NODE_CHUNK):
        found.update(proofs.fetch_nodes(set(pending[start:start + _NODE_CHUNK])))
    return found


def proved_lines(entries: Iterator[dict[str, Any]], tree_size: int, root: bytes,
                 batch: int = 64) -> Iterator[tuple[dict[str, Any], bytes]]:
    """(entry, canonical JSON line) for each entry: ``{"entry", "leaf_hash", "proof"}`` + newline."""
    pending: list[dict[str, Any]] = []
    for entry in entries:
        pending.append(entry)
        if len(pending) >= batch:
            yield from _prove(pending, tree_size, root)
            pending = []
    if pending:
        yield from _prove(pending, tree_size, root)


def _prove(entries: list[dict[str, Any]], tree_size: int, root: bytes) -> Iterator[tuple[dict[str, Any], bytes]]:
    plans = [merkle.inclusion_plan(entry["seq"], tree_size) for entry in entries]
    found = _fetch({node for plan in plans for group in plan for node in group})
    for entry, plan in zip(entries, plans, strict=True):
        proof = [merkle.fold([found[node] for node in group]) for group in plan]
        leaf = entry_leaf_hash(entry)
        if not merkle.verify_inclusion(leaf, entry["seq"], tree_size, proof, root):
            raise LogCorrupted(f"custody event {entry['seq']} does not verify against the checkpoint "
                               f"of size {tree_size}; no bundle is served")
        line = canonical_json({"entry": entry, "leaf_hash": leaf.hex(), "proof": [p.hex() for p in proof]})
        yield entry, line + b"\n"
