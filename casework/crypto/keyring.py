"""Key-encryption keys (KEKs) and the custody signing key.

Data keys never leave this layer in the clear except in memory: a provider
wraps them under a versioned KEK, binding each wrap to its record context so a
wrapped key copied to another row cannot be unwrapped there.  `LocalKeyring`
is the file-backed default; a KMS adapter only has to satisfy
`KeyringProvider`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import stat
import struct
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "DEFAULT_LOG_NAME",
    "KeyringError",
    "KeyringProvider",
    "LocalKeyring",
    "UnknownKeyError",
    "open_keyring",
    "wrap_associated_data",
]

DEFAULT_LOG_NAME = "casework.local/custody"
KEY_BYTES = 32
NONCE_BYTES = 12
_FORMAT = 1
_WRAP_VERSION = b"\x01"
_WRAP_LABEL = b"casework/wrap/v1"
_KEK_ID = re.compile(r"^kek-(\d{4,})$")


class KeyringError(Exception):
    """The keyring is missing, unsafe, malformed or cannot be written."""


class UnknownKeyError(KeyringError):
    """A KEK id is not (or no longer) present in the keyring."""


class KeyringProvider(Protocol):
    """Plug point for key custody (local file today, a KMS later).

    `unwrap_key` must raise `cryptography.exceptions.InvalidTag` when the
    wrapped bytes, context or KEK do not match, and `UnknownKeyError` when the
    KEK id is not held; the envelope layer relies on that distinction.
    """

    def current_kek_id(self) -> str: ...

    def wrap_key(
        self, data_key: bytes, *, kek_id: str | None, context: bytes
    ) -> tuple[str, bytes]: ...

    def unwrap_key(self, wrapped: bytes, *, kek_id: str, context: bytes) -> bytes: ...

    def kek_ids(self) -> list[str]: ...

    def signing_key(self) -> Ed25519PrivateKey: ...

    def log_name(self) -> str: ...

    def rotate(self) -> str: ...

    def retire(self, kek_id: str) -> None: ...


def wrap_associated_data(kek_id: str, context: bytes) -> bytes:
    """AAD for a key wrap: label, KEK id and record context, length-prefixed.

    Length prefixes keep the encoding unambiguous, so no (kek_id, context)
    pair can collide with another.
    """
    parts = (_WRAP_LABEL, kek_id.encode("utf-8"), context)
    return b"".join(struct.pack(">I", len(p)) + p for p in parts)


@dataclass(frozen=True)
class _Kek:
    key: bytes
    created: str


@dataclass(frozen=True)
class _State:
    log_name: str
    current: str
    keks: dict[str, _Kek]
    signing_seed: bytes


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, what: str, path: Path) -> bytes:
    if not isinstance(value, str):
        raise KeyringError(f"keyring {path}: {what} must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"keyring {path}: {what} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyringError(f"keyring {path}: {what} must be {KEY_BYTES} bytes")
    return raw


def _kek_number(kek_id: str) -> int:
    match = _KEK_ID.match(kek_id)
    if match is None:
        raise KeyringError(f"invalid KEK id {kek_id!r}")
    return int(match.group(1))


def _parse(raw: bytes, path: Path) -> _State:
    """Validate the whole document so a damaged file fails at startup, not mid-request."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise KeyringError(f"keyring {path}: not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        raise KeyringError(f"keyring {path}: unsupported format (expected {_FORMAT})")
    log_name = doc.get("log_name")
    if not isinstance(log_name, str) or not log_name:
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
    seed = _unb64(doc.get("signing_seed"), "signing_seed", path)
    return _State(log_name=log_name, current=current, keks=keks, signing_seed=seed)


def _serialise(state: _State) -> bytes:
    doc = {
        "format": _FORMAT,
        "log_name": state.log_name,
        "current": state.current,
        "keks": {
            kid: {"key": _b64(k.key), "created": k.created}
            for kid, k in sorted(state.keks.items(), key=lambda kv: _kek_number(kv[0]))
        },
        "signing_seed": _b64(state.signing_seed),
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def _write_private_temp(path: Path, data: bytes) -> Path:
    """Write `data` to a fresh 0600 sibling of `path`; it is never readable by others."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # umask can only narrow; make the mode exact
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_private(path: Path) -> tuple[bytes, tuple[int, int, int]]:
    """Read the keyring, refusing files that group or other could read or write."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise KeyringError(f"keyring file {path} does not exist") from None
    except OSError as exc:
        raise KeyringError(f"keyring file {path} cannot be opened: {exc.strerror}") from None
    try:
        st = os.fstat(fd)  # check the file we actually opened, not the path
        if not stat.S_ISREG(st.st_mode):
            raise KeyringError(f"keyring {path} is not a regular file")
        if st.st_mode & 0o077:
            raise KeyringError(
                f"keyring {path} has mode {stat.S_IMODE(st.st_mode):04o}; it must not be "
                f"accessible by group or other (run: chmod 600 {path})"
            )
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks), (st.st_ino, st.st_mtime_ns, st.st_size)


