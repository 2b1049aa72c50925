"""Two-person erasure: a withdrawal suspends everything at once; a second lawyer confirms or rejects it.

The world's witness was recorded by ``interviewer``; the case's lawyers are ``legal`` and
``legal2`` (added here); ``outsider`` is a lawyer of another case.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from casework.db import db
from casework.keys import keyring
from casework.witnesses.erasure_models import Erasure, LegalHold
from casework.witnesses.models import ConsentRecord
from casework.witnesses.suspension import SuspendingKeyring
from tests.conftest import Caller, World, add_lawyer, ok
from tests.erasures.test_erasure import key_file, withdraw
from tests.helpers import assert_problem, events_of

CONSENT = {"record": True, "share_with_prosecutors": True, "share_with_un_bodies": False, "disclose_identity": False}
IDENTITY = {"full_name": "Oksana H.", "contact": "+380 67 000 0000"}
TEXT = "I saw them line up the prisoners by the quarry wall."
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture
def stated(app: Flask, world: World) -> World:
    """A second lawyer; the witness's identity, consent, a statement, a redaction, an exhibit and free text."""
    add_lawyer(app, world, "legal2")
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    ok(interviewer.patch(f"/api/v1/witnesses/{world.witness_id}", {"identity": IDENTITY}))
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{world.witness_id}/consent", {"scopes": CONSENT, "given_at": "2026-03-10T09:00:00Z"}
        ),
        201,
    )
    ok(interviewer.patch(f"/api/v1/interviews/{world.interview_id}", {"interpreter": "Iryna"}))
    ok(interviewer.post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": TEXT}), 201)
    ok(
        legal.post(
            f"/api/v1/interviews/{world.interview_id}/transcripts/1/redactions",
            {"spans": [{"start": 0, "end": 5, "category": "other", "legal_basis": "r"}]},
        ),
        201,
    )
    auth = {"Authorization": f"Bearer {interviewer.token}"}
    created = interviewer.client.post(
        f"/api/v1/interviews/{world.interview_id}/exhibits/uploads",
        headers={**auth, **TUS, "Upload-Length": "10", "Upload-Metadata": "kind b3RoZXI="},
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.headers["Location"].endswith("/exhibits/1/upload")  # ids start again in every test
    done = interviewer.client.patch(
        "/api/v1/exhibits/1/upload",
        data=b"0123456789",
        content_type="application/offset+octet-stream",
        headers={**auth, **TUS, "Upload-Offset": "0"},
    )
    assert done.status_code == 200, done.get_data(as_text=True)
    return world


def content_reads(world: World) -> dict[str, str]:
    w, i = world.witness_id, world.interview_id
    return {
        "identity": f"/api/v1/witnesses/{w}?include=identity",
        "transcript": f"/api/v1/interviews/{i}/transcripts/1",
        "redaction": "/api/v1/redactions/1",
        "exhibit": "/api/v1/exhibits/1/content",
    }


def assert_suspended(world: World) -> None:
    """Every content read answers 410 for every reader; free text beside metadata reads null."""
    for reader in ("interviewer", "legal", "legal2"):
        for name, path in content_reads(world).items():
            if name == "redaction" and reader == "interviewer":
                continue  # redactions are the lawyers' own
            body = assert_problem(world.people[reader].get(path), 410)
            assert body["type"].endswith("shredded"), (reader, name)
        assert ok(world.people[reader].get(f"/api/v1/interviews/{world.interview_id}"))["interpreter"] is None
    case_file = ok(world.people["legal"].get(f"/api/v1/cases/{world.case_id}/file"))
    (entry,) = case_file["interviews"]
    assert entry["interview"]["interpreter"] is None
    assert [(t["text"], t["withheld"]) for t in entry["transcripts"]] == [(None, "consent_withdrawn")]


def assert_readable(world: World) -> None:
    legal = world.people["legal"]
    assert ok(legal.get(content_reads(world)["identity"]))["identity"]["full_name"] == IDENTITY["full_name"]
    assert ok(legal.get(content_reads(world)["transcript"]))["text"] == TEXT
    assert ok(legal.get(content_reads(world)["redaction"]))["text"].endswith(TEXT[5:])
    assert legal.get(content_reads(world)["exhibit"]).data == b"0123456789"
    assert ok(legal.get(f"/api/v1/interviews/{world.interview_id}"))["interpreter"] == "Iryna"


def erasure_of(caller: Caller, witness_id: int) -> dict:
    return ok(caller.get(f"/api/v1/witnesses/{witness_id}/erasure"))


def seqs(app: Flask, response) -> dict[str, int]:
    return {e["action"]: e["seq"] for e in events_of(app, response)}


def test_the_keyring_is_behind_the_suspension(app):
    with app.app_context():
        assert isinstance(keyring(), SuspendingKeyring)


def test_a_withdrawal_suspends_every_read_at_once_and_keeps_the_key(app, stated: World):
    world, interviewer = stated, stated.people["interviewer"]
    assert erasure_of(world.people["legal"], world.witness_id)["status"] == "none"
    assert_readable(world)
    before = datetime.now().astimezone()
    withdrawn = interviewer.post(
        f"/api/v1/witnesses/{world.witness_id}/consent",
        {"scopes": CONSENT, "given_at": "2026-03-10T09:00:00Z", "withdrawn_at": "2026-04-01T12:00:00Z"},
    )
    ok(withdrawn, 201)
    (event,) = events_of(app, withdrawn)
    assert event["action"] == "witness.consent.record" and event["details"]["withdrawn"] is True
    assert event["details"]["erasure_id"] == 1
    assert_suspended(world)
    assert key_file(app, world.witness_id).exists()  # suspended, not destroyed
    state = erasure_of(world.people["legal"], world.witness_id)
    assert state["status"] == "pending" and state["requested_by_id"] == interviewer.id
    assert state["consent_version"] == 2 and state["overdue"] is False and state["holds"] == []
    requested = datetime.fromisoformat(state["requested_at"])
    assert before - timedelta(seconds=5) <= requested
    delay = timedelta(seconds=app.config["CASEWORK_ERASURE_DELAY"])
    assert datetime.fromisoformat(state["deadline"]) - requested == delay
    # Nobody undoes it alone, nor writes anything new for the witness meanwhile.
    for who in ("interviewer", "legal"):
        body = assert_problem(
            world.people[who].post(
                f"/api/v1/witnesses/{world.witness_id}/consent", {"scopes": CONSENT, "given_at": "2026-04-02T09:00:00Z"}
            ),
            409,
        )
        assert body["type"].endswith("erasure-pending")
    assert_problem(
        interviewer.post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "more", "reason": "again"}),
        409,
    )
    assert_problem(interviewer.patch(f"/api/v1/witnesses/{world.witness_id}", {"identity": IDENTITY}), 409)
    assert_problem(
        world.people["legal"].post(
            f"/api/v1/interviews/{world.interview_id}/transcripts/1/redactions",
            {"spans": [{"start": 0, "end": 5, "category": "other", "legal_basis": "r"}]},
        ),
        410,
    )
    upload = interviewer.client.post(
        f"/api/v1/interviews/{world.interview_id}/exhibits/uploads",
        headers={
            "Authorization": f"Bearer {interviewer.token}",
            **TUS,
            "Upload-Length": "3",
            "Upload-Metadata": "kind b3RoZXI=",
        },
    )
    assert upload.status_code == 410, upload.get_data(as_text=True)
    # The metadata stays: the witness, the consent history, the interview.
    witness = ok(world.people["legal"].get(f"/api/v1/witnesses/{world.witness_id}"))
    assert witness["consent"]["version"] == 2 and witness["consent"]["withdrawn_at"]


