from __future__ import annotations

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from casework.db import Model


class BlobChunk(Model):
    """One encrypted chunk record of a blob in the database store (never plaintext)."""

    __tablename__ = "blob_chunks"

    blob_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    idx: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
