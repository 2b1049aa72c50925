"""The custody intake queue: events are durable when their request commits, and placed later.

A request inserts its events into ``custody_intake`` in its own transaction (no shared lock);
integration gives them their seq, leaf hash and tree nodes in batches under the head lock,
deleting them from intake in the statement that copies them into ``custody_events``. These
tests hold the design to its promises: nothing answered is lost before integration, the log
stays gap-free and verifiable whoever integrates, a receipt names its own event (placed in its
upload's own transaction, so the version, its event and its receipt commit together), anything of
the tree served to an auditor has caught up first, and intake rows are never changed.
"""
from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from psycopg import pq
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

from casework.custody import append_only, checkpoints, merkle
from casework.custody import log as custody_log
from casework.custody.canonical import canonical_json
from casework.custody.log import NewEvent
from casework.custody.models import CustodyEvent, CustodyHead, CustodyIntake, CustodyNode
from casework.db import db
from casework.errors import LogCorrupted
from casework.transcripts import receipts
from tests.conftest import Caller, World, make_app, ok
from tests.helpers import all_events, events_of, publish
from tests.test_append_only import as_app_role, refused_to_app_role
from tests.test_custody_tamper import export, verify
from tests.test_transcripts import public_key

LATER = 1_000_000  # integrate-every setting that never triggers inside a test


@pytest.fixture
def batched(app: Flask, backend: dict[str, str], keyring_path: str) -> Iterator[Flask]:
    """The same database, served as production serves it: events integrated only in batches."""
    served = make_app(backend, keyring_path, CASEWORK_CUSTODY_INTEGRATE_EVERY=LATER)
    yield served
    with served.app_context():
        db.session.remove()
        db.engine.dispose()


def on(served: Flask, caller: Caller) -> Caller:
    return dataclasses.replace(caller, client=served.test_client())


def intake_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CustodyIntake)) or 0


def log_state(app: Flask) -> tuple[list[int], int]:
    with app.app_context():
        seqs = list(db.session.scalars(select(CustodyEvent.seq).order_by(CustodyEvent.seq)))
        return seqs, db.session.get_one(CustodyHead, 1).tree_size


def test_an_answered_read_is_durable_before_it_is_placed(app: Flask, batched: Flask, world: World, is_postgres):
    legal, auditor = on(batched, world.people["legal"]), on(batched, world.people["auditor"])
    before = len(all_events(app))
    read = ok_response(legal.get(f"/api/v1/interviews/{world.interview_id}"))
    if is_postgres:  # committed in intake, not yet in the tree
        assert intake_count(app) == 1 and events_of(app, read) == [] and len(all_events(app)) == before
    else:  # SQLite, one writer: placed in the request's own transaction
        assert intake_count(app) == 0 and len(events_of(app, read)) == 1
    # An auditor's read catches up first: the event is listed, and the log is whole.
    listed = ok(auditor.get("/api/v1/custody/events?action=interview.read&limit=200"))
    assert read.headers["X-Request-ID"] in {e["request_id"] for e in listed["items"]}
    seqs, size = log_state(app)
    # PostgreSQL: the auditor's own event is durable and waiting; SQLite placed it at once.
    assert seqs == list(range(size)) and size == before + (1 if is_postgres else 2)
    assert intake_count(app) == (1 if is_postgres else 0)


def ok_response(response: Any) -> Any:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


