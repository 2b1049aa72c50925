"""An insider with the app's database password, or the database's owner, against the custody log.

On PostgreSQL the app's role tries every statement on every custody table and every custody
function with forged arguments: it can append events (that is its job) and nothing else. On both
databases the owner rewrites what was recorded after the last checkpoint, in every way a row can
be rewritten, and the signer, which recomputes each leaf from its event, signs nothing and names
the first differing seq. A property test searches rewrites for one that gets past it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError

from casework.custody import append_only, log, publication
from casework.custody.models import CustodyEvent
from casework.custody.signer import SignerBusy, signer
from casework.custody.storage import postgresql as pg_storage
from casework.db import db, utcnow
from casework_verify import leaf, merkle
from tests.conftest import Caller, World, make_app, ok
from tests.helpers import database_owner_writes, publish
from tests.pg_server import gunicorn
from tests.tlog_witnesses import app_witnessed_by, running_witnesses

CUSTODY_TABLES = (*append_only.TABLES, append_only.HEAD_TABLE, append_only.INTAKE_TABLE)


def signed_state(app: Flask) -> tuple[int, bytes] | None:
    with app.app_context():
        state = signer().last()
        return None if state is None else (state.size, state.root)


def head_size(app: Flask) -> int:
    with app.app_context():
        return log.tree_size()


def reads(world: World, n: int) -> None:
    """Reads of a transcript by the case's lawyer: each one a custody event."""
    for _ in range(n):
        ok(world.people["legal"].get(f"/api/v1/interviews/{world.interview_id}/transcripts"))


def publish_refused(app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["custody", "publish"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output


def refusals(app: Flask) -> list[dict[str, Any]]:
    with app.app_context():
        log.integrate_committed()
        rows = db.session.scalars(
            select(CustodyEvent).where(CustodyEvent.action == "custody.publish.refused").order_by(CustodyEvent.seq)
        ).all()
        return [row.details for row in rows]


# --- PostgreSQL: the app's role ---------------------------------------------------------------


@contextmanager
def as_app_role(app: Flask) -> Iterator[Connection]:
    """A connection acting as casework_app, rolled back after."""
    with app.app_context(), db.engine.connect() as conn:
        transaction = conn.begin()
        try:
            conn.execute(text(f"SET LOCAL ROLE {append_only.APP_ROLE}"))
            yield conn
        finally:
            transaction.rollback()


def refused(app: Flask, statement: str, params: dict[str, Any] | None = None) -> BaseException:
    """Run one statement as the app role; it must fail. The database's error, for its kind."""
    with as_app_role(app) as conn, pytest.raises(DBAPIError) as failure:
        conn.execute(text(statement), params or {})
    return failure.value.orig  # type: ignore[return-value]


def event_json(**overrides: Any) -> str:
    event = log.NewEvent(action="transcript.read", outcome="allowed", actor_id=1, actor_username="legal")
    event.seal(utcnow())
    row = event.row()
    row.update(
        {"recorded_at": row["recorded_at"].isoformat(), "salt": row["salt"].hex(), "leaf_hash": row["leaf_hash"].hex()}
    )
    row.update(overrides)
    return json.dumps([row])


# Every statement an insider would try, on every custody table (the head and the queue included).
_WRITES = [
    "INSERT INTO {t} SELECT * FROM {t} LIMIT 1",
    "UPDATE {t} SET {c} = {c}",
    "DELETE FROM {t}",
    "TRUNCATE {t}",
]
_A_COLUMN = {
    "custody_events": "actor_username",
    "custody_nodes": "hash",
    "custody_checkpoints": "note",
    "custody_cosignatures": "line",
    "custody_head": "frontier",
    "custody_intake": "actor_username",
}


@pytest.mark.parametrize("table", CUSTODY_TABLES)
@pytest.mark.parametrize("statement", _WRITES)
def test_the_app_role_writes_no_custody_table(app: Flask, world: World, pg_only, table: str, statement: str):
    reads(world, 2)
    publish(app)
    error = refused(app, statement.format(t=table, c=_A_COLUMN[table]))
    assert isinstance(error, psycopg.errors.InsufficientPrivilege), error


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT setval('custody_intake_id_seq', 1)",
        "SELECT nextval('custody_intake_id_seq')",
        "ALTER FUNCTION custody_integrate(integer, boolean) SECURITY INVOKER",
        "CREATE OR REPLACE FUNCTION custody_record(p_events json) RETURNS SETOF bigint LANGUAGE sql AS 'SELECT 1'",
        "DROP FUNCTION custody_store_checkpoint(bigint, bytea, text)",
        "ALTER TABLE custody_intake DISABLE TRIGGER USER",
    ],
)
def test_the_app_role_cannot_reach_around_the_functions(app: Flask, pg_only, statement: str):
    error = refused(app, statement)
    assert isinstance(error, psycopg.errors.InsufficientPrivilege), error


