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

from casework.custody import append_only, publication
from casework.custody import log as custody_log
from casework.custody.log import NewEvent
from casework.custody.models import CustodyEvent, CustodyHead, CustodyIntake, CustodyNode
from casework.db import db
from casework.transcripts import receipts
from casework_verify import leaf, merkle
from tests.conftest import Caller, World, make_app, ok
from tests.custody.test_custody_tamper import export, verify
from tests.helpers import all_events, events_of, publish
from tests.transcripts.test_transcripts import public_key


@pytest.fixture
def batched(app: Flask, backend: dict[str, str], keyring_path: str) -> Iterator[Flask]:
    """The same database, served as production serves it: events wait in intake for the integrator
    (the gunicorn workers' background thread, not running here)."""
    served = make_app(backend, keyring_path, CASEWORK_CUSTODY_INTEGRATE_AFTER_COMMIT=False)
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
    assert kind == "Query" and "custody_record(" in statement, commits[0]
    assert statement.rstrip().rstrip('"').endswith("; COMMIT")
    assert read.headers["X-Request-ID"] in statement  # this request's own event
    assert not [m for m in messages if "custody_" in m and m not in commits], "\n".join(messages)


def test_an_upload_sends_its_event_with_its_commit_and_never_takes_the_head(
    batched: Flask, world: World, pg_only, tmp_path: Path
):
    """A receipt is a promise signed over the leaf hash at intake: the upload's event goes to
    intake in its commit's round trip, like a read's, and the upload never locks the head."""
    interviewer = on(batched, world.people["interviewer"])
    path = f"/api/v1/interviews/{world.interview_id}/transcripts"
    ok(interviewer.post(path, {"text": "First statement."}), 201)  # warm: token stamp, pool
    with wire_trace(batched, tmp_path / "wire") as sent:
        upload = interviewer.post(path, {"text": "Second statement.", "reason": "more"})
        receipt = ok(upload, 201)
    messages = sent()
    custody = [m for m in messages if "custody_" in m]
    assert (
        len(custody) == 1 and "custody_record(" in custody[0] and custody[0].rstrip().rstrip('"').endswith("; COMMIT")
    ), "\n".join(messages)
    assert not [m for m in messages if "custody_head" in m or ("FOR UPDATE" in m and "custody" in m)]
    assert upload.headers["X-Request-ID"] in custody[0]
    with batched.app_context():
        pending = db.session.scalars(select(CustodyIntake).order_by(CustodyIntake.id)).all()
        assert pending[-1].leaf_hash.hex() == receipt["leaf_hash"]  # promised, not yet placed
        db.session.rollback()


def test_hostile_text_in_an_event_is_stored_as_text(app: Flask, world: World):
    """The event's values reach the commit's simple query as quoted literals: a client-chosen
    request id made of SQL is recorded verbatim, and the statement after it never runs."""
    # Printable and without spaces, as a client request id must be to be kept at all.
    hostile = "x');COMMIT;DELETE/**/FROM/**/custody_intake;DROP/**/TABLE/**/custody_events;--\\'\"$$"
    read = ok_response(
        world.people["legal"].get(f"/api/v1/interviews/{world.interview_id}", headers={"X-Request-ID": hostile})
    )
    [event_entry] = events_of(app, read)
    assert event_entry["details"]["client_request_id"] == hostile
    seqs, size = log_state(app)
    assert seqs == list(range(size)) and intake_count(app) == 0


