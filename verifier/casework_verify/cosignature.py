"""C2SP tlog-cosignature: timestamped Ed25519 witness cosignatures (``cosignature/v1``).

Spec: https://c2sp.org/tlog-cosignature (Ed25519 type), on top of https://c2sp.org/signed-note
and https://c2sp.org/tlog-checkpoint.

* cosigner vkey: ``name+hex(key_id)+base64(0x04 || 32-byte Ed25519 public key)``
* key id: ``SHA-256(name || "\\n" || 0x04 || public key)[:4]``
* signed message: ``"cosignature/v1\\n" + "time <timestamp>\\n" + checkpoint body`` (the body
  includes its final newline, but no signature lines)
* signature line: ``— name base64(key_id || u64 big-endian timestamp || 64-byte signature)``

The Ed25519 message does not commit to the cosigner name, so one public key must never be used
by two cosigners; :func:`cosigners` refuses such a configuration rather than count one signature
twice toward a quorum.

"Signature lines" in this module are strings *without* their final newline.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from casework_verify.note import MAX_SIGNATURES, SIG_PREFIX, NoteError, open_note, parse_checkpoint, split_signed

ALG_COSIGNATURE_V1 = 0x04
HEADER = "cosignature/v1\n"
MAX_TIMESTAMP = 2**63 - 1
KEY_ID_SIZE = 4
SIGNATURE_SIZE = KEY_ID_SIZE + 8 + 64  # key id || u64 timestamp || Ed25519 signature

_KEY_HASH = re.compile(r"[0-9a-f]{8}\Z")


class CosignatureError(NoteError):
    """A cosignature, cosigner key or cosigned note is malformed, missing or forged."""


class QuorumError(CosignatureError):
    """Fewer distinct trusted witnesses validly cosigned the checkpoint than the quorum needs."""

    def __init__(self, message: str, valid: Sequence[Cosignature]) -> None:
        super().__init__(message)
        self.valid = list(valid)


class Signer(Protocol):
    """What :func:`cosign` needs of a key: an Ed25519PrivateKey, or an HSM-backed equivalent."""

    def sign(self, data: bytes) -> bytes: ...

    def public_key(self) -> Ed25519PublicKey: ...


@dataclass(frozen=True)
class CosignerKey:
    """A trusted cosigner: name, key id and Ed25519 public key (signature type 0x04)."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @property
    def public_bytes(self) -> bytes:
        return _raw_public(self.public_key)

    @property
    def vkey(self) -> str:
        return cosigner_vkey(self.name, self.public_key)


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: who signed, and the time it attests."""

    name: str
    key_id: bytes
    timestamp: int
    vkey: str


# --- keys ---------------------------------------------------------------------------------


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64 (RFC 4648 section 4): padded, canonical, nothing but the alphabet."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CosignatureError(f"malformed {what}: invalid base64") from exc
    if _b64(raw) != text:
        raise CosignatureError(f"malformed {what}: non-canonical base64")
    return raw


def cosigner_key_id(name: str, public_key_bytes: bytes) -> bytes:
    """``SHA-256(name || "\\n" || 0x04 || public key)[:4]``."""
    if len(public_key_bytes) != 32:
        raise CosignatureError("an Ed25519 public key is 32 bytes")
    data = name.encode("utf-8") + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key_bytes
    return hashlib.sha256(data).digest()[:KEY_ID_SIZE]


def cosigner_vkey(name: str, public_key: Ed25519PublicKey) -> str:
    """The cosigner's verifier key: ``name+hex(key id)+base64(0x04 || public key)``."""
    if not _valid_name(name):
        raise CosignatureError(f"invalid cosigner name {name!r}: must be non-empty, without spaces or '+'")
    raw = _raw_public(public_key)
    return f"{name}+{cosigner_key_id(name, raw).hex()}+{_b64(bytes([ALG_COSIGNATURE_V1]) + raw)}"


