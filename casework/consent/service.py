"""Consent: versioned records; a withdrawal crypto-shreds the witness's identity and statements.

Above witnesses and transcripts, because erasure reaches everything a witness said.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, func, select, update

from casework.access.door import load_authorized
from casework.db import db, utcnow
from casework.errors import Conflict, Invalid
from casework.keys import shred
from casework.transcripts.models import TranscriptVersion
from casework.witnesses.models import ConsentRecord, Witness


def record_consent(witness_id: int, data: dict[str, Any]) -> ConsentRecord:
    access = load_authorized(Witness, witness_id, "witness.consent.record")
    witness = access.obj
    if witness.shredded_at is not None:
        raise Conflict("Consent was withdrawn and the records shredded; that cannot be undone.",
                       problem="consent-withdrawn")
    if data.get("withdrawn_at") and data["withdrawn_at"] < data["given_at"]:
        raise Invalid("withdrawn_at is before given_at.", errors={"json": {"withdrawn_at": ["Too early."]}})
    version = (db.session.scalar(select(func.max(ConsentRecord.version))
                                 .where(ConsentRecord.witness_id == witness.id)) or 0) + 1
    record = ConsentRecord(witness_id=witness.id, version=version, recorded_by_id=access.user_id, **data)
    db.session.add(record)
    db.session.flush()
    access.note(consent_version=version, scopes=data["scopes"], withdrawn=bool(data.get("withdrawn_at")))
    if data.get("withdrawn_at"):
        access.note(shredded=crypto_shred(witness))
    return record


def crypto_shred(witness: Witness) -> dict[str, int]:
    """Destroy the data keys of the witness's identity and statements; metadata and log remain."""
    identity = shred(witness, "identity_")
    result: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
        update(TranscriptVersion)
        .where(TranscriptVersion.witness_id == witness.id, TranscriptVersion.content_wrapped_key.is_not(None))
        .values(content_wrapped_key=None)
    )
    transcripts = result.rowcount
    witness.shredded_at = utcnow()
    return {"identity": int(identity), "transcript_versions": transcripts}
