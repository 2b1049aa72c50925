"""tus upload sessions: creation, status, termination, discovery (the PATCH that appends: ``chunks``).

Each request here makes one access decision through the door, at its start.

An upload (tus creation) makes an ``Exhibit`` row in status *uploading* with a fresh data key
sealed under the witness's key (interview exhibits) or the KEK (incident exhibits). Abandoned
uploads past their expiry are destroyed by the operator (``disposal.expire_uploads``).

Termination (tus ``termination``): whoever may write an upload may cancel it while it is
unfinished; its chunks are deleted and its data key and free text dropped, the row stays (status
terminated, with the custody trail) and answers 410 from then on. A complete exhibit is evidence
and immutable: it is never deleted this way.

Limits: an upload reserves its Upload-Length of the case's quota only while it can still be
completed (not past its expiry), and one person holds at most
``CASEWORK_EXHIBIT_UPLOADS_IN_PROGRESS`` uploads in progress at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select

from casework.access.door import Access, authorize, load_authorized
from casework.access.targets import Target
from casework.cases.models import Case
from casework.cases.service import lock_account
from casework.crypto.stream import new_data_key
from casework.custody.models import TIME_FORMAT
from casework.db import db, utcnow
from casework.errors import Conflict, Gone, Invalid, TooLarge
from casework.exhibits import media_types, sealed
from casework.exhibits.disposal import destroy
from casework.exhibits.models import COMPLETE, EXPIRED, KINDS, TERMINATED, UPLOADING, Exhibit
from casework.exhibits.types import NewUpload
from casework.incidents.models import Incident
from casework.interviews.models import Interview
from casework.settings import settings
from casework.witnesses.models import Witness


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    case_quota: int
    expiry: timedelta
    chunk_size: int
    store: str
    uploads_in_progress: int


def limits() -> Limits:
    exhibits = settings().exhibits
    return Limits(
        exhibits.max_bytes,
        exhibits.case_quota_bytes,
        exhibits.upload_expiry,
        exhibits.chunk_bytes,
        settings().blobs.store,
        exhibits.uploads_in_progress,
    )


# -- creation ----------------------------------------------------------------------------------


def _in_progress(now: datetime) -> ColumnElement[bool]:
    """Uploads that still hold their place: started, not complete, not yet past their expiry."""
    return (Exhibit.status == UPLOADING) & (Exhibit.expires_at > now)


def _check_metadata(data: NewUpload, lim: Limits) -> None:
    """The upload's own limits: a known kind, a registered media type claimed, a size allowed."""
    if data.kind not in KINDS:
        raise Invalid("Unknown exhibit kind.", errors={"metadata": {"kind": [f"One of {', '.join(KINDS)}."]}})
    if data.media_type_claim is not None and data.media_type_claim not in media_types.REGISTER:
        raise Invalid(
            "filetype must be a registered media type.",
            errors={"metadata": {"filetype": ["Not a registered media type."]}},
        )
    if data.length > lim.max_bytes:
        raise TooLarge(f"Exhibits are limited to {lim.max_bytes} bytes.", problem="exhibit-too-large")


def _check_room(data: NewUpload, case_id: int, uploader_id: int, lim: Limits) -> None:
    """The uploader's uploads in progress, then the case's quota.

    An upload past its expiry counts for neither from that moment (the operator's ``flask
    exhibits expire`` deletes its chunks later; it can never be resumed). The uploader's row is
    locked before the case row (the accounts-then-cases lock order, ``cases.service``), so
    neither limit is overrun by uploads created at the same time.
    """
    now = utcnow()
    lock_account(uploader_id)
    holding = (
        db.session.scalar(
            select(func.count()).select_from(Exhibit).where(Exhibit.created_by_id == uploader_id, _in_progress(now))
        )
        or 0
    )
    if holding >= lim.uploads_in_progress:
        raise Conflict(
            f"You have {holding} uploads in progress, the most one person may hold "
            f"({lim.uploads_in_progress}); finish one or let it expire first.",
            problem="too-many-uploads-in-progress",
        )
    # Serialise quota checks per case: two uploads racing for the last free bytes queue here.
    db.session.execute(select(Case.id).where(Case.id == case_id).with_for_update()).one()
    used = (
        db.session.scalar(
            select(func.coalesce(func.sum(Exhibit.size), 0)).where(
                Exhibit.case_id == case_id, (Exhibit.status == COMPLETE) | _in_progress(now)
            )
        )
        or 0
    )
    if used + data.length > lim.case_quota:
        raise TooLarge(
            f"This case's exhibits would exceed its quota of {lim.case_quota} bytes ({used} in use).",
            problem="case-quota-exceeded",
        )


