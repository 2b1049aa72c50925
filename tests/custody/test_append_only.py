"""The custody tables are append-only in the database itself, on both databases.

Triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) of custody_events, custody_nodes,
custody_checkpoints and custody_cosignatures, whoever asks; on PostgreSQL the role the app runs
as, casework_app, has no UPDATE, DELETE or TRUNCATE on them in the first place, and cannot touch
the triggers. custody_head stays updatable: every append moves it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, IntegrityError, ProgrammingError

from casework.custody import append_only
from casework.custody.models import CustodyCheckpoint, CustodyCosignature
from casework.db import db
from tests.conftest import Caller, make_app, make_caller, ok

# Per table: how to name its first row, and a change to one of its columns.
ROWS = {
    "custody_events": ("seq", "actor_username = 'mallory'"),
    "custody_nodes": ("level, idx", "hash = hash"),
    "custody_checkpoints": ("id", "note = 'forged'"),
    "custody_cosignatures": ("id", "line = 'forged'"),
}
assert set(ROWS) == set(append_only.TABLES)


def first_row(app: Flask, table: str) -> tuple[str, dict[str, Any]]:
    """A WHERE clause naming the table's first row, and the row."""
    key, _ = ROWS[table]
    with app.app_context():
        row = db.session.execute(text(f"SELECT * FROM {table} ORDER BY {key} LIMIT 1")).mappings().one()
        db.session.rollback()
    where = " AND ".join(f"{column} = {row[column]}" for column in key.split(", "))
    return where, dict(row)


def read(app: Flask, table: str, where: str) -> dict[str, Any] | None:
    with app.app_context():
        row = db.session.execute(text(f"SELECT * FROM {table} WHERE {where}")).mappings().one_or_none()
        db.session.rollback()
        return dict(row) if row is not None else None


def count(app: Flask, table: str) -> int:
    with app.app_context():
        return db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


@pytest.fixture
def logged(app: Flask, people: dict[str, Caller]) -> dict[str, Caller]:
    """Rows in all four tables: events and nodes appended by requests, a checkpoint and a cosignature."""
    for _ in range(3):
        ok(people["admin"].get("/api/v1/cases"))
    with app.app_context():
        db.session.add(CustodyCheckpoint(tree_size=1, root_hash=b"\x01" * 32, note="casework.test/custody\n1\n"))
        db.session.add(CustodyCosignature(tree_size=1, witness="witness.example", line="\u2014 witness.example AAAA"))
        db.session.commit()
    assert all(count(app, table) > 0 for table in append_only.TABLES)
    return people


@pytest.mark.parametrize("table", append_only.TABLES)
def test_update_and_delete_are_refused_by_the_database(app: Flask, logged, table: str):
    where, before = first_row(app, table)
    rows = count(app, table)
    _, change = ROWS[table]
    for statement in (
        f"UPDATE {table} SET {change} WHERE {where}",
        f"DELETE FROM {table} WHERE {where}",
        f"DELETE FROM {table}",
    ):
        with app.app_context():
            with pytest.raises(IntegrityError, match=append_only.MESSAGE):
                db.session.execute(text(statement))
            db.session.rollback()
        assert read(app, table, where) == before, statement
        assert count(app, table) == rows, statement


def test_the_orm_cannot_edit_an_event_either(app: Flask, logged):
    from casework.custody.models import CustodyEvent

    where, before = first_row(app, "custody_events")
    with app.app_context():
        event = db.session.get(CustodyEvent, before["seq"])
        assert event is not None
        event.outcome = "denied"
        with pytest.raises(IntegrityError, match=append_only.MESSAGE):
            db.session.commit()
        db.session.rollback()
    assert read(app, "custody_events", where) == before


def test_the_log_still_grows_and_its_head_still_moves(app: Flask, logged):
    events, nodes = count(app, "custody_events"), count(app, "custody_nodes")
    ok(logged["auditor"].get("/api/v1/custody/events?limit=1"))
    with app.app_context():
        head = db.session.execute(text("SELECT tree_size FROM custody_head")).scalar_one()
    assert count(app, "custody_events") == head == events + 1
    assert count(app, "custody_nodes") >= nodes + 1


