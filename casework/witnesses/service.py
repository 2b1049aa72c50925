"""Witnesses: pseudonymous records; the identity behind a pseudonym is protected separately.

Reading the identity is its own action (``witness.identity.read``), asked for explicitly
with ``include=identity``, so every disclosure of who a witness is stands in the log.
Withdrawing consent crypto-shreds the identity and every statement of the witness.
"""
from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask_login import current_user
from sqlalchemy import func, select, update

from casework.auth.policy import authorize, load_authorized, load_with_event
from casework.cases.models import Case
from casework.db import db, utcnow
from casework.errors import ProblemError
from casework.keys import open_from, seal_into, shred
from casework.pagination import Page, keyset_page
from casework.transcripts.models import TranscriptVersion
from casework.witnesses.models import ConsentRecord, Witness


def _next_pseudonym(case_id: int) -> str:
    """W-0001, W-0002, ... per case; the counter row lock keeps concurrent creations apart."""
    number = db.session.execute(
        update(Case).where(Case.id == case_id).values(witness_counter=Case.witness_counter + 1)
        .returning(Case.witness_counter)
    ).scalar_one()
    return f"W-{number:04d}"


def _seal_identity(witness: Witness, identity: dict[str, Any]) -> None:
    if witness.shredded_at is not None:
        raise ProblemError(409, "The witness withdrew consent; their identity cannot be recorded again.",
                           problem="consent-withdrawn")
    plain = {**identity, "date_of_birth": identity["date_of_birth"].isoformat() if identity.get("date_of_birth") else None}
    seal_into(witness, "identity_", json.dumps(plain, sort_keys=True).encode(), witness.identity_context())


def create_witness(case_id: int, data: dict[str, Any]) -> Witness:
    case, event = load_with_event(Case, case_id, "witness.create")
    identity = data.pop("identity", None)
    witness = Witness(case_id=case.id, pseudonym=_next_pseudonym(case.id), recorded_by_id=current_user.id, **data)
    db.session.add(witness)
    db.session.flush()
    if identity:
        _seal_identity(witness, identity)
    event.resource_type, event.resource_id, event.witness_id = "witness", str(witness.id), witness.id
    event.details["identity_recorded"] = bool(identity)
    return witness


def list_witnesses(case_id: int, args: dict[str, Any]) -> Page:
    case = load_authorized(Case, case_id, "witness.list")
    return keyset_page(select(Witness).where(Witness.case_id == case.id), Witness.id, args)


def get_witness(witness_id: int, *, include_identity: bool = False) -> dict[str, Any]:
    witness = load_authorized(Witness, witness_id, "witness.read")
    result: dict[str, Any] = {"witness": witness, "identity": None}
    if include_identity:
        authorize("witness.identity.read", witness.custody_target())
        if witness.identity_ciphertext is not None:
            identity = json.loads(open_from(witness, "identity_", witness.identity_context()))
            if identity.get("date_of_birth"):
                identity["date_of_birth"] = date.fromisoformat(identity["date_of_birth"])
            result["identity"] = identity
    return result


def update_witness(witness_id: int, changes: dict[str, Any]) -> Witness:
    witness, event = load_with_event(Witness, witness_id, "witness.update")
    identity = changes.pop("identity", None)
    if identity is not None:
        authorize("witness.identity.update", witness.custody_target())
        _seal_identity(witness, identity)
    for name, value in changes.items():
        setattr(witness, name, value)
    event.details["changed"] = sorted(changes) + (["identity"] if identity is not None else [])
    return witness


def record_consent(witness_id: int, data: dict[str, Any]) -> ConsentRecord:
    witness, event = load_with_event(Witness, witness_id, "witness.consent.record")
    if witness.shredded_at is not None:
        raise ProblemError(409, "Consent was withdrawn and the records shredded; that cannot be undone.",
                           problem="consent-withdrawn")
    if data.get("withdrawn_at") and data["withdrawn_at"] < data["given_at"]:
        raise ProblemError(422, "withdrawn_at is before given_at.", errors={"json": {"withdrawn_at": ["Too early."]}})
    version = (db.session.scalar(select(func.max(ConsentRecord.version)).where(ConsentRecord.witness_id == witness.id))
               or 0) + 1
    record = ConsentRecord(witness_id=witness.id, version=version, recorded_by_id=current_user.id, **data)
    db.session.add(record)
    db.session.flush()
    event.details.update(consent_version=version, scopes=data["scopes"], withdrawn=bool(data.get("withdrawn_at")))
    if data.get("withdrawn_at"):
        event.details["shredded"] = crypto_shred(witness)
    return record


def crypto_shred(witness: Witness) -> dict[str, int]:
    """Destroy the data keys of the witness's identity and statements; metadata and log remain."""
    identity = shred(witness, "identity_")
    transcripts = db.session.execute(
        update(TranscriptVersion)
        .where(TranscriptVersion.witness_id == witness.id, TranscriptVersion.content_wrapped_key.is_not(None))
        .values(content_wrapped_key=None)
    ).rowcount
    witness.shredded_at = utcnow()
    return {"identity": int(identity), "transcript_versions": transcripts}
