"""The outbox: uploads that wait, encrypted, until the server can be reached; sent once.

Layout, under the config dir: ``outbox/<id>/meta`` (what to send and how far it got) and
``outbox/<id>/content`` (the bytes), both AES-256-GCM under a key derived for the item (HKDF-SHA256
from the outbox key, info naming the item), so no nonce is ever used twice under one key:

* ``meta`` is ``nonce || ciphertext`` with a random nonce, rewritten whole (and renamed into place)
  when the item's state changes, associated data ``meta|<id>``;
* ``content`` is a sequence of records, one per 1 MiB of plaintext, written once: record ``i`` is
  encrypted with nonce ``0^4 || i`` (64-bit big-endian) and associated data ``content|<id>|i|final``,
  so records cannot be reordered, swapped between items, or cut off without the last failing.
  ``EncryptedReader`` reads any range back without writing plaintext anywhere.

The outbox key (32 random bytes) is ``outbox.key`` in the config dir (mode 0600) or the file named
by ``CASEWORK_OUTBOX_KEY``; it is created with the first queued item and destroyed (overwritten,
then unlinked) when a send leaves the outbox empty, so remnants of delivered items on disk or in
backups cannot be decrypted afterwards.

Exactly once: a statement's ``Idempotency-Key`` is chosen when it is queued and sent with every
attempt (the server answers a repeat with the first receipt, 200); an exhibit's tus upload URL is
written into the item before its first byte is sent, so every later attempt continues that upload
(HEAD gives the offset; a complete one answers its receipt at GET /exhibits/{id}/receipt).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from casework_client.config import write_private

KEY_ENV = "CASEWORK_OUTBOX_KEY"
RECORD = 1 << 20  # plaintext bytes per content record
TAG = 16


class OutboxError(Exception):
    """The outbox cannot be read: a missing key, or an item altered or cut short."""


def _key_path(directory: Path) -> Path:
    return Path(os.environ[KEY_ENV]).expanduser() if os.environ.get(KEY_ENV) else directory / "outbox.key"


def _outbox_key(directory: Path, *, create: bool) -> bytes:
    path = _key_path(directory)
    if path.exists():
        key = path.read_bytes()
        if len(key) != 32:
            raise OutboxError(f"{path} is not an outbox key (32 bytes)")
        return key
    if not create:
        raise OutboxError(f"the outbox key {path} is missing: the queued items cannot be decrypted")
    key = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(path, key)
    return key


def _destroy_key(directory: Path) -> None:
    path = _key_path(directory)
    if not path.exists():
        return
    with path.open("r+b") as out:  # best effort on copy-on-write and flash storage (see README)
        out.write(b"\0" * 32)
        out.flush()
        os.fsync(out.fileno())
    path.unlink()


def _item_key(master: bytes, item_id: str) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"casework-outbox-v1|" + item_id.encode()
    ).derive(master)
    return AESGCM(derived)


def _record_aad(item_id: str, index: int, final: bool) -> bytes:
    return f"content|{item_id}|{index}|{int(final)}".encode()


def _record_nonce(index: int) -> bytes:
    return b"\0\0\0\0" + index.to_bytes(8, "big")


@dataclass
class Item:
    """One queued upload: ``meta`` is everything but the bytes (decrypted, in memory only)."""

    id: str
    directory: Path
    meta: dict[str, Any]
    aead: AESGCM

    @property
    def kind(self) -> str:
        return str(self.meta["kind"])

    def save(self) -> None:
        nonce = secrets.token_bytes(12)
        data = json.dumps(self.meta, sort_keys=True).encode()
        write_private(self.directory / "meta", nonce + self.aead.encrypt(nonce, data, f"meta|{self.id}".encode()))

    def update(self, **changes: Any) -> None:
        self.meta.update(changes)
        self.save()

    def open(self) -> EncryptedReader:
        return EncryptedReader(self.directory / "content", self.id, self.aead, int(self.meta["size"]))

    def read_all(self) -> bytes:
        with self.open() as reader:
            return reader.read()


class EncryptedReader(io.RawIOBase):
    """The item's plaintext as a seekable file (what tuspy reads), decrypted a record at a time."""

    def __init__(self, path: Path, item_id: str, aead: AESGCM, size: int) -> None:
        super().__init__()
        self._file: IO[bytes] = path.open("rb")
        self._id, self._aead, self._size = item_id, aead, size
        self._position = 0
        self._cached: tuple[int, bytes] | None = None
        self._last = max((size - 1) // RECORD, 0)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(base + offset, 0)
        return self._position

    def _record(self, index: int) -> bytes:
        if self._cached and self._cached[0] == index:
            return self._cached[1]
        self._file.seek(index * (RECORD + TAG))
        sealed = self._file.read(RECORD + TAG)
        try:
            plain = self._aead.decrypt(_record_nonce(index), sealed, _record_aad(self._id, index, index == self._last))
        except InvalidTag:
            raise OutboxError(f"outbox item {self._id} is damaged or was altered (record {index})") from None
        self._cached = (index, plain)
        return plain

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self._size - self._position)
        if wanted <= 0:
            return 0
        done = 0
        while done < wanted:
            index, skip = divmod(self._position, RECORD)
            piece = self._record(index)[skip : skip + wanted - done]
            view[done : done + len(piece)] = piece
            done += len(piece)
            self._position += len(piece)
        return done

    def readall(self) -> bytes:
        out = bytearray()
        while chunk := self.read(RECORD):
            out += chunk
        return bytes(out)

    def close(self) -> None:
        self._file.close()
        super().close()