def test_a_second_lawyer_confirms_and_only_then_the_key_is_destroyed(app, stated: World):
    world, legal, legal2 = stated, stated.people["legal"], stated.people["legal2"]
    withdrawal = legal.post(
        f"/api/v1/witnesses/{world.witness_id}/consent",
        {"scopes": CONSENT, "given_at": "2026-03-10T09:00:00Z", "withdrawn_at": "2026-04-01T12:00:00Z"},
    )
    ok(withdrawal, 201)
    path = f"/api/v1/witnesses/{world.witness_id}/erasure/confirm"
    refused = legal.post(path)  # the one who recorded the withdrawal
    assert assert_problem(refused, 403)["type"].endswith("second-person-required")
    (event,) = events_of(app, refused)
    assert (event["action"], event["outcome"], event["witness_id"]) == ("erasure.confirm", "denied", world.witness_id)
    assert_problem(world.people["interviewer"].post(path), 403)  # not a lawyer
    assert_problem(world.people["outsider"].post(path), 404)  # a lawyer of another case
    assert_problem(world.people["admin"].post(path), 403)
    assert key_file(app, world.witness_id).exists()
    confirmed = legal2.post(path)
    state = ok(confirmed)
    assert state["status"] == "confirmed" and state["decided_by_id"] == legal2.id
    assert not key_file(app, world.witness_id).exists()
    (event,) = events_of(app, confirmed)
    assert event["action"] == "erasure.confirm" and event["outcome"] == "allowed"
    assert event["details"]["shredded"]["transcript_versions"] == 1 and event["details"]["shredded"]["exhibits"] == 1
    assert event["seq"] > seqs(app, withdrawal)["witness.consent.record"]
    assert_problem(legal2.post(path), 409)  # nothing pending any more
    assert_problem(legal2.post(f"/api/v1/witnesses/{world.witness_id}/erasure/reject", {"reason": "late"}), 409)
    # Destroyed for good: every read is 410 still, and consent can never be recorded again.
    for read in content_reads(world).values():
        assert_problem(legal.get(read), 410)
    assert_problem(
        world.people["interviewer"].post(
            f"/api/v1/witnesses/{world.witness_id}/consent", {"scopes": CONSENT, "given_at": "2026-04-02T09:00:00Z"}
        ),
        409,
    )
    assert_problem(
        legal2.post(f"/api/v1/witnesses/{world.witness_id}/legal-holds", {"court_order_reference": "too late"}), 409
    )
    assert erasure_of(world.people["auditor"], world.witness_id)["status"] == "confirmed"


