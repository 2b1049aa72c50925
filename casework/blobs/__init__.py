"""Blob stores: where encrypted exhibit chunks live, outside the exhibit's row.

A store keeps opaque records (already encrypted by ``casework.crypto.stream``) under
``(blob key, chunk index)``; it never sees plaintext. Two stores:

* ``filesystem`` (default): one file per chunk in a directory beside the SQLite file (or
  ``CASEWORK_BLOB_DIR``); each chunk is written to a private (0600) temporary file and renamed
  into place, so a crash leaves the old record or the new one, never a torn one.
* ``database``: chunk rows (``blob_chunks``) in the app's database, written in the request's
  transaction, so several app servers share one PostgreSQL (and a failed request writes nothing).

``CASEWORK_BLOB_STORE`` chooses the store for new blobs; each exhibit remembers its store, so
switching the setting never strands existing content.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from flask import current_app

from casework.settings import settings

STORES = ("filesystem", "database")


class MissingChunk(Exception):
    """A chunk the metadata says exists is not in the store (deleted, or never written)."""


class BlobStore(Protocol):
    name: str

    def put(self, key: str, index: int, record: bytes) -> None:
        """Store (or atomically replace) one chunk record."""

    def get(self, key: str, index: int) -> bytes:
        """One chunk record; ``MissingChunk`` if absent."""

    def iter_records(self, key: str, indexes: range) -> Iterator[tuple[int, bytes]]:
        """The records of ``indexes``, in order, one at a time."""

    def sync(self, key: str) -> None:
        """Make every chunk written so far durable (before the upload offset is acknowledged)."""

    def delete(self, key: str) -> int:
        """Remove every chunk of the blob; how many were removed."""


def blob_dir() -> str:
    """``CASEWORK_BLOB_DIR``, else ``<sqlite file>.blobs`` beside an SQLite database, else instance/blobs."""
    configured = settings().blobs.directory
    if configured:
        return configured
    uri = str(current_app.config.get("SQLALCHEMY_DATABASE_URI") or "")
    if uri.startswith("sqlite:///") and len(uri) > len("sqlite:///"):
        return uri.removeprefix("sqlite:///").split("?", 1)[0] + ".blobs"
    from config.settings import INSTANCE_DIR

    return str(INSTANCE_DIR / "blobs")


def store(name: str | None = None) -> BlobStore:
    """The store called ``name`` (default: ``CASEWORK_BLOB_STORE``), one per app."""
    name = name or settings().blobs.store
    stores = current_app.extensions.setdefault("casework.blobs", {})
    if name not in stores:
        if name == "filesystem":
            from casework.blobs.filesystem import FilesystemStore

            stores[name] = FilesystemStore(blob_dir())
        elif name == "database":
            from casework.blobs.database import DatabaseStore

            stores[name] = DatabaseStore()
        else:
            raise ValueError(f"unknown blob store {name!r}; use one of {', '.join(STORES)}")
    return stores[name]
