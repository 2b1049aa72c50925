"""Destroying what exhibits stored: abandoned uploads expired, a withdrawn witness's exhibits shredded.

The rows stay (with their custody trail); their chunks leave the blob stores and their data
keys the rows, so nothing received can be read again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update

from casework import blobs
from casework.access.door import system_access
from casework.db import db, utcnow
from casework.exhibits.models import EXPIRED, UPLOADING, Exhibit


def destroy(exhibits: Iterable[Exhibit]) -> int:
    """Delete the chunk records of ``exhibits`` from their stores; how many chunks went."""
    return sum(blobs.store(exhibit.blob_store).delete(exhibit.blob_key) for exhibit in exhibits)


def expire_uploads(now: datetime | None = None) -> int:
    """Abandoned uploads past their expiry: chunks deleted, data key dropped, status expired, logged."""
    now = now or utcnow()
    stale = db.session.scalars(
        select(Exhibit).where(Exhibit.status == UPLOADING, Exhibit.expires_at <= now).order_by(Exhibit.id)
    ).all()
    for exhibit in stale:
        chunks = destroy([exhibit])
        exhibit.status = EXPIRED
        exhibit.sealed_datakey.shred()
        system_access(
            "exhibit.expire",
            exhibit.custody_target(),
            received=exhibit.received,
            size=exhibit.size,
            chunks_deleted=chunks,
        )
    return len(stale)


def shred_witness_exhibits(witness_id: int) -> dict[str, int]:
    """Crypto-shred: drop the data keys of the witness's exhibits and delete their chunks from the stores.

    The data keys are wrapped under the witness's subject key, destroyed by the caller in the
    keyring provider; this removes the rows' wrapped keys and the ciphertext as well.
    """
    exhibits = db.session.scalars(select(Exhibit).where(Exhibit.witness_id == witness_id)).all()
    chunks = destroy(exhibits)
    keys = db.session.execute(
        update(Exhibit)
        .where(Exhibit.witness_id == witness_id, Exhibit.sealed_datakey.wrapped_key.is_not(None))
        .values({Exhibit.sealed_datakey.wrapped_key: None, Exhibit.sealed_freetext.wrapped_key: None})
    )
    return {"exhibits": int(keys.rowcount), "exhibit_chunks": chunks}  # type: ignore[attr-defined]
