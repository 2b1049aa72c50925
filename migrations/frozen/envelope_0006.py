"""The envelope format 0006 reads and writes: AES-256-GCM records whose data keys a keyring wraps.

Used by 0006 only. Copied from ``casework.crypto.envelope`` when the migrations were frozen (issue
#25), keeping only what 0006 calls: ``bind``, ``seal``, ``open_sealed``, ``to_subject`` and
``to_kek``. The format is byte for byte the application's (records this writes open there, and
the other way round):

  * data key: 256 random bits; nonce: 96 random bits; ciphertext = AES-GCM(data key) || 16-byte tag;
  * ciphertext AAD = length-prefixed(b"casework/data/v1", context), each part a 4-byte big-endian
    length then the bytes;
  * the data key is wrapped by the keyring: under a KEK (``kek_id`` is the KEK's id), or under a
    subject's key (``kek_id`` is ``"subject"``, the subject derived from the row, never stored).

The keyring is the application's provider (``current_app.extensions["casework.keyring"]``), not
code of ours: it holds the keys. Its contract (``KeyringProvider``) is what this relies on:
``wrap_key(data_key, kek_id=, context=) -> (kek_id, wrapped)``, ``unwrap_key(wrapped, kek_id=,
context=)``, ``wrap_with_subject(subject, data_key, context)``, ``unwrap_with_subject(subject,
wrapped, context)``; ``cryptography``'s ``InvalidTag`` when a wrap does not match,
``UnknownKeyError`` for a KEK it does not hold and its subclass ``SubjectKeyDestroyed`` for a
subject key that is gone. Those two exception classes live in the application, so they are
recognised by name (in the exception's class hierarchy) and raised again as this module's
``UnknownKeyError``, or turned into ``KeyDestroyedError`` as the application's envelope does.
"""
from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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


class UnknownKeyError(Exception):
    """The keyring does not hold the KEK (the provider's own ``UnknownKeyError``, raised again)."""


def _raised_as(exc: BaseException, name: str) -> bool:
    return any(cls.__name__ == name for cls in type(exc).__mro__)


@contextmanager
def _keyring_errors(subject: str | None) -> Iterator[None]:
    """The provider's key errors as this module's, as the application's envelope reports them."""
    try:
        yield
    except Exception as exc:
        if _raised_as(exc, "SubjectKeyDestroyed"):
            raise KeyDestroyedError(f"the key of {subject} was destroyed (crypto-shredded)") from None
        if _raised_as(exc, "UnknownKeyError"):
            raise UnknownKeyError(*exc.args) from exc
        raise


@dataclass(frozen=True)
class Sealed:
    """What a row stores; `wrapped_key` is None/empty once crypto-shredded."""

    ciphertext: bytes  # AES-GCM ciphertext || 16-byte tag
    nonce: bytes  # 12 bytes
    wrapped_key: bytes | None
    kek_id: str


def _norm_id(value: str | int, what: str) -> str:
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

    UTF-8 compact JSON with sorted keys, ``{"id": str, "parents": {name: str}, "type": str,
    "version": int|null}``; ids stringified, every key always present.
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


def _unwrap(keyring: Any, sealed: Sealed, context: bytes, subject: str | None) -> bytes:
    if not sealed.wrapped_key:
        raise KeyDestroyedError("the data key for this record was destroyed")
    try:
        with _keyring_errors(subject):
            if sealed.kek_id == SUBJECT_KEK_ID:
                if subject is None:
                    raise DecryptionError("the record is wrapped under a subject key, but has no subject")
                data_key: bytes = keyring.unwrap_with_subject(subject, sealed.wrapped_key, context)
                return data_key
            data_key = keyring.unwrap_key(sealed.wrapped_key, kek_id=sealed.kek_id, context=context)
            return data_key
    except InvalidTag:
        raise DecryptionError("wrapped data key does not belong to this record or was altered") from None


def _wrap_for_subject(keyring: Any, data_key: bytes, context: bytes, subject: str) -> bytes:
    with _keyring_errors(subject):
        wrapped: bytes = keyring.wrap_with_subject(subject, data_key, context)
        return wrapped


def _wrap_for_kek(keyring: Any, data_key: bytes, context: bytes, kek_id: str | None) -> tuple[str, bytes]:
    with _keyring_errors(None):
        wrapped: tuple[str, bytes] = keyring.wrap_key(data_key, kek_id=kek_id, context=context)
        return wrapped


def seal(keyring: Any, plaintext: bytes, context: bytes, *, subject: str | None = None) -> Sealed:
    """Encrypt under a fresh data key, wrapped by the current KEK, or by `subject`'s key if given."""
    _check_context(context)
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    if subject is not None:
        kek_id, wrapped = SUBJECT_KEK_ID, _wrap_for_subject(keyring, data_key, context, subject)
    else:
        kek_id, wrapped = _wrap_for_kek(keyring, data_key, context, None)
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, _data_aad(context))
    return Sealed(ciphertext=ciphertext, nonce=nonce, wrapped_key=wrapped, kek_id=kek_id)


def open_sealed(keyring: Any, sealed: Sealed, context: bytes, *, subject: str | None = None) -> bytes:
    """Decrypt; raises DecryptionError, KeyDestroyedError or UnknownKeyError (KEK gone)."""
    _check_context(context)
    data_key = _unwrap(keyring, sealed, context, subject)
    if len(sealed.nonce) != NONCE_BYTES or len(sealed.ciphertext) < _TAG_BYTES:
        raise DecryptionError("ciphertext does not belong to this record or was altered")
    try:
        return AESGCM(data_key).decrypt(sealed.nonce, sealed.ciphertext, _data_aad(context))
    except InvalidTag:
        raise DecryptionError("ciphertext does not belong to this record or was altered") from None


def to_subject(keyring: Any, sealed: Sealed, context: bytes, subject: str) -> Sealed:
    """Move a KEK-wrapped data key under `subject`'s key (ciphertext untouched); a no-op if already there."""
    _check_context(context)
    if sealed.kek_id == SUBJECT_KEK_ID:
        return sealed
    data_key = _unwrap(keyring, sealed, context, None)
    wrapped = _wrap_for_subject(keyring, data_key, context, subject)
    return replace(sealed, wrapped_key=wrapped, kek_id=SUBJECT_KEK_ID)


def to_kek(keyring: Any, sealed: Sealed, context: bytes, subject: str, *, to_kek_id: str | None = None) -> Sealed:
    """Move a subject-wrapped data key back under a KEK (a downgrade); KeyDestroyedError once shredded."""
    _check_context(context)
    if sealed.kek_id != SUBJECT_KEK_ID:
        return sealed
    data_key = _unwrap(keyring, sealed, context, subject)
    kek_id, wrapped = _wrap_for_kek(keyring, data_key, context, to_kek_id)
    return replace(sealed, wrapped_key=wrapped, kek_id=kek_id)
