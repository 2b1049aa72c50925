"""Finishing an upload: the whole content's digests and media type, then the exhibit frozen and receipted.

Hash state cannot outlive a request (hashlib objects do not serialise), so the SHA-256 is
computed on completion by decrypting the content once (which also proves every chunk opens).
The plain SHA-256 is in the clear only in the uploader's signed receipt; at rest it is sealed
(``sealed.seal_digest``). Readers of metadata and the log see the keyed hash (HMAC under the
witness's hash key, or for incident exhibits under a key derived from the exhibit's data key).
The same pass judges the media type of the whole content (``media_types``: a registered type,
which must suit the exhibit's kind).

Nothing here decides an access: the PATCH that delivered the last byte decides and records the
completion (``uploads.receive``) and hands its ``Access`` to ``complete``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from casework.access.door import Access, system_access
from casework.custody.receipts import merge_delay_ms, promise
from casework.db import db, utcnow
from casework.errors import Gone, IntegrityFailure, UnsupportedMedia
from casework.exhibits import media_types, receipts, sealed
from casework.exhibits.content import plaintext
from casework.exhibits.models import COMPLETE, Exhibit
from casework.keys import keyring
from casework.witnesses.models import Witness
from casework.witnesses.service import hash_key

log = logging.getLogger(__name__)

_INCIDENT_HASH_LABEL = b"casework/exhibit-keyed-sha256/v1"


@dataclass(frozen=True)
class Digests:
    """What one decrypting pass over the whole content learned of it."""

    sha256: str  # hex, for the receipt and the sealed free text only
    keyed_sha256: bytes


def check_suits(kind: str, media_type: str) -> None:
    """The content's media type must suit the exhibit's kind (else unsupported media)."""
    if not media_types.suits(kind, media_type):
        raise UnsupportedMedia(
            f"The content is {media_type}, which is not an exhibit of kind {kind!r}.",
            accepted=media_types.accepted(kind) or (),
        )


def _keyed_hash_key(exhibit: Exhibit, data_key: bytes) -> bytes:
    if exhibit.witness_id is not None:
        return hash_key(db.session.get_one(Witness, exhibit.witness_id))
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INCIDENT_HASH_LABEL).derive(data_key)


def digest(exhibit: Exhibit, data_key: bytes, sniffer: media_types.Sniffer | None = None) -> Digests:
    """Decrypt the whole content once, in the current session (the request's own chunks included).

    A ``sniffer`` given is fed the same pieces, to judge the whole content's media type.
    """
    plain = hashlib.sha256()
    keyed = hmac.new(_keyed_hash_key(exhibit, data_key), digestmod=hashlib.sha256)
    for piece in plaintext(exhibit, data_key, 0, exhibit.size - 1, detached=False):
        plain.update(piece)
        keyed.update(piece)
        if sniffer is not None:
            sniffer.update(piece)
    return Digests(plain.hexdigest(), keyed.digest())


def judge(exhibit: Exhibit, data_key: bytes) -> Digests:
    """The last byte arrived: hash the content and judge its media type, which must suit the kind."""
    sniffer = media_types.Sniffer()
    found = digest(exhibit, data_key, sniffer)
    exhibit.media_type = media_type = sniffer.media_type()
    check_suits(exhibit.kind, media_type)
    return found


def complete(access: Access[Any], exhibit: Exhibit, found: Digests) -> dict[str, Any]:
    """Freeze the judged exhibit, note its completion on ``access`` (the PATCH's decision), and receipt it."""
    exhibit.keyed_sha256 = found.keyed_sha256
    # The plain hash at rest only sealed, beside the file name: for readers of the content (Repr-Digest).
    sealed.seal_digest(exhibit, sealed.opened(exhibit), found.sha256)
    exhibit.status = COMPLETE
    exhibit.completed_at = utcnow()
    access.note(
        exhibit_id=exhibit.id,
        kind=exhibit.kind,
        media_type=exhibit.media_type,
        size=exhibit.size,
        keyed_sha256=exhibit.keyed_sha256.hex(),
        interview_id=exhibit.interview_id,
        incident_id=exhibit.incident_id,
    )
    receipt = _receipt(access, exhibit, found.sha256)
    exhibit.receipt = {k: v for k, v in receipt.items() if k != "sha256"}  # no plain hash at rest
    return receipt


def _receipt(access: Access[Any], exhibit: Exhibit, sha256: str) -> dict[str, Any]:
    """Where the completion landed in the log, signed: the one place that asks the log for it."""
    logged = access.promise()
    return receipts.sign(
        {
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
        },
        keyring().signing_key(),
    )


# -- exhibits completed before completion sealed their digest ------------------------------------


def seal_missing_digests() -> int:
    """Exhibits completed before completion sealed their plain SHA-256: seal it now (``Repr-Digest``).

    Each is decrypted once, and its keyed hash must be the one recorded at its completion: one
    that differs (or a chunk that fails its check) is logged and left without a digest, never
    given a wrong one. Shredded exhibits, and those of witnesses whose erasure is pending, are
    left as they are. Each digest sealed is recorded (``exhibit.digest.seal``, actor system).
    """
    sealed_now, after = 0, 0
    while True:
        batch = db.session.scalars(
            select(Exhibit)
            .where(Exhibit.status == COMPLETE, Exhibit.id > after, Exhibit.sealed_datakey.wrapped_key.is_not(None))
            .order_by(Exhibit.id)
            .limit(100)
        ).all()
        if not batch:
            return sealed_now
        for exhibit in batch:
            after = exhibit.id
            sealed_now += _seal_missing_digest(exhibit)


def _seal_missing_digest(exhibit: Exhibit) -> int:
    """1 if the exhibit's digest was missing and is sealed now, else 0."""
    held = sealed.sealed_or_shredded(exhibit)
    if held is None or held.get("sha256"):
        return 0
    try:
        found = digest(exhibit, sealed.data_key(exhibit))
    except Gone:
        return 0
    except IntegrityFailure:
        log.critical("exhibit %s: its content fails its integrity check; no digest sealed", exhibit.id)
        return 0
    if exhibit.keyed_sha256 is None or not hmac.compare_digest(found.keyed_sha256, exhibit.keyed_sha256):
        log.critical("exhibit %s: its content no longer matches its keyed hash; no digest sealed", exhibit.id)
        return 0
    sealed.seal_digest(exhibit, held, found.sha256)
    system_access("exhibit.digest.seal", exhibit.custody_target(), keyed_sha256=exhibit.keyed_sha256.hex())
    return 1