@contextmanager
def wire_trace(served: Flask, path: Path) -> Iterator[Callable[[], list[str]]]:
    """What the app's connections send to PostgreSQL, from libpq's own protocol trace: the
    frontend messages (``Query`` for a simple query, ``Parse``/``Bind``/``Sync`` for extended)."""
    with served.app_context():
        engine = db.engine
    with path.open("w") as sink:
        def trace(dbapi_connection: Any, record: Any, proxy: Any) -> None:
            dbapi_connection.pgconn.trace(sink.fileno())
            dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

        def untrace(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.pgconn.untrace()

        event.listen(engine, "checkout", trace)
        event.listen(engine, "checkin", untrace)
        try:
            yield lambda: [line for line in path.read_text().splitlines() if line.startswith("F\t")]
        finally:
            event.remove(engine, "checkout", trace)
            event.remove(engine, "checkin", untrace)


def test_a_read_sends_its_event_in_the_commits_round_trip(batched: Flask, world: World, pg_only, tmp_path: Path):
    """An audited read writes nothing but its event: the INSERT into intake and the COMMIT go
    to the server as one simple query, so recording costs the read no round trip of its own."""
    legal = on(batched, world.people["legal"])
    ok_response(legal.get(f"/api/v1/interviews/{world.interview_id}"))  # warm: token stamp, pool
    with wire_trace(batched, tmp_path / "wire") as sent:
        read = ok_response(legal.get(f"/api/v1/interviews/{world.interview_id}"))
    messages = sent()
    commits = [m for m in messages if "COMMIT" in m]
    assert len(commits) == 1, "\n".join(messages)
    kind, statement = commits[0].split("\t")[2], commits[0].split("\t", 3)[3]
    assert kind == "Query" and "INSERT INTO custody_intake" in statement, commits[0]
    assert statement.rstrip().rstrip('"').endswith("; COMMIT")
    assert read.headers["X-Request-ID"] in statement  # this request's own event
    assert not [m for m in messages if "custody_intake" in m and m not in commits], "\n".join(messages)


def test_an_upload_sends_its_event_the_head_lock_and_the_queue_read_at_once(batched: Flask, world: World, pg_only,
                                                                           tmp_path: Path):
    """A receipt needs its event placed in the upload's transaction: the intake INSERT, the head
    lock and the read of the queue go as one simple query (one wait), then the placement."""
    interviewer = on(batched, world.people["interviewer"])
    path = f"/api/v1/interviews/{world.interview_id}/transcripts"
    ok(interviewer.post(path, {"text": "First statement."}), 201)  # warm: token stamp, pool
    with wire_trace(batched, tmp_path / "wire") as sent:
        receipt = ok(interviewer.post(path, {"text": "Second statement.", "reason": "more"}), 201)
    messages = sent()
    custody = [m for m in messages if "custody_head" in m or "custody_intake" in m]
    kind, statement = custody[0].split("\t")[2], custody[0].split("\t", 3)[3]
    assert kind == "Query", "\n".join(messages)
    parts = ("INSERT INTO custody_intake", "custody_head WHERE id = 1 FOR UPDATE", "FROM custody_intake ORDER BY id")
    order = [statement.find(part) for part in parts]
    assert -1 not in order and order == sorted(order), statement
    assert not [m for m in custody[1:] if "FOR UPDATE" in m or "INSERT INTO custody_intake" in m], "\n".join(custody)
    assert receipt["custody_seq"] == log_state(batched)[1] - 1


def test_hostile_text_in_an_event_is_stored_as_text(app: Flask, world: World):
    """The event's values reach the commit's simple query as quoted literals: a client-chosen
    request id made of SQL is recorded verbatim, and the statement after it never runs."""
    # Printable and without spaces, as a client request id must be to be kept at all.
    hostile = "x');COMMIT;DELETE/**/FROM/**/custody_intake;DROP/**/TABLE/**/custody_events;--\\'\"$$"
    read = ok_response(world.people["legal"].get(f"/api/v1/interviews/{world.interview_id}",
                                                 headers={"X-Request-ID": hostile}))
    [event_entry] = events_of(app, read)
    assert event_entry["details"]["client_request_id"] == hostile
    seqs, size = log_state(app)
    assert seqs == list(range(size)) and intake_count(app) == 0

def test_a_read_stays_recorded_when_integration_fails(app: Flask, batched: Flask, world: World, pg_only):
    """The tree cannot take events (as if its tables were down): reads are still recorded and
    answered, and their events reach the tree as soon as it can take them again."""
    with app.app_context():
        db.session.execute(text("CREATE FUNCTION tree_down() RETURNS trigger AS $$ "
                                "BEGIN RAISE EXCEPTION 'tree down'; END $$ LANGUAGE plpgsql"))
        db.session.execute(text("CREATE TRIGGER tree_down BEFORE INSERT ON custody_events "
                                "FOR EACH ROW EXECUTE FUNCTION tree_down()"))
        db.session.commit()
    try:
        legal = world.people["legal"]  # integrates after every request: that integration fails
        reads = [ok_response(legal.get(f"/api/v1/cases/{world.case_id}")) for _ in range(3)]
        assert intake_count(app) == 3
        # Nothing of the tree is served while it cannot catch up.
        assert world.people["auditor"].get("/api/v1/custody/events?limit=1").status_code == 503
    finally:
        with app.app_context():
            db.session.execute(text("DROP TRIGGER tree_down ON custody_events"))
            db.session.execute(text("DROP FUNCTION tree_down()"))
            db.session.commit()
    listed = ok(world.people["auditor"].get("/api/v1/custody/events?limit=200"))
    assert {r.headers["X-Request-ID"] for r in reads} <= {e["request_id"] for e in listed["items"]}
    seqs, size = log_state(app)
    assert seqs == list(range(size))


def test_placement_follows_intake_order_and_hashes_what_was_stored(app: Flask, world: World, tmp_path):
    with app.app_context():
        connection = db.session.connection()
        ids = custody_log.intake(connection, [NewEvent(action="test.order", outcome="allowed", details={"n": n},
                                                       request_id=f"order-{n}") for n in range(5)])
        db.session.commit()
        assert ids == sorted(ids)
        custody_log.catch_up()
        rows = db.session.scalars(select(CustodyEvent).where(CustodyEvent.action == "test.order")
                                  .order_by(CustodyEvent.seq)).all()
        assert [r.details["n"] for r in rows] == list(range(5))
        assert [r.seq for r in rows] == list(range(rows[0].seq, rows[0].seq + 5))
        leaves = {index: value for index, value in db.session.execute(
            select(CustodyNode.index, CustodyNode.hash).where(CustodyNode.level == 0))}
        for row in rows:  # the leaf is the hash of the stored row, and the tree holds it
            assert row.leaf_hash == merkle.leaf_hash(canonical_json(row.entry())) == leaves[row.seq]
        db.session.rollback()
    publish(app)
    report = verify(export(app, tmp_path / "export"))
    assert report.ok and report.verified_size == report.entries - 1, report.message


def test_an_event_the_log_could_never_hash_is_refused_at_intake(app: Flask, world: World):
    with app.app_context():
        connection = db.session.connection()
        with pytest.raises(TypeError):
            custody_log.intake(connection, [NewEvent(action="test.float", outcome="allowed", details={"x": 0.5})])
        db.session.rollback()
    assert intake_count(app) == 0


def test_a_receipt_names_its_own_event_among_pending_ones(app: Flask, batched: Flask, world: World):
    legal, interviewer = on(batched, world.people["legal"]), on(batched, world.people["interviewer"])
    for _ in range(4):  # other requests' events, committed and waiting in intake (PostgreSQL)
        ok_response(legal.get(f"/api/v1/cases/{world.case_id}"))
    upload = interviewer.post(f"/api/v1/interviews/{world.interview_id}/transcripts",
                              {"text": "He was taken at dawn.", "reason": "first"})
    receipt = ok(upload, 201)
    seqs, size = log_state(app)
    assert seqs == list(range(size)) and receipt["custody_seq"] == size - 1  # after the pending reads
    assert receipts.verify(receipt, public_key(world))
    with app.app_context():
        event = db.session.get_one(CustodyEvent, receipt["custody_seq"])
        assert event.request_id == upload.headers["X-Request-ID"] and event.action == "transcript.create"
        assert event.leaf_hash.hex() == receipt["leaf_hash"] and event.time == receipt["received_at"]
        db.session.rollback()


def test_concurrent_writers_and_integrators_leave_a_gap_free_log(app: Flask, world: World, pg_only):
    """Writers commit intake rows while some also integrate (waiting or not): every row is
    placed exactly once, in a gap-free log whose stored nodes agree with its head."""
    threads, rounds = 6, 40
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            with app.app_context(), db.engine.connect() as connection:
                for n in range(rounds):
                    with connection.begin():
                        custody_log.intake(connection, [NewEvent(
                            action="test.concurrent", outcome="allowed", request_id=f"{number}-{n}",
                            details={"writer": number, "n": n})])
                    if n % 3 == 0:
                        with connection.begin():
                            custody_log.integrate(connection, wait=number % 2 == 0, limit=7)
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=120)
    assert not errors, errors
    with app.app_context():
        custody_log.catch_up()
        assert db.session.scalar(select(func.count()).select_from(CustodyIntake)) == 0
        request_ids = list(db.session.scalars(select(CustodyEvent.request_id)
                                              .where(CustodyEvent.action == "test.concurrent")))
        assert sorted(request_ids) == sorted(f"{t}-{n}" for t in range(threads) for n in range(rounds))
        size, _root = checkpoints.tree_head()  # raises if the stored nodes disagree with the frontier
        db.session.rollback()
    seqs, head = log_state(app)
    assert seqs == list(range(head)) and head == size


