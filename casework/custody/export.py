"""The export format the offline verifier reads: one canonical JSON line per event."""
from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select

from casework.custody.canonical import canonical_json
from casework.custody.models import CustodyEvent, CustodyNode
from casework.db import db


def export_lines(batch: int = 5000) -> Iterator[bytes]:
    """Every event as an export line, in seq order, streamed in batches.

    The leaf hash comes from the tree (custody_nodes level 0), not from the event row, so a
    row edited in place, even with its own leaf_hash column recomputed, is named exactly.
    """
    statement = (
        select(CustodyEvent, CustodyNode.hash)
        .outerjoin(CustodyNode, (CustodyNode.level == 0) & (CustodyNode.index == CustodyEvent.seq))
        .order_by(CustodyEvent.seq)
        .execution_options(yield_per=batch)
    )
    for event, tree_leaf in db.session.execute(statement):
        yield canonical_json({"entry": event.entry(), "leaf_hash": (tree_leaf or b"").hex()}) + b"\n"
