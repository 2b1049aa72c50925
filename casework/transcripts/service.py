"""Transcript versions: upload (idempotent, digest-checked, receipted), list, read.

Uploads are stored as immutable versions; the first needs no reason, every correction does.
The upload's custody event is appended inside the upload's transaction, so the receipt can
carry its sequence number and leaf hash, and neither exists without the other. A version is
addressed, and recorded, as ``<interview id>/<version>``.

Everything of a version that tells about the witness is sealed under the witness's key: the
content, the file name, the correction reason and the translator; listings show that free text
only to those who may read the statements. Hashes of the content that metadata readers
and the log see (``keyed_sha256``, the idempotency fingerprint) are HMACs under the witness's
hash key; the uploader's receipt alone carries the plain SHA-256 it can check (and, beside it,
``keyed_sha256``), and readers of the content get it with the content.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from casework.access.door import Access, load_authorized
from casework.custody.receipts import locate, merge_delay_ms, promise
from casework.custody.signer import signer
from casework.db import db, utcnow
from casework.errors import Conflict, IntegrityFailure, Invalid, NotFound, TooLarge
from casework.exhibits.reads import exhibit_of_interview
from casework.fields import Extended
from casework.interviews.free_text import as_seen, may_read_content
from casework.interviews.models import Interview
from casework.keys import keyed_sha256, keyring
from casework.pagination import Page, keyset_page
from casework.transcripts import receipts
from casework.transcripts.models import TranscriptVersion
from casework.witnesses.locks import lock_witness
from casework.witnesses.models import Witness
from casework.witnesses.service import hash_key, keyed_digest

_FINGERPRINT_LABEL = b"casework/upload-fingerprint/v1\n"


@dataclass(frozen=True)
class Upload:
    """What the HTTP layer parsed from a JSON, text/plain or multipart upload."""

    content: bytes
    media_type: str
    reason: str | None
    filename: str | None
    # Lineage (JSON uploads): {exhibit_id, time_codes} or {version, translator, method, certified}.
    derived_from: dict[str, Any] | None = None
    translation_of: dict[str, Any] | None = None


@dataclass(frozen=True)
class UploadResult:
    receipt: dict[str, Any]
    replayed: bool


def version_ref(interview_id: int, version: int) -> str:
    return f"{interview_id}/{version}"


def parse_version_ref(ref: str) -> tuple[int, int]:
    interview_id, version = (int(part) for part in ref.split("/"))
    return interview_id, version


def version_of(interview_id: int, number: int) -> TranscriptVersion:
    """One version of an interview's transcript; ``NotFound`` if there is none."""
    version = db.session.execute(
        select(TranscriptVersion).where(
            TranscriptVersion.interview_id == interview_id, TranscriptVersion.version == number
        )
    ).scalar_one_or_none()
    if version is None:
        raise NotFound("No such transcript version.")
    return version


def _fingerprint(upload: Upload, key: bytes) -> bytes:
    """What identifies an upload for idempotent replay, keyed so it confirms no guessed content."""
    parts: tuple[bytes, ...] = (
        upload.content,
        upload.media_type.encode(),
        (upload.reason or "").encode(),
        (upload.filename or "").encode(),
    )
    if upload.derived_from or upload.translation_of:
        parts += (json.dumps([upload.derived_from, upload.translation_of], sort_keys=True).encode(),)
    return keyed_sha256(key, _FINGERPRINT_LABEL + b"".join(hashlib.sha256(part).digest() for part in parts))


def free_text(version: TranscriptVersion) -> dict[str, str | None]:
    """The version's file name, correction reason and translator; None when absent or shredded."""
    sealed = version.sealed_freetext.open_or_none()
    found = json.loads(sealed) if sealed is not None else {}
    return {"filename": found.get("filename"), "reason": found.get("reason"), "translator": found.get("translator")}


def with_free_text(version: TranscriptVersion, **extra: Any) -> Extended:
    """The version with its free text, for a caller already allowed its content (a read, the case file)."""
    return Extended(version, **free_text(version), **extra)