@pytest.mark.parametrize(
    ("call", "params"),
    [
        ("SELECT * FROM custody_record(CAST(:p AS json))", {"p": "{}"}),
        (
            "SELECT * FROM custody_record(CAST(:p AS json))",  # back-dated: an event no request made, long ago
            {"p": "back-dated"},
        ),
        ("SELECT * FROM custody_record(CAST(:p AS json))", {"p": "short-leaf"}),
        ("SELECT * FROM custody_integrate(0, true)", {}),
        ("SELECT * FROM custody_integrate(-5, true)", {}),
        ("SELECT * FROM custody_integrate(1000000, true)", {}),
        ("SELECT custody_store_checkpoint(1000000, :root, 'forged')", {"root": b"\x01" * 32}),  # beyond the head
        ("SELECT custody_store_checkpoint(1, :root, 'forged')", {"root": b"\x01" * 32}),  # older than the latest
        ("SELECT custody_store_checkpoint(:size, :root, 'forged')", {"root": b"\x01" * 32, "size": "latest"}),
        ("SELECT custody_store_checkpoint(:size, :root, 'forged')", {"root": b"\x01" * 5, "size": "latest"}),
        ("SELECT custody_store_cosignature(999999, 'w', 'line')", {}),
    ],
)
def test_the_functions_refuse_forged_arguments(app: Flask, world: World, pg_only, call: str, params: dict[str, Any]):
    reads(world, 3)
    publish(app)
    latest = head_size(app)
    reads(world, 2)
    if params.get("p") == "back-dated":
        params = {"p": event_json(recorded_at=(utcnow() - timedelta(hours=2)).isoformat())}
    elif params.get("p") == "short-leaf":
        params = {"p": event_json(leaf_hash="00" * 8)}
    if params.get("size") == "latest":
        params = {**params, "size": latest}
    before = head_size(app)
    error = refused(app, call, params)
    assert not isinstance(error, psycopg.errors.InsufficientPrivilege), "refused by the function, not a grant"
    assert head_size(app) == before
    assert signed_state(app)[0] == latest  # type: ignore[index]


def test_the_app_role_may_only_record_and_integrate(app: Flask, pg_only):
    with as_app_role(app) as conn:
        ids = [
            row[0] for row in conn.execute(text("SELECT * FROM custody_record(CAST(:p AS json))"), {"p": event_json()})
        ]
        placed = conn.execute(text("SELECT intake_id, seq FROM custody_integrate(10, true)")).all()
        assert [row.intake_id for row in placed] == ids and [row.seq for row in placed] == [0]
        stored = conn.execute(text("SELECT hash FROM custody_nodes WHERE level = 0 AND idx = 0")).scalar_one()
        assert conn.execute(text("SELECT leaf_hash FROM custody_events WHERE seq = 0")).scalar_one() == stored
        # An intake row, once recorded, cannot be taken back before it is integrated.
        conn.execute(text("SELECT * FROM custody_record(CAST(:p AS json))"), {"p": event_json()})
        conn.execute(text("SAVEPOINT s"))
        with pytest.raises(DBAPIError, match="permission denied"):
            conn.execute(text("DELETE FROM custody_intake"))
        conn.execute(text("ROLLBACK TO SAVEPOINT s"))


