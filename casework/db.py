"""Declarative base, column types and engine tuning shared by every domain's models.

Engines never write SQL parameters into exception messages or logs (``hide_parameters``): a
failed statement's parameters may be a witness's name or a transcript. An SQLite database file
is created readable by its owner only (0600); SQLite gives its -wal and -shm files the same mode.
PostgreSQL sessions use UTC, so every storable time (years 1 to 9999 in UTC) reads back.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import psycopg
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, DateTime, Engine, MetaData, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both databases (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON()},
    )


# Defaults under whatever SQLALCHEMY_ENGINE_OPTIONS adds: no configuration puts parameters in logs.
db = SQLAlchemy(model_class=Base, engine_options={"hide_parameters": True})

if TYPE_CHECKING:
    Model = Base  # what db.Model is, as far as a type checker can see
else:
    Model = db.Model


@contextmanager
def written_unique(recheck: Callable[[], None]) -> Iterator[None]:
    """Write the block's changes now, in a savepoint. A unique value another request took since the
    caller checked it fails the flush: ``recheck`` (the same check) turns that into its domain
    error, with the transaction still usable."""
    savepoint = db.session.begin_nested()
    try:
        yield
        db.session.flush()
    except IntegrityError:
        savepoint.rollback()
        recheck()
        raise
    savepoint.commit()


def utcnow() -> datetime:
    return datetime.now(UTC)


SQLITE_FILE_MODE = 0o600


def _sqlite_path(cargs: list[Any], cparams: dict[str, Any]) -> str | None:
    """The file an SQLite connection opens, or None (in memory, or a URI without a file)."""
    target = cargs[0] if cargs else cparams.get("database")
    if not isinstance(target, str) or target in ("", ":memory:"):
        return None
    if cparams.get("uri") or target.startswith("file:"):
        parts = urlsplit(target)
        if "mode=memory" in parts.query or not parts.path:
            return None
        return unquote(parts.path)
    return target


@event.listens_for(Engine, "do_connect")
def _sqlite_private_file(dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
    """SQLite: create a new database file 0600 before SQLite creates it with the umask's mode.

    Its -wal and -shm files take the database file's mode from SQLite. An existing file keeps
    the mode its operator gave it.
    """
    if dialect.name != "sqlite":
        return
    path = _sqlite_path(cargs, cparams)
    if path is None:
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE)
    except (FileExistsError, FileNotFoundError, NotADirectoryError, PermissionError):
        return  # it exists, or SQLite will report why it cannot open it
    os.fchmod(fd, SQLITE_FILE_MODE)  # whatever the umask
    os.close(fd)


@event.listens_for(Engine, "connect")
def _postgres_utc(dbapi_connection: Any, _record: Any) -> None:
    """PostgreSQL: sessions speak UTC, whatever the server's TimeZone.

    Times are stored as timestamptz and rendered in the session's zone; in any other zone the
    first and last instants accepted (years 1 and 9999 in UTC) would render as 1 BC or 10000,
    which no Python datetime holds.
    """
    if not isinstance(dbapi_connection, psycopg.Connection):
        return
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'UTC'")
    dbapi_connection.commit()


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """SQLite: enforce foreign keys, use WAL, wait for locks, and let us issue BEGIN ourselves."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection: Any) -> None:
    """SQLite: take the write lock at BEGIN so concurrent requests queue instead of failing.

    Every request appends to the custody log, so every transaction writes; a deferred
    transaction would read a stale snapshot and then fail to upgrade its lock.
    """
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