def _replay(interview: Interview, user_id: int, key: str, fingerprint: bytes) -> TranscriptVersion | None:
    existing = db.session.execute(
        select(TranscriptVersion).where(
            TranscriptVersion.created_by_id == user_id, TranscriptVersion.idempotency_key == key
        )
    ).scalar_one_or_none()
    if existing is None:
        return None
    if existing.interview_id != interview.id or existing.request_fingerprint != fingerprint:
        raise Invalid("This Idempotency-Key was already used for a different upload.", problem="idempotency-key-reused")
    return existing


def _lock_interview(interview_id: int) -> None:
    """Serialise version numbering per interview (row lock on PostgreSQL; SQLite is serial)."""
    db.session.execute(select(Interview.id).where(Interview.id == interview_id).with_for_update()).one()


def _check_content(data: Upload, limit: int) -> None:
    if len(data.content) > limit:
        raise TooLarge(f"Transcripts are limited to {limit} bytes.")
    if not data.content:
        raise Invalid("The transcript is empty.", errors={"content": ["Empty."]})
    try:
        data.content.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("Transcripts are UTF-8 text.", errors={"content": ["Not valid UTF-8."]}) from None


@dataclass(frozen=True)
class _Lineage:
    columns: dict[str, Any]
    logged: dict[str, Any]  # custody details and receipt: no free text
    translator: str | None


def _lineage(interview: Interview, data: Upload) -> _Lineage | None:
    """What a derived version derives from, checked against this interview (no plaintext is logged)."""
    if data.derived_from:
        try:
            exhibit = exhibit_of_interview(data.derived_from["exhibit_id"], interview.id)
        except NotFound:
            raise Invalid(
                "derived_from names no complete exhibit of this interview.",
                errors={"json": {"derived_from": {"exhibit_id": ["No such exhibit."]}}},
            ) from None
        codes = data.derived_from.get("time_codes") or []
        return _Lineage(
            {"derived_from_exhibit_id": exhibit.id, "time_codes": codes},
            {
                "derived_from": {
                    "exhibit_id": exhibit.id,
                    "time_codes": len(codes),
                    "exhibit_keyed_sha256": exhibit.keyed_sha256.hex() if exhibit.keyed_sha256 else None,
                }
            },
            None,
        )
    if data.translation_of:
        source = data.translation_of["version"]
        exists = db.session.scalar(
            select(TranscriptVersion.id).where(
                TranscriptVersion.interview_id == interview.id, TranscriptVersion.version == source
            )
        )
        if exists is None:
            raise Invalid(
                "translation_of names no version of this interview's transcript.",
                errors={"json": {"translation_of": {"version": ["No such version."]}}},
            )
        method, certified = data.translation_of["method"], data.translation_of["certified"]
        return _Lineage(
            {"translation_of_version": source, "translation_method": method, "translation_certified": certified},
            {"translation_of": {"version": source, "method": method, "certified": certified}},
            data.translation_of["translator"],
        )
    return None


