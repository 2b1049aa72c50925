"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile).

The profile is configuration: the test environment may choose argon2's cheapest parameters so
that a suite creating thousands of accounts stays fast; production refuses that profile.
"""
from __future__ import annotations

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

PROFILES = {
    "rfc9106-low-memory": profiles.RFC_9106_LOW_MEMORY,
    "cheapest-for-tests": profiles.CHEAPEST,
}
DEFAULT_PROFILE = "rfc9106-low-memory"

_hasher = PasswordHasher.from_parameters(PROFILES[DEFAULT_PROFILE])
# Verified against when the username is unknown, so both paths cost the same time.
_dummy_hash = _hasher.hash("casework-dummy-password-for-timing")


def configure(profile: str) -> None:
    """Use the named argon2 parameters for new hashes (existing ones verify whatever they used)."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher.from_parameters(PROFILES[profile])
    _dummy_hash = _hasher.hash("casework-dummy-password-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _dummy_hash, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
