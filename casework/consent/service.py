"""Consent: versioned records; a withdrawal suspends the witness's records and opens an erasure.

Above witnesses, interviews and transcripts, because erasure reaches everything a witness said.

No single person destroys evidence. A withdrawal (a consent version with ``withdrawn_at``)
opens a pending erasure in the same transaction: from its commit on, nothing of the witness
decrypts for anyone (``casework.witnesses.suspension``) and reads answer 410 as shredded records
do. The key is destroyed only when a second person, a lawyer of the case, confirms the erasure
(``casework.erasures.service.confirm``); a lawyer may instead reject it as recorded in error
(``restore_consent``). While an erasure is pending, no other consent version can be recorded:
only a rejection restores access, so one person cannot undo a withdrawal either.

The shredding that counts happens in the keyring provider: the witness's subject key is
destroyed there (``destroy_witness_key``), so no copy of the database (a backup restored from
before the withdrawal included) opens anything of theirs again. The wrapped keys in the rows
are removed as well (``shred_rows``), so the database itself shows what was shredded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, func, select, update

from casework.access.door import load_authorized
from casework.db import db, utcnow
from casework.errors import Conflict, Invalid
from casework.exhibits.disposal import shred_witness_exhibits
from casework.interviews.models import Interview
from casework.keys import SealedField, destroy_subject_key, witness_subject
from casework.redactions.models import Redaction
from casework.transcripts.models import TranscriptVersion
from casework.witnesses import suspension
from casework.witnesses.erasure_models import Erasure
from casework.witnesses.locks import lock_witness
from casework.witnesses.models import ConsentRecord, Witness

NO_SCOPES = {
    "record": False,
    "share_with_prosecutors": False,
    "share_with_un_bodies": False,
    "disclose_identity": False,
}


def record_consent(witness_id: int, data: dict[str, Any]) -> ConsentRecord:
    access = load_authorized(Witness, witness_id, "witness.consent.record")
    witness = lock_witness(access.obj.id)  # first, and re-read: see casework.witnesses.locks
    if witness.shredded_at is not None:
        raise Conflict(
            "Consent was withdrawn and the records shredded; that cannot be undone.", problem="consent-withdrawn"
        )
    if suspension.suspended(witness.id, fresh=True):
        raise Conflict(
            "Consent was withdrawn and the erasure is pending: a lawyer of the case confirms it, "
            "or rejects it as recorded in error (which restores the consent in force before).",
            problem="erasure-pending",
        )
    if data.get("withdrawn_at") and data["withdrawn_at"] < data["given_at"]:
        raise Invalid("withdrawn_at is before given_at.", errors={"json": {"withdrawn_at": ["Too early."]}})
    record = _new_version(
        witness, access.user_id, scopes=data["scopes"], given_at=data["given_at"], withdrawn_at=data.get("withdrawn_at")
    )
    access.note(consent_version=record.version, scopes=data["scopes"], withdrawn=bool(data.get("withdrawn_at")))
    if data.get("withdrawn_at"):
        erasure = suspension.open_erasure(
            witness.id, witness.case_id, requested_by_id=access.user_id, consent_version=record.version
        )
        access.note(erasure_id=erasure.id, erasure_deadline=erasure.deadline.isoformat(timespec="seconds"))
    return record


def _new_version(
    witness: Witness, user_id: int, *, scopes: dict[str, Any], given_at: datetime | None, withdrawn_at: datetime | None
) -> ConsentRecord:
    version = (
        db.session.scalar(select(func.max(ConsentRecord.version)).where(ConsentRecord.witness_id == witness.id)) or 0
    ) + 1
    record = ConsentRecord(
        witness_id=witness.id,
        version=version,
        recorded_by_id=user_id,
        scopes=scopes,
        given_at=given_at,
        withdrawn_at=withdrawn_at,
    )
    db.session.add(record)
    db.session.flush()
    return record


def restore_consent(witness: Witness, withdrawal_version: int | None, user_id: int) -> ConsentRecord:
    """A rejected withdrawal: a new version restating the consent in force before it.

    The withdrawal stays in the history as it was recorded; the new version (recorded by the
    rejecting lawyer) copies the scopes and ``given_at`` of the latest version before the
    withdrawal, so a rejection never grants more than was in force. With no earlier version,
    the new one grants no scope at all (reads are allowed again; disclosures still need consent).
    """
    previous = None
    if withdrawal_version is not None:
        previous = db.session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.witness_id == witness.id, ConsentRecord.version < withdrawal_version)
            .order_by(ConsentRecord.version.desc())
            .limit(1)
        ).first()
    scopes = dict(previous.scopes) if previous is not None else dict(NO_SCOPES)
    return _new_version(
        witness, user_id, scopes=scopes, given_at=previous.given_at if previous else None, withdrawn_at=None
    )


def _drop_wrapped_keys(field: SealedField, witness_id: int) -> int:
    """Shred ``field`` in every row of the witness, in one statement."""
    model, column = field.model, field.wrapped_key
    result: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
        update(model).where(model.witness_id == witness_id, column.is_not(None)).values({column: None})
    )
    return int(result.rowcount)


def shred_rows(witness: Witness) -> dict[str, Any]:
    """Drop the wrapped data keys of everything the witness's rows hold, in this transaction.

    Identity, statements and free text about the witness become unrecoverable from this
    database; metadata and the log remain (with keyed hashes nobody can recompute any more).
    The witness's key in the provider is destroyed by ``destroy_witness_key``, once this is
    committed with its custody event.
    """
    identity = witness.sealed_identity.shred()
    witness.sealed_hashkey.shred()
    transcripts = _drop_wrapped_keys(TranscriptVersion.sealed_content, witness.id)
    free_text = (
        _drop_wrapped_keys(TranscriptVersion.sealed_freetext, witness.id)
        + _drop_wrapped_keys(Interview.sealed_freetext, witness.id)
        + _drop_wrapped_keys(Erasure.sealed_reason, witness.id)
    )
    redactions = _drop_wrapped_keys(Redaction.sealed_content, witness.id) + _drop_wrapped_keys(
        Redaction.sealed_segments, witness.id
    )
    exhibits = shred_witness_exhibits(witness.id)  # data keys dropped, chunks deleted from the blob stores
    witness.shredded_at = utcnow()
    return {
        "identity": int(identity),
        "transcript_versions": transcripts,
        "free_text": free_text,
        "redactions": redactions,
        **exhibits,
    }


def destroy_witness_key(witness_id: int) -> bool:
    """Crypto-shred in the keyring provider: nothing wrapped under the witness's key opens again,
    from any copy of the database. True if the key was there."""
    return destroy_subject_key(witness_subject(witness_id))
