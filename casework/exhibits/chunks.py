"""The tus PATCH: its body streamed into the upload's encrypted chunks as it arrives; the last byte completes it.

Bytes are cut into ``chunk_size`` chunks, each encrypted by ``casework.crypto.stream`` as soon
as it is full and written to the exhibit's blob store. The partial last chunk of a PATCH is
written too, so ``Upload-Offset`` acknowledges every byte received; the next PATCH reads it
back, completes it and writes it again under its own write session (its own epoch key: chunk
indexes never repeat under one key, see the stream module). A PATCH whose first bytes already
settle the media type refuses the wrong kind at once.

One access decision per PATCH (``exhibit.upload.write``), at its start. The PATCH that brings
the last byte also records the completion as its own event (``exhibit.create``: the uploader's
receipt promises that event's leaf), decided in plain sight in ``receive`` once the content is
judged; ``completion`` itself decides nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from casework import blobs
from casework.access.door import authorize, load_authorized
from casework.crypto.stream import ChunkDecryptionError, ChunkReader, ChunkWriter, chunk_count
from casework.errors import ChecksumMismatch, Conflict, IntegrityFailure, TooLarge
from casework.exhibits import completion, media_types, sealed, uploads
from casework.exhibits.models import COMPLETE, Exhibit
from casework.exhibits.types import Body, PatchResult

log = logging.getLogger(__name__)


def _read_tail(exhibit: Exhibit, store: blobs.BlobStore, reader: ChunkReader, index: int, keep: int) -> bytes:
    """The acknowledged bytes of a partial chunk, from whatever record a later attempt left there."""
    try:
        record = store.get(exhibit.blob_key, index)
    except blobs.MissingChunk:
        record = b""
    last = chunk_count(exhibit.size, exhibit.chunk_size) - 1
    for final in (False, True) if index == last else (False,):
        try:
            plain = reader.decrypt(index, record, final=final)
        except ChunkDecryptionError:
            continue
        if len(plain) >= keep:
            return plain[:keep]
    log.critical("exhibit %s: partial chunk %s does not open", exhibit.id, index)
    raise IntegrityFailure("A stored chunk of this upload failed its integrity check; the incident has been logged.")


class Appender:
    """Where one PATCH is in its upload: the chunk being filled, its index, and the offset reached.

    Read from the row once (the loop runs per piece of the body); the row's ``received`` is left
    to the caller, who moves it to ``position`` only once the body is accepted.
    """

    def __init__(self, exhibit: Exhibit, data_key: bytes) -> None:
        self._kind, self._blob_key = exhibit.kind, exhibit.blob_key
        self._size, self._chunk_size = exhibit.size, exhibit.chunk_size
        self._last = chunk_count(self._size, self._chunk_size) - 1
        self._store = blobs.store(exhibit.blob_store)
        self._writer = ChunkWriter(data_key, exhibit.content_context())
        self.start = self.position = exhibit.received
        self._index, keep = divmod(self.start, self._chunk_size)
        reader = ChunkReader(data_key, exhibit.content_context())
        self._buffer = bytearray(_read_tail(exhibit, self._store, reader, self._index, keep) if keep else b"")
        self._digest = hashlib.sha256()
        # The first bytes may already settle the media type (a signature): refuse the wrong kind now.
        self._head_checked = self.start >= min(self._size, media_types.DETECT_BYTES)

    @property
    def received(self) -> int:
        """Bytes of this PATCH's body taken so far."""
        return self.position - self.start

    def matches(self, checksum: bytes) -> bool:
        """Whether the body taken has this SHA-256 (tus checksum extension)."""
        return hmac.compare_digest(self._digest.digest(), checksum)

    def take(self, piece: bytes) -> None:
        """Add a piece of the body; every chunk it fills is encrypted and stored now."""
        if len(piece) > self._size - self.position:
            raise TooLarge("The body goes past Upload-Length.", problem="beyond-upload-length")
        self._digest.update(piece)
        self._buffer += piece
        self.position += len(piece)
        self._check_head()
        while len(self._buffer) >= self._chunk_size:
            self._seal(bytes(memoryview(self._buffer)[: self._chunk_size]), self._index == self._last)
            del self._buffer[: self._chunk_size]
            self._index += 1

    def _check_head(self) -> None:
        detect = min(self._size, media_types.DETECT_BYTES)
        if self._head_checked or self._index != 0 or len(self._buffer) < detect:
            return
        self._head_checked = True
        early = media_types.head_type(
            bytes(self._buffer[: media_types.DETECT_BYTES]), whole=self._size <= media_types.DETECT_BYTES
        )
        if early is not None:
            completion.check_suits(self._kind, early)

    def finish(self) -> None:
        """Store the partial last chunk too (so the new offset acknowledges every byte), then sync."""
        if self.position > self.start and self._buffer:
            self._seal(bytes(self._buffer), self._index == self._last and self.position == self._size)
        elif self._size == 0:
            self._seal(b"", True)  # empty content: one empty, final chunk
        self._store.sync(self._blob_key)

    def _seal(self, chunk: bytes, final: bool) -> None:
        self._store.put(self._blob_key, self._index, self._writer.encrypt(self._index, chunk, final=final))


