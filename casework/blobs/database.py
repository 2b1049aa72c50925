"""The database blob store: chunk rows in the app's database, in the request's transaction.

Rows are written and read with Core statements, never as ORM objects, so the session holds
no chunk after its statement ran (a 1 GiB upload does not accumulate in the identity map).
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from casework.blobs import MissingChunk
from casework.blobs.models import BlobChunk
from casework.db import db


class DatabaseStore:
    name = "database"

    def put(self, key: str, index: int, record: bytes) -> None:
        """One upsert (PostgreSQL and SQLite both speak ON CONFLICT): a chunk rewritten by a resumed upload."""
        dialect = db.session.get_bind().dialect.name
        upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(BlobChunk)
        db.session.execute(
            upsert.values(blob_key=key, idx=index, data=record).on_conflict_do_update(
                index_elements=[BlobChunk.blob_key, BlobChunk.idx], set_={"data": upsert.excluded.data}
            )
        )

    def get(self, key: str, index: int) -> bytes:
        found = db.session.execute(
            select(BlobChunk.data).where(BlobChunk.blob_key == key, BlobChunk.idx == index)
        ).scalar_one_or_none()
        if found is None:
            raise MissingChunk(f"chunk {index} of blob {key} is missing")
        return bytes(found)

    def iter_records(self, key: str, indexes: range) -> Iterator[tuple[int, bytes]]:
        for index in indexes:  # one row per statement: memory stays one chunk, whatever the driver buffers
            yield index, self.get(key, index)

    def sync(self, key: str) -> None:
        """Durable with the request's commit."""

    def delete(self, key: str) -> int:
        result: CursorResult[object] = db.session.execute(  # type: ignore[assignment]
            delete(BlobChunk).where(BlobChunk.blob_key == key)
        )
        return int(result.rowcount)
