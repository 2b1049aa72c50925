"""Exhibits: tus upload sessions, streamed chunk encryption, completion with a receipt, ranged reads.

An upload (tus creation) makes an ``Exhibit`` row in status *uploading* with a fresh data key
sealed under the witness's key (interview exhibits) or the KEK (incident exhibits). Each PATCH
streams its body in pieces: bytes are cut into ``chunk_size`` chunks, each encrypted by
``casework.crypto.stream`` as soon as it is full and written to the exhibit's blob store. The
partial last chunk of a PATCH is written too, so ``Upload-Offset`` acknowledges every byte
received; the next PATCH reads it back, completes it and writes it again under its own write
session (its own epoch key: chunk indexes never repeat under one key, see the stream module).
Hash state cannot outlive a request (hashlib objects do not serialise), so the SHA-256 is
computed on completion by decrypting the content once (which also proves every chunk opens);
the plain SHA-256 is in the clear only in the uploader's signed receipt. At rest it is sealed
with the exhibit's free text (under the witness's key, so it is shredded with them), and shown
only to readers of the content: ``Repr-Digest`` on every download (RFC 9530), the case file.
Readers of metadata and the log see the keyed hash (HMAC under the witness's hash key, or for
incident exhibits under a key derived from the exhibit's data key). The same pass judges the
media type of the whole content (``media_types``: a registered type, which must suit the
exhibit's kind); a PATCH whose first bytes already settle it refuses the wrong kind at once.

Termination (tus ``termination``): whoever may write an upload may cancel it while it is
unfinished; its chunks are deleted and its data key and free text dropped, the row stays (status
terminated, with the custody trail) and answers 410 from then on. A complete exhibit is evidence
and immutable: it is never deleted this way.

Limits: an upload reserves its Upload-Length of the case's quota only while it can still be
completed (not past its expiry), and one person holds at most
``CASEWORK_EXHIBIT_UPLOADS_IN_PROGRESS`` uploads in progress at once.

The original file name and device hash are shown beside the metadata only to those who may read
the content (``casework.interviews.free_text``).

Reads (``open_content``) are decided, recorded (with the range served) and their data key
unwrapped, and the sealed SHA-256 of the whole content opened for ``Repr-Digest``, before a
byte is produced; the bytes then stream from ``iter_plaintext``, one chunk in memory at a time.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app
from sqlalchemy import ColumnElement, func, select, update

from casework import blobs, ranges
from casework.access.door import Access, authorize, load_authorized, system_access
from casework.access.targets import Target
from casework.cases.models import Case
from casework.cases.service import lock_account
from casework.crypto.stream import (
    ChunkDecryptionError,
    ChunkReader,
    ChunkWriter,
    chunk_count,
    chunk_span,
    new_data_key,
)
from casework.custody.models import TIME_FORMAT
from casework.custody.receipts import locate, merge_delay_ms, promise
from casework.db import db, utcnow
from casework.errors import (
    ChecksumMismatch,
    Conflict,
    Gone,
    IntegrityFailure,
    Invalid,
    NotFound,
    TooLarge,
    UnsupportedMedia,
)
from casework.exhibits import media_types, receipts
from casework.exhibits.models import COMPLETE, EXPIRED, KINDS, TERMINATED, UPLOADING, Exhibit
from casework.fields import Extended
from casework.incidents.models import Incident
from casework.interviews.free_text import as_seen, may_read_content
from casework.interviews.models import Interview
from casework.keys import keyring, open_from, open_optional, seal_into, signer
from casework.pagination import Page, keyset_page
from casework.settings import settings
from casework.witnesses.models import Witness
from casework.witnesses.service import hash_key

log = logging.getLogger(__name__)

_INCIDENT_HASH_LABEL = b"casework/exhibit-keyed-sha256/v1"


@dataclass(frozen=True)
class NewUpload:
    """What a tus creation request says about the exhibit to come."""

    length: int
    kind: str
    filename: str | None = None
    captured_at: datetime | None = None
    device_hash: str | None = None
    media_type_claim: str | None = None  # a name of ``media_types.REGISTER`` (the schema maps aliases)


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
    return Limits(exhibits.max_bytes, exhibits.case_quota_bytes, exhibits.upload_expiry, exhibits.chunk_bytes,
                  settings().blobs.store, exhibits.uploads_in_progress)


class Body:
    """A request body read in pieces; ``truncated`` when the client went away before its end."""

    truncated: bool = False

    def __iter__(self) -> Iterator[bytes]:
        raise NotImplementedError


@dataclass(frozen=True)
class PatchResult:
    exhibit: Exhibit
    receipt: dict[str, Any] | None  # only on the PATCH that completed the upload


@dataclass(frozen=True)
class ContentRead:
    exhibit: Exhibit
    selected: ranges.Selected  # the bytes sent; end < start only for empty content
    chunks: Iterator[bytes]
    sha256: bytes | None  # of the whole content (Repr-Digest); None if completed before digests were sealed


def upload_ref(exhibit: Exhibit) -> str:
    return str(exhibit.id)


# -- free text ---------------------------------------------------------------------------------


def _sealed(exhibit: Exhibit) -> dict[str, str | None]:
    """What ``freetext_*`` holds: file name, device hash and (once complete) the plain SHA-256.

    Empty when there is nothing sealed or it is shredded; see ``sealed_or_shredded`` to tell the two apart.
    """
    sealed = open_optional(exhibit, "freetext_", exhibit.freetext_context())
    return json.loads(sealed) if sealed is not None else {}


def sealed_or_shredded(exhibit: Exhibit) -> dict[str, str | None] | None:
    """Like ``_sealed``, but None when the exhibit's keys are gone: its row's, or its witness's in the
    provider (a database restored from before a withdrawal; an erasure pending)."""
    if exhibit.shredded:
        return None
    if exhibit.freetext_ciphertext is None:
        return {}
    try:
        return json.loads(open_from(exhibit, "freetext_", exhibit.freetext_context()))
    except Gone:
        return None


def free_text_of(sealed: dict[str, str | None]) -> dict[str, str | None]:
    """The identifying free text of what ``_sealed`` opened: file name and device hash."""
    return {"filename": sealed.get("filename"), "device_hash": sealed.get("device_hash")}


def sha256_of(sealed: dict[str, str | None]) -> bytes | None:
    """The plain SHA-256 of the whole content from what ``_sealed`` opened; None if it holds none."""
    found = sealed.get("sha256")
    return bytes.fromhex(found) if found else None


def free_text(exhibit: Exhibit) -> dict[str, str | None]:
    """The original file name and device hash; None when absent or shredded."""
    return free_text_of(_sealed(exhibit))


def with_free_text(exhibit: Exhibit, **extra: Any) -> Extended:
    """The exhibit with its free text, for a caller already allowed its content."""
    return Extended(exhibit, **free_text(exhibit), **extra)


def as_seen_by_caller(exhibit: Exhibit) -> Extended:
    """The exhibit with its file name and device hash shown only if the caller may read its content."""
    readable = may_read_content("exhibit.read", exhibit.custody_target())
    return Extended(exhibit, **as_seen(free_text(exhibit), readable))


# -- creation ----------------------------------------------------------------------------------


def _in_progress(now: datetime) -> ColumnElement[bool]:
    """Uploads that still hold their place: started, not complete, not yet past their expiry."""
    return (Exhibit.status == UPLOADING) & (Exhibit.expires_at > now)


def _check_new(data: NewUpload, case_id: int, uploader_id: int, lim: Limits) -> None:
    """The upload's own limits, then the uploader's uploads in progress, then the case's quota.

    An upload past its expiry counts for neither from that moment (the operator's ``flask
    exhibits expire`` deletes its chunks later; it can never be resumed). The uploader's row is
    locked before the case row (the accounts-then-cases lock order, ``cases.service``), so
    neither limit is overrun by uploads created at the same time.
    """
    if data.kind not in KINDS:
        raise Invalid("Unknown exhibit kind.", errors={"metadata": {"kind": [f"One of {', '.join(KINDS)}."]}})
    if data.media_type_claim is not None and data.media_type_claim not in media_types.REGISTER:
        raise Invalid("filetype must be a registered media type.",
                      errors={"metadata": {"filetype": ["Not a registered media type."]}})
    if data.length > lim.max_bytes:
        raise TooLarge(f"Exhibits are limited to {lim.max_bytes} bytes.", problem="exhibit-too-large")
    now = utcnow()
    lock_account(uploader_id)
    holding = db.session.scalar(select(func.count()).select_from(Exhibit)
                                .where(Exhibit.created_by_id == uploader_id, _in_progress(now))) or 0
    if holding >= lim.uploads_in_progress:
        raise Conflict(f"You have {holding} uploads in progress, the most one person may hold "
                       f"({lim.uploads_in_progress}); finish one or let it expire first.",
                       problem="too-many-uploads-in-progress")
    # Serialise quota checks per case: two uploads racing for the last free bytes queue here.
    db.session.execute(select(Case.id).where(Case.id == case_id).with_for_update()).one()
    used = db.session.scalar(
        select(func.coalesce(func.sum(Exhibit.size), 0))
        .where(Exhibit.case_id == case_id, (Exhibit.status == COMPLETE) | _in_progress(now))
    ) or 0
    if used + data.length > lim.case_quota:
        raise TooLarge(f"This case's exhibits would exceed its quota of {lim.case_quota} bytes "
                       f"({used} in use).", problem="case-quota-exceeded")


def _new_exhibit(access: Access[Any], data: NewUpload, *, case_id: int, owner_id: int,
                 interview: Interview | None = None, incident: Incident | None = None) -> Exhibit:
    lim = limits()
    _check_new(data, case_id, access.user_id, lim)
    now = utcnow()
    exhibit = Exhibit(
        case_id=case_id, interview_id=interview.id if interview else None,
        incident_id=incident.id if incident else None, witness_id=interview.witness_id if interview else None,
        owner_id=owner_id, created_by_id=access.user_id, kind=data.kind, size=data.length, received=0,
        chunk_size=lim.chunk_size, status=UPLOADING, blob_store=lim.store, blob_key=os.urandom(16).hex(),
        captured_at=data.captured_at, created_at=now, expires_at=now + lim.expiry,
        # Placeholders until the row has its id, which the sealed data key is bound to.
        datakey_ciphertext=b"", datakey_nonce=b"", datakey_kek_id="",
    )
    db.session.add(exhibit)
    db.session.flush()
    seal_into(exhibit, "datakey_", new_data_key(), exhibit.datakey_context())
    if data.filename is not None or data.device_hash is not None:
        seal_into(exhibit, "freetext_", json.dumps({"filename": data.filename, "device_hash": data.device_hash})
                  .encode(), exhibit.freetext_context())
    access.note(created_exhibit_id=exhibit.id, kind=data.kind, upload_length=data.length,
                media_type_claim=data.media_type_claim, blob_store=exhibit.blob_store,
                expires_at=exhibit.expires_at.strftime(TIME_FORMAT))
    return exhibit


def create_for_interview(interview_id: int, data: NewUpload) -> Exhibit:
    """Start an upload of an exhibit of an interview (its interviewer only)."""
    access = load_authorized(Interview, interview_id, "exhibit.upload.create")
    interview = access.obj
    witness = db.session.get_one(Witness, interview.witness_id)
    if witness.shredded_at is not None:
        raise Conflict("The witness withdrew consent; nothing more can be recorded.", problem="consent-withdrawn")
    return _new_exhibit(access, data, case_id=interview.case_id, owner_id=interview.interviewer_id,
                        interview=interview)


def create_for_incident(incident_id: int, data: NewUpload) -> Exhibit:
    """Start an upload of an exhibit of an incident (a member of its case); the uploader owns it."""
    access = load_authorized(Incident, incident_id, "incident.exhibit.upload.create")
    return _new_exhibit(access, data, case_id=access.obj.case_id, owner_id=access.user_id, incident=access.obj)


# -- upload state and PATCH ---------------------------------------------------------------------


def _check_live(exhibit: Exhibit) -> None:
    if exhibit.status == TERMINATED:
        raise Gone("This upload was cancelled (tus termination); start a new one.", problem="upload-terminated")
    if exhibit.status == EXPIRED or (exhibit.status == UPLOADING and exhibit.expires_at <= utcnow()):
        raise Gone("This upload expired; start a new one.", problem="upload-expired")
    if exhibit.shredded:
        raise Gone("This exhibit was crypto-shredded (consent withdrawn or erasure ordered).", problem="shredded")


def upload_status(exhibit_id: int) -> Exhibit:
    """tus HEAD: how many bytes the server holds (the uploader only)."""
    access = load_authorized(Exhibit, exhibit_id, "exhibit.upload.status")
    _check_live(access.obj)
    access.note(upload_offset=access.obj.received, upload_length=access.obj.size, status=access.obj.status)
    return access.obj


def terminate(exhibit_id: int) -> Exhibit:
    """tus termination: cancel an unfinished upload (whoever may write it), deleting what it stored.

    The chunks go from the blob store and the sealed data key and free text from the row, so
    nothing received can be read again; the row stays, terminated, with its custody trail, and
    every later request for the upload answers 410 (``_check_live``). A complete exhibit is
    evidence: refused (409), recorded with the reason.
    """
    access = load_authorized(Exhibit, exhibit_id, "exhibit.upload.terminate")
    # Not beside a PATCH of the same upload (row lock on PostgreSQL; SQLite is serial).
    exhibit = db.session.execute(select(Exhibit).where(Exhibit.id == access.obj.id).with_for_update()
                                 .execution_options(populate_existing=True)).scalar_one()
    access.note(status=exhibit.status, upload_offset=exhibit.received, upload_length=exhibit.size)
    if exhibit.status == COMPLETE:
        access.note(refused="exhibit_complete")
        raise Conflict("This upload is complete: the exhibit is evidence, immutable, and cannot be cancelled.",
                       problem="exhibit-immutable")
    _check_live(exhibit)
    exhibit.status = TERMINATED
    exhibit.datakey_wrapped_key = None
    exhibit.freetext_wrapped_key = None
    access.note(chunks_deleted=_destroy([exhibit]))
    return exhibit


def _data_key(exhibit: Exhibit) -> bytes:
    return open_from(exhibit, "datakey_", exhibit.datakey_context())


def _check_suits(kind: str, media_type: str) -> None:
    """The content's media type must suit the exhibit's kind (else unsupported media)."""
    if not media_types.suits(kind, media_type):
        raise UnsupportedMedia(f"The content is {media_type}, which is not an exhibit of kind {kind!r}.",
                               accepted=media_types.accepted(kind) or ())


def _read_tail(exhibit: Exhibit, store: blobs.BlobStore, reader: ChunkReader, index: int, keep: int) -> bytes:
    """The acknowledged bytes of a partial chunk, from whatever record a later attempt left there."""
    try:
        record = store.get(exhibit.blob_key, index)
    except blobs.MissingChunk:
        record = b""
    last = chunk_count(exhibit.size, exhibit.chunk_size) - 1
    for final in (False, True) if index == last else (False,):
        try:
            plain = reader.decrypt(index, record, final=final)
        except ChunkDecryptionError:
            continue
        if len(plain) >= keep:
            return plain[:keep]
    log.critical("exhibit %s: partial chunk %s does not open", exhibit.id, index)
    raise IntegrityFailure("A stored chunk of this upload failed its integrity check; the incident has been logged.")


def receive(exhibit_id: int, offset: int, body: Body, *, content_length: int | None,
            checksum: bytes | None) -> PatchResult:
    """tus PATCH: append the body at ``offset``, encrypted chunk by chunk as it arrives.

    ``checksum`` (sha256 of the body, tus checksum extension) is checked at the end; on a
    mismatch nothing is acknowledged (``ChecksumMismatch``). A body cut short by the client is
    kept as far as it came, unless it carried a checksum (which cannot then be checked).
    """
    access = load_authorized(Exhibit, exhibit_id, "exhibit.upload.write")
    # One PATCH at a time per upload (row lock on PostgreSQL; SQLite is serial).
    exhibit = db.session.execute(select(Exhibit).where(Exhibit.id == access.obj.id).with_for_update()
                                 .execution_options(populate_existing=True)).scalar_one()
    _check_live(exhibit)
    access.note(upload_offset=offset, content_length=content_length, checksum=checksum is not None)
    if exhibit.status == COMPLETE:
        raise Conflict("This upload is complete; an exhibit is immutable.", problem="upload-complete")
    if offset != exhibit.received:
        raise Conflict(f"Upload-Offset {offset} does not match the server's offset {exhibit.received}.",
                       problem="offset-mismatch")
    remaining = exhibit.size - exhibit.received
    if content_length is not None and content_length > remaining:
        raise TooLarge(f"The body would go past Upload-Length ({remaining} bytes remain).",
                       problem="beyond-upload-length")
    data_key = _data_key(exhibit)
    store = blobs.store(exhibit.blob_store)
    size, chunk_size, context = exhibit.size, exhibit.chunk_size, exhibit.content_context()
    last = chunk_count(size, chunk_size) - 1
    writer = ChunkWriter(data_key, context)
    index, keep = divmod(exhibit.received, chunk_size)
    buffer = bytearray(_read_tail(exhibit, store, ChunkReader(data_key, context), index, keep) if keep else b"")
    position = exhibit.received
    digest = hashlib.sha256()
    # The first bytes may already settle the media type (a signature): refuse the wrong kind now.
    head_checked = exhibit.received >= min(size, media_types.DETECT_BYTES)

    def seal(chunk: bytes, final: bool) -> None:
        store.put(exhibit.blob_key, index, writer.encrypt(index, chunk, final=final))

    for piece in body:
        if len(piece) > size - position:
            raise TooLarge("The body goes past Upload-Length.", problem="beyond-upload-length")
        digest.update(piece)
        buffer += piece
        position += len(piece)
        if not head_checked and index == 0 and len(buffer) >= min(size, media_types.DETECT_BYTES):
            head_checked = True
            early = media_types.head_type(bytes(buffer[:media_types.DETECT_BYTES]),
                                          whole=size <= media_types.DETECT_BYTES)
            if early is not None:
                _check_suits(exhibit.kind, early)
        while len(buffer) >= chunk_size:
            seal(bytes(memoryview(buffer)[:chunk_size]), index == last)
            del buffer[:chunk_size]
            index += 1
    if checksum is not None and (body.truncated or not hmac.compare_digest(digest.digest(), checksum)):
        access.note(checksum_mismatch=True, bytes_received=position - exhibit.received)
        raise ChecksumMismatch("Upload-Checksum does not match the body received; nothing was kept.")
    if position > exhibit.received and buffer:
        seal(bytes(buffer), index == last and position == size)
    elif size == 0:
        seal(b"", True)  # empty content: one empty, final chunk
    store.sync(exhibit.blob_key)
    access.note(bytes_received=position - exhibit.received, new_offset=position, truncated=body.truncated)
    exhibit.received = position
    if position < size:
        return PatchResult(exhibit, None)
    return PatchResult(exhibit, _complete(exhibit, data_key))


def _keyed_hash_key(exhibit: Exhibit, data_key: bytes) -> bytes:
    if exhibit.witness_id is not None:
        return hash_key(db.session.get_one(Witness, exhibit.witness_id))
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INCIDENT_HASH_LABEL).derive(data_key)


def _complete(exhibit: Exhibit, data_key: bytes) -> dict[str, Any]:
    """The last byte arrived: hash and judge the content (decrypting it once), freeze it, log and receipt it.

    The media type is the whole content's (``media_types.Sniffer``), and must suit the kind.
    """
    plain = hashlib.sha256()
    keyed = hmac.new(_keyed_hash_key(exhibit, data_key), digestmod=hashlib.sha256)
    sniffer = media_types.Sniffer()
    for piece in _plaintext(exhibit, data_key, 0, exhibit.size - 1, detached=False):
        plain.update(piece)
        keyed.update(piece)
        sniffer.update(piece)
    exhibit.media_type = sniffer.media_type()
    _check_suits(exhibit.kind, exhibit.media_type)
    exhibit.keyed_sha256 = keyed.digest()
    # The plain hash at rest only sealed, beside the file name: for readers of the content (Repr-Digest).
    seal_into(exhibit, "freetext_", json.dumps({**_sealed(exhibit), "sha256": plain.hexdigest()}).encode(),
              exhibit.freetext_context())
    exhibit.status = COMPLETE
    exhibit.completed_at = utcnow()
    access = load_authorized(Exhibit, exhibit.id, "exhibit.create")
    access.note(exhibit_id=exhibit.id, kind=exhibit.kind, media_type=exhibit.media_type, size=exhibit.size,
                keyed_sha256=exhibit.keyed_sha256.hex(), interview_id=exhibit.interview_id,
                incident_id=exhibit.incident_id)
    receipt = _receipt(access, exhibit, plain.hexdigest())
    exhibit.receipt = {k: v for k, v in receipt.items() if k != "sha256"}  # no plain hash at rest
    return receipt


def _receipt(access: Access[Any], exhibit: Exhibit, sha256: str) -> dict[str, Any]:
    """Where the completion landed in the log, signed: the one place that asks the log for it."""
    logged = access.promise()
    return receipts.sign({
        "exhibit_id": exhibit.id,
        "interview_id": exhibit.interview_id,
        "incident_id": exhibit.incident_id,
        "kind": exhibit.kind,
        "media_type": exhibit.media_type,
        "size": exhibit.size,
        "sha256": sha256,
        "keyed_sha256": exhibit.keyed_sha256.hex() if exhibit.keyed_sha256 else None,
        "log_origin": keyring().log_name(),
        **promise(logged, exhibit.completed_at or utcnow(), merge_delay_ms()),
    }, keyring().signing_key())


# -- reads --------------------------------------------------------------------------------------


def _plaintext(exhibit: Exhibit, data_key: bytes, start: int, end: int, *, detached: bool) -> Iterator[bytes]:
    """Everything read from the row now: the generator never touches the ORM object.

    ``detached``: the bytes are consumed after the request's transaction ended (a streamed
    response), so each chunk is read in an app context (and database session) of its own,
    entered and left around that one read. Otherwise chunks are read in the current session,
    which sees the request's own uncommitted chunk rows (completion of an upload).
    """
    if exhibit.size == 0 or end < start:
        return iter(())
    app = current_app._get_current_object() if detached else None  # type: ignore[attr-defined]
    return _decrypt_range(exhibit.id, exhibit.blob_store, exhibit.blob_key, exhibit.size, exhibit.chunk_size,
                          ChunkReader(data_key, exhibit.content_context()), start, end, app)


def _records(store_name: str, blob_key: str, indexes: range, app: Flask | None) -> Iterator[tuple[int, bytes]]:
    if app is None:
        yield from blobs.store(store_name).iter_records(blob_key, indexes)
        return
    for index in indexes:
        with app.app_context():
            record = blobs.store(store_name).get(blob_key, index)
        yield index, record  # the context is left before the consumer runs again


def _decrypt_range(exhibit_id: int, store_name: str, blob_key: str, size: int, chunk_size: int,
                   reader: ChunkReader, start: int, end: int, app: Flask | None) -> Iterator[bytes]:
    last = chunk_count(size, chunk_size) - 1
    records = _records(store_name, blob_key, chunk_span(start, end, chunk_size), app)
    while True:
        try:
            index, record = next(records)
        except StopIteration:
            return
        except blobs.MissingChunk:
            log.critical("exhibit %s: a chunk is missing from its blob store", exhibit_id)
            raise IntegrityFailure("A stored chunk of this exhibit is missing.") from None
        try:
            plain = reader.decrypt(index, record, final=index == last)
        except ChunkDecryptionError:
            log.critical("exhibit %s: chunk %s failed to decrypt at its place", exhibit_id, index)
            raise IntegrityFailure("A stored chunk of this exhibit failed its integrity check.") from None
        expected = min(chunk_size, size - index * chunk_size)
        if len(plain) != expected:
            log.critical("exhibit %s: chunk %s has %s bytes, not %s", exhibit_id, index, len(plain), expected)
            raise IntegrityFailure("A stored chunk of this exhibit has the wrong length.")
        base = index * chunk_size
        yield plain[max(start - base, 0):end - base + 1]


def iter_plaintext(exhibit: Exhibit, start: int = 0, end: int | None = None, *,
                   detached: bool = True) -> Iterator[bytes]:
    """The plaintext of a complete exhibit, bytes ``start``..``end`` inclusive, one chunk at a time.

    For callers that already decided and recorded the access (reads here; disclosure bundles).
    The data key is unwrapped now, so a shredded exhibit raises ``Gone`` here, before the caller
    sends anything; a chunk that fails its integrity check later raises ``IntegrityFailure``
    from the iterator. Memory: one chunk (``chunk_size``) at a time. The iterator needs no
    request or app context of the caller's (it opens its own per chunk, ``detached``), so it
    can be consumed by a streamed response after the request's transaction committed; pass
    ``detached=False`` to read in the current session instead.
    """
    if not exhibit.complete:
        raise Conflict("This exhibit's upload is not complete.", problem="upload-incomplete")
    end = exhibit.size - 1 if end is None else min(end, exhibit.size - 1)
    if start < 0 or (exhibit.size and start > end):
        raise ValueError("bad range")
    if exhibit.shredded:
        raise Gone("This exhibit was crypto-shredded (consent withdrawn or erasure ordered).", problem="shredded")
    return _plaintext(exhibit, _data_key(exhibit), start, end, detached=detached)


def open_content(exhibit_id: int, spec: ranges.ByteRange | None, *, headers_only: bool = False) -> ContentRead:
    """Decide and record a read of an exhibit's content (whole or a range), then hand out its bytes.

    ``headers_only`` (HEAD) is decided as a read, and recorded as one that served no byte (its
    event also says ``headers_only``, as every HEAD's does): an auditor asking who received the
    footage must not count a client that asked only its length.
    """
    access = load_authorized(Exhibit, exhibit_id, "exhibit.read")
    exhibit = access.obj
    selected = ranges.select(spec, exhibit.size)
    start, end, partial = selected.start, selected.end, selected.partial
    access.note(range=f"{start}-{end}" if partial else None,
                bytes_served=0 if headers_only else max(end - start + 1, 0),
                size=exhibit.size, keyed_sha256=exhibit.keyed_sha256.hex() if exhibit.keyed_sha256 else None)
    chunks = iter(()) if headers_only else iter_plaintext(exhibit, start, end)
    # The whole content's digest (RFC 9530 Repr-Digest), on ranged reads too: a resumed download checks it.
    return ContentRead(exhibit, selected, chunks, sha256_of(_sealed(exhibit)) if exhibit.complete else None)


# -- metadata -----------------------------------------------------------------------------------


def receipt_of(exhibit_id: int) -> dict[str, Any]:
    """The exhibit's stored receipt and where its promised leaf is now (see ``custody.receipts``)."""
    exhibit = load_authorized(Exhibit, exhibit_id, "exhibit.metadata.read").obj
    if exhibit.receipt is None:
        raise NotFound("This exhibit's upload is not complete: it has no receipt yet.")
    return {**exhibit.receipt, "custody": locate(exhibit.receipt, "exhibit", str(exhibit.id), signer()).as_dict()}


def get_exhibit(exhibit_id: int) -> Extended:
    access = load_authorized(Exhibit, exhibit_id, "exhibit.metadata.read")
    return as_seen_by_caller(access.obj)


def _listing(statement: Any, args: dict[str, Any]) -> Page:
    page = keyset_page(statement, Exhibit.id, args)
    page["items"] = [as_seen_by_caller(exhibit) for exhibit in page["items"]]
    return page


def list_for_interview(interview_id: int, args: dict[str, Any]) -> Page:
    interview = load_authorized(Interview, interview_id, "exhibit.list").obj
    return _listing(select(Exhibit).where(Exhibit.interview_id == interview.id), args)


def list_for_incident(incident_id: int, args: dict[str, Any]) -> Page:
    incident = load_authorized(Incident, incident_id, "exhibit.list").obj
    return _listing(select(Exhibit).where(Exhibit.incident_id == incident.id), args)


def discover() -> None:
    """tus OPTIONS: what the server supports; recorded like any request."""
    authorize("exhibit.discover", Target("exhibit"))


# -- expiry and erasure -------------------------------------------------------------------------


def _destroy(exhibits: Iterable[Exhibit]) -> int:
    """Delete the chunk records of ``exhibits`` from their stores; how many chunks went."""
    return sum(blobs.store(exhibit.blob_store).delete(exhibit.blob_key) for exhibit in exhibits)


def expire_uploads(now: datetime | None = None) -> int:
    """Abandoned uploads past their expiry: chunks deleted, data key dropped, status expired, logged."""
    now = now or utcnow()
    stale = db.session.scalars(select(Exhibit).where(Exhibit.status == UPLOADING, Exhibit.expires_at <= now)
                               .order_by(Exhibit.id)).all()
    for exhibit in stale:
        chunks = _destroy([exhibit])
        exhibit.status = EXPIRED
        exhibit.datakey_wrapped_key = None
        system_access("exhibit.expire", exhibit.custody_target(), received=exhibit.received, size=exhibit.size,
                      chunks_deleted=chunks)
    return len(stale)


def seal_missing_digests() -> int:
    """Exhibits completed before completion sealed their plain SHA-256: seal it now (``Repr-Digest``).

    Each is decrypted once, and its keyed hash must be the one recorded at its completion: one
    that differs (or a chunk that fails its check) is logged and left without a digest, never
    given a wrong one. Shredded exhibits, and those of witnesses whose erasure is pending, are
    left as they are. Each digest sealed is recorded (``exhibit.digest.seal``, actor system).
    """
    sealed_now, after = 0, 0
    while True:
        batch = db.session.scalars(select(Exhibit).where(Exhibit.status == COMPLETE, Exhibit.id > after,
                                                         Exhibit.datakey_wrapped_key.is_not(None))
                                   .order_by(Exhibit.id).limit(100)).all()
        if not batch:
            return sealed_now
        for exhibit in batch:
            after = exhibit.id
            sealed = sealed_or_shredded(exhibit)
            if sealed is None or sealed.get("sha256"):
                continue
            try:
                data_key = _data_key(exhibit)
                plain = hashlib.sha256()
                keyed = hmac.new(_keyed_hash_key(exhibit, data_key), digestmod=hashlib.sha256)
                for piece in _plaintext(exhibit, data_key, 0, exhibit.size - 1, detached=False):
                    plain.update(piece)
                    keyed.update(piece)
            except Gone:
                continue
            except IntegrityFailure:
                log.critical("exhibit %s: its content fails its integrity check; no digest sealed", exhibit.id)
                continue
            if exhibit.keyed_sha256 is None or not hmac.compare_digest(keyed.digest(), exhibit.keyed_sha256):
                log.critical("exhibit %s: its content no longer matches its keyed hash; no digest sealed", exhibit.id)
                continue
            seal_into(exhibit, "freetext_", json.dumps({**sealed, "sha256": plain.hexdigest()}).encode(),
                      exhibit.freetext_context())
            system_access("exhibit.digest.seal", exhibit.custody_target(), keyed_sha256=exhibit.keyed_sha256.hex())
            sealed_now += 1


def shred_witness_exhibits(witness_id: int) -> dict[str, int]:
    """Crypto-shred: drop the data keys of the witness's exhibits and delete their chunks from the stores.

    The data keys are wrapped under the witness's subject key, destroyed by the caller in the
    keyring provider; this removes the rows' wrapped keys and the ciphertext as well.
    """
    exhibits = db.session.scalars(select(Exhibit).where(Exhibit.witness_id == witness_id)).all()
    chunks = _destroy(exhibits)
    keys = db.session.execute(update(Exhibit).where(Exhibit.witness_id == witness_id,
                                                    Exhibit.datakey_wrapped_key.is_not(None))
                              .values(datakey_wrapped_key=None, freetext_wrapped_key=None))
    return {"exhibits": int(keys.rowcount), "exhibit_chunks": chunks}  # type: ignore[attr-defined]


def exhibit_of_interview(exhibit_id: int, interview_id: int) -> Exhibit:
    """A complete exhibit of this interview (lineage of a transcript), else ``NotFound``."""
    exhibit = db.session.get(Exhibit, exhibit_id)
    if exhibit is None or exhibit.interview_id != interview_id or not exhibit.complete:
        raise NotFound("No such complete exhibit of this interview.")
    return exhibit
