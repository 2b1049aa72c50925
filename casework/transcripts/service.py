"""Transcript versions: upload (idempotent, digest-checked, receipted), list, read.

Uploads are stored as immutable versions; the first needs no reason, every correction does.
The upload's custody event is appended inside the upload's transaction, so the receipt can
carry its sequence number and leaf hash, and neither exists without the other.
"""
from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_login import current_user
from sqlalchemy import func, select

from casework.auth.policy import load_authorized, load_with_event
from casework.custody import recorder
from casework.custody.models import TIME_FORMAT
from casework.db import db
from casework.errors import ProblemError
from casework.interviews.models import Interview
from casework.keys import keyring, open_from, seal_into
from casework.pagination import Page, keyset_page
from casework.transcripts import receipts
from casework.transcripts.models import TranscriptVersion
from casework.witnesses.models import Witness

_DIGEST_MEMBER = re.compile(r"^\s*([A-Za-z0-9-]+)\s*=\s*:([A-Za-z0-9+/=]*):\s*$")


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


@dataclass(frozen=True)
class ContentDigest:
    header: str | None
    body: bytes


def check_content_digest(header: str | None, body: bytes) -> None:
    """RFC 9530 Content-Digest: when sent, its sha-256 member must match the body as received."""
    if header is None:
        return
    members = {}
    for part in header.split(","):
        match = _DIGEST_MEMBER.match(part)
        if not match:
            raise ProblemError(400, "Content-Digest is not an RFC 9530 dictionary of byte sequences.",
                               problem="bad-content-digest")
        members[match.group(1).lower()] = match.group(2)
    if "sha-256" not in members:
        raise ProblemError(400, "Content-Digest must include sha-256.", problem="bad-content-digest",
                           headers={"Want-Content-Digest": "sha-256=10"})
    try:
        claimed = base64.b64decode(members["sha-256"], validate=True)
    except ValueError:
        raise ProblemError(400, "Content-Digest sha-256 is not base64.", problem="bad-content-digest") from None
    if claimed != hashlib.sha256(body).digest():
        raise ProblemError(400, "Content-Digest does not match the body received; nothing was stored.",
                           problem="content-digest-mismatch")


def _fingerprint(upload: Upload) -> bytes:
    h = hashlib.sha256()
    for part in (upload.content, upload.media_type.encode(), (upload.reason or "").encode(),
                 (upload.filename or "").encode()):
        h.update(hashlib.sha256(part).digest())
    return h.digest()


def _replay(interview: Interview, key: str, fingerprint: bytes) -> TranscriptVersion | None:
    existing = db.session.execute(
        select(TranscriptVersion).where(TranscriptVersion.created_by_id == current_user.id,
                                        TranscriptVersion.idempotency_key == key)
    ).scalar_one_or_none()
    if existing is None:
        return None
    if existing.interview_id != interview.id or existing.request_fingerprint != fingerprint:
        raise ProblemError(422, "This Idempotency-Key was already used for a different upload.",
                           problem="idempotency-key-reused")
    return existing


def _lock_interview(interview_id: int) -> Interview:
    """Serialise version numbering per interview (row lock on PostgreSQL; SQLite is serial)."""
    return db.session.execute(select(Interview).where(Interview.id == interview_id).with_for_update()).scalar_one()


def upload(interview_id: int, data: Upload, *, idempotency_key: str | None, digest: ContentDigest) -> UploadResult:
    interview, event = load_with_event(Interview, interview_id, "transcript.create")
    check_content_digest(digest.header, digest.body)
    limit = current_app.config["CASEWORK_UPLOAD_MAX_BYTES"]
    if len(data.content) > limit:
        raise ProblemError(413, f"Transcripts are limited to {limit} bytes.")
    if not data.content:
        raise ProblemError(422, "The transcript is empty.", errors={"content": ["Empty."]})
    try:
        data.content.decode("utf-8")
    except UnicodeDecodeError:
        raise ProblemError(422, "Transcripts are UTF-8 text.", errors={"content": ["Not valid UTF-8."]}) from None
    fingerprint = _fingerprint(data)
    interview = _lock_interview(interview.id)  # before the replay check, so a concurrent retry waits
    if idempotency_key is not None:
        existing = _replay(interview, idempotency_key, fingerprint)
        if existing is not None:
            event.resource_type, event.resource_id = "transcript", str(existing.id)
            event.details.update(idempotent_replay=True, version=existing.version)
            return UploadResult(existing.receipt, replayed=True)
    if db.session.scalar(select(Witness.shredded_at).where(Witness.id == interview.witness_id)) is not None:
        raise ProblemError(409, "The witness withdrew consent; no statement can be recorded.",
                           problem="consent-withdrawn")
    latest = db.session.scalar(
        select(func.max(TranscriptVersion.version)).where(TranscriptVersion.interview_id == interview.id)
    ) or 0
    if latest and not data.reason:
        raise ProblemError(422, "A correction (a new version) needs a reason.",
                           errors={"reason": ["Required for version 2 and later."]})
    version = TranscriptVersion(
        interview_id=interview.id, case_id=interview.case_id, witness_id=interview.witness_id,
        version=latest + 1, reason=data.reason, media_type=data.media_type, filename=data.filename,
        size=len(data.content), sha256=hashlib.sha256(data.content).digest(), created_by_id=current_user.id,
        idempotency_key=idempotency_key, request_fingerprint=fingerprint,
    )
    seal_into(version, "content_", data.content, version.content_context())
    db.session.add(version)
    db.session.flush()
    event.resource_type, event.resource_id = "transcript", str(version.id)
    event.details.update(version=version.version, size=version.size, sha256=version.sha256.hex(),
                         corrects=latest or None)
    logged = next((row for row in recorder.flush() if row.resource_id == str(version.id)), None)
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
    interview = load_authorized(Interview, interview_id, "transcript.list")
    page = keyset_page(select(TranscriptVersion).where(TranscriptVersion.interview_id == interview.id),
                       TranscriptVersion.version, args)
    return {**page, "items": [version_dict(v) for v in page["items"]]}


def read_version(interview_id: int, version_number: int) -> tuple[TranscriptVersion, bytes]:
    interview, event = load_with_event(Interview, interview_id, "transcript.read")
    version = db.session.execute(
        select(TranscriptVersion).where(TranscriptVersion.interview_id == interview.id,
                                        TranscriptVersion.version == version_number)
    ).scalar_one_or_none()
    event.details["version"] = version_number
    if version is None:
        raise ProblemError(404, "No such transcript version.")
    return version, read_content(version, event)


def read_content(version: TranscriptVersion, event: Any) -> bytes:
    """Decrypt one version, recording which bytes were released (or that they are gone)."""
    event.resource_type, event.resource_id = "transcript", str(version.id)
    event.details.update(version=version.version, sha256=version.sha256.hex())
    content = open_from(version, "content_", version.content_context())
    if hashlib.sha256(content).digest() != version.sha256:
        raise ProblemError(500, "Transcript failed its integrity check.", problem="integrity-failure")
    return content


def version_dict(version: TranscriptVersion) -> dict[str, Any]:
    return {
        "interview_id": version.interview_id,
        "version": version.version,
        "reason": version.reason,
        "media_type": version.media_type,
        "filename": version.filename,
        "size": version.size,
        "sha256": version.sha256.hex(),
        "created_by_id": version.created_by_id,
        "created_at": version.created_at,
        "shredded": version.shredded,
        "custody_seq": version.receipt.get("custody_seq"),
    }