def test_a_rejection_restores_access_and_keeps_the_withdrawal_in_the_history(app, stated: World):
    world, interviewer, legal, legal2 = (
        stated,
        stated.people["interviewer"],
        stated.people["legal"],
        stated.people["legal2"],
    )
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{world.witness_id}/consent",
            {  # v2: narrower consent
                "scopes": {**CONSENT, "share_with_prosecutors": False},
                "given_at": "2026-03-20T09:00:00Z",
            },
        ),
        201,
    )
    ok(
        legal.post(
            f"/api/v1/witnesses/{world.witness_id}/consent",
            {  # v3: the withdrawal, in error
                "scopes": CONSENT,
                "given_at": "2026-03-10T09:00:00Z",
                "withdrawn_at": "2026-04-01T12:00:00Z",
            },
        ),
        201,
    )
    assert_suspended(world)
    path = f"/api/v1/witnesses/{world.witness_id}/erasure/reject"
    assert_problem(legal.post(path, {"reason": "mine"}), 403)  # not the one who recorded it
    assert_problem(interviewer.post(path, {"reason": "mine"}), 403)
    assert_problem(legal2.post(path, {}), 422)
    rejected = legal2.post(path, {"reason": "Recorded against the wrong witness."})
    state = ok(rejected)
    assert state["status"] == "rejected" and state["decided_by_id"] == legal2.id
    assert state["restored_consent_version"] == 4 and state["reason"] == "Recorded against the wrong witness."
    (event,) = events_of(app, rejected)
    assert event["action"] == "erasure.reject" and "wrong witness" not in str(event["details"])
    assert_readable(world)
    assert key_file(app, world.witness_id).exists()
    with app.app_context():
        history = db.session.scalars(
            select(ConsentRecord).where(ConsentRecord.witness_id == world.witness_id).order_by(ConsentRecord.version)
        ).all()
        assert [(r.version, r.withdrawn_at is not None, r.recorded_by_id) for r in history] == [
            (1, False, interviewer.id),
            (2, False, interviewer.id),
            (3, True, legal.id),
            (4, False, legal2.id),
        ]
        # The consent in force before the withdrawal (v2), restated: a rejection never grants more.
        assert history[3].scopes == history[1].scopes and history[3].given_at == history[1].given_at
    # The reason is free text: shown to the case's lawyers only.
    assert erasure_of(legal, world.witness_id)["reason"] == "Recorded against the wrong witness."
    for who in ("interviewer", "auditor", "admin"):
        assert erasure_of(world.people[who], world.witness_id)["reason"] is None, who
    assert_problem(world.people["outsider"].get(f"/api/v1/witnesses/{world.witness_id}/erasure"), 404)
    # A later withdrawal opens a new erasure.
    withdraw(interviewer, world.witness_id)
    state = erasure_of(legal, world.witness_id)
    assert state["status"] == "pending" and state["erasure_id"] == 2 and state["reason"] is None
    assert_suspended(world)


