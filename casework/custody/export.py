"""The export format the offline verifier reads: one canonical JSON line per event."""
from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select

from casework.custody.canonical import canonical_json
from casework.custody.models import ENTRY_FIELDS, TIME_FORMAT, CustodyEvent, CustodyNode
from casework.db import db


def export_lines(batch: int = 5000) -> Iterator[bytes]:
    """Every event as an export line, in seq order, streamed in batches.

    The leaf hash comes from the tree (custody_nodes level 0), not from the event row, so a
    row edited in place, even with its own leaf_hash column recomputed, is named exactly.
    Columns, not ORM objects, on a server-side cursor: ten million events stream in constant
    memory, and building an object per row was most of the export's time.
    """
    columns = [getattr(CustodyEvent, name) for name in ENTRY_FIELDS]
    statement = (
        select(CustodyEvent.seq, CustodyEvent.recorded_at, CustodyNode.hash, *columns)
        .outerjoin(CustodyNode, (CustodyNode.level == 0) & (CustodyNode.index == CustodyEvent.seq))
        .order_by(CustodyEvent.seq)
    )
    names = ENTRY_FIELDS
    with db.session.connection().execution_options(yield_per=batch).execute(statement) as result:
        for seq, recorded_at, tree_leaf, *values in result:
            entry = dict(zip(names, values, strict=True))
            entry["seq"] = seq
            entry["time"] = recorded_at.strftime(TIME_FORMAT)
            yield canonical_json({"entry": entry, "leaf_hash": (tree_leaf or b"").hex()}) + b"\n"
