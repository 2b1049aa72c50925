"""Every path that touches a witness takes one lock order (casework.witnesses.locks), on PostgreSQL
with real gunicorn workers: uploads and corrections, identity changes and a withdrawal, raced.

After the withdrawal nothing of that witness decrypts, every request is answered as if the
requests had run one at a time in the log's order, and no deadlock surfaces as a 503.
"""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import select

from casework.custody.models import CustodyEvent, CustodyHead
from casework.db import db
from tests.conftest import World
from tests.pg_server import Server, gunicorn

ROUNDS, UPLOADERS, PATCHERS = 15, 4, 3
CONSENT = {"record": True, "share_with_prosecutors": True, "share_with_un_bodies": False, "disclose_identity": False}


def _json(answer: tuple[int, dict[str, str], bytes], status: int) -> Any:
    assert answer[0] == status, (answer[0], answer[2][:500])
    return json.loads(answer[2])


def _seq_of(app, request_id: str, action: str) -> int:
    return _event_of(app, request_id, action).seq


def _event_of(app, request_id: str, action: str) -> CustodyEvent:
    with app.app_context():
        event = db.session.execute(select(CustodyEvent).where(
            CustodyEvent.request_id == request_id, CustodyEvent.action == action)).scalar_one()
        db.session.expunge(event)
        return event


def _race_one_witness(server: Server, world: World, n: int) -> dict[str, list[tuple[int, dict[str, str], bytes]]]:
    interviewer = world.people["interviewer"].token
    witness = _json(server.request("POST", f"/api/v1/cases/{world.case_id}/witnesses", interviewer, {
        "witness_type": "eyewitness", "risk_level": "high", "identity": {"full_name": f"Witness {n}"}}), 201)["id"]
    interview = _json(server.request("POST", f"/api/v1/cases/{world.case_id}/interviews", interviewer, {
        "witness_id": witness, "conducted_at": "2026-03-10T10:00:00Z", "language": "uk"}), 201)["id"]
    _json(server.request("POST", f"/api/v1/interviews/{interview}/transcripts", interviewer,
                         {"text": f"first statement {n}"}), 201)
    start = threading.Barrier(UPLOADERS + PATCHERS + 1)

    def upload(k: int):
        start.wait()
        return "upload", server.request("POST", f"/api/v1/interviews/{interview}/transcripts", interviewer,
                                        {"text": f"correction {n}.{k}", "reason": "the witness remembered more"})

    def rename(k: int):
        start.wait()
        return "identity", server.request("PATCH", f"/api/v1/witnesses/{witness}", interviewer,
                                          {"identity": {"full_name": f"Witness {n}.{k}", "contact": "via NGO"}})

    def withdraw(_: int):
        start.wait()
        return "withdrawal", server.request("POST", f"/api/v1/witnesses/{witness}/consent", interviewer, {
            "scopes": CONSENT, "given_at": "2026-03-01T00:00:00Z", "withdrawn_at": "2026-04-01T00:00:00Z"})

    calls = [(upload, k) for k in range(UPLOADERS)] + [(rename, k) for k in range(PATCHERS)] + [(withdraw, 0)]
    with ThreadPoolExecutor(len(calls)) as pool:
        answers = list(pool.map(lambda call: call[0](call[1]), calls))
    by_kind: dict[str, Any] = {"upload": [], "identity": [], "withdrawal": [], "witness": witness,
                               "interview": interview}
    for kind, answer in answers:
        by_kind[kind].append(answer)
    return by_kind


def test_witness_paths_never_deadlock_and_leave_nothing_readable(app, world: World, backend, keyring_path, pg_only):
    legal, interviewer = world.people["legal"].token, world.people["interviewer"].token
    statuses: list[int] = []
    with gunicorn(backend["url"], keyring_path, workers=4) as server:
        for n in range(ROUNDS):
            race = _race_one_witness(server, world, n)
            answers = race["upload"] + race["identity"] + race["withdrawal"]
            statuses += [status for status, _, _ in answers]
            assert not [a for a in answers if a[0] >= 500], [(a[0], a[2][:300]) for a in answers if a[0] >= 500]
            (withdrawal,) = race["withdrawal"]
            assert withdrawal[0] == 201, withdrawal[2][:500]
            withdrawn_at = _seq_of(app, withdrawal[1]["x-request-id"], "witness.consent.record")
            # Each answer is the one its place in the log (its witness lock) gives it.
            for status, headers, body in race["upload"]:
                event = _event_of(app, headers["x-request-id"], "transcript.create")
                seq = event.seq
                if status == 201:  # the receipt promised the leaf that landed before the withdrawal
                    assert json.loads(body)["leaf_hash"] == event.leaf_hash.hex() and seq < withdrawn_at
                else:
                    assert status == 409 and json.loads(body)["type"].endswith("consent-withdrawn"), body[:300]
                    assert seq > withdrawn_at
            for status, headers, body in race["identity"]:
                seq = _seq_of(app, headers["x-request-id"], "witness.update")
                assert (status, seq < withdrawn_at) in ((200, True), (409, False)), (status, body[:300])
            # Nothing of that witness decrypts any more: no version, no identity.
            page = _json(server.request("GET", f"/api/v1/interviews/{race['interview']}/transcripts?limit=200",
                                        legal), 200)
            versions = [item["version"] for item in page["items"]]
            assert versions == list(range(1, len(versions) + 1))
            assert len(versions) == 1 + sum(status == 201 for status, _, _ in race["upload"])
            for version in versions:
                for reader in (legal, interviewer):
                    status, _, body = server.request(
                        "GET", f"/api/v1/interviews/{race['interview']}/transcripts/{version}", reader)
                    assert status == 410, (n, version, status, body[:300])
            for reader in (legal, interviewer):
                status, _, body = server.request("GET", f"/api/v1/witnesses/{race['witness']}?include=identity",
                                                 reader)
                assert status == 410, (n, status, body[:300])
    # The races really raced: some rounds had requests on both sides of the withdrawal.
    assert 409 in statuses and (201 in statuses or 200 in statuses)
    with app.app_context():
        seqs = db.session.scalars(select(CustodyEvent.seq).order_by(CustodyEvent.seq)).all()
        assert seqs == list(range(len(seqs)))
        assert db.session.get(CustodyHead, 1).tree_size == len(seqs)