def test_the_integrator_places_nothing_when_its_rows_vanish(app: Flask, world: World, pg_only):
    """Exactly the intake rows taken must be consumed; if one vanished meanwhile, the batch fails
    and rolls back, and the next integration places what is really there."""
    with app.app_context():
        ids = custody_log.intake(db.session.connection(), [NewEvent(action="test.vanish", outcome="allowed",
                                                                    details={"n": n}) for n in range(2)])
        db.session.commit()
        _, size_before = log_state(app)
        with db.engine.connect() as integrator:
            transaction = integrator.begin()
            head = integrator.execute(
                text("SELECT tree_size, frontier FROM custody_head WHERE id = 1 FOR UPDATE")).one()
            rows = integrator.execute(select(CustodyIntake.__table__).order_by(CustodyIntake.id)).all()
            with db.engine.begin() as other:
                other.execute(text("DELETE FROM custody_intake WHERE id = :id"), {"id": ids[0]})
            with pytest.raises(LogCorrupted):
                custody_log._place(integrator, head.tree_size, head.frontier, rows)
            transaction.rollback()
        assert log_state(app)[1] == size_before
        custody_log.catch_up()
        placed = db.session.scalars(select(CustodyEvent).where(CustodyEvent.action == "test.vanish")).all()
        assert [e.details["n"] for e in placed] == [1]
        db.session.rollback()
    seqs, size = log_state(app)
    assert seqs == list(range(size))


