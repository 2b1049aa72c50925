"""TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, as authenticator apps expect) and recovery codes.

Pure functions: the service stores the secret sealed, remembers the last accepted time step
(so a code is good once) and the recovery codes' hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp

DIGITS = 6
PERIOD = 30
TOLERANCE_STEPS = 1  # the step before and after the current one: clocks drift, people type slowly
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # 5 bits a character
_RECOVERY_GROUPS, _RECOVERY_GROUP_LEN = 4, 4  # 80 bits: a plain SHA-256 is a safe stored form

_clock = time.time  # tests may set the time


def new_secret() -> str:
    """A 160-bit base32 secret (RFC 4226's recommended length)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(name=account, issuer_name=issuer)


def current_step() -> int:
    return int(_clock() // PERIOD)


def matching_step(secret: str, code: str) -> int | None:
    """The time step (within the tolerance) whose code ``code`` is, or None."""
    code = code.strip()
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
    now = current_step()
    for step in (now, now - TOLERANCE_STEPS, now + TOLERANCE_STEPS):
        if hmac.compare_digest(totp.generate_otp(step).encode(), code.encode()):
            return step
    return None


def new_recovery_codes() -> list[str]:
    return [
        "-".join(
            "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_GROUP_LEN))
            for _ in range(_RECOVERY_GROUPS)
        )
        for _ in range(RECOVERY_CODES)
    ]


def recovery_digest(code: str) -> bytes:
    """What is stored of a recovery code; case, spaces and dashes do not matter."""
    normalized = "".join(ch for ch in code.lower() if ch not in " -")
    return hashlib.sha256(b"casework-recovery-code:" + normalized.encode()).digest()