def test_a_withdrawal_with_no_earlier_consent_is_restored_with_no_scope(app, stated: World):
    world, interviewer = stated, stated.people["interviewer"]
    other = ok(
        interviewer.post(f"/api/v1/cases/{world.case_id}/witnesses", {"witness_type": "victim", "risk_level": "low"}),
        201,
    )["id"]
    withdraw(interviewer, other)
    ok(world.people["legal"].post(f"/api/v1/witnesses/{other}/erasure/reject", {"reason": "error"}))
    consent = ok(world.people["legal"].get(f"/api/v1/witnesses/{other}"))["consent"]
    assert consent["version"] == 2 and consent["withdrawn_at"] is None and consent["given_at"] is None
    assert not any(consent["scopes"].values())


def test_legal_holds_block_confirmation_and_two_lawyers_lift_them(app, stated: World):
    world, legal, legal2 = stated, stated.people["legal"], stated.people["legal2"]
    withdraw(world.people["interviewer"], world.witness_id)
    holds = f"/api/v1/witnesses/{world.witness_id}/legal-holds"
    assert_problem(world.people["interviewer"].post(holds, {"court_order_reference": "x"}), 403)
    placed = legal.post(holds, {"court_order_reference": "ICC-01/22-45, preservation order"})
    hold = ok(placed, 201)
    assert hold["status"] == "active" and hold["placed_by_id"] == legal.id
    assert hold["court_order_reference"] == "ICC-01/22-45, preservation order"
    assert events_of(app, placed)[0]["action"] == "erasure.hold.place"
    refused = legal2.post(f"/api/v1/witnesses/{world.witness_id}/erasure/confirm")
    assert assert_problem(refused, 409)["type"].endswith("legal-hold")
    assert key_file(app, world.witness_id).exists()
    state = erasure_of(legal2, world.witness_id)
    assert state["active_holds"] == 1 and state["holds"][0]["court_order_reference"].startswith("ICC")
    assert erasure_of(world.people["auditor"], world.witness_id)["holds"][0]["court_order_reference"] is None
    lift = f"{holds}/{hold['id']}/lift"
    asked = legal.post(lift)
    assert ok(asked, 202)["lift_requested_by_id"] == legal.id and asked.get_json()["status"] == "active"
    assert assert_problem(legal.post(lift), 403)["type"].endswith("second-person-required")
    assert_problem(world.people["interviewer"].post(lift), 403)
    assert_problem(legal2.post(f"/api/v1/witnesses/{world.witness_id}/erasure/confirm"), 409)  # still held
    lifted = ok(legal2.post(lift))
    assert lifted["status"] == "lifted" and lifted["lifted_by_id"] == legal2.id
    assert_problem(legal2.post(lift), 409)  # already lifted
    assert_problem(legal2.post(f"{holds}/999/lift"), 404)
    ok(legal2.post(f"/api/v1/witnesses/{world.witness_id}/erasure/confirm"))
    assert not key_file(app, world.witness_id).exists()


