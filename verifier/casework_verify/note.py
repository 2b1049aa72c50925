"""C2SP signed-note (Ed25519) and tlog-checkpoint, compatible with golang.org/x/mod/sumdb/note.

Using the public formats means a checkpoint of the custody log can be checked by any
transparency-log tooling (and witnesses), not only by this code base.

Formats (https://c2sp.org/signed-note, https://c2sp.org/tlog-checkpoint):

* verifier key: ``name+hex(key_id)+base64(0x01 || public key)``
* key id: ``SHA-256(name || "\\n" || 0x01 || public key)[:4]``
* note: text (ending in newline), a blank line, then lines ``— name base64(key_id || sig)``
  where the Ed25519 signature covers exactly the text's UTF-8 bytes.
* checkpoint text: origin, decimal tree size, base64 root hash, optional extension lines.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100  # as the Go implementation: bounds the work an untrusted note can cause

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_KEY_HASH = re.compile(r"[0-9a-f]{8}\Z")
_SIZE = re.compile(r"(?:0|[1-9][0-9]*)\Z")


class NoteError(ValueError):
    """A note, key or checkpoint is malformed, unsigned by the expected key, or forged."""


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _b64decode(text: str) -> bytes:
    """Strict standard base64: padded, canonical, nothing but the alphabet."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"invalid base64: {text!r}") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"non-canonical base64: {text!r}")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, public_key_bytes: bytes) -> bytes:
    """4-byte key id; binds the key to its name so a signature cannot be relabelled."""
    data = name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key_bytes
    return hashlib.sha256(data).digest()[:4]


def vkey_string(name: str, public_key: Ed25519PublicKey) -> str:
    if not _valid_name(name):
        raise NoteError(f"invalid key name {name!r}: must be non-empty, without spaces or '+'")
    raw = _raw_public(public_key)
    return f"{name}+{key_id(name, raw).hex()}+{_b64(bytes([ALG_ED25519]) + raw)}"


def signer_key_string(name: str, private_key: Ed25519PrivateKey) -> str:
    """The Go-compatible private key encoding (``PRIVATE+KEY+name+hash+base64(0x01||seed)``)."""
    if not _valid_name(name):
        raise NoteError(f"invalid key name {name!r}: must be non-empty, without spaces or '+'")
    seed = private_key.private_bytes_raw()
    kid = key_id(name, _raw_public(private_key.public_key()))
    return f"PRIVATE+KEY+{name}+{kid.hex()}+{_b64(bytes([ALG_ED25519]) + seed)}"


def _parse_key(name: str, key_hash: str, key_b64: str, what: str) -> tuple[bytes, bytes]:
    if not _valid_name(name):
        raise NoteError(f"malformed {what}: invalid key name {name!r}")
    if not _KEY_HASH.match(key_hash):
        raise NoteError(f"malformed {what}: key hash must be 8 lowercase hex digits")
    raw = _b64decode(key_b64)
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError(f"malformed {what}: expected an Ed25519 key (0x01 and 32 bytes)")
    return bytes.fromhex(key_hash), raw[1:]


def parse_vkey(vkey: str) -> Verifier:
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("malformed verifier key: expected name+hash+key")
    kid, raw = _parse_key(parts[0], parts[1], parts[2], what="verifier key")
    if key_id(parts[0], raw) != kid:
        raise NoteError("malformed verifier key: key hash does not match name and key")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise NoteError(f"malformed verifier key: {exc}") from exc
    return Verifier(parts[0], kid, public_key)


def parse_signer_key(skey: str) -> tuple[str, Ed25519PrivateKey]:
    parts = skey.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise NoteError("malformed signer key: expected PRIVATE+KEY+name+hash+key")
    name = parts[2]
    kid, seed = _parse_key(name, parts[3], parts[4], what="signer key")
    private_key = Ed25519PrivateKey.from_private_bytes(seed)
    if key_id(name, _raw_public(private_key.public_key())) != kid:
        raise NoteError("malformed signer key: key hash does not match name and key")
    return name, private_key


def _check_text(text: str) -> bytes:
    """Note text must be UTF-8 with no control characters other than newline."""
    if _CONTROL.search(text):
        raise NoteError("malformed note: control characters other than newline")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NoteError("malformed note: not valid UTF-8") from exc


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """Sign ``text`` (which must end in a newline) and return the note with one signature."""
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if not _valid_name(name):
        raise NoteError(f"invalid key name {name!r}: must be non-empty, without spaces or '+'")
    message = _check_text(text)
    kid = key_id(name, _raw_public(private_key.public_key()))
    signature = private_key.sign(message)
    return f"{text}\n{SIG_PREFIX}{name} {_b64(kid + signature)}\n"


def split_signed(note: str) -> tuple[str, list[str]]:
    """A note's text (with its final newline) and its signature lines, split at the last blank line.

    Checks the note's form only (UTF-8, no control characters, at most MAX_SIGNATURES lines);
    the lines themselves are for the caller to parse and verify.
    """
    _check_text(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("malformed note: signature block must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    return text, lines


def open_note(note: str, vkey: str) -> str:
    """Return the signed text if ``note`` carries a valid signature by ``vkey``; else NoteError.

    Signatures by other keys (e.g. witness cosignatures) are ignored, but every signature
    claiming to be by ``vkey`` must verify.
    """
    verifier = parse_vkey(vkey)
    text, lines = split_signed(note)
    found = False
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            raise NoteError(f"malformed note: signature line must start with an em dash: {line[:40]!r}")
        name, _, sig_b64 = line[len(SIG_PREFIX) :].partition(" ")
        if not _valid_name(name) or not sig_b64:
            raise NoteError(f"malformed note: bad signature line {line[:40]!r}")
        sig = _b64decode(sig_b64)
        if len(sig) < 5:
            raise NoteError("malformed note: signature too short")
        if name != verifier.name or sig[:4] != verifier.key_id:
            continue
        if found:
            raise NoteError(f"malformed note: more than one signature by {verifier.name}")
        if len(sig) != 4 + 64 or not verifier.verify(text.encode("utf-8"), sig[4:]):
            raise NoteError(f"invalid signature by {verifier.name}: the note was altered or forged")
        found = True
    if not found:
        raise NoteError(f"note has no signature by {verifier.name}+{verifier.key_id.hex()}")
    return text


def format_checkpoint(origin: str, size: int, root: bytes, extensions: Sequence[str] = ()) -> str:
    """Checkpoint body (the text to sign with ``sign_note``)."""
    for line in (origin, *extensions):
        if not line or "\n" in line:
            raise NoteError("checkpoint origin and extension lines must be non-empty single lines")
    if not 0 <= size < 2**64:
        raise NoteError("checkpoint size must be a non-negative 64-bit integer")
    if len(root) != 32:
        raise NoteError("checkpoint root must be 32 bytes")
    return "".join(f"{line}\n" for line in (origin, str(size), _b64(root), *extensions))


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint body strictly (as returned by ``open_note``)."""
    _check_text(text)
    if not text.endswith("\n"):
        raise NoteError("malformed checkpoint: must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("malformed checkpoint: needs origin, size and root hash lines")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise NoteError("malformed checkpoint: empty origin")
    if not _SIZE.match(size_text) or int(size_text) >= 2**64:
        raise NoteError(f"malformed checkpoint: bad tree size {size_text!r}")
    root = _b64decode(root_text)
    if len(root) != 32:
        raise NoteError("malformed checkpoint: root hash must be 32 bytes")
    if any(not line for line in extensions):
        raise NoteError("malformed checkpoint: empty extension line")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))