class Outbox:
    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir
        self.root = config_dir / "outbox"

    def _ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def __len__(self) -> int:
        return len(self._ids())

    def add(self, meta: dict[str, Any], source: Path) -> Item:
        """Queue ``source``'s bytes with ``meta``; nothing is visible until the item is complete."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        master = _outbox_key(self.config_dir, create=True)
        # Sorted by name, items go in the order they were queued (a correction after its statement).
        item_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + secrets.token_hex(3)
        aead = _item_key(master, item_id)
        staging = self.root / f".{item_id}"
        staging.mkdir(mode=0o700)
        try:
            size = 0
            with source.open("rb") as plain, (staging / "content").open("wb") as sealed:
                if sys.platform != "win32":
                    os.chmod(staging / "content", 0o600)
                total = source.stat().st_size
                last = max((total - 1) // RECORD, 0)
                index = 0
                while True:
                    piece = plain.read(RECORD)
                    if not piece and index > 0:
                        break
                    sealed.write(aead.encrypt(_record_nonce(index), piece, _record_aad(item_id, index, index == last)))
                    size += len(piece)
                    index += 1
                    if len(piece) < RECORD:
                        break
                sealed.flush()
                os.fsync(sealed.fileno())
            if size != total:
                raise OutboxError(f"{source} changed while it was queued")
            item = Item(item_id, staging, {**meta, "size": size, "queued_at": _now(), "attempts": 0}, aead)
            item.save()
            staging.rename(self.root / item_id)
            item.directory = self.root / item_id
            return item
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def items(self) -> Iterator[Item]:
        ids = self._ids()
        if not ids:
            return
        master = _outbox_key(self.config_dir, create=False)
        for item_id in ids:
            aead = _item_key(master, item_id)
            blob = (self.root / item_id / "meta").read_bytes()
            try:
                meta = json.loads(aead.decrypt(blob[:12], blob[12:], f"meta|{item_id}".encode()))
            except InvalidTag:
                raise OutboxError(f"outbox item {item_id} is damaged or was altered") from None
            yield Item(item_id, self.root / item_id, meta, aead)

    def remove(self, item: Item) -> None:
        shutil.rmtree(item.directory)
        if not self._ids():
            _destroy_key(self.config_dir)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One sender at a time (a second ``outbox send`` waits), where the platform has flock."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks here; the server's checks still hold
            yield
            return
        with (self.root / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
