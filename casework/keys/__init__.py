"""The app's keyring and the protected (envelope-encrypted) fields stored on rows.

``seal_into`` / ``open_from`` / ``shred`` are the one way a row's encrypted field is written,
read and destroyed. Each protected model names its fields in ``__protected__`` and binds
them to its place with ``*_context()``, so rotation and status see every encrypted record.

A model that belongs to a witness also has ``key_subject()`` (``witness:<id>``, see
`witness_subject`): its fields are then sealed under that witness's subject key in the keyring
provider, outside the database, and ``kek_id`` reads ``"subject"``. Destroying the subject key
(`destroy_subject_key`, on consent withdrawal) makes every such field unreadable, whatever copy
of the database is at hand. Rows sealed under a KEK before subject keys existed still open.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from casework.crypto.envelope import DecryptionError, KeyDestroyedError, Sealed, open_sealed, seal
from casework.crypto.keyring import KeyringError, KeyringProvider, open_keyring
from casework.custody.signer import LogSigner, default_state_path
from casework.errors import Gone, IntegrityFailure
from casework.settings import settings

log = logging.getLogger(__name__)


def _open(location: str | None, app: Flask) -> KeyringProvider:
    """A ``pkcs11:`` URI opens the HSM keyring (PIN from $CASEWORK_PKCS11_PIN); else a keyring file."""
    if location and location.startswith("pkcs11:"):
        from casework.crypto.pkcs11_keyring import Pkcs11Keyring

        return Pkcs11Keyring.from_uri(location, pin_env="CASEWORK_PKCS11_PIN")
    return open_keyring(location, create_if_missing=settings(app).keys.create_keyring,
                        log_name=settings(app).custody.log_origin)


def init_keyring(app: Flask) -> None:
    location = settings(app).keys.keyring
    provider = _open(location, app)
    app.extensions["casework.keyring"] = provider
    state = settings(app).custody.signer_state or default_state_path(location)
    if state is None:
        raise KeyringError("a PKCS#11 keyring needs CASEWORK_SIGNER_STATE: the signer's state file beside the token")
    app.extensions["casework.signer"] = LogSigner(provider, Path(state))


def keyring() -> KeyringProvider:
    return current_app.extensions["casework.keyring"]


def signer() -> LogSigner:
    """The log's signer: its key and its own memory of what it signed."""
    return current_app.extensions["casework.signer"]


def sealed_of(row: Any, prefix: str) -> Sealed:
    return Sealed(
        ciphertext=getattr(row, f"{prefix}ciphertext"),
        nonce=getattr(row, f"{prefix}nonce"),
        wrapped_key=getattr(row, f"{prefix}wrapped_key"),
        kek_id=getattr(row, f"{prefix}kek_id"),
    )


def store_sealed(row: Any, prefix: str, sealed: Sealed) -> None:
    for name in ("ciphertext", "nonce", "wrapped_key", "kek_id"):
        setattr(row, f"{prefix}{name}", getattr(sealed, name))


def witness_subject(witness_id: int) -> str:
    """The subject whose key in the keyring protects everything a witness's rows hold."""
    return f"witness:{witness_id}"


def subject_of(row: Any) -> str | None:
    """The row's subject (``key_subject()``), or None for a row sealed under the KEKs."""
    method = getattr(row, "key_subject", None)
    return method() if method is not None else None


def create_subject_key(subject: str) -> None:
    keyring().create_subject_key(subject)


def destroy_subject_key(subject: str) -> bool:
    """Crypto-shred in the provider: nothing wrapped under the subject's key opens again. True if it existed."""
    return keyring().destroy_subject_key(subject)


def has_subject_key(subject: str) -> bool:
    return keyring().has_subject_key(subject)


def seal_into(row: Any, prefix: str, plaintext: bytes, context: bytes) -> None:
    """Seal a field under the row's subject key (or the current KEK for a row without a subject)."""
    try:
        store_sealed(row, prefix, seal(keyring(), plaintext, context, subject=subject_of(row)))
    except KeyDestroyedError:
        raise Gone("The witness's key was destroyed (consent withdrawn or erasure ordered); "
                   "nothing more can be recorded for them.", problem="shredded") from None


def open_from(row: Any, prefix: str, context: bytes) -> bytes:
    """Decrypt a row's field; shredded is ``Gone``, a moved or altered ciphertext ``IntegrityFailure``.

    Shredded means the row's wrapped key was removed, or the subject key it is wrapped under
    was destroyed in the provider (so a database restored from before the withdrawal is Gone too).
    """
    try:
        return open_sealed(keyring(), sealed_of(row, prefix), context, subject=subject_of(row))
    except KeyDestroyedError:
        raise Gone("This content was crypto-shredded (consent withdrawn or erasure ordered).",
                   problem="shredded") from None
    except DecryptionError:
        log.critical("ciphertext does not belong to its row: %s %s", type(row).__name__, row.id)
        raise IntegrityFailure("Stored ciphertext failed its integrity check; the incident has been logged.") from None


def open_optional(row: Any, prefix: str, context: bytes) -> bytes | None:
    """Like ``open_from`` for fields shown beside metadata: None when absent or shredded."""
    if getattr(row, f"{prefix}ciphertext") is None:
        return None
    try:
        return open_from(row, prefix, context)
    except Gone:
        return None


def keyed_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256: the content hash metadata readers and the log see, unguessable without the key."""
    return hmac.new(key, data, hashlib.sha256).digest()


def shred(row: Any, prefix: str) -> bool:
    """Destroy the data key; the ciphertext stays but can never be opened. True if it was live."""
    if getattr(row, f"{prefix}wrapped_key") is None:
        return False
    setattr(row, f"{prefix}wrapped_key", None)
    return True
