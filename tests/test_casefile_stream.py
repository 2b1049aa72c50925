"""The case file streams, in flat memory, and the witnesses' consent decides what is in it."""
from __future__ import annotations

import json
import tracemalloc

from tests.conftest import World, ok
from tests.helpers import all_events, events_of

SHARE = {"record": True, "share_with_prosecutors": True, "share_with_un_bodies": False, "disclose_identity": False}
NO_RECORD = {"record": False, "share_with_prosecutors": False, "share_with_un_bodies": False,
             "disclose_identity": False}


def _witness_with_statement(world: World, text: str, scopes: dict | None) -> tuple[int, int]:
    interviewer = world.people["interviewer"]
    witness = ok(interviewer.post(f"/api/v1/cases/{world.case_id}/witnesses",
                                  {"witness_type": "eyewitness", "risk_level": "low"}), 201)
    if scopes is not None:
        ok(interviewer.post(f"/api/v1/witnesses/{witness['id']}/consent",
                            {"scopes": scopes, "given_at": "2026-03-10T09:00:00Z"}), 201)
    interview = ok(interviewer.post(f"/api/v1/cases/{world.case_id}/interviews", {
        "witness_id": witness["id"], "incident_ids": [world.incident_id], "conducted_at": "2026-03-10T10:00:00Z",
        "language": "en"}), 201)
    ok(interviewer.post(f"/api/v1/interviews/{interview['id']}/transcripts", {"text": text}), 201)
    return witness["id"], interview["id"]


def test_consent_in_force_decides_which_statements_are_in_the_file(app, world: World):
    interviewer = world.people["interviewer"]
    ok(interviewer.post(f"/api/v1/witnesses/{world.witness_id}/consent",
                        {"scopes": SHARE, "given_at": "2026-03-10T09:00:00Z"}), 201)
    ok(interviewer.post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "shared statement"}), 201)
    _, kept_out = _witness_with_statement(world, "not for the record", NO_RECORD)
    _, unconsented = _witness_with_statement(world, "no consent recorded", None)
    withdrawn_witness, withdrawn = _witness_with_statement(world, "later withdrawn", SHARE)
    ok(interviewer.post(f"/api/v1/witnesses/{withdrawn_witness}/consent", {
        "scopes": SHARE, "given_at": "2026-03-10T09:00:00Z", "withdrawn_at": "2026-04-01T00:00:00Z"}), 201)

    response = world.people["legal"].get(f"/api/v1/cases/{world.case_id}/file")
    assert response.status_code == 200 and response.is_streamed and response.mimetype == "application/json"
    body = response.get_data()
    for secret in (b"not for the record", b"no consent recorded", b"later withdrawn"):
        assert secret not in body
    data = json.loads(body)
    assert "record" in data["consent_rule"]
    statements = {entry["interview"]["id"]: entry["transcripts"] for entry in data["interviews"]}
    assert [(t["text"], t["withheld"]) for t in statements[world.interview_id]] == [("shared statement", None)]
    assert statements[kept_out][0]["withheld"] == "consent_record_scope_missing"
    assert statements[unconsented][0]["withheld"] == "no_consent_record"
    assert statements[withdrawn][0]["withheld"] == "consent_withdrawn"
    assert all(t["text"] is None for ref in (kept_out, unconsented, withdrawn) for t in statements[ref])
    assert all("identity" not in witness for witness in data["witnesses"])

    events = events_of(app, response)
    assert [e["action"] for e in events] == ["casefile.read", "transcript.read"]
    assert events[1]["resource_id"] == f"{world.interview_id}/1" and events[1]["details"]["via"] == "casefile"
    assert events[0]["details"]["withheld"] == {"consent_record_scope_missing": 1, "no_consent_record": 1,
                                                "consent_withdrawn": 1}


def test_events_are_committed_before_the_body_is_read(app, world: World):
    interviewer = world.people["interviewer"]
    ok(interviewer.post(f"/api/v1/witnesses/{world.witness_id}/consent",
                        {"scopes": SHARE, "given_at": "2026-03-10T09:00:00Z"}), 201)
    ok(interviewer.post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "statement"}), 201)
    response = world.people["legal"].get(f"/api/v1/cases/{world.case_id}/file", buffered=False)
    assert response.status_code == 200
    assert [e["action"] for e in all_events(app)][-2:] == ["casefile.read", "transcript.read"]  # body unread
    assert json.loads(response.get_data())["interviews"][0]["transcripts"][0]["text"] == "statement"
    # A later request on the same thread is its own caller, however the body above was consumed.
    me = ok(interviewer.get("/api/v1/auth/me"))
    assert me["username"] == "interviewer"


def test_memory_stays_flat_while_a_large_case_streams(app, world: World):
    """200 statements of 20 KB (4 MB of text): the body streams without holding the case."""
    interviewer = world.people["interviewer"]
    ok(interviewer.post(f"/api/v1/witnesses/{world.witness_id}/consent",
                        {"scopes": SHARE, "given_at": "2026-03-10T09:00:00Z"}), 201)
    url = f"/api/v1/interviews/{world.interview_id}/transcripts"
    ok(interviewer.post(url, {"text": "0" * 20_000}), 201)
    for n in range(1, 200):
        ok(interviewer.post(url, {"text": str(n % 10) * 20_000, "reason": f"correction {n}"}), 201)
    response = world.people["legal"].get(f"/api/v1/cases/{world.case_id}/file", buffered=False)
    assert response.status_code == 200
    tracemalloc.start()
    try:
        total = 0
        for chunk in response.response:
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        response.close()
    assert total > 4_000_000
    assert peak < 1_500_000, f"peak {peak} bytes while streaming {total}"
