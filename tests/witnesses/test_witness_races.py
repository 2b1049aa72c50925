"""A withdrawal raced against everything that touches the witness, on PostgreSQL with real gunicorn
workers: transcript uploads, identity changes, redactions, an exhibit upload's PATCH and
disclosure bundle downloads.

Every answer is the one its place in the log gives it (paths that take the witness lock first,
``casework.witnesses.locks``, and the bundle's share lock on its witnesses, are ordered with the
withdrawal): no 5xx, no deadlock surfacing as a 503, a bundle either complete (a valid zip, the
statement in it released before the withdrawal) or with the witness withheld before its first
byte. After the withdrawal nothing of the witness decrypts, yet their key is still in the
keyring: it is destroyed only when a second person confirms, always after the withdrawal in the
log.
"""

from __future__ import annotations

import http.client
import io
import json
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from casework.custody import log as custody_log
from casework.custody.models import CustodyEvent, CustodyHead
from casework.db import db
from tests.conftest import World, add_lawyer
from tests.erasures.test_erasure import key_file
from tests.pg_server import Server, gunicorn

ROUNDS, UPLOADERS, REDACTORS, DOWNLOADERS = 20, 2, 2, 1
CONSENT = {"record": True, "share_with_prosecutors": True, "share_with_un_bodies": False, "disclose_identity": False}
TUS = {"Tus-Resumable": "1.0.0"}
Answer = tuple[int, dict[str, str], bytes]


def _json(answer: Answer, status: int) -> Any:
    assert answer[0] == status, (answer[0], answer[2][:500])
    return json.loads(answer[2])


def _raw(server: Server, method: str, path: str, token: str, headers: dict[str, str], data: bytes = b"") -> Answer:
    """A request with a raw body (tus), which ``Server.request`` (JSON) does not send."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=data, headers={"Authorization": f"Bearer {token}", **headers})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


class Log:
    """The events of the answers given so far, read once the tree holds every committed event."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.by_request: dict[str, dict[str, CustodyEvent]] = {}

    def read(self, answers: list[Answer]) -> None:
        wanted = [answer[1]["x-request-id"] for answer in answers]
        with self.app.app_context():
            custody_log.integrate_committed()
            for row in db.session.scalars(
                select(CustodyEvent).where(CustodyEvent.request_id.in_(wanted)).order_by(CustodyEvent.seq)
            ):
                db.session.expunge(row)
                self.by_request.setdefault(row.request_id, {})[row.action] = row

    def __call__(self, answer: Answer) -> dict[str, CustodyEvent]:
        """The request's events by action (the last of each)."""
        return self.by_request[answer[1]["x-request-id"]]