def test_the_one_who_recorded_the_withdrawal_neither_holds_nor_lifts(app, stated: World):
    world, legal, legal2 = stated, stated.people["legal"], stated.people["legal2"]
    holds = f"/api/v1/witnesses/{world.witness_id}/legal-holds"
    hold = ok(legal2.post(holds, {"court_order_reference": "order 1"}), 201)  # before any withdrawal: anyone
    ok(legal.post(f"{holds}/{hold['id']}/lift"), 202)  # legal asks for the lift ...
    withdraw(legal, world.witness_id)  # ... then records a withdrawal
    assert_problem(legal.post(holds, {"court_order_reference": "order 2"}), 403)
    # legal2 may not complete a lift that the withdrawal's recorder asked for: a third lawyer must ask.
    assert assert_problem(legal2.post(f"{holds}/{hold['id']}/lift"), 403)["type"].endswith("second-person-required")
    assert_problem(legal2.post(f"/api/v1/witnesses/{world.witness_id}/erasure/confirm"), 409)
    with app.app_context():
        assert db.session.get(LegalHold, hold["id"]).active


def test_each_step_is_a_custody_event_against_the_witness(app, stated: World):
    world, legal, legal2 = stated, stated.people["legal"], stated.people["legal2"]
    withdraw(world.people["interviewer"], world.witness_id)
    answers = [
        legal.get(f"/api/v1/witnesses/{world.witness_id}/erasure"),
        legal.post(f"/api/v1/witnesses/{world.witness_id}/legal-holds", {"court_order_reference": "ORDER-7731"}),
        legal.post(f"/api/v1/witnesses/{world.witness_id}/legal-holds/1/lift"),
        legal2.post(f"/api/v1/witnesses/{world.witness_id}/legal-holds/1/lift"),
        legal.post(f"/api/v1/witnesses/{world.witness_id}/erasure/reject", {"reason": "error"}),
    ]
    actions = []
    for answer in answers:
        assert answer.status_code < 300, answer.get_data(as_text=True)
        (event,) = events_of(app, answer)
        assert (event["resource_type"], event["witness_id"], event["case_id"]) == (
            "witness",
            world.witness_id,
            world.case_id,
        )
        assert "ORDER-7731" not in str(event["details"]) and "error" not in str(event["details"])
        actions.append(event["action"])
    assert actions == ["erasure.read", "erasure.hold.place", "erasure.hold.lift", "erasure.hold.lift", "erasure.reject"]


def _approved(world: World) -> dict:
    """Version 1 (it has a redaction) to a prosecutor: proposed by one lawyer, approved by the other."""
    pending = ok(
        world.people["legal"].post(
            f"/api/v1/cases/{world.case_id}/disclosures",
            {
                "recipient": {"name": "P", "organisation": "OTP", "kind": "prosecutor"},
                "purpose": "trial",
                "items": [{"kind": "transcript_version", "interview_id": world.interview_id, "version": 1}],
            },
        ),
        202,
    )
    return ok(world.people["legal2"].post(f"/api/v1/disclosures/{pending['id']}/approve"))


def test_the_bundle_follows_the_erasure(app, stated: World):
    """A disclosure made before the withdrawal: withheld while the erasure is pending, sent again once rejected."""
    world, legal, legal2 = stated, stated.people["legal"], stated.people["legal2"]
    disclosure = _approved(stated)
    assert disclosure["included_count"] == 1
    withdraw(world.people["interviewer"], world.witness_id)
    withheld = legal.get(f"/api/v1/disclosures/{disclosure['id']}/bundle")
    assert assert_problem(withheld, 410)["type"].endswith("/disclosure-withheld")
    assert TEXT.encode() not in withheld.data
    event = next(e for e in events_of(app, withheld) if e["action"] == "disclosure.bundle")
    assert (event["outcome"], event["details"]["status"]) == ("error", 410)
    ok(legal2.post(f"/api/v1/witnesses/{world.witness_id}/erasure/reject", {"reason": "error"}))
    sent = legal.get(f"/api/v1/disclosures/{disclosure['id']}/bundle")
    assert sent.status_code == 200
    with zipfile.ZipFile(io.BytesIO(sent.data)) as bag:
        assert any(bag.read(name) == TEXT.encode() for name in bag.namelist())


