"""Transcript versions: upload (idempotent, digest-checked, receipted), list, read.

Uploads are stored as immutable versions; the first needs no reason, every correction does.
The upload's custody event is appended inside the upload's transaction, so the receipt can
carry its sequence number and leaf hash, and neither exists without the other. A version is
addressed, and recorded, as ``<interview id>/<version>``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from casework.access.door import Access, load_authorized
from casework.custody.models import TIME_FORMAT
from casework.db import db
from casework.errors import Conflict, IntegrityFailure, Invalid, NotFound, TooLarge
from casework.fields import Extended
from casework.interviews.models import Interview
from casework.keys import keyring, open_from, seal_into
from casework.pagination import Page, keyset_page
from casework.transcripts import receipts
from casework.transcripts.models import TranscriptVersion
from casework.witnesses.models import Witness


@dataclass(frozen=True)
class Upload:
    """What the HTTP layer parsed from a JSON, text/plain or multipart upload."""

    content: bytes
    media_type: str
    reason: str | None
    filename: str | None


@dataclass(frozen=True)
class UploadResult:
    receipt: dict[str, Any]
    replayed: bool


def version_ref(interview_id: int, version: int) -> str:
    return f"{interview_id}/{version}"


def _fingerprint(upload: Upload) -> bytes:
    h = hashlib.sha256()
    for part in (upload.content, upload.media_type.encode(), (upload.reason or "").encode(),
                 (upload.filename or "").encode()):
        h.update(hashlib.sha256(part).digest())
    return h.digest()


def _replay(interview: Interview, user_id: int, key: str, fingerprint: bytes) -> TranscriptVersion | None:
    existing = db.session.execute(
        select(TranscriptVersion).where(TranscriptVersion.created_by_id == user_id,
                                        TranscriptVersion.idempotency_key == key)
    ).scalar_one_or_none()
    if existing is None:
        return None
    if existing.interview_id != interview.id or existing.request_fingerprint != fingerprint:
        raise Invalid("This Idempotency-Key was already used for a different upload.",
                      problem="idempotency-key-reused")
    return existing


def _lock_interview(interview_id: int) -> Interview:
    """Serialise version numbering per interview (row lock on PostgreSQL; SQLite is serial)."""
    return db.session.execute(select(Interview).where(Interview.id == interview_id).with_for_update()).scalar_one()


def _check_content(data: Upload, limit: int) -> None:
    if len(data.content) > limit:
        raise TooLarge(f"Transcripts are limited to {limit} bytes.")
    if not data.content:
        raise Invalid("The transcript is empty.", errors={"content": ["Empty."]})
    try:
        data.content.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("Transcripts are UTF-8 text.", errors={"content": ["Not valid UTF-8."]}) from None


def upload(interview_id: int, data: Upload, *, idempotency_key: str | None, max_bytes: int) -> UploadResult:
    access = load_authorized(Interview, interview_id, "transcript.create")
    _check_content(data, max_bytes)
    fingerprint = _fingerprint(data)
    interview = _lock_interview(access.obj.id)  # before the replay check, so a concurrent retry waits
    if idempotency_key is not None:
        existing = _replay(interview, access.user_id, idempotency_key, fingerprint)
        if existing is not None:
            access.note(idempotent_replay=True, version=existing.version)
            return UploadResult(existing.receipt, replayed=True)
    if db.session.scalar(select(Witness.shredded_at).where(Witness.id == interview.witness_id)) is not None:
        raise Conflict("The witness withdrew consent; no statement can be recorded.", problem="consent-withdrawn")
    latest = db.session.scalar(
        select(func.max(TranscriptVersion.version)).where(TranscriptVersion.interview_id == interview.id)
    ) or 0
    if latest and not data.reason:
        raise Invalid("A correction (a new version) needs a reason.",
                      errors={"reason": ["Required for version 2 and later."]})
    version = TranscriptVersion(
        interview_id=interview.id, case_id=interview.case_id, witness_id=interview.witness_id,
        version=latest + 1, reason=data.reason, media_type=data.media_type, filename=data.filename,
        size=len(data.content), sha256=hashlib.sha256(data.content).digest(), created_by_id=access.user_id,
        idempotency_key=idempotency_key, request_fingerprint=fingerprint,
    )
    seal_into(version, "content_", data.content, version.content_context())
    db.session.add(version)
    db.session.flush()
    access.note(created=version_ref(interview.id, version.version), version=version.version, size=version.size,
                sha256=version.sha256.hex(), corrects=latest or None)
    logged = access.append_now()
    version.receipt = receipts.sign({
        "interview_id": interview.id,
        "version": version.version,
        "size": version.size,
        "sha256": version.sha256.hex(),
        "received_at": (logged.recorded_at if logged else version.created_at).strftime(TIME_FORMAT),
        "custody_seq": logged.seq if logged else None,  # None only with the benchmark-only switch
        "leaf_hash": logged.leaf_hash.hex() if logged else None,
        "log_origin": keyring().log_name(),
    }, keyring().signing_key())
    return UploadResult(version.receipt, replayed=False)


def list_versions(interview_id: int, args: dict[str, Any]) -> Page:
    interview = load_authorized(Interview, interview_id, "transcript.list").obj
    return keyset_page(select(TranscriptVersion).where(TranscriptVersion.interview_id == interview.id),
                       TranscriptVersion.version, args)


def read_version(interview_id: int, version_number: int) -> Extended:
    """One version with its decrypted content (``content``), recorded as a read of that version."""
    access = load_authorized(Interview, interview_id, "transcript.read",
                             part=("transcript", version_ref(interview_id, version_number)))
    version = db.session.execute(
        select(TranscriptVersion).where(TranscriptVersion.interview_id == access.obj.id,
                                        TranscriptVersion.version == version_number)
    ).scalar_one_or_none()
    if version is None:
        raise NotFound("No such transcript version.")
    return Extended(version, content=read_content(version, access))


def read_content(version: TranscriptVersion, access: Access[Any]) -> bytes:
    """Decrypt one version, recording which bytes were released (or that they are gone)."""
    access.note(version=version.version, sha256=version.sha256.hex())
    content = open_from(version, "content_", version.content_context())
    if hashlib.sha256(content).digest() != version.sha256:
        raise IntegrityFailure("Transcript failed its integrity check.")
    return content
