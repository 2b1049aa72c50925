"""Redacted derivatives: spans hidden, the rest provable, nothing removed kept anywhere, lawyers only."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import func, select

from casework.db import db
from casework.redactions.models import Redaction
from tests.conftest import World, ok
from tests.helpers import all_events, assert_problem, events_of

# Non-ASCII on purpose: offsets are code points, hashes are over UTF-8 bytes.
STATEMENT = (
    "Мене звати Оксана Петренко, я живу в Херсоні на вулиці Садовій 12. "
    "On 1 March I saw soldiers lead seven prisoners to the quarry."
)
NAME, STREET = "Оксана Петренко", "вулиці Садовій 12"
CONSENT = {"record": True, "share_with_prosecutors": True, "share_with_un_bodies": False, "disclose_identity": False}


def span(text: str, category: str, basis: str = "Rule 81(4) RPE") -> dict:
    start = STATEMENT.index(text)
    return {"start": start, "end": start + len(text), "category": category, "legal_basis": basis}


@pytest.fixture
def stated(world: World) -> World:
    interviewer = world.people["interviewer"]
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{world.witness_id}/consent", {"scopes": CONSENT, "given_at": "2026-03-10T09:00:00Z"}
        ),
        201,
    )
    ok(interviewer.post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": STATEMENT}), 201)
    return world


def _url(world: World, version: int = 1) -> str:
    return f"/api/v1/interviews/{world.interview_id}/transcripts/{version}/redactions"


def _everything_stored(app) -> str:
    """Every value of every row of every table, as text (bytes decoded leniently)."""
    parts = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)).all():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        parts.append(bytes(value).decode("utf-8", "replace"))
                    elif isinstance(value, dict | list):
                        parts.append(json.dumps(value, ensure_ascii=False))
                    else:
                        parts.append(str(value))
    return "\n".join(parts)


def test_redaction_hides_its_spans_and_proves_the_rest(app, stated: World):
    legal = stated.people["legal"]
    # Sent out of order: the service sorts them.
    response = legal.post(_url(stated), {"spans": [span(STREET, "location"), span(NAME, "witness_identity")]})
    created = ok(response, 201)
    text = created["text"]
    assert NAME not in text and STREET not in text and "Оксана" not in text
    assert text == STATEMENT.replace(NAME, "[REDACTED:witness_identity]").replace(STREET, "[REDACTED:location]")
    assert created["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert created["source_ref"] == f"{stated.interview_id}/1" and created["number"] == 1
    # The map: positions, categories and legal bases, in order; never the removed text.
    assert created["spans"] == [span(NAME, "witness_identity"), span(STREET, "location")]
    # A court holding the original confirms every disclosed segment from the salted hashes.
    original = STATEMENT.encode()
    segments = created["segments"]
    assert len(segments) == 3
    for segment in segments:
        piece = original[segment["byte_start"] : segment["byte_end"]]
        assert hashlib.sha256(bytes.fromhex(segment["salt"]) + piece).hexdigest() == segment["sha256"]
        assert (
            piece.decode()
            == STATEMENT[segment["start"] : segment["end"]]
            == text[segment["out_start"] : segment["out_end"]]
        )
    assert len({segment["salt"] for segment in segments}) == 3  # a fresh salt per segment
    # ... and a tampered disclosure would not match.
    forged = bytearray(original[segments[2]["byte_start"] : segments[2]["byte_end"]])
    forged[-2:-1] = b"X"
    assert hashlib.sha256(bytes.fromhex(segments[2]["salt"]) + bytes(forged)).hexdigest() != segments[2]["sha256"]
    (event,) = [e for e in events_of(app, response) if e["action"] == "redaction.create"]
    assert event["resource_type"] == "transcript" and event["resource_id"] == f"{stated.interview_id}/1"
    assert event["details"]["created_redaction"] == created["id"] and event["details"]["spans"] == 2
    # Read back by a lawyer of the case: the same derivative.
    read = ok(legal.get(f"/api/v1/redactions/{created['id']}"))
    assert read["text"] == text and read["segments"] == segments and read["spans"] == created["spans"]
    # The removed text is nowhere: not in any table (the source is sealed), nor in the log.
    stored = _everything_stored(app)
    assert "Rule 81(4) RPE" in stored and "witness_identity" in stored  # the scan sees the map
    for removed in (NAME, STREET, "Оксана", "Садовій"):
        assert removed not in stored
        assert removed not in json.dumps(all_events(app), ensure_ascii=False)
    with app.app_context():
        row = db.session.execute(select(Redaction)).scalar_one()
        assert row.content_kek_id == "subject" and row.segments_kek_id == "subject"  # the witness's key
        assert row.source_version_id and row.keyed_sha256.hex() == created["keyed_sha256"]


def test_listing_is_metadata_and_reading_is_for_the_case_lawyers(app, stated: World):
    people = stated.people
    created = ok(people["legal"].post(_url(stated), {"spans": [span(NAME, "witness_identity")]}), 201)
    ok(people["legal"].post(_url(stated), {"spans": [span(STREET, "location")]}), 201)
    for role in ("legal", "auditor", "admin", "interviewer2"):
        page = ok(people[role].get(_url(stated)))
        assert [item["number"] for item in page["items"]] == [1, 2]
        assert "text" not in page["items"][0] and "segments" not in page["items"][0]
        assert page["items"][0]["spans"] == [span(NAME, "witness_identity")]
    assert_problem(people["outsider"].get(_url(stated)), 404)
    for role, status in (("interviewer", 403), ("auditor", 403), ("admin", 403), ("outsider", 404)):
        response = people[role].get(f"/api/v1/redactions/{created['id']}")
        assert_problem(response, status)
        (event,) = events_of(app, response)
        assert (event["action"], event["outcome"], event["resource_type"]) == ("redaction.read", "denied", "redaction")
    assert_problem(people["legal"].get("/api/v1/redactions/999999"), 404)


@pytest.mark.parametrize(
    "role,status", [("interviewer", 403), ("interviewer2", 403), ("auditor", 403), ("admin", 403), ("outsider", 404)]
)
def test_only_the_case_lawyers_redact(app, stated: World, role, status):
    response = stated.people[role].post(_url(stated), {"spans": [span(NAME, "witness_identity")]})
    assert_problem(response, status)
    (event,) = events_of(app, response)
    assert event["action"] == "redaction.create" and event["outcome"] == "denied"
    assert event["resource_id"] == f"{stated.interview_id}/1"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Redaction)) == 0


@pytest.mark.parametrize(
    "spans,where",
    [
        (
            [
                {"start": 0, "end": 10, "category": "location", "legal_basis": "r"},
                {"start": 5, "end": 12, "category": "location", "legal_basis": "r"},
            ],
            "overlap",
        ),
        ([{"start": 100, "end": 10_000, "category": "location", "legal_basis": "r"}], "range"),
        ([{"start": 7, "end": 7, "category": "location", "legal_basis": "r"}], "empty"),
        ([{"start": 9, "end": 3, "category": "location", "legal_basis": "r"}], "backwards"),
        ([{"start": -1, "end": 3, "category": "location", "legal_basis": "r"}], "negative"),
        ([{"start": 0, "end": 3, "category": "gossip", "legal_basis": "r"}], "category"),
        ([{"start": 0, "end": 3, "category": "location", "legal_basis": ""}], "basis"),
        ([{"start": 0, "end": 3, "category": "location", "legal_basis": "r", "text": "Оксана"}], "unknown"),
        ([{"start": "0", "end": 3, "category": "location", "legal_basis": "r"}], "string offset"),
        ([], "no spans"),
    ],
)
def test_hostile_spans_are_refused_and_write_nothing(app, stated: World, spans, where):
    body = assert_problem(stated.people["legal"].post(_url(stated), {"spans": spans}), 422)
    assert body["errors"], where
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Redaction)) == 0


def test_unknown_top_level_fields_and_missing_versions(app, stated: World):
    legal = stated.people["legal"]
    assert_problem(legal.post(_url(stated), {"spans": [span(NAME, "location")], "removed": NAME}), 422)
    assert_problem(legal.post(_url(stated, version=7), {"spans": [span(NAME, "location")]}), 404)
    assert_problem(
        legal.post("/api/v1/interviews/999999/transcripts/1/redactions", {"spans": [span(NAME, "location")]}), 404
    )


def test_touching_spans_are_fine(app, stated: World):
    first, second = span("Мене", "other"), span(" звати", "other")
    created = ok(stated.people["legal"].post(_url(stated), {"spans": [second, first]}), 201)
    assert created["text"].startswith("[REDACTED:other][REDACTED:other] Оксана")
    assert created["segments"][0]["start"] == second["end"]


def test_withdrawal_shreds_the_redactions_too(app, stated: World):
    legal, interviewer = stated.people["legal"], stated.people["interviewer"]
    created = ok(legal.post(_url(stated), {"spans": [span(NAME, "witness_identity")]}), 201)
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{stated.witness_id}/consent",
            {"scopes": CONSENT, "given_at": "2026-03-10T09:00:00Z", "withdrawn_at": "2026-04-01T00:00:00Z"},
        ),
        201,
    )
    assert_problem(legal.get(f"/api/v1/redactions/{created['id']}"), 410)  # at once, before any erasure
    ok(legal.post(f"/api/v1/witnesses/{stated.witness_id}/erasure/confirm", {}))  # the second person
    with app.app_context():  # the rows show it too, beside the key destroyed in the provider
        row = db.session.get_one(Redaction, created["id"])
        assert row.content_wrapped_key is None and row.segments_wrapped_key is None and row.content_ciphertext
    listed = ok(legal.get(_url(stated)))["items"]
    assert listed[0]["shredded"] is True and listed[0]["spans"]
    assert_problem(legal.post(_url(stated), {"spans": [span(NAME, "witness_identity")]}), 410)