def parse_cosigner_vkey(vkey: str) -> CosignerKey:
    """Parse and check a type 0x04 vkey (the key hash must match the name and key)."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise CosignatureError("malformed cosigner vkey: expected name+hash+key")
    name, key_hash, key_b64 = parts
    if not _valid_name(name):
        raise CosignatureError(f"malformed cosigner vkey: invalid name {name!r}")
    if not _KEY_HASH.match(key_hash):
        raise CosignatureError("malformed cosigner vkey: key hash must be 8 lowercase hex digits")
    raw = _b64decode(key_b64, "cosigner vkey")
    if len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
        raise CosignatureError("malformed cosigner vkey: expected type 0x04 and a 32-byte Ed25519 key")
    kid = bytes.fromhex(key_hash)
    if cosigner_key_id(name, raw[1:]) != kid:
        raise CosignatureError("malformed cosigner vkey: key hash does not match name and key")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    except ValueError as exc:
        raise CosignatureError(f"malformed cosigner vkey: {exc}") from exc
    return CosignerKey(name, kid, public_key)


# --- notes ----------------------------------------------------------------------------------


def parse_signature_line(line: str) -> tuple[str, bytes]:
    """``— name base64(sig)`` (no trailing newline) -> (name, decoded signature bytes)."""
    if not line.startswith(SIG_PREFIX):
        raise CosignatureError(f"malformed signature line (must start with an em dash): {line[:40]!r}")
    name, sep, sig_b64 = line[len(SIG_PREFIX) :].partition(" ")
    if not sep or not _valid_name(name) or not sig_b64:
        raise CosignatureError(f"malformed signature line: {line[:40]!r}")
    raw = _b64decode(sig_b64, "signature line")
    if len(raw) < KEY_ID_SIZE + 1:
        raise CosignatureError("malformed signature line: signature too short")
    return name, raw


def split_note(note_text: str) -> tuple[str, list[str]]:
    """Split a signed note into its text (with final newline) and its signature lines.

    The text is separated from the signatures by the last blank line; every signature line is
    checked for form (not for validity). Raises CosignatureError on a malformed note.
    """
    try:
        text, lines = split_signed(note_text)
    except NoteError as exc:
        raise CosignatureError(str(exc)) from None
    for line in lines:
        parse_signature_line(line)
    return text, lines


def join_note(text: str, signature_lines: Iterable[str]) -> str:
    """Inverse of :func:`split_note`."""
    lines = list(signature_lines)
    if not text.endswith("\n"):
        raise CosignatureError("note text must end with a newline")
    if not lines:
        raise CosignatureError("a signed note needs at least one signature line")
    for line in lines:
        parse_signature_line(line)
    return text + "\n" + "".join(f"{line}\n" for line in lines)


def append_signatures(note_text: str, signature_lines: Iterable[str]) -> str:
    """Append signature lines (e.g. cosignatures) to a signed note; exact duplicates are dropped."""
    text, lines = split_note(note_text)
    for new in signature_lines:
        line = new.rstrip("\n")
        if line not in lines:
            lines.append(line)
    if len(lines) > MAX_SIGNATURES:
        raise CosignatureError(f"a note may carry at most {MAX_SIGNATURES} signatures")
    return join_note(text, lines)


# --- signing and verifying ------------------------------------------------------------------


def cosigned_message(checkpoint_body: str, timestamp: int) -> bytes:
    """The exact bytes an Ed25519 cosignature/v1 signs."""
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CosignatureError("cosignature timestamp must be an integer in [0, 2**63 - 1]")
    parse_checkpoint(checkpoint_body)  # a cosignature is over a well-formed checkpoint body
    return f"{HEADER}time {timestamp}\n{checkpoint_body}".encode()


def cosign(checkpoint_body: str, name: str, private_key: Signer, timestamp: int) -> str:
    """Cosign a checkpoint body (text only, no signature lines); return the signature line.

    The line has no trailing newline. ``private_key`` is anything with ``sign(bytes) -> bytes``
    and ``public_key() -> Ed25519PublicKey``; the signature is checked before it is returned, so
    a faulty signer cannot hand out a broken cosignature.
    """
    if not _valid_name(name):
        raise CosignatureError(f"invalid cosigner name {name!r}: must be non-empty, without spaces or '+'")
    message = cosigned_message(checkpoint_body, timestamp)
    public_key = private_key.public_key()
    signature = private_key.sign(message)
    try:
        if len(signature) != 64:
            raise InvalidSignature
        public_key.verify(signature, message)
    except InvalidSignature as exc:
        raise CosignatureError("the signer produced an invalid Ed25519 signature") from exc
    kid = cosigner_key_id(name, _raw_public(public_key))
    return f"{SIG_PREFIX}{name} {_b64(kid + struct.pack('>Q', timestamp) + signature)}"


def _check_line(text: str, raw: bytes, key: CosignerKey, latest: int | None) -> int:
    """Verify one decoded signature that claims to be by ``key``; return its timestamp."""
    if len(raw) != SIGNATURE_SIZE:
        raise CosignatureError(f"invalid cosignature by {key.name}: must be {SIGNATURE_SIZE} bytes, got {len(raw)}")
    (timestamp,) = struct.unpack(">Q", raw[KEY_ID_SIZE : KEY_ID_SIZE + 8])
    if timestamp > MAX_TIMESTAMP:
        raise CosignatureError(f"invalid cosignature by {key.name}: timestamp exceeds 2**63 - 1")
    try:
        key.public_key.verify(raw[KEY_ID_SIZE + 8 :], cosigned_message(text, timestamp))
    except InvalidSignature as exc:
        raise CosignatureError(f"invalid cosignature by {key.name}: the checkpoint or time was altered") from exc
    if latest is not None and timestamp > latest:
        raise CosignatureError(f"cosignature by {key.name} is dated in the future ({timestamp} > {latest})")
    return int(timestamp)


def verify_cosignature(checkpoint_note_text: str, vkey: str, *, latest: int | None = None) -> int:
    """Return the timestamp of the valid cosignature by ``vkey`` on the checkpoint note.

    Lines by other keys (the log's own signature, other witnesses, lines that share only the
    name or only the key id) are ignored; a line matching both name and key id must verify.
    ``latest``, if given, rejects timestamps after it (cosignatures from the future).
    Raises CosignatureError when there is no valid cosignature by the key.
    """
    key = parse_cosigner_vkey(vkey)
    text, lines = split_note(checkpoint_note_text)
    parse_checkpoint(text)
    found: int | None = None
    for line in lines:
        name, raw = parse_signature_line(line)
        if name != key.name or raw[:KEY_ID_SIZE] != key.key_id:
            continue
        if found is not None:
            raise CosignatureError(f"malformed note: more than one cosignature by {key.name}")
        found = _check_line(text, raw, key, latest)
    if found is None:
        raise CosignatureError(f"note has no cosignature by {key.name}+{key.key_id.hex()}")
    return found


def cosigners(
    checkpoint_note_text: str, witness_vkeys: Sequence[str], *, latest: int | None = None
) -> list[Cosignature]:
    """Every trusted witness (from ``witness_vkeys``) with a valid cosignature on the note.

    Signature lines from unknown keys are ignored. A line from a trusted key that fails to
    verify makes the whole note invalid (signed-note: clients SHOULD reject it), so this raises.
    Duplicate vkeys count once; two names for one public key is a configuration error.
    """
    keys: dict[bytes, CosignerKey] = {}
    for vkey in witness_vkeys:
        key = parse_cosigner_vkey(vkey)
        other = keys.get(key.public_bytes)
        if other is not None and other.name != key.name:
            raise CosignatureError(f"witnesses {other.name} and {key.name} share a public key; it would count twice")
        keys[key.public_bytes] = key
    text, lines = split_note(checkpoint_note_text)
    parse_checkpoint(text)
    by_id = {(k.name, k.key_id): k for k in keys.values()}
    valid: dict[bytes, Cosignature] = {}
    for line in lines:
        name, raw = parse_signature_line(line)
        key_or_none = by_id.get((name, raw[:KEY_ID_SIZE]))
        if key_or_none is None:
            continue
        if key_or_none.public_bytes in valid:
            raise CosignatureError(f"malformed note: more than one cosignature by {name}")
        timestamp = _check_line(text, raw, key_or_none, latest)
        valid[key_or_none.public_bytes] = Cosignature(name, key_or_none.key_id, timestamp, key_or_none.vkey)
    return list(valid.values())


def verify_quorum(
    checkpoint_note_text: str,
    witness_vkeys: Sequence[str],
    quorum: int,
    *,
    log_vkey: str | None = None,
    latest: int | None = None,
) -> list[Cosignature]:
    """Check that at least ``quorum`` distinct trusted witnesses cosigned the checkpoint.

    With ``log_vkey`` the log's own signature is checked first (note.open_note). Returns the
    valid cosignatures; raises QuorumError (carrying them) when there are too few.
    """
    if quorum < 0:
        raise ValueError("quorum must be non-negative")
    if log_vkey is not None:
        open_note(checkpoint_note_text, log_vkey)
    valid = cosigners(checkpoint_note_text, witness_vkeys, latest=latest)
    if len(valid) < quorum:
        raise QuorumError(f"checkpoint cosigned by {len(valid)} of the trusted witnesses; quorum is {quorum}", valid)
    return valid
