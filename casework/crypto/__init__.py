"""Envelope encryption and key custody for Casework (pyca/cryptography only)."""

from .envelope import (
    DecryptionError,
    EnvelopeError,
    KeyDestroyedError,
    Sealed,
    bind,
    open_sealed,
    rewrap,
    seal,
    shred,
)
from .keyring import (
    DEFAULT_LOG_NAME,
    KeyringError,
    KeyringProvider,
    LocalKeyring,
    UnknownKeyError,
    open_keyring,
)

__all__ = [
    "DEFAULT_LOG_NAME",
    "DecryptionError",
    "EnvelopeError",
    "KeyDestroyedError",
    "KeyringError",
    "KeyringProvider",
    "LocalKeyring",
    "Sealed",
    "UnknownKeyError",
    "bind",
    "open_keyring",
    "open_sealed",
    "rewrap",
    "seal",
    "shred",
]