def test_triggers_are_dropped_by_the_downgrade_and_back_after_the_upgrade(app: Flask, logged):
    where, before = first_row(app, "custody_events")
    with app.app_context():
        db.session.remove()
        downgrade(revision="0003_witnessed_checkpoints")
    try:
        with app.app_context():
            db.session.execute(text(f"UPDATE custody_events SET actor_username = 'mallory' WHERE {where}"))
            db.session.commit()
        assert read(app, "custody_events", where) == {k: v for k, v in before.items() if k != "salt"} | {
            "actor_username": "mallory"
        }
    finally:
        with app.app_context():
            db.session.remove()
            upgrade()
    with app.app_context():
        with pytest.raises(IntegrityError, match=append_only.MESSAGE):
            db.session.execute(text(f"UPDATE custody_events SET actor_username = 'eve' WHERE {where}"))
        db.session.rollback()
    assert read(app, "custody_events", where)["actor_username"] == "mallory"


# --- PostgreSQL: TRUNCATE, and what the application role may do -------------------------------


@pytest.mark.parametrize("table", append_only.TABLES)
def test_truncate_is_refused(app: Flask, logged, pg_only, table: str):
    rows = count(app, table)
    with app.app_context():
        with pytest.raises(IntegrityError, match=append_only.MESSAGE):
            db.session.execute(text(f"TRUNCATE {table}"))
        db.session.rollback()
    assert count(app, table) == rows


@contextmanager
def as_app_role(app: Flask, owner_first: Sequence[str] = ()) -> Iterator[Connection]:
    """A connection acting as casework_app (after ``owner_first`` ran as the owner), rolled back after."""
    with app.app_context(), db.engine.connect() as conn:
        transaction = conn.begin()
        try:
            for statement in owner_first:
                conn.execute(text(statement))
            conn.execute(text(f"SET LOCAL ROLE {append_only.APP_ROLE}"))
            assert conn.execute(text("SELECT current_user")).scalar_one() == append_only.APP_ROLE
            yield conn
        finally:
            transaction.rollback()


def refused_to_app_role(app: Flask, statement: str, owner_first: Sequence[str] = ()) -> DBAPIError:
    with as_app_role(app, owner_first) as conn, pytest.raises(ProgrammingError) as refused:
        conn.execute(text(statement))
    assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege), refused.value
    return refused.value


@pytest.mark.parametrize("table", append_only.TABLES)
def test_app_role_has_no_update_delete_or_truncate(app: Flask, logged, pg_only, table: str):
    where, before = first_row(app, table)
    _, change = ROWS[table]
    for statement in (
        f"UPDATE {table} SET {change} WHERE {where}",
        f"DELETE FROM {table} WHERE {where}",
        f"TRUNCATE {table}",
    ):
        error = refused_to_app_role(app, statement)
        assert "permission denied" in str(error.orig)
        # The privilege holds on its own: with the owner's triggers off, the app role is still refused.
        refused_to_app_role(app, statement, owner_first=append_only.POSTGRES_DISABLE)
    # Nor can the app role switch the triggers off, drop them, or take the table.
    for statement in (
        f"ALTER TABLE {table} DISABLE TRIGGER {append_only.ROW_TRIGGER}",
        f"ALTER TABLE {table} DISABLE TRIGGER USER",
        f"DROP TRIGGER {append_only.ROW_TRIGGER} ON {table}",
        f"ALTER TABLE {table} OWNER TO {append_only.APP_ROLE}",
        f"DROP TABLE {table}",
    ):
        error = refused_to_app_role(app, statement)
        assert "must be owner" in str(error.orig), statement
    assert read(app, table, where) == before


def test_the_app_runs_as_the_app_role(app: Flask, backend, keyring_path, pg_only):
    """Every request of a working session (which appends to the log) succeeds as casework_app."""
    options = {"pool_pre_ping": True, "connect_args": {"options": f"-c role={append_only.APP_ROLE}"}}
    restricted = make_app(backend, keyring_path, SQLALCHEMY_ENGINE_OPTIONS=options)
    try:
        with restricted.app_context():
            assert db.session.execute(text("SELECT current_user")).scalar_one() == append_only.APP_ROLE
            db.session.remove()
        admin = make_caller(restricted, "admin", "admin")
        auditor = make_caller(restricted, "auditor", "auditor")
        case = ok(admin.post("/api/v1/cases", {"title": "Shelling of the market"}), 201)
        ok(admin.get(f"/api/v1/cases/{case['id']}"))
        events = ok(auditor.get("/api/v1/custody/events?limit=200"))
        assert len(events["items"]) >= 2
        with restricted.app_context():
            head = db.session.execute(text("SELECT tree_size FROM custody_head")).scalar_one()
            assert head == db.session.execute(text("SELECT count(*) FROM custody_events")).scalar_one() >= 3
            with pytest.raises(ProgrammingError, match="permission denied"):
                db.session.execute(text("DELETE FROM custody_events"))
            db.session.rollback()
    finally:
        with restricted.app_context():
            db.session.remove()
            db.engine.dispose()