@contextmanager
def committed_as_app_role(app: Flask) -> Iterator[Connection]:
    """A connection acting as casework_app whose work is committed."""
    with app.app_context(), db.engine.connect() as conn:
        conn.execute(text(f"SET ROLE {append_only.APP_ROLE}"))
        try:
            yield conn
            conn.commit()
        finally:
            conn.invalidate()  # never back to the pool as the app role


def test_a_leaf_hash_that_is_not_its_events_is_never_signed(app: Flask, world: World, pg_only):
    """The app's role records an event whose leaf hash is another event's: the signer recomputes it."""
    reads(world, 2)
    publish(app)
    signed = signed_state(app)
    with committed_as_app_role(app) as conn:
        forged = json.loads(event_json())
        forged[0]["actor_username"] = "mallory"  # the hash is still legal's
        conn.execute(text("SELECT * FROM custody_record(CAST(:p AS json))"), {"p": json.dumps(forged)})
    forged_seq = head_size(app)
    with app.app_context():
        log.integrate_committed()
    reads(world, 2)
    output = publish_refused(app)
    assert f"first differing seq {forged_seq}" in output
    assert signed_state(app) == signed
    assert refusals(app)[-1]["first_bad_seq"] == forged_seq


def test_a_forged_checkpoint_row_is_never_served(app: Flask, world: World, pg_only):
    reads(world, 3)
    publish(app)
    genuine = world.people["auditor"].get("/api/v1/custody/checkpoint").get_data(as_text=True)
    reads(world, 3)
    size = head_size(app)
    with committed_as_app_role(app) as conn:
        conn.execute(
            text("SELECT custody_store_checkpoint(:size, :root, :note)"),
            {"size": size, "root": b"\x07" * 32, "note": f"casework.local/custody\n{size}\nforged\n"},
        )
    auditor = world.people["auditor"]
    assert auditor.get("/api/v1/custody/checkpoint").get_data(as_text=True) == genuine
    served = publication_of(app)
    assert ok(auditor.get(f"/api/v1/custody/proofs/inclusion?seq=0&tree_size={served}"))["tree_size"] == served


def publication_of(app: Flask) -> int:
    with app.app_context():
        published = publication.served(signer())
        assert published is not None
        return published.size


# --- both databases: the owner rewrites what is not yet signed ----------------------------------


def _rewrite(kind: str, seq: int) -> list[str]:
    """Statements that rewrite the log at ``seq`` in one way an owner could."""
    return {
        "event value": [f"UPDATE custody_events SET actor_username = 'mallory' WHERE seq = {seq}"],
        "event value with its leaf": [
            f"UPDATE custody_events SET actor_username = 'mallory', leaf_hash = :h11 WHERE seq = {seq}",
            f"UPDATE custody_nodes SET hash = :h11 WHERE level = 0 AND idx = {seq}",
        ],
        "event outcome": [f"UPDATE custody_events SET outcome = 'denied' WHERE seq = {seq}"],
        "salt": [f"UPDATE custody_events SET salt = :h22 WHERE seq = {seq}"],
        "leaf node": [f"UPDATE custody_nodes SET hash = :h33 WHERE level = 0 AND idx = {seq}"],
        "inner node": [f"UPDATE custody_nodes SET hash = :h44 WHERE level = 1 AND idx = {seq // 2}"],
        "deleted event": [f"DELETE FROM custody_events WHERE seq = {seq}"],
    }[kind]


_KINDS = [
    "event value",
    "event value with its leaf",
    "event outcome",
    "salt",
    "leaf node",
    "inner node",
    "deleted event",
]


def _owner_rewrites(app: Flask, statements: list[str], params: dict[str, Any] | None = None) -> None:
    with database_owner_writes(app), app.app_context():
        for statement in statements:
            db.session.execute(text(statement), params or {})
        db.session.commit()
        db.session.remove()


