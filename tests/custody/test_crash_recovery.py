"""kill -9 of gunicorn (master and workers) mid-upload loses nothing half-way (PostgreSQL).

The server integrates in batches (every 16th intake row), so the kill leaves events that are
durable in the intake queue but not yet in the tree: none of them may be lost, and every read
that was answered must be in the log once it has caught up.
"""

from __future__ import annotations

import http.client
import threading
import time

from sqlalchemy import select

from casework.custody import log as custody_log
from casework.custody.models import CustodyEvent, CustodyHead, CustodyIntake
from casework.db import db
from casework.transcripts.models import TranscriptVersion
from tests.conftest import World
from tests.custody.test_custody_tamper import export, verify
from tests.helpers import publish
from tests.pg_server import gunicorn


def test_kill_dash_nine_during_uploads(app, world: World, backend, keyring_path, pg_only, tmp_path):
    interviewer = world.people["interviewer"]
    path = f"/api/v1/interviews/{world.interview_id}/transcripts"
    receipts: list[dict] = []
    answered_reads: list[str] = []  # request ids of reads whose content went out
    stop = threading.Event()
    batched = {"CASEWORK_CUSTODY_INTEGRATE_AFTER_COMMIT": "false"}  # the workers' integrator

    with gunicorn(backend["url"], keyring_path, workers=4, extra_env=batched) as server:

        def uploader(thread: int) -> None:
            for n in range(200):
                if stop.is_set():
                    return
                try:
                    status, _, body = server.request(
                        "POST",
                        path,
                        interviewer.token,
                        {"text": f"statement {thread}-{n} " + "x" * 10_000, "reason": "crash test"},
                        timeout=10,
                    )
                except (OSError, http.client.HTTPException):
                    return  # the server died under us, maybe mid-answer: expected
                if status == 201:
                    import json

                    receipts.append(json.loads(body))

        def reader() -> None:
            for _ in range(2000):
                if stop.is_set():
                    return
                try:
                    status, headers, _ = server.request(
                        "GET", f"{path}?limit=1", world.people["legal"].token, timeout=10
                    )
                except (OSError, http.client.HTTPException):
                    return
                if status == 200:
                    answered_reads.append(headers["x-request-id"])

        threads = [threading.Thread(target=uploader, args=(t,)) for t in range(6)]
        threads += [threading.Thread(target=reader) for _ in range(2)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(receipts) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill_all()  # SIGKILL master and workers mid-flight
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert len(receipts) >= 10, "too few uploads completed before the kill to prove anything"
    assert len(answered_reads) >= 10, "too few reads answered before the kill to prove anything"
    with app.app_context():
        left_in_intake = db.session.query(CustodyIntake).count()
        db.session.rollback()

    # Restart on the same database: it serves, and the log continues where it stopped.
    with gunicorn(backend["url"], keyring_path, workers=2, extra_env=batched) as server:
        status, _, _ = server.request("GET", f"{path}?limit=1", world.people["legal"].token)
        assert status == 200
        status, _, _ = server.request("POST", path, interviewer.token, {"text": "after restart", "reason": "restart"})
        assert status == 201

    with app.app_context():
        custody_log.integrate_committed()  # what an auditor's read does first
        assert db.session.query(CustodyIntake).count() == 0
        logged = set(
            db.session.scalars(select(CustodyEvent.request_id).where(CustodyEvent.request_id.in_(answered_reads)))
        )
        assert logged == set(answered_reads), f"{len(set(answered_reads) - logged)} answered reads lost"
        versions = {f"{v.interview_id}/{v.version}": v for v in db.session.scalars(select(TranscriptVersion))}
        events = db.session.scalars(
            select(CustodyEvent).where(CustodyEvent.action == "transcript.create", CustodyEvent.outcome == "allowed")
        ).all()
        uploads = [e for e in events if not e.details.get("idempotent_replay")]
        # Every committed transcript has exactly its custody event, and every such event its transcript.
        assert sorted(e.details["created"] for e in uploads) == sorted(versions)
        for event in uploads:
            assert versions[event.details["created"]].keyed_sha256.hex() == event.details["keyed_sha256"]
        # Every receipt a client got is a promise kept: its leaf is in the log, with its version.
        by_leaf = {e.leaf_hash.hex(): e for e in uploads}
        for receipt in receipts:
            event = by_leaf[receipt["leaf_hash"]]
            assert event.details["keyed_sha256"] == receipt["keyed_sha256"]
        seqs = db.session.scalars(select(CustodyEvent.seq).order_by(CustodyEvent.seq)).all()
        assert seqs == list(range(len(seqs))) and db.session.get(CustodyHead, 1).tree_size == len(seqs)
        numbers = sorted(v.version for v in versions.values())
        assert numbers == list(range(1, len(numbers) + 1))
    print(f"intake rows left by the kill: {left_in_intake}")
    publish(app)
    report = verify(export(app, tmp_path / "export"))
    assert report.ok and report.verified_size == report.entries - 1, report.message  # all but the export