class LocalKeyring:
    """File-backed keyring: versioned AES-256 KEKs plus the Ed25519 custody key.

    Other processes (the rotation CLI, other workers) may rewrite the file, so
    each operation cheaply stats it and reloads when it changed; otherwise a
    running app would keep wrapping under a KEK that is about to be retired.
    """

    def __init__(self, path: Path, state: _State, signature: tuple[int, int, int]) -> None:
        """Use `create`, `load` or `open_keyring`; this only holds validated state."""
        self._path = path
        self._state = state
        self._signature = signature
        self._lock = threading.RLock()

    @property
    def path(self) -> Path:
        return self._path

    @classmethod
    def create(cls, path: str | os.PathLike[str], *, log_name: str = DEFAULT_LOG_NAME) -> LocalKeyring:
        """Create a new keyring file (0600); never overwrites an existing one."""
        if not log_name:
            raise KeyringError("log_name must be non-empty")
        target = Path(path)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        state = _State(
            log_name=log_name,
            current="kek-0001",
            keks={"kek-0001": _Kek(AESGCM.generate_key(bit_length=256), _now())},
            signing_seed=os.urandom(KEY_BYTES),
        )
        tmp = _write_private_temp(target, _serialise(state))
        try:
            # link() publishes the complete file atomically and, unlike
            # replace(), fails if another process created the keyring first.
            os.link(tmp, target)
        except FileExistsError:
            raise KeyringError(f"keyring file {target} already exists") from None
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return cls.load(target)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LocalKeyring:
        """Load and validate an existing keyring file."""
        target = Path(path)
        raw, signature = _read_private(target)
        return cls(target, _parse(raw, target), signature)

    def reload(self) -> None:
        """Re-read the file (e.g. after a rotation by another process)."""
        with self._lock:
            raw, signature = _read_private(self._path)
            self._state = _parse(raw, self._path)
            self._signature = signature

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
        tmp = _write_private_temp(self._path, _serialise(state))
        try:
            os.replace(tmp, self._path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self._path.parent)
        st = os.stat(self._path)
        self._state = state
        self._signature = (st.st_ino, st.st_mtime_ns, st.st_size)

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

    def wrap_key(
        self, data_key: bytes, *, kek_id: str | None = None, context: bytes
    ) -> tuple[str, bytes]:
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
        return Ed25519PrivateKey.from_private_bytes(self._refresh().signing_seed)

    def log_name(self) -> str:
        return self._refresh().log_name

    def rotate(self) -> str:
        """Add a new KEK and make it current; old KEKs stay until rewrap + retire."""
        with self._lock:
            state = self._refresh()
            new_id = f"kek-{max(map(_kek_number, state.keks)) + 1:04d}"
            keks = dict(state.keks)
            keks[new_id] = _Kek(AESGCM.generate_key(bit_length=256), _now())
            self._save(_State(state.log_name, new_id, keks, state.signing_seed))
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
            self._save(_State(state.log_name, state.current, keks, state.signing_seed))


def open_keyring(
    path: str | os.PathLike[str] | None,
    *,
    create_if_missing: bool,
    log_name: str = DEFAULT_LOG_NAME,
) -> LocalKeyring:
    """Load the keyring; create it only when allowed (development).

    Production passes create_if_missing=False so a missing or mistyped path
    stops startup instead of silently minting keys nobody has backed up.
    """
    if path is None or str(path) == "":
        raise KeyringError("no keyring path configured (set the keyring file path)")
    target = Path(path)
    if not target.exists():
        if not create_if_missing:
            raise KeyringError(
                f"keyring file {target} does not exist; production requires an explicit, "
                "provisioned keyring"
            )
        try:
            return LocalKeyring.create(target, log_name=log_name)
        except KeyringError:
            if not target.exists():
                raise
            # Another process (e.g. the dev reloader) created it first.
    return LocalKeyring.load(target)