@pytest.mark.parametrize("kind", _KINDS)
def test_the_signer_refuses_every_rewrite_of_what_it_has_not_signed(app: Flask, world: World, kind: str):
    reads(world, 3)
    publish(app)
    signed = signed_state(app)
    reads(world, 6)
    target = signed[0] + 2  # type: ignore[index]
    if kind == "inner node":
        target |= 1  # the node (1, target // 2) is complete
    _owner_rewrites(app, _rewrite(kind, target), {f"h{b}": bytes.fromhex(b) * 32 for b in ("11", "22", "33", "44")})
    output = publish_refused(app)
    assert f"first differing seq {target}" in output
    assert signed_state(app) == signed


def test_a_head_moved_by_the_owner_is_never_signed(app: Flask, world: World):
    reads(world, 3)
    publish(app)
    signed = signed_state(app)
    reads(world, 3)
    forged = b"\x55" * 32 * head_size(app).bit_count()
    _owner_rewrites(app, ["UPDATE custody_head SET frontier = :f"], {"f": forged})
    output = publish_refused(app)  # the next integration builds on the forged frontier: its nodes differ
    assert "frontier" in output or "first differing seq" in output
    assert signed_state(app) == signed


@pytest.mark.parametrize("ahead", [0, 5])
def test_an_event_row_ahead_of_the_head_is_named(app: Flask, world: World, ahead: int):
    """A row at the very next seq stops integration; one further ahead is found beyond the head.
    Either way nothing is signed and the place is named."""
    reads(world, 3)
    publish(app)
    signed = signed_state(app)
    size = head_size(app)
    _owner_rewrites(
        app,
        [
            (
                f"INSERT INTO custody_events (seq, recorded_at, action, outcome, details, salt, leaf_hash) "
                f"SELECT {size + ahead}, recorded_at, action, outcome, details, salt, leaf_hash "
                f"FROM custody_events WHERE seq = 0"
            )
        ],
    )
    with app.app_context():
        log.append([log.NewEvent(action="test.after", outcome="allowed")]) if ahead else None
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["custody", "publish"])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert f"first differing seq {size + ahead}" in result.output or (
        ahead == 0 and f"first differing seq {size}" in result.output
    )
    assert signed_state(app) == signed


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_rewrite_of_unsigned_events_gets_past_the_signer(app: Flask, world: World, data: st.DataObject):
    """Whatever is rewritten, at whatever unsigned seq, the signer refuses and names it (or earlier).

    Each example rewrites one column of one event as the database's owner, then puts it back.
    """
    reads(world, 1)
    publish(app)
    signed = signed_state(app)
    unsigned = data.draw(st.integers(min_value=2, max_value=12), label="unsigned reads")
    offset = data.draw(st.integers(min_value=0, max_value=unsigned - 1), label="rewritten among them")
    reads(world, unsigned)
    start = signed[0]  # type: ignore[index]
    seq = start + offset
    assert head_size(app) >= start + unsigned
    column, value = data.draw(
        st.sampled_from(
            [
                ("actor_username", "mallory"),
                ("actor_id", 9999),
                ("outcome", "denied"),
                ("action", "x.read"),
                ("resource_id", "999"),
                ("client_addr", "203.0.113.9"),
                ("recorded_at", utcnow() - timedelta(days=400)),
                ("request_id", "forged"),
                ("salt", b"\x66" * 32),
                ("leaf_hash", b"\x77" * 32),
                ("witness_id", 4242),
            ]
        ),
        label="column",
    )
    with app.app_context():
        original = db.session.execute(
            text(f"SELECT {column} FROM custody_events WHERE seq = :seq"), {"seq": seq}
        ).scalar_one()
        db.session.remove()
    statement = f"UPDATE custody_events SET {column} = :value WHERE seq = :seq"
    _owner_rewrites(app, [statement], {"value": value, "seq": seq})
    try:
        output = publish_refused(app)
        named = int(output.split("first differing seq ")[1].split(")")[0])
        assert start <= named <= seq
        assert signed_state(app) == signed
    finally:
        _owner_rewrites(app, [statement], {"value": original, "seq": seq})


# --- the signer's state and publishers ---------------------------------------------------------


def test_a_lost_signer_state_stops_publication(app: Flask, world: World):
    reads(world, 2)
    publish(app)
    Path(app.config["CASEWORK_SIGNER_STATE"]).unlink()
    reads(world, 2)
    assert "recover-state" in publish_refused(app)


