"""Envelope encryption and key custody for Casework (pyca/cryptography only)."""

from .envelope import (
    SUBJECT_KEK_ID,
    DecryptionError,
    EnvelopeError,
    KeyDestroyedError,
    Sealed,
    bind,
    open_sealed,
    rewrap,
    seal,
    shred,
    to_subject,
)
from .keyring import (
    DEFAULT_LOG_NAME,
    KeyringError,
    KeyringProvider,
    LocalKeyring,
    SubjectKeyDestroyed,
    UnknownKeyError,
    open_keyring,
)

__all__ = [
    "DEFAULT_LOG_NAME",
    "SUBJECT_KEK_ID",
    "DecryptionError",
    "EnvelopeError",
    "KeyDestroyedError",
    "KeyringError",
    "KeyringProvider",
    "LocalKeyring",
    "Sealed",
    "SubjectKeyDestroyed",
    "UnknownKeyError",
    "bind",
    "open_keyring",
    "open_sealed",
    "rewrap",
    "seal",
    "shred",
    "to_subject",
]
