"""Chunked AES-256-GCM for large content (exhibits): encrypt as it arrives, decrypt any range.

Content is cut into fixed-size chunks (``chunk_size`` bytes; the last may be shorter). Chunk
``i`` is encrypted with AES-256-GCM under a *write key* and the nonce ``i`` (96-bit big-endian):
no random nonces to store, and a chunk can be found and opened alone (HTTP Range).

Nonce reuse is the one catastrophic failure: a (key, nonce) pair must never encrypt two
different plaintexts. A resumable upload may write chunk ``i`` more than once (the partial tail
of one PATCH is completed by the next; a PATCH refused for a bad checksum is resent with other
bytes). So every write session (one PATCH) draws a fresh random 128-bit ``epoch``, and its
write key is HKDF-SHA256(data key, info = label || epoch). Within a session each index is
encrypted once; across sessions the keys differ. The epoch is stored in the chunk's record, so
records are self-describing and the reader needs nothing else but the data key.

Associated data binds each chunk to its place: the record's context (``bind()``: record type,
id, parents), the chunk index and a *final* flag that is set only on the last chunk of the
content. A chunk moved to another index or another exhibit, two chunks swapped, a chunk dropped
or the content truncated at a chunk boundary (the new last chunk was not encrypted as final)
all fail to decrypt. The KEK id is not bound here (unlike what one might expect): binding it
would make KEK rotation impossible without re-encrypting; the data key's wrap binds it.

Record layout: ``version (1 byte, 0x01) || epoch (16) || ciphertext || tag (16)``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "RECORD_OVERHEAD",
    "ChunkDecryptionError",
    "ChunkReader",
    "ChunkWriter",
    "chunk_count",
    "chunk_span",
    "new_data_key",
    "new_epoch",
]

DEFAULT_CHUNK_SIZE = 1024 * 1024
EPOCH_BYTES = 16
_VERSION = b"\x01"
_TAG_BYTES = 16
RECORD_OVERHEAD = 1 + EPOCH_BYTES + _TAG_BYTES
_KEY_LABEL = b"casework/stream-write-key/v1"
_AD_LABEL = b"casework/stream-chunk/v1"
MAX_INDEX = 2**64 - 1


class ChunkDecryptionError(Exception):
    """A chunk does not belong at this place (moved, reordered, truncated, altered) or the key is wrong."""


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def new_epoch() -> bytes:
    return os.urandom(EPOCH_BYTES)


def _write_key(data_key: bytes, epoch: bytes) -> AESGCM:
    if len(data_key) != 32 or len(epoch) != EPOCH_BYTES:
        raise ValueError("a 256-bit data key and a 128-bit epoch are required")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_LABEL + epoch).derive(data_key)
    return AESGCM(key)


def _nonce(index: int) -> bytes:
    if not 0 <= index <= MAX_INDEX:
        raise ValueError("chunk index out of range")
    return index.to_bytes(12, "big")


def _associated_data(context: bytes, index: int, final: bool) -> bytes:
    if not isinstance(context, bytes) or not context:
        raise ValueError("context must be non-empty bytes (use bind())")
    parts = (_AD_LABEL, context, struct.pack(">Q", index), b"\x01" if final else b"\x00")
    return b"".join(struct.pack(">I", len(part)) + part for part in parts)


def chunk_count(size: int, chunk_size: int) -> int:
    """How many chunks hold ``size`` bytes (empty content is one empty, final chunk)."""
    return max(1, -(-size // chunk_size))


def chunk_span(start: int, end: int, chunk_size: int) -> range:
    """The chunk indexes covering bytes ``start``..``end`` inclusive."""
    return range(start // chunk_size, end // chunk_size + 1)


class ChunkWriter:
    """One write session: encrypts chunks under this session's epoch, each index at most once."""

    def __init__(self, data_key: bytes, context: bytes) -> None:
        self.epoch = new_epoch()
        self._aead = _write_key(data_key, self.epoch)
        self._context = context
        self._used: set[int] = set()

    def encrypt(self, index: int, plaintext: bytes, *, final: bool) -> bytes:
        if index in self._used:
            # The guard that makes nonce reuse impossible within a session, whatever the caller does.
            raise ValueError(f"chunk {index} was already encrypted in this write session")
        self._used.add(index)
        sealed = self._aead.encrypt(_nonce(index), plaintext, _associated_data(self._context, index, final))
        return _VERSION + self.epoch + sealed


class ChunkReader:
    """Opens records of one content; caches the write key of the last epoch seen."""

    def __init__(self, data_key: bytes, context: bytes) -> None:
        self._data_key, self._context = data_key, context
        self._epoch: bytes | None = None
        self._aead: AESGCM | None = None

    def decrypt(self, index: int, record: bytes, *, final: bool) -> bytes:
        if len(record) < RECORD_OVERHEAD or record[:1] != _VERSION:
            raise ChunkDecryptionError(f"chunk {index} is not a chunk record")
        epoch = record[1 : 1 + EPOCH_BYTES]
        if epoch != self._epoch or self._aead is None:
            self._epoch, self._aead = epoch, _write_key(self._data_key, epoch)
        try:
            return self._aead.decrypt(
                _nonce(index), record[1 + EPOCH_BYTES :], _associated_data(self._context, index, final)
            )
        except InvalidTag:
            raise ChunkDecryptionError(f"chunk {index} failed to decrypt at its place") from None

    def stream(self, records: Iterable[tuple[int, bytes]], last_index: int) -> Iterator[bytes]:
        """Decrypt ``(index, record)`` pairs in order; the chunk at ``last_index`` must be the final one."""
        for index, record in records:
            yield self.decrypt(index, record, final=index == last_index)