def upload(interview_id: int, data: Upload, *, idempotency_key: str | None, max_bytes: int) -> UploadResult:
    derived = bool(data.derived_from or data.translation_of)  # the SPEC's "translations (derived versions)" row
    access = load_authorized(Interview, interview_id, "transcript.derive" if derived else "transcript.create")
    _check_content(data, max_bytes)
    witness = lock_witness(access.obj.witness_id)  # first: witness, interview, custody head (witnesses.locks)
    interview = access.obj
    _lock_interview(interview.id)  # before the replay check, so a concurrent retry waits
    if witness.shredded_at is not None:
        raise Conflict("The witness withdrew consent; no statement can be recorded.", problem="consent-withdrawn")
    key = hash_key(witness)  # Gone if the witness's key was destroyed
    fingerprint = _fingerprint(data, key)
    plain_sha256 = hashlib.sha256(data.content).hexdigest()
    keyed = keyed_sha256(key, data.content)
    if idempotency_key is not None:
        existing = _replay(interview, access.user_id, idempotency_key, fingerprint)
        if existing is not None:
            access.note(idempotent_replay=True, version=existing.version)
            # The stored receipt lacks the plain SHA-256; the resent content is the same (fingerprint).
            return UploadResult({**existing.receipt, "sha256": plain_sha256}, replayed=True)
    latest = (
        db.session.scalar(
            select(func.max(TranscriptVersion.version)).where(TranscriptVersion.interview_id == interview.id)
        )
        or 0
    )
    lineage = _lineage(interview, data)
    if latest and not data.reason and lineage is None:
        raise Invalid(
            "A correction (a new version) needs a reason.", errors={"reason": ["Required for version 2 and later."]}
        )
    version = TranscriptVersion(
        interview_id=interview.id,
        case_id=interview.case_id,
        witness_id=interview.witness_id,
        version=latest + 1,
        media_type=data.media_type,
        size=len(data.content),
        keyed_sha256=keyed,
        created_by_id=access.user_id,
        created_at=utcnow(),
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        **(lineage.columns if lineage else {}),
    )
    version.sealed_content.seal(data.content)
    translator = lineage.translator if lineage else None
    if data.reason is not None or data.filename is not None or translator is not None:
        sealed = {
            "filename": data.filename,
            "reason": data.reason,
            **({"translator": translator} if translator else {}),
        }
        version.sealed_freetext.seal(json.dumps(sealed).encode())
    access.note(
        created=version_ref(interview.id, version.version),
        version=version.version,
        size=version.size,
        keyed_sha256=keyed.hex(),
        corrects=latest or None,
        **(lineage.logged if lineage else {}),
    )
    # The event is sealed first (its leaf hash is the receipt's promise) and the version stored with
    # its receipt after, in this transaction: one INSERT, no UPDATE, under the witness lock.
    logged = access.promise()
    receipt = receipts.sign(
        {
            "interview_id": interview.id,
            "version": version.version,
            "size": version.size,
            "sha256": plain_sha256,
            "keyed_sha256": keyed.hex(),
            **(lineage.logged if lineage else {}),  # only when derived: older receipts keep their exact fields
            "log_origin": keyring().log_name(),
            **promise(logged, version.created_at, merge_delay_ms()),
        },
        keyring().signing_key(),
    )
    version.receipt = {k: v for k, v in receipt.items() if k != "sha256"}  # no plain hash at rest
    db.session.add(version)
    db.session.flush()  # here, so a refused row fails the upload, not the commit of its custody event
    return UploadResult(receipt, replayed=False)


def receipt_of(interview_id: int, number: int) -> dict[str, Any]:
    """A version's stored receipt (without the plain SHA-256) and where its promised leaf is now:
    its seq and, once a published checkpoint covers it, an inclusion proof to that checkpoint."""
    interview = load_authorized(
        Interview, interview_id, "transcript.list", part=("transcript", version_ref(interview_id, number))
    ).obj
    version = version_of(interview.id, number)
    located = locate(version.receipt or {}, "interview", str(interview.id), signer())
    return {**(version.receipt or {}), "custody": located.as_dict()}


def list_versions(interview_id: int, args: dict[str, Any]) -> Page:
    """Metadata of each version; its file name, reason and translator only for those who may read
    the statements (``casework.interviews.free_text``), and null once shredded."""
    interview = load_authorized(Interview, interview_id, "transcript.list").obj
    readable = may_read_content("transcript.read", interview.custody_target())
    page = keyset_page(
        select(TranscriptVersion).where(TranscriptVersion.interview_id == interview.id), TranscriptVersion.version, args
    )
    page["items"] = [Extended(version, **as_seen(free_text(version), readable)) for version in page["items"]]
    return page


def read_version(interview_id: int, version_number: int) -> Extended:
    """One version with its decrypted content (``content``), recorded as a read of that version."""
    access = load_authorized(
        Interview, interview_id, "transcript.read", part=("transcript", version_ref(interview_id, version_number))
    )
    version = version_of(access.obj.id, version_number)
    content = read_content(version, access)
    return with_free_text(version, content=content, sha256=hashlib.sha256(content).digest())


def read_content(version: TranscriptVersion, access: Access[Any]) -> bytes:
    """Decrypt one version, recording which bytes were released (or that they are gone)."""
    access.note(
        version=version.version, keyed_sha256=version.keyed_sha256.hex() if version.keyed_sha256 is not None else None
    )
    content = version.sealed_content.open()
    if version.keyed_sha256 is not None:
        witness = db.session.get_one(Witness, version.witness_id, options=[lazyload(Witness.consents)])
        if not hmac.compare_digest(keyed_digest(witness, content), version.keyed_sha256):
            raise IntegrityFailure("Transcript failed its integrity check.")
    return content
