"""Protected identities, consent withdrawal (crypto-shredding), the case file and KEK rotation."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from casework.crypto.envelope import seal
from casework.db import db
from casework.keys import keyring
from casework.transcripts.models import TranscriptVersion
from casework.witnesses.models import Witness
from tests.conftest import World, ok
from tests.helpers import all_events, assert_problem, events_of

IDENTITY = {
    "full_name": "Oksana Protected",
    "contact": "via NGO liaison",
    "date_of_birth": "1984-05-06",
    "notes": "relocated",
}
CONSENT = {"record": True, "share_with_prosecutors": True, "share_with_un_bodies": False, "disclose_identity": False}


@pytest.fixture
def protected(world: World) -> World:
    interviewer = world.people["interviewer"]
    ok(interviewer.patch(f"/api/v1/witnesses/{world.witness_id}", {"identity": IDENTITY}))
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{world.witness_id}/consent", {"scopes": CONSENT, "given_at": "2026-03-10T09:00:00Z"}
        ),
        201,
    )
    ok(interviewer.post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "what I saw"}), 201)
    return world


@pytest.mark.parametrize(
    "role,status",
    [("interviewer", 200), ("legal", 200), ("interviewer2", 403), ("admin", 403), ("auditor", 403), ("outsider", 404)],
)
def test_identity_visible_only_to_its_recorder_and_case_lawyers(app, protected: World, role, status):
    response = protected.people[role].get(f"/api/v1/witnesses/{protected.witness_id}?include=identity")
    assert response.status_code == status
    if status == 200:
        assert response.get_json()["identity"] == IDENTITY
        assert events_of(app, response)[-1]["action"] == "witness.identity.read"
    assert b"Oksana" not in response.data or status == 200
    plain = protected.people[role].get(f"/api/v1/witnesses/{protected.witness_id}")
    assert b"Oksana" not in plain.data and "identity" not in (plain.get_json() or {})


def test_witness_shows_consent_and_identity_status(app, protected: World):
    witness = ok(protected.people["auditor"].get(f"/api/v1/witnesses/{protected.witness_id}"))
    assert witness["identity_status"] == "present"
    assert witness["consent"]["version"] == 1 and witness["consent"]["scopes"] == CONSENT


def test_consent_withdrawal_crypto_shreds(app, protected: World):
    interviewer, legal = protected.people["interviewer"], protected.people["legal"]
    before = len(all_events(app))
    withdrawal = ok(
        interviewer.post(
            f"/api/v1/witnesses/{protected.witness_id}/consent",
            {"scopes": CONSENT, "given_at": "2026-03-10T09:00:00Z", "withdrawn_at": "2026-04-01T12:00:00Z"},
        ),
        201,
    )
    assert withdrawal["version"] == 2
    assert_problem(legal.get(f"/api/v1/interviews/{protected.interview_id}/transcripts/1"), 410)
    assert_problem(legal.get(f"/api/v1/witnesses/{protected.witness_id}?include=identity"), 410)
    # The withdrawal stops every read at once; a second person (a lawyer of the case) destroys the key.
    ok(legal.post(f"/api/v1/witnesses/{protected.witness_id}/erasure/confirm", {}))
    with app.app_context():
        witness = db.session.get(Witness, protected.witness_id)
        version = db.session.execute(select(TranscriptVersion)).scalar_one()
        assert witness.identity_wrapped_key is None and version.content_wrapped_key is None
        assert witness.identity_ciphertext and version.content_ciphertext  # ciphertext kept, unreadable
    # Metadata and the log remain.
    meta = ok(legal.get(f"/api/v1/witnesses/{protected.witness_id}"))
    assert meta["identity_status"] == "shredded" and meta["pseudonym"] == "W-0001"
    listed = ok(legal.get(f"/api/v1/interviews/{protected.interview_id}/transcripts"))["items"]
    assert listed[0]["shredded"] is True and listed[0]["keyed_sha256"]
    events = all_events(app)
    assert len(events) > before and [e for e in events if e["action"] == "transcript.create"]
    shred_event = [e for e in events if e["action"] == "erasure.confirm"][-1]
    assert shred_event["details"]["shredded"] == {
        "identity": 1,
        "transcript_versions": 1,
        "free_text": 0,
        "redactions": 0,
        "exhibits": 0,
        "exhibit_chunks": 0,
    }
    assert shred_event["details"]["subject_key"] == "destroyed once this event is committed"
    with app.app_context():  # the witness's key is gone from the keyring provider itself
        assert not keyring().has_subject_key(f"witness:{protected.witness_id}")
    assert_problem(
        interviewer.post(
            f"/api/v1/interviews/{protected.interview_id}/transcripts", {"text": "again", "reason": "retry"}
        ),
        409,
    )


def test_case_file_for_lawyers(app, protected: World):
    interviewer = protected.people["interviewer"]
    ok(
        interviewer.post(
            f"/api/v1/interviews/{protected.interview_id}/transcripts",
            {"text": "what I saw, corrected", "reason": "witness clarified"},
        ),
        201,
    )
    response = protected.people["legal"].get(f"/api/v1/cases/{protected.case_id}/file")
    case_file = ok(response)
    assert case_file["case"]["id"] == protected.case_id
    assert [i["reference"] for i in case_file["incidents"]] == ["INC-1"]
    assert [w["pseudonym"] for w in case_file["witnesses"]] == ["W-0001"]
    assert "identity" not in case_file["witnesses"][0] and b"Oksana" not in response.data
    texts = [t["text"] for t in case_file["interviews"][0]["transcripts"]]
    assert texts == ["what I saw", "what I saw, corrected"]
    events = events_of(app, response)
    assert [e["action"] for e in events] == ["casefile.read", "transcript.read", "transcript.read"]
    assert all(e["outcome"] == "allowed" for e in events)
    assert_problem(interviewer.get(f"/api/v1/cases/{protected.case_id}/file"), 403)
    assert_problem(protected.people["outsider"].get(f"/api/v1/cases/{protected.case_id}/file"), 404)
    assert_problem(protected.people["auditor"].get(f"/api/v1/cases/{protected.case_id}/file"), 403)


def test_kek_rotation_rewraps_without_touching_ciphertext(app, protected: World):
    """Subject-wrapped records are not under any KEK: rotation leaves them be. A record sealed under
    a KEK (as every record was before per-witness keys) still opens, and is rewrapped."""
    with app.app_context():  # make the transcript such a record
        version = db.session.execute(select(TranscriptVersion)).scalar_one()
        assert version.content_kek_id == "subject"
        content = version.sealed_content.open()
        version.sealed_content.store(seal(keyring(), content, version.content_context()))
        db.session.commit()

    def snapshot():
        with app.app_context():
            rows = db.session.execute(
                select(
                    TranscriptVersion.content_ciphertext,
                    TranscriptVersion.content_nonce,
                    TranscriptVersion.content_kek_id,
                    TranscriptVersion.content_wrapped_key,
                )
            ).all()
            witness = db.session.get(Witness, protected.witness_id)
            return [tuple(r) for r in rows], (
                witness.identity_ciphertext,
                witness.identity_kek_id,
                witness.identity_wrapped_key,
            )

    runner = app.test_cli_runner()
    before_rows, before_identity = snapshot()
    old_kek = before_rows[0][2]
    assert old_kek.startswith("kek-") and before_identity[1] == "subject"
    legal = protected.people["legal"]
    assert ok(legal.get(f"/api/v1/interviews/{protected.interview_id}/transcripts/1"))["text"] == "what I saw"
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    refused = runner.invoke(args=["keys", "retire", old_kek])
    assert refused.exit_code != 0 and "1 live records still use" in refused.output
    result = runner.invoke(args=["keys", "rewrap", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert "1 transcript versions" in result.output and "0 witness identities" in result.output, result.output
    after_rows, after_identity = snapshot()
    assert after_rows[0][:2] == before_rows[0][:2]  # ciphertext and nonce untouched
    assert after_rows[0][2] != old_kek and after_rows[0][3] != before_rows[0][3]
    assert after_identity == before_identity  # under the witness's key: not rewrapped
    status = runner.invoke(args=["keys", "status"])
    assert old_kek not in status.output.split("keyring holds")[0] and "live" in status.output
    assert [line for line in status.output.splitlines() if line.startswith("witness identities") and "subject" in line]
    assert runner.invoke(args=["keys", "retire", old_kek]).exit_code == 0
    assert ok(legal.get(f"/api/v1/interviews/{protected.interview_id}/transcripts/1"))["text"] == "what I saw"
    assert ok(legal.get(f"/api/v1/witnesses/{protected.witness_id}?include=identity"))["identity"] == IDENTITY
    actions = [e["action"] for e in all_events(app)]
    assert {"keys.rotate", "keys.rewrap", "keys.retire"} <= set(actions)


def test_rewrap_is_resumable_and_safe_beside_live_traffic(app, protected: World):
    """Readers and writers keep working while a rewrap runs; a second rewrap finishes the rest."""
    import threading

    from casework.keys import keyring
    from casework.keys.rotation import records_under, rewrap_all

    interviewer, legal = protected.people["interviewer"], protected.people["legal"]
    for n in range(6):
        ok(
            interviewer.post(
                f"/api/v1/interviews/{protected.interview_id}/transcripts",
                {"text": f"version {n + 2}", "reason": f"correction {n}"},
            ),
            201,
        )
    runner = app.test_cli_runner()
    assert runner.invoke(args=["keys", "rotate"]).exit_code == 0
    failures: list[str] = []

    def traffic() -> None:
        for n in range(10):
            read = legal.get(f"/api/v1/interviews/{protected.interview_id}/transcripts/{n % 7 + 1}")
            if read.status_code != 200:
                failures.append(f"read {read.status_code} {read.data[:200]!r}")
            upload = interviewer.post(
                f"/api/v1/interviews/{protected.interview_id}/transcripts", {"text": f"live {n}", "reason": "live"}
            )
            if upload.status_code != 201:
                failures.append(f"upload {upload.status_code} {upload.data[:200]!r}")

    thread = threading.Thread(target=traffic)
    thread.start()
    with app.app_context():
        old = [k for k in keyring().kek_ids() if k != keyring().current_kek_id()]
        rewrap_all(batch_size=2)
    thread.join(timeout=120)
    assert not thread.is_alive() and failures == []
    with app.app_context():
        rewrap_all(batch_size=2)  # resumes: whatever is left under an old KEK (nothing, or a straggler)
        assert all(records_under(kek) == 0 for kek in old)
    listed = ok(legal.get(f"/api/v1/interviews/{protected.interview_id}/transcripts?limit=200"))["items"]
    for version in listed:
        assert (
            legal.get(f"/api/v1/interviews/{protected.interview_id}/transcripts/{version['version']}").status_code
            == 200
        )