# --- the queue is never changed: triggers on both databases, grants on PostgreSQL --------------


def test_intake_rows_cannot_be_updated(app: Flask, world: World):
    with app.app_context():
        custody_log.intake(db.session.connection(), [NewEvent(action="test.forge", outcome="allowed")])
        db.session.commit()
        with pytest.raises(IntegrityError, match=append_only.INTAKE_MESSAGE):
            db.session.execute(text("UPDATE custody_intake SET outcome = 'denied'"))
        db.session.rollback()
        assert db.session.scalar(select(CustodyIntake.outcome)) == "allowed"
        db.session.rollback()


def test_app_role_may_queue_and_take_but_never_change_intake(app: Flask, world: World, pg_only):
    with app.app_context():
        custody_log.intake(db.session.connection(), [NewEvent(action="test.forge", outcome="allowed")])
        db.session.commit()
    with pytest.raises(IntegrityError, match=append_only.INTAKE_MESSAGE), app.app_context():
        db.session.execute(text("TRUNCATE custody_intake"))
    for statement in ("UPDATE custody_intake SET outcome = 'denied'", "TRUNCATE custody_intake"):
        refused_to_app_role(app, statement)
        refused_to_app_role(app, statement, owner_first=[
            f"ALTER TABLE custody_intake DISABLE TRIGGER {append_only.ROW_TRIGGER}",
            f"ALTER TABLE custody_intake DISABLE TRIGGER {append_only.TRUNCATE_TRIGGER}"])
    with as_app_role(app) as conn:  # what the integrator does, as the app
        conn.execute(text("INSERT INTO custody_intake (recorded_at, action, outcome, details) "
                          "VALUES (now(), 'test.app', 'allowed', '{}')"))
        assert conn.execute(text("DELETE FROM custody_intake")).rowcount == 2
    assert intake_count(app) == 1  # rolled back
    for statement in ("ALTER TABLE custody_intake DISABLE TRIGGER USER",
                      f"DROP TRIGGER {append_only.ROW_TRIGGER} ON custody_intake"):
        assert "must be owner" in str(refused_to_app_role(app, statement).orig)


def test_an_upload_and_its_event_commit_together_after_the_integrator(app: Flask, batched: Flask, world: World,
                                                                      pg_only):
    """While another integrator holds the head, an upload waits with its version and its event
    uncommitted (nothing of either is visible); once the head is free it places its event,
    with every earlier intake row, and commits the version, the event and the receipt at once."""
    interviewer = on(batched, world.people["interviewer"])
    ok(on(batched, world.people["legal"]).get(f"/api/v1/cases/{world.case_id}"))  # a read waiting in intake
    answers: list[Any] = []
    with app.app_context(), db.engine.connect() as other:
        transaction = other.begin()
        other.execute(text("SELECT tree_size FROM custody_head WHERE id = 1 FOR UPDATE")).one()
        upload = threading.Thread(target=lambda: answers.append(interviewer.post(
            f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "Taken at the checkpoint."})))
        upload.start()
        upload.join(timeout=1.5)
        assert upload.is_alive() and not answers  # waiting for the head
        assert other.execute(text("SELECT count(*) FROM transcript_versions")).scalar_one() == 0
        assert other.execute(text("SELECT count(*) FROM custody_intake")).scalar_one() == 1  # the read only
        transaction.rollback()
        upload.join(timeout=60)
    receipt = ok(answers[0], 201)
    assert intake_count(app) == 0  # the read was placed in the upload's batch
    seqs, size = log_state(app)
    assert seqs == list(range(size)) and receipt["custody_seq"] == size - 1
    with app.app_context():
        event = db.session.get_one(CustodyEvent, receipt["custody_seq"])
        assert event.request_id == answers[0].headers["X-Request-ID"] and event.action == "transcript.create"
        assert event.leaf_hash.hex() == receipt["leaf_hash"]
        db.session.rollback()
    assert receipts.verify(receipt, public_key(world))


