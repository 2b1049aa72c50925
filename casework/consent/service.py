"""Consent: versioned records; a withdrawal crypto-shreds the witness's identity and statements.

Above witnesses, interviews and transcripts, because erasure reaches everything a witness said.
The shredding that counts happens in the keyring provider: the witness's subject key is
destroyed there, so no copy of the database (a backup restored from before the withdrawal
included) opens anything of theirs again. The wrapped keys in the rows are removed as well, so
the database itself shows what was shredded.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, func, select, update

from casework.access.door import load_authorized
from casework.db import db, utcnow
from casework.errors import Conflict, Invalid
from casework.exhibits.service import shred_witness_exhibits
from casework.interviews.models import Interview
from casework.keys import destroy_subject_key, shred
from casework.redactions.models import Redaction
from casework.transcripts.models import TranscriptVersion
from casework.witnesses.locks import lock_witness
from casework.witnesses.models import ConsentRecord, Witness


def record_consent(witness_id: int, data: dict[str, Any]) -> ConsentRecord:
    access = load_authorized(Witness, witness_id, "witness.consent.record")
    witness = lock_witness(access.obj.id)  # first, and re-read: see casework.witnesses.locks
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


def _drop_wrapped_keys(model: Any, column: Any, witness_id: int) -> int:
    result: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
        update(model).where(model.witness_id == witness_id, column.is_not(None)).values({column: None})
    )
    return int(result.rowcount)


def crypto_shred(witness: Witness) -> dict[str, Any]:
    """Destroy the witness's key in the keyring provider, and the wrapped data keys in their rows.

    Identity, statements and free text about the witness become unrecoverable; metadata and
    the log remain (with keyed hashes nobody can recompute any more).
    """
    subject_key = destroy_subject_key(witness.key_subject())
    identity = shred(witness, "identity_")
    shred(witness, "hashkey_")
    transcripts = _drop_wrapped_keys(TranscriptVersion, TranscriptVersion.content_wrapped_key, witness.id)
    free_text = (_drop_wrapped_keys(TranscriptVersion, TranscriptVersion.freetext_wrapped_key, witness.id)
                 + _drop_wrapped_keys(Interview, Interview.freetext_wrapped_key, witness.id))
    redactions = (_drop_wrapped_keys(Redaction, Redaction.content_wrapped_key, witness.id)
                  + _drop_wrapped_keys(Redaction, Redaction.segments_wrapped_key, witness.id))
    exhibits = shred_witness_exhibits(witness.id)  # data keys dropped, chunks deleted from the blob stores
    witness.shredded_at = utcnow()
    return {"identity": int(identity), "transcript_versions": transcripts, "free_text": free_text,
            "redactions": redactions, "subject_key": subject_key, **exhibits}