def _scene(server: Server, world: World, n: int, interviewer: str) -> dict[str, Any]:
    """A witness with an identity, consent, a statement, an exhibit half uploaded, and a disclosure of it."""
    legal = world.people["legal"].token
    witness = _json(
        server.request(
            "POST",
            f"/api/v1/cases/{world.case_id}/witnesses",
            interviewer,
            {"witness_type": "eyewitness", "risk_level": "high", "identity": {"full_name": f"Witness {n}"}},
        ),
        201,
    )["id"]
    _json(
        server.request(
            "POST",
            f"/api/v1/witnesses/{witness}/consent",
            interviewer,
            {"scopes": CONSENT, "given_at": "2026-03-01T00:00:00Z"},
        ),
        201,
    )
    interview = _json(
        server.request(
            "POST",
            f"/api/v1/cases/{world.case_id}/interviews",
            interviewer,
            {"witness_id": witness, "conducted_at": "2026-03-10T10:00:00Z", "language": "uk"},
        ),
        201,
    )["id"]
    text = f"first statement {n}: they lined up the prisoners by the quarry wall"
    _json(server.request("POST", f"/api/v1/interviews/{interview}/transcripts", interviewer, {"text": text}), 201)
    created = _raw(
        server,
        "POST",
        f"/api/v1/interviews/{interview}/exhibits/uploads",
        interviewer,
        {**TUS, "Upload-Length": "20", "Upload-Metadata": "kind b3RoZXI="},
    )
    assert created[0] == 201, created[2][:300]
    upload = created[1]["location"]
    first = _raw(
        server,
        "PATCH",
        upload,
        interviewer,
        {**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        b"0123456789",
    )
    assert first[0] == 204, first[2][:300]
    disclosure = _json(
        server.request(
            "POST",
            f"/api/v1/cases/{world.case_id}/disclosures",
            legal,
            {
                "recipient": {"name": "P", "organisation": "OTP", "kind": "prosecutor"},
                "purpose": "trial",
                "items": [{"kind": "transcript_version", "interview_id": interview, "version": 1}],
            },
        ),
        201,
    )
    assert disclosure["included_count"] == 1
    return {"witness": witness, "interview": interview, "text": text, "upload": upload, "disclosure": disclosure["id"]}


def _race(server: Server, world: World, scene: dict[str, Any], interviewer: str) -> dict[str, list[Answer]]:
    legal = world.people["legal"].token
    witness, interview = scene["witness"], scene["interview"]
    calls: list[tuple[str, Any]] = []

    def call(kind: str, method: str, path: str, token: str, body: Any = None) -> None:
        calls.append((kind, lambda: server.request(method, path, token, body)))

    for k in range(UPLOADERS):
        call(
            "upload",
            "POST",
            f"/api/v1/interviews/{interview}/transcripts",
            interviewer,
            {"text": f"correction {k}", "reason": "the witness remembered more"},
        )
    for _ in range(REDACTORS):
        call(
            "redaction",
            "POST",
            f"/api/v1/interviews/{interview}/transcripts/1/redactions",
            legal,
            {"spans": [{"start": 0, "end": 5, "category": "other", "legal_basis": "r"}]},
        )
    for _ in range(DOWNLOADERS):
        call("bundle", "GET", f"/api/v1/disclosures/{scene['disclosure']}/bundle", legal)
    call("identity", "PATCH", f"/api/v1/witnesses/{witness}", interviewer, {"identity": {"full_name": "Renamed"}})
    call(
        "withdrawal",
        "POST",
        f"/api/v1/witnesses/{witness}/consent",
        interviewer,
        {"scopes": CONSENT, "given_at": "2026-03-01T00:00:00Z", "withdrawn_at": "2026-04-01T00:00:00Z"},
    )
    calls.append(
        (
            "patch",
            lambda: _raw(
                server,
                "PATCH",
                scene["upload"],
                interviewer,
                {**TUS, "Upload-Offset": "10", "Content-Type": "application/offset+octet-stream"},
                b"abcdefghij",
            ),
        )
    )
    start = threading.Barrier(len(calls))

    def run(kind_and_call: tuple[str, Any]) -> tuple[str, Answer]:
        start.wait()
        return kind_and_call[0], kind_and_call[1]()

    with ThreadPoolExecutor(len(calls)) as pool:
        answers = list(pool.map(run, calls))
    by_kind: dict[str, list[Answer]] = {}
    for kind, answer in answers:
        by_kind.setdefault(kind, []).append(answer)
    return by_kind


def _check_bundle(events_of: Log, answer: Answer, withdrawn_at: int, text: str) -> str:
    """Complete and released before the withdrawal, or withheld for it (410 before a byte): never cut.

    Or refused before its first byte by the publication of its checkpoint: ``custody.publication``
    reads the head and the events in separate snapshots (READ COMMITTED), so an integration
    committed between them (an upload of this race appends to the tree) reads as "an event row
    beyond the log head" or "the log head's frontier differs". That refusal is the log's, not the
    erasure's (reported); it is the only 5xx allowed here.
    """
    status, _, body = answer
    if status == 503 and json.loads(body)["type"].endswith("publication-refused"):
        assert b"beyond the log head" in body or b"frontier differs" in body, body[:300]
        return "refused"
    events = events_of(answer)
    if status == 410:  # withheld for the withdrawal, before its first byte
        assert json.loads(body)["type"].endswith("disclosure-withheld"), body[:300]
        assert events["disclosure.bundle"].outcome == "error" and events["disclosure.bundle"].seq > withdrawn_at
        assert "transcript.read" not in events or events["transcript.read"].outcome != "allowed"
        return "withheld"
    assert status == 200, body[:300]
    with zipfile.ZipFile(io.BytesIO(body)) as bag:
        assert bag.testzip() is None
        released = any(bag.read(name) == text.encode() for name in bag.namelist() if name.endswith(".txt"))
    assert released, "a bundle that is sent holds every item"
    assert events["transcript.read"].seq < withdrawn_at
    return "released"


def test_a_withdrawal_raced_against_every_witness_path(
    app, world: World, backend, keyring_path, pg_only, tmp_path: Path
):
    legal2 = add_lawyer(app, world, "legal2").token
    legal = world.people["legal"].token
    events_of = Log(app)
    outcomes: dict[str, set[Any]] = {}
    bundles: list[str] = []
    # The server's signer keeps its own state for this test's log (a bundle publishes a checkpoint);
    # its workers share one blob directory (the testing default is one per process).
    with gunicorn(
        backend["url"],
        keyring_path,
        workers=4,
        extra_env={
            "CASEWORK_SIGNER_STATE": str(tmp_path / "signer-state"),
            "CASEWORK_BLOB_DIR": str(tmp_path / "blobs"),
        },
    ) as server:
        for n in range(ROUNDS):
            # Two interviewers take turns: uploads refused mid-way stay "in progress" (at most 16 each).
            interviewer = world.people["interviewer" if n % 2 else "interviewer2"].token
            scene = _scene(server, world, n, interviewer)
            race = _race(server, world, scene, interviewer)
            everything = [answer for kind, answers in race.items() if kind != "bundle" for answer in answers]
            assert not [a for a in everything if a[0] >= 500], [(a[0], a[2][:300]) for a in everything if a[0] >= 500]
            (withdrawal,) = race["withdrawal"]
            assert withdrawal[0] == 201, withdrawal[2][:500]
            events_of.read([answer for answers in race.values() for answer in answers])
            withdrawn_at = events_of(withdrawal)["witness.consent.record"].seq
            # Each answer is the one its place in the log gives it.
            for kind, action, allowed, refused in (
                ("upload", "transcript.create", 201, 409),
                ("identity", "witness.update", 200, 409),
                ("redaction", "redaction.create", 201, 410),
            ):
                for answer in race[kind]:
                    seq = events_of(answer)[action].seq
                    assert (answer[0], seq < withdrawn_at) in ((allowed, True), (refused, False)), (
                        kind,
                        answer[0],
                        answer[2][:300],
                    )
                    outcomes.setdefault(kind, set()).add(answer[0])
            (patch,) = race["patch"]
            # The PATCH that completes the exhibit: stored (under the witness's key, destroyed on
            # confirmation), or refused by the suspended key, after the withdrawal.
            assert patch[0] in (200, 410), patch[2][:300]
            if patch[0] == 410:
                assert events_of(patch)["exhibit.upload.write"].seq > withdrawn_at
            outcomes.setdefault("patch", set()).add(patch[0])
            for answer in race["bundle"]:
                bundles.append(_check_bundle(events_of, answer, withdrawn_at, scene["text"]))
            # Nothing of the witness decrypts, for anyone; their key is still there.
            for reader in (legal, interviewer):
                for path in (
                    f"/api/v1/interviews/{scene['interview']}/transcripts/1",
                    f"/api/v1/witnesses/{scene['witness']}?include=identity",
                ):
                    status, _, body = server.request("GET", path, reader)
                    assert status == 410, (n, path, status, body[:300])
            assert key_file(app, scene["witness"]).exists()
            # The second person destroys it, always after the withdrawal in the log.
            confirmed = server.request("POST", f"/api/v1/witnesses/{scene['witness']}/erasure/confirm", legal2)
            assert confirmed[0] == 200, confirmed[2][:300]
            assert not key_file(app, scene["witness"]).exists()
            events_of.read([confirmed])
            assert events_of(confirmed)["erasure.confirm"].seq > withdrawn_at
    # The races really raced: requests on both sides of the withdrawal; bundles really streamed.
    print("outcomes", outcomes, "bundles", {k: bundles.count(k) for k in set(bundles)})
    assert outcomes["upload"] == {201, 409} or outcomes["redaction"] == {201, 410}, outcomes
    assert bundles.count("released") + bundles.count("withheld") >= ROUNDS // 2, bundles
    with app.app_context():
        seqs = db.session.scalars(select(CustodyEvent.seq).order_by(CustodyEvent.seq)).all()
        assert seqs == list(range(len(seqs)))
        assert db.session.get(CustodyHead, 1).tree_size == len(seqs)
