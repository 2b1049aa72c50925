"""Signed receipts: what the server stored, and where the event that stored it sits in the log.

The signed form (``ReceiptKind``: a domain per kind + canonical JSON) lives in
``casework_verify.receipts``, shared with every client that checks one. Verify with the key
from GET /custody/public-key.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from casework.custody import log, proofs, publication
from casework.custody.log import NewEvent
from casework.custody.models import TIME_FORMAT, CustodyEvent
from casework.custody.signer import LogSigner
from casework.db import db
from casework.settings import settings


def merge_delay_ms() -> int:
    """What a receipt promises: the configured merge delay, in whole milliseconds."""
    return round(settings().custody.merge_delay * 1000)


def promise(logged: NewEvent | None, stored_at: datetime, merge_delay_ms: int) -> dict[str, Any]:
    """The receipt's promise (as Certificate Transparency's SCT): this leaf, recorded at this
    time, will be in the tree within the merge delay. Its seq and inclusion proof come later
    (``locate``). None only with the benchmark-only switch."""
    return {
        "received_at": (logged.recorded_at if logged and logged.recorded_at else stored_at).strftime(TIME_FORMAT),
        "leaf_hash": logged.leaf_hash.hex() if logged and logged.leaf_hash else None,
        "merge_delay_ms": merge_delay_ms,
    }


@dataclass(frozen=True)
class Located:
    """Where a promised leaf is now: its seq, and the published checkpoint that covers it (if any)."""

    seq: int | None
    checkpoint_size: int | None
    checkpoint: str | None
    inclusion_proof: list[str]

    def as_dict(self) -> dict[str, Any]:
        if self.seq is None:
            return {"status": "promised"}
        if self.checkpoint is None:
            return {"status": "integrated", "seq": self.seq}
        return {
            "status": "published",
            "seq": self.seq,
            "tree_size": self.checkpoint_size,
            "checkpoint": self.checkpoint,
            "inclusion_proof": self.inclusion_proof,
        }


def locate(receipt: dict[str, Any], resource_type: str, resource_id: str, signer: LogSigner) -> Located:
    """Find the receipt's leaf among the events of its resource, with an inclusion proof to the
    latest published checkpoint once one covers it."""
    if not receipt.get("leaf_hash"):
        return Located(None, None, None, [])
    log.integrate_committed()
    seq = db.session.scalar(
        select(CustodyEvent.seq).where(
            CustodyEvent.resource_type == resource_type,
            CustodyEvent.resource_id == resource_id,
            CustodyEvent.leaf_hash == bytes.fromhex(receipt["leaf_hash"]),
        )
    )
    if seq is None:
        return Located(None, None, None, [])
    published = publication.served(signer)
    if published is None or seq >= published.size:
        return Located(seq, None, None, [])
    proof = proofs.inclusion_proof(seq, published.size)
    return Located(seq, published.size, published.note, [base64.b64encode(node).decode() for node in proof])
