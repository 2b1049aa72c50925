"""Key-encryption keys (KEKs) and the custody signing key, kept apart.

Data keys never leave this layer in the clear except in memory: a provider
wraps them under a versioned KEK, binding each wrap to its record context so a
wrapped key copied to another row cannot be unwrapped there.  `LocalKeyring`
is the file-backed default; a KMS adapter only has to satisfy
`KeyringProvider`.

The KEKs and the log's Ed25519 signing key are separate keys with separate
jobs, so they live in separate places, for the file provider too: the
configured keyring file holds only the KEKs, and the signing key (with the
log name it signs for) lives in ``<keyring file>.signing-key`` beside it.
That way the KEKs can be rotated, or handed to a KMS/HSM, without touching
the log's identity; a leak of one file does not give away the other key; and
each can be backed up, restored and access-controlled on its own terms.
Keyring files written before the split (format 1, seed inside) are migrated
on load.

Per-subject keys (crypto-shredding): besides the KEKs, a provider holds one
AES-256 key per *subject* (``witness:<id>``), outside the database.  Data keys
of everything that belongs to the subject are wrapped under it
(`wrap_with_subject`), and `destroy_subject_key` destroys it, after which
nothing wrapped under it can be unwrapped, by any process, whatever copy of
the database is at hand.  `LocalKeyring` keeps them as one file per subject in
``<keyring file>.subjects/`` (directory 0700, files 0600, named by the
SHA-256 of the subject so the directory lists no witness ids); destroying one
overwrites it with zeros, fsyncs, unlinks it and fsyncs the directory.  The
overwrite is best effort on copy-on-write or wear-levelled storage (and any
backup of that directory keeps the key until the backup itself is gone); the
unlink is what every reader sees at once.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import stat
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from casework.files import fsync_dir, replace_atomically, write_private_temp

__all__ = [
    "DEFAULT_LOG_NAME",
    "KeyringError",
    "KeyringProvider",
    "LocalKeyring",
    "SubjectKeyDestroyed",
    "UnknownKeyError",
    "open_keyring",
    "signing_key_path",
    "subject_label",
    "subjects_path",
    "wrap_associated_data",
]

DEFAULT_LOG_NAME = "casework.local/custody"
KEY_BYTES = 32
NONCE_BYTES = 12
SIGNING_KEY_SUFFIX = ".signing-key"
SUBJECTS_SUFFIX = ".subjects"
SUBJECT_PREFIX = "subject:"
MAX_SUBJECT_CHARS = 200
_FORMAT = 2  # KEK file: KEKs only
_LEGACY_FORMAT = 1  # KEK file that still carries the signing seed (migrated on load)
_SIGNING_FORMAT = 1  # signing-key file
_WRAP_VERSION = b"\x01"
_SUBJECT_WRAP_VERSION = b"\x02"  # a subject wrap is never mistaken for a KEK wrap
_WRAPPED_BYTES = 1 + NONCE_BYTES + KEY_BYTES + 16
_WRAP_LABEL = b"casework/wrap/v1"
_KEK_ID = re.compile(r"^kek-(\d{4,})$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class KeyringError(Exception):
    """The keyring is missing, unsafe, malformed or cannot be written."""


class UnknownKeyError(KeyringError):
    """A KEK id is not (or no longer) present in the keyring."""


class SubjectKeyDestroyed(UnknownKeyError):
    """The subject's key is not in the keyring: crypto-shredded (or never created).

    Its data keys, and so everything sealed under them, are unrecoverable.
    """


class _SigningKeyMissing(KeyringError):
    """The KEK file exists but its signing-key file does not."""


log = logging.getLogger(__name__)


class KeyringProvider(Protocol):
    """Plug point for key custody (local files, a PKCS#11 token, a KMS).

    `unwrap_key` must raise `cryptography.exceptions.InvalidTag` when the
    wrapped bytes, context or KEK do not match, and `UnknownKeyError` when the
    KEK id is not held; the envelope layer relies on that distinction.

    Subject keys (one per witness, for crypto-shredding) are not KEKs: they are
    never rotated, rewrapped or retired, only created and destroyed.
    `create_subject_key` is idempotent; `wrap_with_subject` and
    `unwrap_with_subject` bind the wrap to ``wrap_associated_data(
    subject_label(subject), context)`` and raise `SubjectKeyDestroyed` once the
    key is destroyed (or was never created), `InvalidTag` when the wrap was
    moved, altered or made under another subject; `destroy_subject_key` returns
    whether there was a key to destroy.  A destroyed key must be gone for every
    process at once.
    """

    def current_kek_id(self) -> str: ...

    def wrap_key(self, data_key: bytes, *, kek_id: str | None, context: bytes) -> tuple[str, bytes]: ...

    def unwrap_key(self, wrapped: bytes, *, kek_id: str, context: bytes) -> bytes: ...

    def kek_ids(self) -> list[str]: ...

    def signing_key(self) -> Ed25519PrivateKey: ...

    def log_name(self) -> str: ...

    def rotate(self) -> str: ...

    def retire(self, kek_id: str) -> None: ...

    def create_subject_key(self, subject: str) -> None: ...

    def has_subject_key(self, subject: str) -> bool: ...

    def wrap_with_subject(self, subject: str, data_key: bytes, context: bytes) -> bytes: ...

    def unwrap_with_subject(self, subject: str, wrapped: bytes, context: bytes) -> bytes: ...

    def destroy_subject_key(self, subject: str) -> bool: ...


def subject_label(subject: str) -> str:
    """``subject:<subject>``: the key's name in a token and its label in the wrap's AAD."""
    if not isinstance(subject, str) or not subject:
        raise ValueError("subject must be a non-empty string")
    if len(subject) > MAX_SUBJECT_CHARS or _CONTROL.search(subject):
        raise ValueError(f"subject must be at most {MAX_SUBJECT_CHARS} characters, without control characters")
    return SUBJECT_PREFIX + subject


def subjects_path(path: str | os.PathLike[str]) -> Path:
    """The subject-key directory of the keyring file `path`: ``<path>.subjects`` beside it."""
    target = Path(path)
    return target.with_name(target.name + SUBJECTS_SUFFIX)


def wrap_associated_data(kek_id: str, context: bytes) -> bytes:
    """AAD for a key wrap: label, KEK id and record context, length-prefixed.

    Length prefixes keep the encoding unambiguous, so no (kek_id, context)
    pair can collide with another.
    """
    parts = (_WRAP_LABEL, kek_id.encode("utf-8"), context)
    return b"".join(struct.pack(">I", len(p)) + p for p in parts)


@dataclass(frozen=True)
class _Kek:
    key: bytes = field(repr=False)
    created: str


@dataclass(frozen=True)
class _State:
    """What the KEK file holds: the KEKs and which one is current."""

    current: str
    keks: dict[str, _Kek]
    log_name: str | None = None  # display only; the signing-key file names the log


@dataclass(frozen=True)
class _Signer:
    """What the signing-key file holds: the log's Ed25519 seed and the log it signs for."""

    log_name: str
    seed: bytes = field(repr=False)


def signing_key_path(path: str | os.PathLike[str]) -> Path:
    """The signing-key file of the keyring file `path`: ``<path>.signing-key`` beside it."""
    target = Path(path)
    return target.with_name(target.name + SIGNING_KEY_SUFFIX)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, what: str, path: Path, kind: str = "keyring") -> bytes:
    if not isinstance(value, str):
        raise KeyringError(f"{kind} {path}: {what} must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"{kind} {path}: {what} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyringError(f"{kind} {path}: {what} must be {KEY_BYTES} bytes")
    return raw


def _kek_number(kek_id: str) -> int:
    match = _KEK_ID.match(kek_id)
    if match is None:
        raise KeyringError(f"invalid KEK id {kek_id!r}")
    return int(match.group(1))


def _json_object(raw: bytes, path: Path, kind: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise KeyringError(f"{kind} {path}: not valid JSON") from None
    if not isinstance(doc, dict):
        raise KeyringError(f"{kind} {path}: not a JSON object")
    return doc


def _format_of(doc: dict[str, Any]) -> int | None:
    value = doc.get("format")
    return value if type(value) is int else None  # not bool: True == 1


def _parse(raw: bytes, path: Path) -> tuple[_State, _Signer | None]:
    """Validate the whole KEK file so a damaged file fails at startup, not mid-request.

    Returns the KEKs and, only for a pre-split (format 1) file, the signing key
    it still carries so that `_load_keks` can move it out.
    """
    doc = _json_object(raw, path, "keyring")
    fmt = _format_of(doc)
    if fmt not in (_FORMAT, _LEGACY_FORMAT):
        raise KeyringError(f"keyring {path}: unsupported format (expected {_FORMAT})")
    log_name = doc.get("log_name")
    if (fmt == _LEGACY_FORMAT or log_name is not None) and (not isinstance(log_name, str) or not log_name):
        raise KeyringError(f"keyring {path}: log_name must be a non-empty string")
    entries = doc.get("keks")
    if not isinstance(entries, dict) or not entries:
        raise KeyringError(f"keyring {path}: keks must be a non-empty object")
    keks: dict[str, _Kek] = {}
    for kek_id, entry in entries.items():
        if _KEK_ID.match(kek_id) is None:
            raise KeyringError(f"keyring {path}: invalid KEK id {kek_id!r}")
        if not isinstance(entry, dict) or not isinstance(entry.get("created"), str):
            raise KeyringError(f"keyring {path}: KEK {kek_id} needs key and created")
        keks[kek_id] = _Kek(_unb64(entry.get("key"), f"KEK {kek_id}", path), entry["created"])
    current = doc.get("current")
    if not isinstance(current, str) or current not in keks:
        raise KeyringError(f"keyring {path}: current KEK is missing from keks")
    state = _State(current=current, keks=keks, log_name=log_name)
    if fmt == _FORMAT:
        if "signing_seed" in doc:
            raise KeyringError(
                f"keyring {path}: a format {_FORMAT} keyring holds KEKs only, yet it has a "
                f"signing_seed; the signing key belongs in {signing_key_path(path)}"
            )
        return state, None
    assert isinstance(log_name, str)
    return state, _Signer(log_name, _unb64(doc.get("signing_seed"), "signing_seed", path))


def _serialise(state: _State) -> bytes:
    """The KEK file (format 2): KEKs only, never the signing key."""
    doc: dict[str, Any] = {"format": _FORMAT}
    if state.log_name is not None:
        doc["log_name"] = state.log_name
    doc["current"] = state.current
    doc["keks"] = {
        kid: {"key": _b64(k.key), "created": k.created}
        for kid, k in sorted(state.keks.items(), key=lambda kv: _kek_number(kv[0]))
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def _parse_signer(raw: bytes, path: Path) -> _Signer:
    kind = "signing key"
    doc = _json_object(raw, path, kind)
    if _format_of(doc) != _SIGNING_FORMAT:
        raise KeyringError(f"{kind} {path}: unsupported format (expected {_SIGNING_FORMAT})")
    if "keks" in doc or "current" in doc:
        raise KeyringError(f"{kind} {path}: must not hold KEKs (they belong in the keyring file)")
    log_name = doc.get("log_name")
    if not isinstance(log_name, str) or not log_name:
        raise KeyringError(f"{kind} {path}: log_name must be a non-empty string")
    return _Signer(log_name, _unb64(doc.get("signing_seed"), "signing_seed", path, kind))


def _serialise_signer(signer: _Signer) -> bytes:
    doc = {
        "format": _SIGNING_FORMAT,
        "log_name": signer.log_name,
        "signing_seed": _b64(signer.seed),
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def _publish_new(path: Path, data: bytes) -> int:
    """Create `path` (0600) holding `data`, durably; FileExistsError if it exists.

    Returns the new file's inode so a caller can later tell it is still its own.
    """
    tmp = write_private_temp(path, data)
    try:
        # link() publishes the complete file atomically and, unlike
        # replace(), fails if another process created the file first.
        os.link(tmp, path)
        inode = os.stat(tmp).st_ino
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return inode


def _replace_private(path: Path, data: bytes) -> tuple[int, int, int]:
    """Atomically replace `path` with a 0600 file holding `data`; returns its signature."""
    replace_atomically(path, data)
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class _FileMissing(KeyringError):
    pass


def _read_private(path: Path, kind: str = "keyring") -> tuple[bytes, tuple[int, int, int]]:
    """Read a key file, refusing files that group or other could read or write."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise _FileMissing(f"{kind} file {path} does not exist") from None
    except OSError as exc:
        raise KeyringError(f"{kind} file {path} cannot be opened: {exc.strerror}") from None
    try:
        st = os.fstat(fd)  # check the file we actually opened, not the path
        if not stat.S_ISREG(st.st_mode):
            raise KeyringError(f"{kind} {path} is not a regular file")
        if st.st_mode & 0o077:
            raise KeyringError(
                f"{kind} {path} has mode {stat.S_IMODE(st.st_mode):04o}; it must not be "
                f"accessible by group or other (run: chmod 600 {path})"
            )
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks), (st.st_ino, st.st_mtime_ns, st.st_size)


def _read_signer(kek_path: Path) -> _Signer:
    sig_path = signing_key_path(kek_path)
    try:
        raw, _ = _read_private(sig_path, "signing key")
    except _FileMissing:
        raise _SigningKeyMissing(
            f"keyring {kek_path} has no signing-key file: {sig_path} does not exist. The log's "
            "signing key is kept apart from the KEKs; restore that file from its own backup "
            "(mode 0600)"
        ) from None
    return _parse_signer(raw, sig_path)


def _migrate(path: Path, raw: bytes, state: _State, legacy: _Signer) -> tuple[_State, tuple[int, int, int]] | None:
    """Move a format-1 file's signing key into its own file, then drop it from the KEK file.

    The signing-key file is durable before the seed leaves the KEK file, so a
    crash at any point leaves the key in at least one place and the next load
    finishes the job.  Returns None if the KEK file changed meanwhile (the
    caller re-reads it), so a KEK rotated by another process is never lost.
    """
    sig_path = signing_key_path(path)
    try:
        _publish_new(sig_path, _serialise_signer(legacy))
    except FileExistsError:
        existing = _parse_signer(_read_private(sig_path, "signing key")[0], sig_path)
        if not hmac.compare_digest(existing.seed, legacy.seed):
            raise KeyringError(
                f"keyring {path} is a format {_LEGACY_FORMAT} keyring that still holds a signing "
                f"key, and {sig_path} holds a different one; refusing to guess which key signs "
                "the log. Keep the right one and move the other away."
            ) from None
        if existing.log_name != legacy.log_name:
            raise KeyringError(
                f"keyring {path} (format {_LEGACY_FORMAT}) names the log {legacy.log_name!r} but "
                f"{sig_path} names it {existing.log_name!r}; refusing to guess which is right"
            ) from None
        # Same key: a previous migration stopped before rewriting the KEK file.
    latest, _ = _read_private(path)
    if latest != raw:
        return None
    signature = _replace_private(path, _serialise(state))
    log.warning(
        "keyring %s: moved the log's signing key to %s and rewrote the keyring as format %d "
        "(KEKs only); backups of the keyring taken before now still contain the signing key",
        path,
        sig_path,
        _FORMAT,
    )
    return state, signature


def _load_keks(path: Path) -> tuple[_State, tuple[int, int, int]]:
    """Read the KEK file, first migrating a pre-split file that still holds the signing key."""
    for _ in range(5):
        raw, signature = _read_private(path)
        state, legacy = _parse(raw, path)
        if legacy is None:
            return state, signature
        migrated = _migrate(path, raw, state, legacy)
        if migrated is not None:
            return migrated
    raise KeyringError(f"keyring {path} kept changing while its signing key was moved out; retry")


class LocalKeyring:
    """File-backed keyring: versioned AES-256 KEKs, and apart from them the Ed25519 custody key.

    The KEKs live in the keyring file (`path`, format 2, KEKs only); the log's
    signing key and log name live in ``<path>.signing-key`` beside it (both
    0600).  Keeping them apart means the KEKs can be rotated, or moved to a
    KMS/HSM, without touching the log's identity, a leak of one file does not
    give away the other key, and each can be backed up separately.  A format-1
    keyring (signing seed inside) is split on `load`.

    Other processes (the rotation CLI, other workers) may rewrite the KEK file,
    so each KEK operation cheaply stats it and reloads when it changed;
    otherwise a running app would keep wrapping under a KEK that is about to be
    retired.  The signing key does not rotate with the KEKs and is read once.
    """

    def __init__(self, path: Path, state: _State, signature: tuple[int, int, int], signer: _Signer) -> None:
        """Use `create`, `load` or `open_keyring`; this only holds validated state."""
        self._path = path
        self._state = state
        self._signature = signature
        self._signer = signer
        self._lock = threading.RLock()

    @property
    def path(self) -> Path:
        """The KEK file."""
        return self._path

    @property
    def signing_path(self) -> Path:
        """The signing-key file, ``<path>.signing-key``."""
        return signing_key_path(self._path)

    @classmethod
    def create(cls, path: str | os.PathLike[str], *, log_name: str = DEFAULT_LOG_NAME) -> LocalKeyring:
        """Create the KEK file, then its signing-key file (both 0600); never overwrites either."""
        if not log_name:
            raise KeyringError("log_name must be non-empty")
        target = Path(path)
        sig_path = signing_key_path(target)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.path.lexists(target):
            raise KeyringError(f"keyring file {target} already exists")
        if os.path.lexists(sig_path):
            raise KeyringError(f"signing key file {sig_path} already exists; refusing to create a keyring beside it")
        state = _State(
            current="kek-0001",
            keks={"kek-0001": _Kek(AESGCM.generate_key(bit_length=256), _now())},
            log_name=log_name,
        )
        try:
            kek_inode = _publish_new(target, _serialise(state))
        except FileExistsError:
            raise KeyringError(f"keyring file {target} already exists") from None
        try:
            _publish_new(sig_path, _serialise_signer(_Signer(log_name, os.urandom(KEY_BYTES))))
        except BaseException as exc:
            # Withdraw our KEK file (nothing is wrapped under it yet) rather than
            # leave a keyring whose signing key is missing or someone else's.
            try:
                if os.stat(target).st_ino == kek_inode:
                    target.unlink()
                    fsync_dir(target.parent)
            except OSError:
                pass
            if isinstance(exc, FileExistsError):
                raise KeyringError(f"signing key file {sig_path} already exists") from None
            raise
        return cls.load(target)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LocalKeyring:
        """Load and validate the KEK file and its signing-key file (migrating format 1)."""
        target = Path(path)
        state, signature = _load_keks(target)
        return cls(target, state, signature, _read_signer(target))

    def reload(self) -> None:
        """Re-read the KEK file (e.g. after a rotation by another process)."""
        with self._lock:
            self._state, self._signature = _load_keks(self._path)

    def _refresh(self) -> _State:
        with self._lock:
            try:
                st = os.stat(self._path)
            except OSError:
                return self._state  # keep serving from memory; load() reports problems
            if (st.st_ino, st.st_mtime_ns, st.st_size) != self._signature:
                self.reload()
            return self._state

    def _save(self, state: _State) -> None:
        self._signature = _replace_private(self._path, _serialise(state))
        self._state = state

    def _kek(self, kek_id: str) -> bytes:
        kek = self._refresh().keks.get(kek_id)
        if kek is None:
            raise UnknownKeyError(f"KEK {kek_id!r} is not in the keyring")
        return kek.key

    def current_kek_id(self) -> str:
        return self._refresh().current

    def kek_ids(self) -> list[str]:
        return sorted(self._refresh().keks, key=_kek_number)

    def kek_created(self, kek_id: str) -> str:
        """ISO-8601 creation time of a KEK, for rotation reports."""
        kek = self._refresh().keks.get(kek_id)
        if kek is None:
            raise UnknownKeyError(f"KEK {kek_id!r} is not in the keyring")
        return kek.created

    def wrap_key(self, data_key: bytes, *, kek_id: str | None = None, context: bytes) -> tuple[str, bytes]:
        """Wrap a data key: version byte || nonce || AES-256-GCM(ct || tag)."""
        if len(data_key) != KEY_BYTES:
            raise ValueError(f"data key must be {KEY_BYTES} bytes")
        with self._lock:
            kid = kek_id if kek_id is not None else self.current_kek_id()
            kek = self._kek(kid)
        nonce = os.urandom(NONCE_BYTES)
        ct = AESGCM(kek).encrypt(nonce, data_key, wrap_associated_data(kid, context))
        return kid, _WRAP_VERSION + nonce + ct

    def unwrap_key(self, wrapped: bytes, *, kek_id: str, context: bytes) -> bytes:
        """Unwrap a data key; raises InvalidTag if moved, altered or under another KEK."""
        kek = self._kek(kek_id)
        if len(wrapped) != 1 + NONCE_BYTES + KEY_BYTES + 16 or wrapped[:1] != _WRAP_VERSION:
            raise InvalidTag()
        nonce, ct = wrapped[1 : 1 + NONCE_BYTES], wrapped[1 + NONCE_BYTES :]
        return AESGCM(kek).decrypt(nonce, ct, wrap_associated_data(kek_id, context))

    def signing_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self._signer.seed)

    def log_name(self) -> str:
        return self._signer.log_name

    def rotate(self) -> str:
        """Add a new KEK and make it current; old KEKs stay until rewrap + retire."""
        with self._lock:
            state = self._refresh()
            new_id = f"kek-{max(map(_kek_number, state.keks)) + 1:04d}"
            keks = dict(state.keks)
            keks[new_id] = _Kek(AESGCM.generate_key(bit_length=256), _now())
            self._save(_State(new_id, keks, state.log_name))
            return new_id

    def retire(self, kek_id: str) -> None:
        """Destroy an old KEK; only call once no stored key is wrapped under it."""
        with self._lock:
            state = self._refresh()
            if kek_id not in state.keks:
                raise UnknownKeyError(f"KEK {kek_id!r} is not in the keyring")
            if kek_id == state.current:
                raise KeyringError(f"refusing to retire the current KEK {kek_id}")
            keks = {k: v for k, v in state.keks.items() if k != kek_id}
            self._save(_State(state.current, keks, state.log_name))

    # ------------------------------------------------------------ subject keys

    @property
    def subjects_path(self) -> Path:
        """The subject-key directory, ``<path>.subjects``."""
        return subjects_path(self._path)

    def _subjects_dir(self, *, create: bool) -> Path | None:
        """The subject-key directory, checked (a 0700 directory, not a link); None if absent."""
        directory = self.subjects_path
        try:
            st = os.lstat(directory)
        except FileNotFoundError:
            if not create:
                return None
            try:
                os.mkdir(directory, 0o700)
            except FileExistsError:
                pass
            else:
                os.chmod(directory, 0o700)  # umask can only narrow; make the mode exact
                fsync_dir(directory.parent)
            st = os.lstat(directory)
        if not stat.S_ISDIR(st.st_mode):
            raise KeyringError(f"subject-key directory {directory} is not a directory")
        if st.st_mode & 0o077:
            raise KeyringError(
                f"subject-key directory {directory} has mode {stat.S_IMODE(st.st_mode):04o}; it must "
                f"not be accessible by group or other (run: chmod 700 {directory})"
            )
        return directory

    def _subject_file(self, subject: str) -> Path:
        subject_label(subject)  # validates
        return self.subjects_path / hashlib.sha256(subject.encode("utf-8")).hexdigest()

    def _subject_key(self, subject: str) -> bytes:
        """Read the subject's key from disk on every use, so a destroy by any process counts at once."""
        path = self._subject_file(subject)
        gone = SubjectKeyDestroyed(f"the key of subject {subject!r} was destroyed (or never created)")
        if self._subjects_dir(create=False) is None:
            raise gone
        try:
            raw, _ = _read_private(path, "subject key")
        except _FileMissing:
            raise gone from None
        if raw.count(0) == len(raw):
            raise gone  # being destroyed: overwritten, not yet unlinked
        if len(raw) != KEY_BYTES:
            raise KeyringError(f"subject key {path} must hold {KEY_BYTES} bytes")
        return raw

    def create_subject_key(self, subject: str) -> None:
        """Generate the subject's AES-256 key (file 0600); a no-op if it already exists."""
        path = self._subject_file(subject)
        self._subjects_dir(create=True)
        if not os.path.lexists(path):
            # If another process creates it first, its key is the subject's key.
            with contextlib.suppress(FileExistsError):
                _publish_new(path, AESGCM.generate_key(bit_length=256))
        self._subject_key(subject)  # a damaged or unsafe file fails here, not on first use

    def has_subject_key(self, subject: str) -> bool:
        try:
            self._subject_key(subject)
        except SubjectKeyDestroyed:
            return False
        return True

    def wrap_with_subject(self, subject: str, data_key: bytes, context: bytes) -> bytes:
        """Wrap under the subject's key: 0x02 || nonce || AES-256-GCM(data key) || tag."""
        label = subject_label(subject)
        if not isinstance(data_key, (bytes, bytearray)) or len(data_key) != KEY_BYTES:
            raise ValueError(f"data key must be {KEY_BYTES} bytes")
        if not isinstance(context, bytes):
            raise TypeError("context must be bytes")
        key = self._subject_key(subject)
        nonce = os.urandom(NONCE_BYTES)
        ct = AESGCM(key).encrypt(nonce, bytes(data_key), wrap_associated_data(label, context))
        return _SUBJECT_WRAP_VERSION + nonce + ct

    def unwrap_with_subject(self, subject: str, wrapped: bytes, context: bytes) -> bytes:
        """Unwrap; SubjectKeyDestroyed once shredded, InvalidTag if moved, altered or another subject's."""
        label = subject_label(subject)
        if not isinstance(context, bytes):
            raise TypeError("context must be bytes")
        key = self._subject_key(subject)
        if (
            not isinstance(wrapped, (bytes, bytearray))
            or len(wrapped) != _WRAPPED_BYTES
            or wrapped[:1] != _SUBJECT_WRAP_VERSION
        ):
            raise InvalidTag()
        nonce, ct = bytes(wrapped[1 : 1 + NONCE_BYTES]), bytes(wrapped[1 + NONCE_BYTES :])
        return AESGCM(key).decrypt(nonce, ct, wrap_associated_data(label, context))

    def destroy_subject_key(self, subject: str) -> bool:
        """Crypto-shred: overwrite the key file with zeros, fsync, unlink, fsync the directory.

        Returns False if there was no key.  Every later unwrap, in any process,
        raises `SubjectKeyDestroyed`.
        """
        path = self._subject_file(subject)
        directory = self._subjects_dir(create=False)
        if directory is None:
            return False
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return False
        try:
            size = max(os.fstat(fd).st_size, KEY_BYTES)
            zeros = memoryview(bytes(size))
            offset = 0
            while offset < size:
                offset += os.pwrite(fd, zeros[offset:], offset)
            os.fsync(fd)
        finally:
            os.close(fd)
        path.unlink(missing_ok=True)  # another process may have finished the same destruction
        fsync_dir(directory)
        log.info("keyring %s: destroyed the key of subject %r", self._path, subject)
        return True


def open_keyring(
    path: str | os.PathLike[str] | None,
    *,
    create_if_missing: bool,
    log_name: str = DEFAULT_LOG_NAME,
) -> LocalKeyring:
    """Load the keyring (KEK file and signing-key file); create it only when allowed (development).

    Production passes create_if_missing=False so a missing or mistyped path
    stops startup instead of silently minting keys nobody has backed up.
    """
    if path is None or str(path) == "":
        raise KeyringError("no keyring path configured (set the keyring file path)")
    target = Path(path)
    if not target.exists():
        if not create_if_missing:
            raise KeyringError(
                f"keyring file {target} does not exist; production requires an explicit, provisioned keyring"
            )
        try:
            return LocalKeyring.create(target, log_name=log_name)
        except KeyringError:
            if not target.exists():
                raise
        # Another process (e.g. the dev reloader) created it first; its
        # signing-key file follows the KEK file within moments.
        deadline = time.monotonic() + 5.0
        while True:
            try:
                return LocalKeyring.load(target)
            except _SigningKeyMissing:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)
    return LocalKeyring.load(target)