def test_a_signer_state_restored_from_a_backup_stops_publication(app: Flask, world: World):
    reads(world, 2)
    publish(app)
    state_file = Path(app.config["CASEWORK_SIGNER_STATE"])
    backup = state_file.read_bytes()
    reads(world, 2)
    publish(app)
    state_file.write_bytes(backup)
    reads(world, 2)
    assert "older than published size" in publish_refused(app)


def test_a_second_publisher_waits_or_says_so(app: Flask, world: World):
    reads(world, 2)
    with app.app_context(), signer().exclusive():
        result = app.test_cli_runner().invoke(args=["custody", "publish", "--no-wait"])
        assert result.exit_code == 4 and "another publisher" in result.output and "Traceback" not in result.output
        with pytest.raises(SignerBusy), signer().exclusive(wait=False):
            pass
    # Two at once that wait: both finish, one after the other, and agree.
    outputs: list[str] = []

    def run() -> None:
        outputs.append(publish(app))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(outputs) == 2


def test_a_quorum_that_is_no_majority_is_refused_at_start(app: Flask, backend, keyring_path, tmp_path):
    config = tmp_path / "witnesses.json"
    config.write_text(json.dumps([{"name": f"w{i}", "vkey": "x", "url": "http://127.0.0.1:1"} for i in range(4)]))
    with pytest.raises(ValueError, match="not a majority"):
        make_app(backend, keyring_path, CASEWORK_WITNESSES=str(config), CASEWORK_WITNESS_QUORUM=2)
    make_app(backend, keyring_path, CASEWORK_WITNESSES=str(config), CASEWORK_WITNESS_QUORUM=3)


def test_recover_state_rebuilds_from_the_witnesses_and_checks_the_database(backend, keyring_path, tmp_path):
    with (
        running_witnesses(tmp_path, ["w1.example", "w2.example", "w3.example"]) as witnesses,
        app_witnessed_by(witnesses, backend, keyring_path, tmp_path, quorum=2) as (app, _vkey),
    ):
        from tests.conftest import make_caller

        admin = make_caller(app, "admin", "admin")
        for _ in range(3):
            ok(admin.get("/api/v1/cases"))
        publish(app)
        for _ in range(3):
            ok(admin.get("/api/v1/cases"))
        publish(app)
        cosigned = signed_state(app)
        state_file = Path(app.config["CASEWORK_SIGNER_STATE"])
        state_file.unlink()
        assert "recover-state" in publish_refused(app)
        result = app.test_cli_runner().invoke(args=["custody", "recover-state"])
        assert result.exit_code == 0, result.output
        assert signed_state(app) == cosigned
        publish(app)  # and the witnesses cosign what follows: consistent with what they hold
        # A state restored from a backup older than what the witnesses hold, with that checkpoint's
        # row gone from the database too (restored with it): the witnesses name the newer size.
        assert signed_state(app)[0] > cosigned[0]  # type: ignore[index]


# --- merge delay: a real server, busy or idle ----------------------------------------------------


def test_every_answered_request_is_in_the_tree_within_the_merge_delay(
    app: Flask, world: World, backend, keyring_path, pg_only
):
    """With no request integrating its own events, the workers' integrator places each within the delay."""
    env = {"CASEWORK_CUSTODY_INTEGRATE_AFTER_COMMIT": "false", "CASEWORK_CUSTODY_MERGE_DELAY": "0.5"}
    legal: Caller = world.people["legal"]
    with gunicorn(backend["url"], keyring_path, workers=2, extra_env=env) as server:
        delays = []
        for _ in range(5):
            status, headers, _ = server.request(
                "GET", f"/api/v1/interviews/{world.interview_id}/transcripts", legal.token
            )
            answered = time.monotonic()
            assert status == 200
            while True:
                with app.app_context():
                    seq = db.session.scalar(
                        select(CustodyEvent.seq).where(CustodyEvent.request_id == headers["x-request-id"])
                    )
                    db.session.remove()
                if seq is not None:
                    delays.append(time.monotonic() - answered)
                    break
                assert time.monotonic() - answered < 5, "an answered request's event never reached the tree"
                time.sleep(0.02)
            time.sleep(0.7)  # idle between requests: nobody else's request pushes it in
    assert max(delays) <= 1.5, delays