def test_a_withdrawal_during_a_bundle_download_does_not_cut_it(app, stated: World):
    """The bundle was authorized, and its release recorded, before the withdrawal: it completes."""
    world, legal = stated, stated.people["legal"]
    disclosure = _approved(stated)
    response = legal.client.get(
        f"/api/v1/disclosures/{disclosure['id']}/bundle",
        buffered=False,
        headers={"Authorization": f"Bearer {legal.token}"},
    )
    assert response.status_code == 200
    chunks = iter(response.response)
    first = next(chunks)  # the response has started
    withdraw(world.people["interviewer"], world.witness_id)
    assert_problem(legal.get(content_reads(world)["transcript"]), 410)  # every new read is refused ...
    body = first + b"".join(chunks)  # ... but the bundle in flight is not cut
    response.close()
    with zipfile.ZipFile(io.BytesIO(body)) as bag:
        assert bag.testzip() is None
        assert any(bag.read(name) == TEXT.encode() for name in bag.namelist())


def test_overdue_erasures_are_listed_to_the_case_lawyers_and_auditors(app, stated: World):
    world, interviewer = stated, stated.people["interviewer"]
    witnesses = [world.witness_id] + [
        ok(
            interviewer.post(
                f"/api/v1/cases/{world.case_id}/witnesses", {"witness_type": "victim", "risk_level": "low"}
            ),
            201,
        )["id"]
        for _ in range(2)
    ]
    # Another case, its own lawyer and witness, and its own overdue erasure.
    outsider = world.people["outsider"]
    other_witness = _witness_of_other_case(app, world)
    for witness_id in witnesses:
        withdraw(interviewer, witness_id)
    withdraw(outsider, other_witness)
    ok(world.people["legal"].post(f"/api/v1/witnesses/{witnesses[2]}/erasure/reject", {"reason": "error"}))
    # Every deadline passed (as if CASEWORK_ERASURE_DELAY had elapsed); the clock destroyed nothing.
    with app.app_context():
        for erasure in db.session.scalars(select(Erasure)):
            erasure.deadline = erasure.requested_at - timedelta(seconds=1)
        db.session.commit()
    assert all(key_file(app, w).exists() for w in witnesses)

    def overdue(caller: Caller, **query: str) -> tuple[list[int], str | None]:
        answer = ok(caller.get("/api/v1/erasures", query_string={"overdue": "true", **query}))
        assert all(item["overdue"] and item["status"] == "pending" for item in answer["items"])
        return [item["witness_id"] for item in answer["items"]], answer["next_cursor"]

    assert overdue(world.people["legal"]) == ([witnesses[0], witnesses[1]], None)
    assert overdue(outsider) == ([other_witness], None)
    assert overdue(world.people["auditor"])[0] == [witnesses[0], witnesses[1], other_witness]
    first, cursor = overdue(world.people["auditor"], limit="2")
    assert first == [witnesses[0], witnesses[1]] and cursor
    assert overdue(world.people["auditor"], limit="2", cursor=cursor) == ([other_witness], None)
    everything = ok(world.people["legal"].get("/api/v1/erasures"))["items"]
    assert [(e["witness_id"], e["status"]) for e in everything] == [
        (witnesses[0], "pending"),
        (witnesses[1], "pending"),
        (witnesses[2], "rejected"),
    ]
    for who in ("interviewer", "admin"):
        assert_problem(world.people[who].get("/api/v1/erasures?overdue=true"), 403)
    assert_problem(world.people["legal"].get("/api/v1/erasures?cursor=nonsense"), 422)
    answer = world.people["auditor"].get("/api/v1/erasures?overdue=true")
    (event,) = events_of(app, answer)
    assert (event["action"], event["resource_type"], event["details"]["overdue"]) == ("erasure.list", "erasure", True)


def _witness_of_other_case(app: Flask, world: World) -> int:
    """A witness of the outsider's case, recorded by an interviewer of that case."""
    from tests.conftest import make_caller

    field = make_caller(app, "other-interviewer", "interviewer")
    ok(world.people["admin"].put(f"/api/v1/cases/{world.other_case_id}/members/{field.id}"), 202)
    ok(world.people["outsider"].post(f"/api/v1/cases/{world.other_case_id}/members/{field.id}/approve"))
    return ok(
        field.post(f"/api/v1/cases/{world.other_case_id}/witnesses", {"witness_type": "victim", "risk_level": "low"}),
        201,
    )["id"]