def test_an_upload_reads_the_queue_only_once_it_holds_the_head(app: Flask, batched: Flask, world: World,
                                                               pg_only):
    """An upload sends its event, the head lock and the read of the queue in one round trip.
    While it waits for the head, another integrator places the queue and commits: the upload
    must read the queue as it is once the lock is granted (without the rows just placed), or
    it would place them a second time and fail. Its receipt follows them, gap-free."""
    interviewer = on(batched, world.people["interviewer"])
    ok(on(batched, world.people["legal"]).get(f"/api/v1/cases/{world.case_id}"))  # a read waiting in intake
    answers: list[Any] = []
    with app.app_context(), db.engine.connect() as other:
        transaction = other.begin()
        head = other.execute(text("SELECT tree_size, frontier FROM custody_head WHERE id = 1 FOR UPDATE")).one()
        upload = threading.Thread(target=lambda: answers.append(interviewer.post(
            f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "Taken at the checkpoint."})))
        upload.start()
        upload.join(timeout=1.5)
        assert upload.is_alive() and not answers  # its event sent, waiting for the head
        waiting = other.execute(select(CustodyIntake.__table__).order_by(CustodyIntake.id)).all()
        assert len(waiting) == 1  # the read: the upload's own row is not committed
        read_placed = custody_log._place(other, head.tree_size, head.frontier, waiting)
        transaction.commit()
        upload.join(timeout=60)
    receipt = ok(answers[0], 201)
    assert intake_count(app) == 0
    seqs, size = log_state(app)
    [(read_seq)] = [a.seq for a in read_placed.values()]
    assert seqs == list(range(size)) and receipt["custody_seq"] == size - 1 == read_seq + 1
    with app.app_context():
        assert db.session.get_one(CustodyEvent, receipt["custody_seq"]).leaf_hash.hex() == receipt["leaf_hash"]
        size_now, _root = checkpoints.tree_head()  # the stored nodes agree with the head
        assert size_now == size
        db.session.rollback()
    assert receipts.verify(receipt, public_key(world))


def test_events_spilled_before_a_receipt_are_placed_with_it(app: Flask, world: World):
    """A request that spilled all its events to intake and then asks where they landed (a
    bundle about to publish the checkpoint that must cover them) gets them placed, in order."""
    from casework.custody import recorder

    with app.app_context():
        recorder.begin(None)
        for n in range(3):
            recorder.queue(NewEvent(action="test.spilled", outcome="allowed", details={"n": n}))
        recorder.spill()
        placed = recorder.flush()
        assert [event.details["n"] for event, _ in placed] == [0, 1, 2]
        seqs = [where.seq for _, where in placed]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3
        recorder.commit()
    assert intake_count(app) == 0
    logged, size = log_state(app)
    assert logged == list(range(size)) and set(seqs) <= set(logged)


def _vacuums_of_intake(app: Flask) -> int:
    with app.app_context():
        db.session.execute(text("SELECT pg_stat_clear_snapshot()"))
        count = db.session.scalar(text(
            "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'custody_intake'"))
        db.session.commit()
        return int(count or 0)


def test_the_request_writing_every_nth_intake_row_vacuums_the_queue(app: Flask, backend: dict[str, str],
                                                                   keyring_path: str, world: World, pg_only):
    """Integration kills an intake row per event and a head version per batch; with the server's
    autovacuum off (as on this CI machine) nothing else would ever clean them, and the
    integrator's scan of the queue would slow down for good. Every Nth intake row's request
    vacuums both tables after it commits; with the upkeep off, no vacuum happens."""
    every = 4
    for vacuum_every, expected in ((every, True), (0, False)):
        served = make_app(backend, keyring_path, CASEWORK_CUSTODY_INTEGRATE_EVERY=2,
                          CASEWORK_CUSTODY_VACUUM_EVERY=vacuum_every)
        try:
            before = _vacuums_of_intake(app)
            legal = on(served, world.people["legal"])
            for _ in range(2 * every):
                ok_response(legal.get(f"/api/v1/cases/{world.case_id}"))
            with app.app_context():
                db.session.execute(text("SELECT pg_stat_force_next_flush()"))
                db.session.commit()
            assert (_vacuums_of_intake(app) > before) is expected
        finally:
            with served.app_context():
                db.session.remove()
                db.engine.dispose()