def _new_exhibit(
    access: Access[Any],
    data: NewUpload,
    *,
    case_id: int,
    owner_id: int,
    interview: Interview | None = None,
    incident: Incident | None = None,
) -> Exhibit:
    lim = limits()
    _check_metadata(data, lim)
    _check_room(data, case_id, access.user_id, lim)
    now = utcnow()
    exhibit = Exhibit(
        case_id=case_id,
        interview_id=interview.id if interview else None,
        incident_id=incident.id if incident else None,
        witness_id=interview.witness_id if interview else None,
        owner_id=owner_id,
        created_by_id=access.user_id,
        kind=data.kind,
        size=data.length,
        received=0,
        chunk_size=lim.chunk_size,
        status=UPLOADING,
        blob_store=lim.store,
        blob_key=os.urandom(16).hex(),
        captured_at=data.captured_at,
        created_at=now,
        expires_at=now + lim.expiry,
    )
    exhibit.sealed_datakey.reserve()  # until the row has its id, which the sealed data key is bound to
    db.session.add(exhibit)
    db.session.flush()
    exhibit.sealed_datakey.seal(new_data_key())
    if data.filename is not None or data.device_hash is not None:
        sealed.seal(exhibit, {"filename": data.filename, "device_hash": data.device_hash})
    access.note(
        created_exhibit_id=exhibit.id,
        kind=data.kind,
        upload_length=data.length,
        media_type_claim=data.media_type_claim,
        blob_store=exhibit.blob_store,
        expires_at=exhibit.expires_at.strftime(TIME_FORMAT),
    )
    return exhibit


def create_for_interview(interview_id: int, data: NewUpload) -> Exhibit:
    """Start an upload of an exhibit of an interview (its interviewer only)."""
    access = load_authorized(Interview, interview_id, "exhibit.upload.create")
    interview = access.obj
    witness = db.session.get_one(Witness, interview.witness_id)
    if witness.shredded_at is not None:
        raise Conflict("The witness withdrew consent; nothing more can be recorded.", problem="consent-withdrawn")
    return _new_exhibit(access, data, case_id=interview.case_id, owner_id=interview.interviewer_id, interview=interview)


def create_for_incident(incident_id: int, data: NewUpload) -> Exhibit:
    """Start an upload of an exhibit of an incident (a member of its case); the uploader owns it."""
    access = load_authorized(Incident, incident_id, "incident.exhibit.upload.create")
    return _new_exhibit(access, data, case_id=access.obj.case_id, owner_id=access.user_id, incident=access.obj)


# -- an upload in progress ---------------------------------------------------------------------


def check_live(exhibit: Exhibit) -> None:
    if exhibit.status == TERMINATED:
        raise Gone("This upload was cancelled (tus termination); start a new one.", problem="upload-terminated")
    if exhibit.status == EXPIRED or (exhibit.status == UPLOADING and exhibit.expires_at <= utcnow()):
        raise Gone("This upload expired; start a new one.", problem="upload-expired")
    if exhibit.shredded:
        raise Gone("This exhibit was crypto-shredded (consent withdrawn or erasure ordered).", problem="shredded")


def locked(exhibit_id: int) -> Exhibit:
    """The upload's row, locked for this request: no PATCH or termination beside another
    (row lock on PostgreSQL; SQLite is serial), and re-read under the lock."""
    return db.session.execute(
        select(Exhibit).where(Exhibit.id == exhibit_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()


def upload_status(exhibit_id: int) -> Exhibit:
    """tus HEAD: how many bytes the server holds (the uploader only)."""
    access = load_authorized(Exhibit, exhibit_id, "exhibit.upload.status")
    check_live(access.obj)
    access.note(upload_offset=access.obj.received, upload_length=access.obj.size, status=access.obj.status)
    return access.obj


def terminate(exhibit_id: int) -> Exhibit:
    """tus termination: cancel an unfinished upload (whoever may write it), deleting what it stored.

    The chunks go from the blob store and the sealed data key and free text from the row, so
    nothing received can be read again; the row stays, terminated, with its custody trail, and
    every later request for the upload answers 410 (``check_live``). A complete exhibit is
    evidence: refused (409), recorded with the reason.
    """
    access = load_authorized(Exhibit, exhibit_id, "exhibit.upload.terminate")
    exhibit = locked(access.obj.id)
    access.note(status=exhibit.status, upload_offset=exhibit.received, upload_length=exhibit.size)
    if exhibit.status == COMPLETE:
        access.note(refused="exhibit_complete")
        raise Conflict(
            "This upload is complete: the exhibit is evidence, immutable, and cannot be cancelled.",
            problem="exhibit-immutable",
        )
    check_live(exhibit)
    exhibit.status = TERMINATED
    exhibit.sealed_datakey.shred()
    exhibit.sealed_freetext.shred()
    access.note(chunks_deleted=destroy([exhibit]))
    return exhibit


def discover() -> None:
    """tus OPTIONS: what the server supports; recorded like any request."""
    authorize("exhibit.discover", Target("exhibit"))
