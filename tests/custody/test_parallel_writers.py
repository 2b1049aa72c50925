"""Several gunicorn workers writing and reading at once leave a gap-free, verifiable log (PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select, text

from casework.custody import log as custody_log
from casework.custody.models import CustodyEvent, CustodyHead
from casework.db import db
from casework.incidents.models import Incident
from tests.conftest import World
from tests.custody.test_custody_tamper import export, verify
from tests.helpers import publish
from tests.pg_server import gunicorn

THREADS, ROUNDS = 8, 12


def test_parallel_writers_leave_a_gap_free_verifiable_log(app, world: World, backend, keyring_path, pg_only, tmp_path):
    interviewer, legal, outsider = (world.people[n] for n in ("interviewer", "legal", "outsider"))
    case = world.case_id
    # Integration in batches (every 8th intake row), as in production.
    batched = {"CASEWORK_CUSTODY_INTEGRATE_AFTER_COMMIT": "false"}  # the workers' integrator
    with gunicorn(backend["url"], keyring_path, workers=4, extra_env=batched) as server:

        def worker(thread: int) -> list[tuple[str, int, int, str]]:
            seen = []
            for n in range(ROUNDS):
                calls = [
                    (
                        "create",
                        201,
                        interviewer.token,
                        "POST",
                        f"/api/v1/cases/{case}/incidents",
                        {"reference": f"R-{thread}-{n}", "title": "parallel"},
                    ),
                    ("list", 200, legal.token, "GET", f"/api/v1/cases/{case}/incidents?limit=5", None),
                    ("hidden", 404, outsider.token, "GET", f"/api/v1/interviews/{world.interview_id}", None),
                    (
                        "invalid",
                        422,
                        interviewer.token,
                        "POST",
                        f"/api/v1/cases/{case}/incidents",
                        {"reference": "X", "title": "t", "colour": "red"},
                    ),
                    (
                        "transcript",
                        201,
                        interviewer.token,
                        "POST",
                        f"/api/v1/interviews/{world.interview_id}/transcripts",
                        {"text": f"statement {thread}-{n}", "reason": "parallel correction"},
                    ),
                ]
                for name, expected, token, method, path, body in calls:
                    status, headers, _payload = server.request(method, path, token, body)
                    seen.append((name, expected, status, headers.get("x-request-id", "")))
            return seen

        with ThreadPoolExecutor(THREADS) as pool:
            results = [call for batch in pool.map(worker, range(THREADS)) for call in batch]

    wrong = [(name, expected, status) for name, expected, status, _ in results if status != expected]
    assert wrong == [], wrong[:10]
    request_ids = {rid for *_, rid in results}
    assert len(request_ids) == len(results)
    with app.app_context():
        custody_log.integrate_committed()
        seqs = db.session.scalars(select(CustodyEvent.seq).order_by(CustodyEvent.seq)).all()
        assert seqs == list(range(len(seqs)))
        assert db.session.get(CustodyHead, 1).tree_size == len(seqs)
        logged_requests = set(
            db.session.scalars(select(CustodyEvent.request_id).where(CustodyEvent.request_id.in_(request_ids)))
        )
        assert logged_requests == request_ids
        incidents = db.session.scalars(select(Incident.id).order_by(Incident.id)).all()
        created = db.session.scalars(
            select(CustodyEvent).where(CustodyEvent.action == "incident.create", CustodyEvent.outcome == "allowed")
        ).all()
        assert len(incidents) == THREADS * ROUNDS + 1  # plus the world's incident
        # exactly one allowed event per incident
        assert sorted(e.details["created_incident_id"] for e in created) == incidents
        versions = db.session.execute(
            text("SELECT count(*), count(DISTINCT version), max(version) FROM transcript_versions")
        ).one()
        assert versions[0] == versions[1] == versions[2] == THREADS * ROUNDS
    publish(app)
    report = verify(export(app, tmp_path / "export"))
    assert report.ok and report.verified_size == report.entries - 1, report.message  # all but the export
