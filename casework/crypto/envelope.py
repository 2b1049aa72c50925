"""Envelope encryption for transcript versions and protected identities.

Each `seal` uses a fresh 256-bit data key and a random 96-bit nonce
(AES-256-GCM).  The data key is wrapped by the keyring's current KEK.  Both
the ciphertext and the wrapped key are authenticated against the record's
place (`bind`), so copying either to another row makes decryption fail.

Binding layout:
  * ciphertext AAD = length-prefixed("casework/data/v1", context)
  * wrap AAD       = length-prefixed("casework/wrap/v1", kek_id, context)

The KEK id is bound through the wrap, not the ciphertext: binding it into the
ciphertext would make rewrapping under a new KEK impossible without
re-encrypting, which the rotation contract forbids.  The ciphertext is still
tied to its KEK chain because only the matching wrapped key opens it.

Subject keys: ``seal(..., subject="witness:7")`` wraps the data key under that
subject's key in the keyring instead of a KEK, and records ``kek_id`` =
`SUBJECT_KEK_ID` (``"subject"``).  The subject itself is not stored: the
caller derives it from the row (a transcript names its witness), and the wrap
is bound to ``wrap_associated_data("subject:<subject>", context)``, so a wrapped
key moved to another subject's row fails.  Once the subject key is destroyed,
`open_sealed` raises `KeyDestroyedError` even though the row still holds its
wrapped key (a database restored from before the destruction).  Subject keys
are not KEKs: `rewrap` leaves subject-wrapped records alone.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, replace

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .keyring import KeyringProvider, SubjectKeyDestroyed

__all__ = [
    "SUBJECT_KEK_ID",
    "DecryptionError",
    "EnvelopeError",
    "KeyDestroyedError",
    "Sealed",
    "bind",
    "open_sealed",
    "rewrap",
    "seal",
    "shred",
    "to_kek",
    "to_subject",
]

NONCE_BYTES = 12
_TAG_BYTES = 16
_DATA_LABEL = b"casework/data/v1"
SUBJECT_KEK_ID = "subject"  # kek_id of a record whose data key is wrapped under its subject's key


class EnvelopeError(Exception):
    """Base class for envelope failures."""


class DecryptionError(EnvelopeError):
    """Ciphertext or wrapped key does not match this record (moved, altered, wrong KEK)."""


class KeyDestroyedError(EnvelopeError):
    """The data key was destroyed (crypto-shredded); the plaintext is unrecoverable."""


@dataclass(frozen=True)
class Sealed:
    """What a row stores; `wrapped_key` is None/empty once crypto-shredded."""

    ciphertext: bytes  # AES-GCM ciphertext || 16-byte tag
    nonce: bytes  # 12 bytes
    wrapped_key: bytes | None
    kek_id: str


def _norm_id(value: str | int, what: str) -> str:
    # bool is an int subclass; True as an id is almost certainly a bug.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"{what} must be str or int")
    return str(value)


def bind(
    record_type: str,
    record_id: str | int,
    *,
    parents: dict[str, str | int] | None = None,
    version: int | None = None,
) -> bytes:
    """Canonical associated data for a row's place.

    Encoding: UTF-8 compact JSON with sorted keys,
    ``{"id": str, "parents": {name: str}, "type": str, "version": int|null}``.
    Ids are stringified so an int primary key and its decimal string bind
    identically (database vs URL); every key is always present so the output
    is deterministic.
    """
    if not isinstance(record_type, str) or not record_type:
        raise ValueError("record_type must be a non-empty string")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise TypeError("version must be int or None")
    norm_parents: dict[str, str] = {}
    for name, pid in (parents or {}).items():
        if not isinstance(name, str) or not name:
            raise ValueError("parent names must be non-empty strings")
        norm_parents[name] = _norm_id(pid, f"parent {name!r}")
    doc = {
        "id": _norm_id(record_id, "record_id"),
        "parents": norm_parents,
        "type": record_type,
        "version": version,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _data_aad(context: bytes) -> bytes:
    return b"".join(struct.pack(">I", len(p)) + p for p in (_DATA_LABEL, context))


def _check_context(context: bytes) -> None:
    # An empty context would produce a ciphertext that fits any row.
    if not isinstance(context, bytes) or not context:
        raise ValueError("context must be non-empty bytes (use bind())")


def _unwrap(keyring: KeyringProvider, sealed: Sealed, context: bytes, subject: str | None) -> bytes:
    if not sealed.wrapped_key:
        raise KeyDestroyedError("the data key for this record was destroyed")
    try:
        if sealed.kek_id == SUBJECT_KEK_ID:
            if subject is None:
                raise DecryptionError("the record is wrapped under a subject key, but has no subject")
            return keyring.unwrap_with_subject(subject, sealed.wrapped_key, context)
        return keyring.unwrap_key(sealed.wrapped_key, kek_id=sealed.kek_id, context=context)
    except SubjectKeyDestroyed:
        raise KeyDestroyedError(f"the key of {subject} was destroyed (crypto-shredded)") from None
    except InvalidTag:
        raise DecryptionError("wrapped data key does not belong to this record or was altered") from None


def _wrap_for_subject(keyring: KeyringProvider, data_key: bytes, context: bytes, subject: str) -> bytes:
    try:
        return keyring.wrap_with_subject(subject, data_key, context)
    except SubjectKeyDestroyed:
        raise KeyDestroyedError(f"the key of {subject} was destroyed (crypto-shredded)") from None


def seal(keyring: KeyringProvider, plaintext: bytes, context: bytes, *, subject: str | None = None) -> Sealed:
    """Encrypt under a fresh data key, wrapped by the current KEK, or by `subject`'s key if given.

    Raises KeyDestroyedError when the subject's key was destroyed.
    """
    _check_context(context)
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    if subject is not None:
        kek_id, wrapped = SUBJECT_KEK_ID, _wrap_for_subject(keyring, data_key, context, subject)
    else:
        kek_id, wrapped = keyring.wrap_key(data_key, kek_id=None, context=context)
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, _data_aad(context))
    return Sealed(ciphertext=ciphertext, nonce=nonce, wrapped_key=wrapped, kek_id=kek_id)


def open_sealed(keyring: KeyringProvider, sealed: Sealed, context: bytes, *, subject: str | None = None) -> bytes:
    """Decrypt; raises DecryptionError, KeyDestroyedError or UnknownKeyError (KEK gone).

    `subject` names the subject key for records sealed under one (``kek_id ==
    "subject"``); records under a KEK ignore it, so rows written before subject
    keys existed still open.
    """
    _check_context(context)
    data_key = _unwrap(keyring, sealed, context, subject)
    if len(sealed.nonce) != NONCE_BYTES or len(sealed.ciphertext) < _TAG_BYTES:
        raise DecryptionError("ciphertext does not belong to this record or was altered")
    try:
        return AESGCM(data_key).decrypt(sealed.nonce, sealed.ciphertext, _data_aad(context))
    except InvalidTag:
        raise DecryptionError("ciphertext does not belong to this record or was altered") from None


def rewrap(keyring: KeyringProvider, sealed: Sealed, context: bytes, *, to_kek_id: str | None = None) -> Sealed:
    """Move the data key to another KEK; ciphertext and nonce are left untouched.

    Returns `sealed` itself when it is already under the target KEK, or under
    a subject key (those are not KEKs and never rotate), so the rotation CLI can
    skip the row write.
    """
    _check_context(context)
    if sealed.kek_id == SUBJECT_KEK_ID:
        return sealed
    target = to_kek_id if to_kek_id is not None else keyring.current_kek_id()
    if sealed.kek_id == target and sealed.wrapped_key:
        return sealed
    data_key = _unwrap(keyring, sealed, context, None)
    kek_id, wrapped = keyring.wrap_key(data_key, kek_id=target, context=context)
    return replace(sealed, wrapped_key=wrapped, kek_id=kek_id)


def to_subject(keyring: KeyringProvider, sealed: Sealed, context: bytes, subject: str) -> Sealed:
    """Move a KEK-wrapped data key under `subject`'s key (ciphertext untouched); a no-op if already there."""
    _check_context(context)
    if sealed.kek_id == SUBJECT_KEK_ID:
        return sealed
    data_key = _unwrap(keyring, sealed, context, None)
    wrapped = _wrap_for_subject(keyring, data_key, context, subject)
    return replace(sealed, wrapped_key=wrapped, kek_id=SUBJECT_KEK_ID)


def to_kek(
    keyring: KeyringProvider, sealed: Sealed, context: bytes, subject: str, *, to_kek_id: str | None = None
) -> Sealed:
    """Move a subject-wrapped data key back under a KEK (a downgrade); KeyDestroyedError once shredded."""
    _check_context(context)
    if sealed.kek_id != SUBJECT_KEK_ID:
        return sealed
    data_key = _unwrap(keyring, sealed, context, subject)
    kek_id, wrapped = keyring.wrap_key(data_key, kek_id=to_kek_id, context=context)
    return replace(sealed, wrapped_key=wrapped, kek_id=kek_id)


def shred(sealed: Sealed) -> Sealed:
    """Copy without the wrapped key: what a row holds after consent withdrawal."""
    return replace(sealed, wrapped_key=None)
