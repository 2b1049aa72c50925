"""Chunked AES-256-GCM (casework.crypto.stream): chunks open only at their place, in their content."""

from __future__ import annotations

import pytest

from casework.crypto.envelope import bind
from casework.crypto.stream import ChunkDecryptionError, ChunkReader, ChunkWriter, chunk_count, chunk_span, new_data_key

CONTEXT = bind("exhibit_content", "7/abc", parents={"case": 1, "witness": 3})
OTHER = bind("exhibit_content", "8/def", parents={"case": 1, "witness": 3})


def sealed(key: bytes, chunks: list[bytes], context: bytes = CONTEXT) -> list[bytes]:
    writer = ChunkWriter(key, context)
    return [writer.encrypt(i, chunk, final=i == len(chunks) - 1) for i, chunk in enumerate(chunks)]


def test_round_trip_and_record_layout():
    key = new_data_key()
    chunks = [b"a" * 16, b"b" * 16, b"tail"]
    records = sealed(key, chunks)
    assert all(
        record[0] == 1 and len(record) == 1 + 16 + len(chunk) + 16
        for record, chunk in zip(records, chunks, strict=True)
    )
    assert all(b"a" * 16 not in record for record in records)
    reader = ChunkReader(key, CONTEXT)
    assert list(reader.stream(enumerate(records), last_index=2)) == chunks


def test_reordered_moved_truncated_or_altered_chunks_fail():
    key = new_data_key()
    records = sealed(key, [b"one", b"two", b"three"])
    reader = ChunkReader(key, CONTEXT)
    with pytest.raises(ChunkDecryptionError):  # swapped
        reader.decrypt(0, records[1], final=False)
    with pytest.raises(ChunkDecryptionError):  # truncated: chunk 1 was not written as the final one
        reader.decrypt(1, records[1], final=True)
    with pytest.raises(ChunkDecryptionError):  # the final chunk is not where content continues
        reader.decrypt(2, records[2], final=False)
    with pytest.raises(ChunkDecryptionError):  # moved to another exhibit
        ChunkReader(key, OTHER).decrypt(0, records[0], final=False)
    with pytest.raises(ChunkDecryptionError):  # another data key
        ChunkReader(new_data_key(), CONTEXT).decrypt(0, records[0], final=False)
    altered = bytearray(records[0])
    altered[-1] ^= 1
    with pytest.raises(ChunkDecryptionError):
        reader.decrypt(0, bytes(altered), final=False)
    epoch_swapped = records[0][:1] + ChunkWriter(key, CONTEXT).epoch + records[0][17:]
    with pytest.raises(ChunkDecryptionError):
        reader.decrypt(0, epoch_swapped, final=False)
    with pytest.raises(ChunkDecryptionError):
        reader.decrypt(0, b"\x01short", final=False)


def test_a_write_session_never_encrypts_an_index_twice_and_sessions_use_different_keys():
    key = new_data_key()
    writer = ChunkWriter(key, CONTEXT)
    first = writer.encrypt(0, b"same bytes", final=False)
    with pytest.raises(ValueError):
        writer.encrypt(0, b"other bytes", final=False)
    again = ChunkWriter(key, CONTEXT).encrypt(0, b"same bytes", final=False)
    assert again[1:17] != first[1:17] and again[17:] != first[17:]  # another epoch, another key stream
    reader = ChunkReader(key, CONTEXT)
    assert reader.decrypt(0, first, final=False) == reader.decrypt(0, again, final=False) == b"same bytes"


def test_chunk_arithmetic():
    assert chunk_count(0, 10) == 1 and chunk_count(10, 10) == 1 and chunk_count(11, 10) == 2
    assert list(chunk_span(9, 10, 10)) == [0, 1] and list(chunk_span(25, 25, 10)) == [2]
    with pytest.raises(ValueError):
        ChunkWriter(b"short", CONTEXT)