# -- the PATCH ----------------------------------------------------------------------------------


def _check_append(exhibit: Exhibit, offset: int, content_length: int | None) -> None:
    """A PATCH continues an unfinished upload exactly where it stands, and stays within its length."""
    if exhibit.status == COMPLETE:
        raise Conflict("This upload is complete; an exhibit is immutable.", problem="upload-complete")
    if offset != exhibit.received:
        raise Conflict(
            f"Upload-Offset {offset} does not match the server's offset {exhibit.received}.", problem="offset-mismatch"
        )
    remaining = exhibit.size - exhibit.received
    if content_length is not None and content_length > remaining:
        raise TooLarge(
            f"The body would go past Upload-Length ({remaining} bytes remain).", problem="beyond-upload-length"
        )


def receive(
    exhibit_id: int, offset: int, body: Body, *, content_length: int | None, checksum: bytes | None
) -> PatchResult:
    """tus PATCH: append the body at ``offset``, encrypted chunk by chunk as it arrives.

    ``checksum`` (sha256 of the body, tus checksum extension) is checked at the end; on a
    mismatch nothing is acknowledged (``ChecksumMismatch``). A body cut short by the client is
    kept as far as it came, unless it carried a checksum (which cannot then be checked). The
    PATCH that brings the last byte completes the exhibit (see the module's note on its event).
    """
    access = load_authorized(Exhibit, exhibit_id, "exhibit.upload.write")
    exhibit = uploads.locked(access.obj.id)
    uploads.check_live(exhibit)
    access.note(upload_offset=offset, content_length=content_length, checksum=checksum is not None)
    _check_append(exhibit, offset, content_length)
    data_key = sealed.data_key(exhibit)
    appender = Appender(exhibit, data_key)
    for piece in body:
        appender.take(piece)
    if checksum is not None and (body.truncated or not appender.matches(checksum)):
        access.note(checksum_mismatch=True, bytes_received=appender.received)
        raise ChecksumMismatch("Upload-Checksum does not match the body received; nothing was kept.")
    appender.finish()
    access.note(bytes_received=appender.received, new_offset=appender.position, truncated=body.truncated)
    exhibit.received = appender.position
    if exhibit.received < exhibit.size:
        return PatchResult(exhibit, None)
    found = completion.judge(exhibit, data_key)  # a wrong media type refuses it: no exhibit.create
    # The completion is its own event (exhibit.create), whose leaf the receipt promises.
    completed = authorize("exhibit.create", exhibit.custody_target())
    return PatchResult(exhibit, completion.complete(completed, exhibit, found))
