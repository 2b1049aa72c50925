"""An exhibit's stored chunks, decrypted: a byte range of the plaintext, one chunk in memory at a time.

Every chunk is checked where it is read (present, opens at its place, of its length); a
failure is logged as critical and raised as ``IntegrityFailure``, never served. Callers decide
and record the access first (``reads``, disclosure bundles) or hold the upload (``completion``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from flask import Flask, current_app

from casework import blobs
from casework.crypto.stream import ChunkDecryptionError, ChunkReader, chunk_count, chunk_span
from casework.errors import Conflict, Gone, IntegrityFailure
from casework.exhibits import sealed
from casework.exhibits.models import Exhibit

log = logging.getLogger(__name__)


def plaintext(exhibit: Exhibit, data_key: bytes, start: int, end: int, *, detached: bool) -> Iterator[bytes]:
    """Everything read from the row now: the generator never touches the ORM object.

    ``detached``: the bytes are consumed after the request's transaction ended (a streamed
    response), so each chunk is read in an app context (and database session) of its own,
    entered and left around that one read. Otherwise chunks are read in the current session,
    which sees the request's own uncommitted chunk rows (completion of an upload).
    """
    if exhibit.size == 0 or end < start:
        return iter(())
    app = current_app._get_current_object() if detached else None  # type: ignore[attr-defined]
    return _decrypt_range(
        exhibit.id,
        exhibit.blob_store,
        exhibit.blob_key,
        exhibit.size,
        exhibit.chunk_size,
        ChunkReader(data_key, exhibit.content_context()),
        start,
        end,
        app,
    )


def _records(store_name: str, blob_key: str, indexes: range, app: Flask | None) -> Iterator[tuple[int, bytes]]:
    if app is None:
        yield from blobs.store(store_name).iter_records(blob_key, indexes)
        return
    for index in indexes:
        with app.app_context():
            record = blobs.store(store_name).get(blob_key, index)
        yield index, record  # the context is left before the consumer runs again


def _decrypt_range(
    exhibit_id: int,
    store_name: str,
    blob_key: str,
    size: int,
    chunk_size: int,
    reader: ChunkReader,
    start: int,
    end: int,
    app: Flask | None,
) -> Iterator[bytes]:
    last = chunk_count(size, chunk_size) - 1
    records = _records(store_name, blob_key, chunk_span(start, end, chunk_size), app)
    while True:
        try:
            index, record = next(records)
        except StopIteration:
            return
        except blobs.MissingChunk:
            log.critical("exhibit %s: a chunk is missing from its blob store", exhibit_id)
            raise IntegrityFailure("A stored chunk of this exhibit is missing.") from None
        try:
            plain = reader.decrypt(index, record, final=index == last)
        except ChunkDecryptionError:
            log.critical("exhibit %s: chunk %s failed to decrypt at its place", exhibit_id, index)
            raise IntegrityFailure("A stored chunk of this exhibit failed its integrity check.") from None
        expected = min(chunk_size, size - index * chunk_size)
        if len(plain) != expected:
            log.critical("exhibit %s: chunk %s has %s bytes, not %s", exhibit_id, index, len(plain), expected)
            raise IntegrityFailure("A stored chunk of this exhibit has the wrong length.")
        base = index * chunk_size
        yield plain[max(start - base, 0) : end - base + 1]


def iter_plaintext(
    exhibit: Exhibit, start: int = 0, end: int | None = None, *, detached: bool = True
) -> Iterator[bytes]:
    """The plaintext of a complete exhibit, bytes ``start``..``end`` inclusive, one chunk at a time.

    For callers that already decided and recorded the access (reads; disclosure bundles).
    The data key is unwrapped now, so a shredded exhibit raises ``Gone`` here, before the caller
    sends anything; a chunk that fails its integrity check later raises ``IntegrityFailure``
    from the iterator. Memory: one chunk (``chunk_size``) at a time. The iterator needs no
    request or app context of the caller's (it opens its own per chunk, ``detached``), so it
    can be consumed by a streamed response after the request's transaction committed; pass
    ``detached=False`` to read in the current session instead.
    """
    if not exhibit.complete:
        raise Conflict("This exhibit's upload is not complete.", problem="upload-incomplete")
    end = exhibit.size - 1 if end is None else min(end, exhibit.size - 1)
    if start < 0 or (exhibit.size and start > end):
        raise ValueError("bad range")
    if exhibit.shredded:
        raise Gone("This exhibit was crypto-shredded (consent withdrawn or erasure ordered).", problem="shredded")
    return plaintext(exhibit, sealed.data_key(exhibit), start, end, detached=detached)