def test_a_read_stays_recorded_when_integration_fails(app: Flask, batched: Flask, world: World, pg_only):
    """The tree cannot take events (as if its tables were down): reads are still recorded and
    answered, and their events reach the tree as soon as it can take them again."""
    with app.app_context():
        db.session.execute(
            text(
                "CREATE FUNCTION tree_down() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'tree down'; END $$ LANGUAGE plpgsql"
            )
        )
        db.session.execute(
            text("CREATE TRIGGER tree_down BEFORE INSERT ON custody_events FOR EACH ROW EXECUTE FUNCTION tree_down()")
        )
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
        ids = custody_log.intake(
            connection,
            [
                NewEvent(action="test.order", outcome="allowed", details={"n": n}, request_id=f"order-{n}")
                for n in range(5)
            ],
        )
        db.session.commit()
        assert ids == sorted(ids)
        custody_log.integrate_committed()
        rows = db.session.scalars(
            select(CustodyEvent).where(CustodyEvent.action == "test.order").order_by(CustodyEvent.seq)
        ).all()
        assert [r.details["n"] for r in rows] == list(range(5))
        assert [r.seq for r in rows] == list(range(rows[0].seq, rows[0].seq + 5))
        leaves = dict(
            db.session.execute(select(CustodyNode.index, CustodyNode.hash).where(CustodyNode.level == 0)).all()
        )
        for row in rows:  # the leaf is the hash of the stored row, and the tree holds it
            assert row.leaf_hash == leaf.leaf_hash(row.entry()) == leaves[row.seq]
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
    upload = interviewer.post(
        f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "He was taken at dawn.", "reason": "first"}
    )
    receipt = ok(upload, 201)
    assert receipts.verify(receipt, public_key(world))
    located = ok(interviewer.get(f"/api/v1/interviews/{world.interview_id}/transcripts/1/receipt"))["custody"]
    seqs, size = log_state(app)
    assert seqs == list(range(size)) and located["seq"] >= 4  # after the pending reads
    with app.app_context():
        event = db.session.get_one(CustodyEvent, located["seq"])
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
                        custody_log.intake(
                            connection,
                            [
                                NewEvent(
                                    action="test.concurrent",
                                    outcome="allowed",
                                    request_id=f"{number}-{n}",
                                    details={"writer": number, "n": n},
                                )
                            ],
                        )
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
        custody_log.integrate_committed()
        assert db.session.scalar(select(func.count()).select_from(CustodyIntake)) == 0
        request_ids = list(
            db.session.scalars(select(CustodyEvent.request_id).where(CustodyEvent.action == "test.concurrent"))
        )
        assert sorted(request_ids) == sorted(f"{t}-{n}" for t in range(threads) for n in range(rounds))
        size = custody_log.tree_size()
        assert publication.recompute(merkle.CompactRange(), size).size == size  # nodes agree with the events
        db.session.rollback()
    seqs, head = log_state(app)
    assert seqs == list(range(head)) and head == size


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


def test_an_upload_never_waits_for_an_integrator(app: Flask, batched: Flask, world: World, pg_only):
    """While another integrator holds the head, an upload answers its receipt at once: its event
    waits in intake, and is placed, after the reads queued before it, when the head is free."""
    interviewer = on(batched, world.people["interviewer"])
    ok(on(batched, world.people["legal"]).get(f"/api/v1/cases/{world.case_id}"))  # a read waiting in intake
    with app.app_context(), db.engine.connect() as other:
        transaction = other.begin()
        other.execute(text("SELECT tree_size FROM custody_head WHERE id = 1 FOR UPDATE")).one()
        upload = interviewer.post(
            f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "Taken at the checkpoint."}
        )
        receipt = ok(upload, 201)
        transaction.rollback()
    assert intake_count(app) == 2 and receipts.verify(receipt, public_key(world))
    with app.app_context():
        custody_log.integrate_committed()
        event = db.session.scalars(select(CustodyEvent).where(CustodyEvent.action == "transcript.create")).one()
        assert event.request_id == upload.headers["X-Request-ID"] and event.leaf_hash.hex() == receipt["leaf_hash"]
        assert event.time == receipt["received_at"]
        db.session.rollback()
    seqs, size = log_state(app)
    assert seqs == list(range(size))


def test_events_spilled_before_a_commit_are_placed_in_order(app: Flask, world: World):
    """A request that spilled its events to intake (a bundle) has them placed, in order, at commit."""
    from casework.custody import recorder

    with app.app_context():
        recorder.begin(None)
        for n in range(3):
            recorder.queue(NewEvent(action="test.spilled", outcome="allowed", details={"n": n}))
        recorder.spill()
        recorder.commit(integrate=True)
        rows = db.session.scalars(
            select(CustodyEvent).where(CustodyEvent.action == "test.spilled").order_by(CustodyEvent.seq)
        ).all()
        assert [row.details["n"] for row in rows] == [0, 1, 2]
        db.session.rollback()
    assert intake_count(app) == 0
    logged, size = log_state(app)
    assert logged == list(range(size))


def _vacuums_of_intake(app: Flask) -> int:
    with app.app_context():
        db.session.execute(text("SELECT pg_stat_clear_snapshot()"))
        count = db.session.scalar(text("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'custody_intake'"))
        db.session.commit()
        return int(count or 0)


def test_the_request_writing_every_nth_intake_row_vacuums_the_queue(
    app: Flask, backend: dict[str, str], keyring_path: str, world: World, pg_only
):
    """Integration kills an intake row per event and a head version per batch; with the server's
    autovacuum off (as on this CI machine) nothing else would ever clean them, and the
    integrator's scan of the queue would slow down for good. Every Nth intake row's request
    vacuums both tables after it commits; with the upkeep off, no vacuum happens."""
    every = 4
    for vacuum_every, expected in ((every, True), (0, False)):
        served = make_app(backend, keyring_path, CASEWORK_CUSTODY_VACUUM_EVERY=vacuum_every)
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
