"""The export format the offline verifier reads: one canonical JSON line per event."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select

from casework.custody.models import CustodyEvent, CustodyNode
from casework.db import db
from casework_verify import leaf
from casework_verify.canonical import canonical_json


def export_lines(batch: int = 5000) -> Iterator[bytes]:
    """Every event as an export line, in seq order, streamed in batches.

    Each line is ``{"entry": <leaf form v2 entry>, "leaf_hash": <hex>}``: the entry carries
    the event's values in clear with the salts of its identifying values (``leaf.make_entry``),
    so an auditor can recompute every commitment and the leaf hash (``leaf.leaf_hash``).
    The leaf hash comes from the tree (custody_nodes level 0), not from the event row, so a
    row edited in place, even with its own leaf_hash column recomputed, is named exactly.
    Columns, not ORM objects, on a server-side cursor: ten million events stream in constant
    memory, and building an object per row was most of the export's time.
    """
    columns = [getattr(CustodyEvent, name) for name in leaf.ENTRY_FIELDS]
    statement = (
        select(
            CustodyEvent.seq, CustodyEvent.recorded_at, CustodyEvent.salt, CustodyNode.hash.label("tree_leaf"), *columns
        )
        .outerjoin(CustodyNode, (CustodyNode.level == 0) & (CustodyNode.index == CustodyEvent.seq))
        .order_by(CustodyEvent.seq)
    )
    with db.session.connection().execution_options(yield_per=batch).execute(statement) as result:
        for row in result:  # a Row: the ENTRY_FIELDS columns are its attributes, as make_entry reads them
            entry = leaf.make_entry(row.seq, row.recorded_at, row, row.salt)
            yield canonical_json({"entry": entry, "leaf_hash": (row.tree_leaf or b"").hex()}) + b"\n"