def test_the_leaf_of_a_stored_event_is_its_own(app: Flask, world: World):
    """What the signer recomputes is what intake promised: the stored leaf hash of every event."""
    reads(world, 4)
    with app.app_context():
        for row in db.session.scalars(select(CustodyEvent).order_by(CustodyEvent.seq)):
            assert leaf.leaf_hash(row.entry()) == row.leaf_hash
            assert "seq" not in leaf.leaf_form(row.entry())
        state = merkle.CompactRange()
        for row in db.session.scalars(select(CustodyEvent).order_by(CustodyEvent.seq)):
            state.push(row.leaf_hash)
        assert publication.recompute(merkle.CompactRange(), log.tree_size()).root() == state.root()
    assert os.environ.get("CASEWORK_BENCH_DISABLE_CUSTODY") is None
    assert pg_storage.FUNCTIONS  # the storage functions are named for the grants


def test_a_state_restored_with_the_database_is_caught_by_the_witnesses(backend, keyring_path, tmp_path):
    """State and database restored together from last week's backup: nothing in either is newer,
    but the witnesses hold the checkpoint signed since. The signer asks them before signing."""
    from tests.conftest import make_caller

    with (
        running_witnesses(tmp_path, ["w1.example", "w2.example", "w3.example"]) as witnesses,
        app_witnessed_by(witnesses, backend, keyring_path, tmp_path, quorum=2) as (app, _vkey),
    ):
        admin = make_caller(app, "admin", "admin")
        ok(admin.get("/api/v1/cases"))
        publish(app)
        state_file = Path(app.config["CASEWORK_SIGNER_STATE"])
        backup = state_file.read_bytes()
        backed_up = head_size(app)
        for _ in range(3):
            ok(admin.get("/api/v1/cases"))
        publish(app)  # cosigned by the witnesses at a larger size
        # The restore: the state, and the database's checkpoints and events past the backup.
        state_file.write_bytes(backup)
        _owner_rewrites(
            app,
            [
                f"DELETE FROM custody_cosignatures WHERE tree_size > {backed_up}",
                f"DELETE FROM custody_checkpoints WHERE tree_size > {backed_up}",
                f"DELETE FROM custody_nodes WHERE idx >= 0 AND (idx + 1) * power(2, level) > {backed_up}",
                f"DELETE FROM custody_events WHERE seq >= {backed_up}",
            ],
        )
        with app.app_context(), database_owner_writes(app):
            frontier = signer().last().compact_range().to_bytes()  # type: ignore[union-attr]
            db.session.execute(
                text("UPDATE custody_head SET tree_size = :n, frontier = :f"), {"n": backed_up, "f": frontier}
            )
            db.session.commit()
            db.session.remove()
        ok(admin.get("/api/v1/cases"))  # a different history from here
        output = publish_refused(app)
        assert "holds size" in output and "recover-state" in output, output
        assert signed_state(app)[0] == backed_up  # type: ignore[index]


def test_publication_while_requests_integrate_signs_every_time(app: Flask, world: World, pg_only):
    """Requests keep integrating while the signer recomputes: it reads one snapshot, so a head
    moved by them is never taken for a rewrite."""
    stop = threading.Event()
    failures: list[int] = []

    def reader() -> None:
        legal = world.people["legal"]
        while not stop.is_set():
            status = legal.get(f"/api/v1/interviews/{world.interview_id}/transcripts").status_code
            if status != 200:
                failures.append(status)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(8):
            publish(app)  # exit 0 each time, or it raises
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert not failures


def test_an_idle_integrator_writes_nothing(app: Flask, pg_only):
    """Polling an empty queue takes no lock and no transaction id: an idle server flushes no WAL."""
    with app.app_context(), db.engine.connect() as conn:
        conn.execute(text("SELECT * FROM custody_integrate(10, false)")).all()
        assert conn.execute(text("SELECT pg_current_xact_id_if_assigned()")).scalar() is None
        conn.rollback()
