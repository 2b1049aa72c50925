"""Encrypted transcripts: receipts, byte-identical reads, versions, idempotency, digests, access."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest
from sqlalchemy import func, select, text

from casework.db import db
from casework.transcripts import receipts
from casework.transcripts.models import TranscriptVersion
from casework_verify import merkle, note
from tests.conftest import World, ok
from tests.helpers import assert_problem, events_of, publish

STATEMENT = "I saw them line up the prisoners by the quarry wall at dawn.\nНас було семеро.\n"


def upload(caller, interview_id, body=None, **kw):
    return caller.post(
        f"/api/v1/interviews/{interview_id}/transcripts", body if body is not None else {"text": STATEMENT}, **kw
    )


def version_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(TranscriptVersion))


def vkey_of(world: World) -> str:
    return world.people["auditor"].get("/api/v1/custody/public-key").get_data(as_text=True).strip()


def public_key(world: World):
    return note.parse_vkey(vkey_of(world)).public_key


def test_upload_answers_a_receipt_verifiable_with_the_public_key_alone(app, world: World):
    receipt = ok(upload(world.people["interviewer"], world.interview_id), 201)
    content = STATEMENT.encode()
    assert receipt["version"] == 1 and receipt["size"] == len(content)
    assert receipt["sha256"] == hashlib.sha256(content).hexdigest()
    assert receipts.verify(receipt, public_key(world))
    forged = {**receipt, "sha256": "00" * 32}
    assert not receipts.verify(forged, public_key(world))
    # A promise: the leaf hash, signed at intake, in the tree within the merge delay.
    assert receipt["merge_delay_ms"] == 1000 and "custody_seq" not in receipt
    # Where it is now: its seq once integrated, an inclusion proof once a checkpoint covers it.
    interviewer, auditor = world.people["interviewer"], world.people["auditor"]
    located = ok(interviewer.get(f"/api/v1/interviews/{world.interview_id}/transcripts/1/receipt"))
    assert located["leaf_hash"] == receipt["leaf_hash"] and located["custody"]["status"] == "integrated"
    seq = located["custody"]["seq"]
    event = ok(auditor.get(f"/api/v1/custody/events/{seq}"))
    assert event["leaf_hash"] == receipt["leaf_hash"] and event["action"] == "transcript.create"
    # The log shows the keyed hash only: the plain SHA-256 would confirm a guessed statement.
    assert event["details"]["keyed_sha256"] == receipt["keyed_sha256"] != receipt["sha256"]
    assert receipt["sha256"] not in str(event) and STATEMENT[:20] not in str(event)
    publish(app)
    checkpoint = note.parse_checkpoint(
        note.open_note(
            auditor.get("/api/v1/custody/checkpoint").get_data(as_text=True),
            auditor.get("/api/v1/custody/public-key").get_data(as_text=True).strip(),
        )
    )
    proof = ok(auditor.get(f"/api/v1/custody/proofs/inclusion?seq={seq}&tree_size={checkpoint.size}"))
    assert merkle.verify_inclusion(
        bytes.fromhex(receipt["leaf_hash"]),
        seq,
        checkpoint.size,
        [bytes.fromhex(h) for h in proof["proof"]],
        checkpoint.root,
    )
    # The uploader alone can now prove inclusion from the receipt endpoint, with nothing but the log's key.
    published = ok(interviewer.get(f"/api/v1/interviews/{world.interview_id}/transcripts/1/receipt"))["custody"]
    assert published["status"] == "published" and published["seq"] == seq
    signed = note.parse_checkpoint(note.open_note(published["checkpoint"], vkey_of(world)))
    assert merkle.verify_inclusion(
        bytes.fromhex(receipt["leaf_hash"]),
        seq,
        signed.size,
        [base64.b64decode(h) for h in published["inclusion_proof"]],
        signed.root,
    )


def test_legal_reads_back_byte_identical(app, world: World):
    ok(upload(world.people["interviewer"], world.interview_id), 201)
    legal = world.people["legal"]
    raw = legal.get(f"/api/v1/interviews/{world.interview_id}/transcripts/1?format=raw")
    assert raw.status_code == 200 and raw.data == STATEMENT.encode()
    expected = base64.b64encode(hashlib.sha256(STATEMENT.encode()).digest()).decode()
    assert raw.headers["Content-Digest"] == f"sha-256=:{expected}:"
    body = ok(legal.get(f"/api/v1/interviews/{world.interview_id}/transcripts/1"))
    assert body["text"] == STATEMENT and body["sha256"] == hashlib.sha256(STATEMENT.encode()).hexdigest()
    event = events_of(app, raw)[0]
    assert event["action"] == "transcript.read" and event["outcome"] == "allowed"
    assert event["witness_id"] == world.witness_id and event["details"]["keyed_sha256"] == body["keyed_sha256"]
    assert body["sha256"] not in str(event)


@pytest.mark.parametrize(
    "role,status",
    [("interviewer", 200), ("legal", 200), ("interviewer2", 403), ("admin", 403), ("auditor", 403), ("outsider", 404)],
)
def test_who_may_read_transcript_content(app, world: World, role, status):
    ok(upload(world.people["interviewer"], world.interview_id), 201)
    response = world.people[role].get(f"/api/v1/interviews/{world.interview_id}/transcripts/1")
    assert response.status_code == status
    assert (STATEMENT[:10].encode() in response.data) == (status == 200)
    listing = world.people[role].get(f"/api/v1/interviews/{world.interview_id}/transcripts")
    assert listing.status_code == (404 if role == "outsider" else 200)


def test_a_head_request_is_recorded_as_headers_only(app, world: World):
    """HEAD runs the GET's decision and records it, and sends no body: its event says so, so a
    court is not told that a client received a statement it only asked the length of."""
    ok(upload(world.people["interviewer"], world.interview_id), 201)
    path = f"/api/v1/interviews/{world.interview_id}/transcripts/1"
    for role, status, outcome in (("legal", 200, "allowed"), ("outsider", 404, "denied")):
        caller = world.people[role]
        asked = caller.client.head(path, headers={"Authorization": f"Bearer {caller.token}"})
        assert asked.status_code == status and asked.data == b""
        (event,) = events_of(app, asked)
        assert (event["action"], event["outcome"], event["details"]["headers_only"]) == (
            "transcript.read",
            outcome,
            True,
        )
    (read,) = events_of(app, world.people["legal"].get(path))
    assert read["action"] == "transcript.read" and "headers_only" not in read["details"]


def test_corrections_are_new_versions_with_a_reason(app, world: World):
    interviewer = world.people["interviewer"]
    ok(upload(interviewer, world.interview_id), 201)
    assert_problem(upload(interviewer, world.interview_id, {"text": "corrected"}), 422)
    second = ok(
        upload(interviewer, world.interview_id, {"text": "corrected", "reason": "interpreter error, line 2"}), 201
    )
    assert second["version"] == 2
    legal = world.people["legal"]
    assert legal.get(f"/api/v1/interviews/{world.interview_id}/transcripts/1?format=raw").data == STATEMENT.encode()
    listed = ok(legal.get(f"/api/v1/interviews/{world.interview_id}/transcripts"))["items"]
    assert [(v["version"], v["reason"]) for v in listed] == [(1, None), (2, "interpreter error, line 2")]


def test_plain_text_and_multipart_uploads(app, world: World):
    interviewer = world.people["interviewer"]
    auth = {"Authorization": f"Bearer {interviewer.token}"}
    plain = interviewer.client.post(
        f"/api/v1/interviews/{world.interview_id}/transcripts",
        data=STATEMENT.encode(),
        content_type="text/plain; charset=utf-8",
        headers=auth,
    )
    assert plain.status_code == 201, plain.data
    multipart = interviewer.client.post(
        f"/api/v1/interviews/{world.interview_id}/transcripts",
        data={"file": (io.BytesIO(b"second take"), "w0001.txt"), "reason": "full recording transcribed"},
        content_type="multipart/form-data",
        headers=auth,
    )
    assert multipart.status_code == 201, multipart.data
    assert (
        ok(world.people["legal"].get(f"/api/v1/interviews/{world.interview_id}/transcripts/2"))["filename"]
        == "w0001.txt"
    )
    not_utf8 = interviewer.client.post(
        f"/api/v1/interviews/{world.interview_id}/transcripts?reason=x",
        data=b"\xff\xfe",
        content_type="text/plain",
        headers=auth,
    )
    assert_problem(not_utf8, 422)
    assert_problem(
        interviewer.client.post(
            f"/api/v1/interviews/{world.interview_id}/transcripts", data=b"x", content_type="image/png", headers=auth
        ),
        415,
    )


def test_idempotency_key_makes_retries_safe(app, world: World):
    interviewer = world.people["interviewer"]
    headers = {"Idempotency-Key": "upload-7f3a"}
    first = upload(interviewer, world.interview_id, headers=headers)
    retry = upload(interviewer, world.interview_id, headers=headers)
    assert first.status_code == 201 and retry.status_code == 200
    assert first.get_json() == retry.get_json()
    assert version_count(app) == 1
    assert events_of(app, retry)[0]["details"]["idempotent_replay"] is True
    misuse = upload(interviewer, world.interview_id, {"text": "something else"}, headers=headers)
    assert_problem(misuse, 422)
    assert version_count(app) == 1


def test_content_digest_is_checked(app, world: World):
    interviewer = world.people["interviewer"]
    auth = {"Authorization": f"Bearer {interviewer.token}"}
    body = STATEMENT.encode()
    good = base64.b64encode(hashlib.sha256(body).digest()).decode()
    bad = base64.b64encode(hashlib.sha256(b"tampered").digest()).decode()
    path = f"/api/v1/interviews/{world.interview_id}/transcripts"
    wrong = interviewer.client.post(
        path, data=body, content_type="text/plain", headers={**auth, "Content-Digest": f"sha-256=:{bad}:"}
    )
    assert_problem(wrong, 400)
    assert version_count(app) == 0
    assert_problem(
        interviewer.client.post(
            path, data=body, content_type="text/plain", headers={**auth, "Content-Digest": "md5=:abc:"}
        ),
        400,
    )
    right = interviewer.client.post(
        path,
        data=body,
        content_type="text/plain",
        headers={**auth, "Content-Digest": f"sha-512=:AAAA:, sha-256=:{good}:"},
    )
    assert right.status_code == 201


def test_oversize_transcript_is_413_and_stores_nothing(app, world: World):
    interviewer = world.people["interviewer"]
    too_big = b"a" * (app.config["CASEWORK_UPLOAD_MAX_BYTES"] + 1)
    response = interviewer.client.post(
        f"/api/v1/interviews/{world.interview_id}/transcripts",
        data=too_big,
        content_type="text/plain",
        headers={"Authorization": f"Bearer {interviewer.token}"},
    )
    assert_problem(response, 413)
    assert version_count(app) == 0


def test_no_plaintext_at_rest(app, world: World, backend, tmp_path):
    marker = "MARKER-Rahimov-quarry-7731"
    interviewer = world.people["interviewer"]
    ok(upload(interviewer, world.interview_id, {"text": f"My name is {marker}."}), 201)
    ok(upload(interviewer, world.interview_id, {"text": "corrected", "reason": f"{marker}-reason"}), 201)
    ok(
        interviewer.patch(
            f"/api/v1/interviews/{world.interview_id}",
            {"interpreter": f"{marker}-interpreter", "others_present": [f"{marker}-present"]},
        )
    )
    ok(
        interviewer.post(
            f"/api/v1/cases/{world.case_id}/witnesses",
            {
                "witness_type": "victim",
                "risk_level": "critical",
                "identity": {
                    "full_name": f"{marker}-identity",
                    "contact": "+380 00 000",
                    "date_of_birth": "1990-01-02",
                },
            },
        ),
        201,
    )
    # Nor the plain SHA-256 of a statement, which would confirm a guess of its text.
    digest = hashlib.sha256(f"My name is {marker}.".encode()).digest()
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(table.select()):
                for value in row:
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    assert marker.encode() not in raw, f"plaintext in {table.name}"
                    assert digest not in raw and digest.hex().encode() not in raw, f"plain hash in {table.name}"
        if backend["name"] == "sqlite":
            path = backend["url"].removeprefix("sqlite:///")
            for suffix in ("", "-wal"):
                try:
                    with open(path + suffix, "rb") as file:
                        data = file.read()
                except FileNotFoundError:
                    continue
                assert marker.encode() not in data
        else:
            dump = db.session.execute(
                text("SELECT string_agg(t::text, '|') FROM (SELECT * FROM transcript_versions) t")
            ).scalar()
            assert marker not in dump and "\\x" in dump


def test_ciphertext_moved_to_another_row_fails_clearly(app, world: World):
    interviewer = world.people["interviewer"]
    second = ok(
        interviewer.post(
            f"/api/v1/cases/{world.case_id}/interviews",
            {"witness_id": world.witness_id, "conducted_at": "2026-03-12T10:00:00Z", "language": "uk"},
        ),
        201,
    )["id"]
    ok(upload(interviewer, world.interview_id, {"text": "statement A"}), 201)
    ok(upload(interviewer, second, {"text": "statement B"}), 201)
    with app.app_context():
        a = db.session.execute(
            select(TranscriptVersion).where(TranscriptVersion.interview_id == world.interview_id)
        ).scalar_one()
        b = db.session.execute(select(TranscriptVersion).where(TranscriptVersion.interview_id == second)).scalar_one()
        original_b = (b.content_ciphertext, b.content_nonce, b.content_wrapped_key)
        b.content_ciphertext, b.content_nonce = a.content_ciphertext, a.content_nonce
        db.session.commit()
    legal = world.people["legal"]
    body = assert_problem(legal.get(f"/api/v1/interviews/{second}/transcripts/1"), 500)
    assert body["type"].endswith("integrity-failure") and "statement A" not in str(body)
    with app.app_context():
        b = db.session.execute(select(TranscriptVersion).where(TranscriptVersion.interview_id == second)).scalar_one()
        b.content_ciphertext, b.content_nonce = original_b[0], original_b[1]
        a = db.session.execute(
            select(TranscriptVersion).where(TranscriptVersion.interview_id == world.interview_id)
        ).scalar_one()
        b.content_wrapped_key = a.content_wrapped_key  # only the wrapped key moved
        db.session.commit()
    assert_problem(legal.get(f"/api/v1/interviews/{second}/transcripts/1"), 500)


def test_auditor_sees_who_read_a_witness_statements(app, world: World):
    ok(upload(world.people["interviewer"], world.interview_id), 201)
    for reader in ("legal", "interviewer", "interviewer2"):
        world.people[reader].get(f"/api/v1/interviews/{world.interview_id}/transcripts/1")
    page = ok(
        world.people["auditor"].get(f"/api/v1/custody/events?witness_id={world.witness_id}&action=transcript.read")
    )
    assert [(e["actor_username"], e["outcome"]) for e in page["items"]] == [
        ("legal", "allowed"),
        ("interviewer", "allowed"),
        ("interviewer2", "denied"),
    ]
