"""Disclosure that protects the people in it (SPEC v3): a trail that proves without naming, a second
lawyer for every dangerous release, and a bundle that is a file (the same bytes, resumable).

The defence bundle here is searched byte by byte, file by file, for every name, id and address
the staff and the earlier recipient left in the log; the second-lawyer rule is searched for a
way round by hypothesis, over sequences of who tries to approve and download.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bundles import NAME, SHARE, STATEMENT, Disclosed, disclose, members, pdf_text, run_verifier
from tests.conftest import Caller, World, make_caller, ok
from tests.helpers import all_events, assert_problem

PROSECUTOR = {
    "name": "Karim Khanov-Prosecutor",
    "organisation": "Office of the Prosecutor of Zarn",
    "kind": "prosecutor",
}
DEFENCE = {"name": "Dmytro Defence", "organisation": "Defence Chambers LLP", "kind": "defence"}
COURT = {"name": "Registry", "organisation": "Trial Chamber II", "kind": "court"}


@dataclass
class Staffed:
    """A case whose staff have names nobody else has, so a search for them cannot match by chance."""

    people: dict[str, Caller]
    case_id: int
    incident_id: int
    witness_id: int
    interview_id: int

    def names(self) -> list[str]:
        return [caller.username for caller in self.people.values()]


@pytest.fixture
def staffed(app: Flask) -> Staffed:
    people = {
        key: make_caller(app, name, role)
        for key, name, role in (
            ("admin", "okhrimenko-admin-a", "admin"),
            ("admin2", "savchuk-admin-b", "admin"),
            ("interviewer", "tkachenko-field-41", "interviewer"),
            ("lawyer", "hrytsenko-lawyer-17", "legal"),
            ("lawyer2", "moroz-lawyer-23", "legal"),
            ("intruder", "bondar-intruder-77", "interviewer"),
        )
    }
    admin, interviewer, lawyer = people["admin"], people["interviewer"], people["lawyer"]
    case_id = ok(admin.post("/api/v1/cases", {"title": "Quarry executions"}), 201)["id"]
    ok(admin.put(f"/api/v1/cases/{case_id}/members/{lawyer.id}"), 202)
    ok(people["admin2"].post(f"/api/v1/cases/{case_id}/members/{lawyer.id}/approve"))
    for key in ("interviewer", "lawyer2"):
        ok(admin.put(f"/api/v1/cases/{case_id}/members/{people[key].id}"), 202)
        ok(lawyer.post(f"/api/v1/cases/{case_id}/members/{people[key].id}/approve"))
    incident = ok(
        interviewer.post(
            f"/api/v1/cases/{case_id}/incidents",
            {
                "reference": "QRY-1",
                "title": "Execution at the quarry",
                "occurred_from": "2026-03-01T05:00:00Z",
                "time_precision": "hour",
                "violation_types": ["execution-of-prisoners-of-war"],
            },
        ),
        201,
    )
    witness = ok(
        interviewer.post(f"/api/v1/cases/{case_id}/witnesses", {"witness_type": "eyewitness", "risk_level": "high"}),
        201,
    )
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{witness['id']}/consent", {"scopes": SHARE, "given_at": "2026-03-10T09:00:00Z"}
        ),
        201,
    )
    interview = ok(
        interviewer.post(
            f"/api/v1/cases/{case_id}/interviews",
            {
                "witness_id": witness["id"],
                "incident_ids": [incident["id"]],
                "conducted_at": "2026-03-10T10:00:00Z",
                "language": "uk",
            },
        ),
        201,
    )
    ok(interviewer.post(f"/api/v1/interviews/{interview['id']}/transcripts", {"text": STATEMENT}), 201)
    return Staffed(people, case_id, incident["id"], witness["id"], interview["id"])


def _create(
    caller: Caller, case_id: int, recipient: dict[str, str], items: list[dict[str, Any]], status: int, **extra: Any
) -> dict[str, Any]:
    return ok(
        caller.post(
            f"/api/v1/cases/{case_id}/disclosures",
            {"recipient": recipient, "purpose": "disclosure under Rule 77", "items": items, **extra},
        ),
        status,
    )


def _bundle_bytes(caller: Caller, disclosure_id: int, headers: dict[str, str] | None = None) -> tuple[Any, bytes]:
    response = caller.get(f"/api/v1/disclosures/{disclosure_id}/bundle", headers=headers or {})
    return response, response.get_data()


def _all_text(bundle: bytes) -> str:
    """Every byte a recipient gets, as text: the zip itself, each file inflated, the PDF's shown text."""
    parts = [bundle.decode("latin-1")]
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        for info in zf.infolist():
            data = zf.read(info)
            parts.append(info.filename)
            parts.append(data.decode("utf-8", "replace"))
            if info.filename.endswith(".pdf"):
                parts.append(pdf_text(data))
    return "\n".join(parts)


# --- a trail that proves without naming -----------------------------------------------------------


def test_a_defence_bundle_names_no_staff_no_address_and_no_other_recipient(
    app: Flask, staffed: Staffed, tmp_path: Path
):
    people = staffed.people
    lawyer, lawyer2 = people["lawyer"], people["lawyer2"]
    transcript = {"kind": "transcript_version", "interview_id": staffed.interview_id, "version": 1}
    incident = {"kind": "incident", "incident_id": staffed.incident_id}
    # Someone else's refused attempt, a lawyer's read, and an earlier disclosure to the prosecution.
    assert_problem(people["intruder"].get(f"/api/v1/interviews/{staffed.interview_id}/transcripts/1"), 404)
    ok(lawyer.get(f"/api/v1/interviews/{staffed.interview_id}/transcripts/1"))
    earlier = _create(lawyer, staffed.case_id, PROSECUTOR, [transcript, incident], 201)
    assert _bundle_bytes(lawyer, earlier["id"])[0].status_code == 200

    defence = _create(lawyer, staffed.case_id, DEFENCE, [transcript, incident], 202)
    assert defence["approval_reasons"] == ["defence"]
    ok(lawyer2.post(f"/api/v1/disclosures/{defence['id']}/approve"))
    response, bundle = _bundle_bytes(lawyer, defence["id"])
    assert response.status_code == 200

    events = all_events(app)
    addresses = {event["client_addr"] for event in events if event["client_addr"]}
    user_ids = {caller.id for caller in people.values()}
    assert addresses and any(e["actor_username"] == "bondar-intruder-77" and e["outcome"] == "denied" for e in events)
    text = _all_text(bundle)
    assert DEFENCE["name"] in text and STATEMENT in text, "the search below would prove nothing"
    for secret in [*staffed.names(), *addresses, PROSECUTOR["name"], PROSECUTOR["organisation"]]:
        assert secret not in text, f"{secret!r} is in the defence bundle"
    # No user id under any key that names a person, anywhere in the JSON the bundle holds.
    for key, value in re.findall(r'"([a-z_]*(?:actor_id|by_id|user_id))":\s*(\d+)', text):
        assert int(value) not in user_ids, f"{key}: {value}"

    files = members(_write(tmp_path / "defence.zip", bundle))
    lines = [json.loads(line) for rel, data in files.items() if rel.endswith(".jsonl") for line in data.splitlines()]
    withheld = {line["withheld"] for line in lines if "withheld" in line}
    assert {"refused_attempt", "other_disclosure"} <= withheld
    shown = [line for line in lines if "entry" in line]
    assert shown and all(
        line["entry"]["actor_username"] == {"sha256": line["entry"]["actor_username"]["sha256"]}
        for line in shown
        if line["entry"].get("actor_username") is not None
    )
    pseudonyms = {line["staff"] for line in shown if "staff" in line}
    assert pseudonyms and all(re.fullmatch(r"S-\d\d", p) for p in pseudonyms)
    record = json.loads(files["data/disclosure.json"])
    assert record["proposed_by"] in pseudonyms and record["approved_by"] in pseudonyms
    assert record["proposed_by"] != record["approved_by"]
    assert run_verifier(str(tmp_path / "defence.zip")).returncode == 0


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_staff_identities_go_to_a_court_only_when_asked_and_approved(app: Flask, staffed: Staffed, tmp_path: Path):
    people = staffed.people
    lawyer, lawyer2 = people["lawyer"], people["lawyer2"]
    incident = [{"kind": "incident", "incident_id": staffed.incident_id}]
    refused = lawyer.post(
        f"/api/v1/cases/{staffed.case_id}/disclosures",
        {"recipient": PROSECUTOR, "purpose": "p", "items": incident, "include_staff_identity": True},
    )
    assert assert_problem(refused, 422)["errors"]["json"]["include_staff_identity"] == ["Only for a court."]
    court = _create(lawyer, staffed.case_id, COURT, incident, 202, include_staff_identity=True)
    assert court["approval_reasons"] == ["staff_identity"] and court["include_staff_identity"] is True
    assert_problem(lawyer.get(f"/api/v1/disclosures/{court['id']}/bundle"), 409)
    ok(lawyer2.post(f"/api/v1/disclosures/{court['id']}/approve"))
    response, bundle = _bundle_bytes(lawyer, court["id"])
    assert response.status_code == 200
    files = members(_write(tmp_path / "court.zip", bundle))
    record = json.loads(files["data/disclosure.json"])
    assert record["staff"][record["proposed_by"]] == "hrytsenko-lawyer-17"
    assert record["staff"][record["approved_by"]] == "moroz-lawyer-23"
    entries = [
        json.loads(line)["entry"]
        for line in files["data/items/0001/custody.jsonl"].splitlines()
        if "entry" in json.loads(line)
    ]
    creation = entries[0]
    assert creation["action"] == "incident.create" and creation["actor_username"] == "tkachenko-field-41"
    assert "actor_username" in creation["salts"], "a revealed name carries its salt: the court can check it"
    assert isinstance(creation["client_addr"], dict), "addresses stay committed even for a court"
    assert run_verifier(str(tmp_path / "court.zip")).returncode == 0


# --- the second lawyer ----------------------------------------------------------------------------


def test_each_dangerous_release_waits_for_a_second_lawyer(app: Flask, world: World, legal2: Caller):
    legal, interviewer = world.people["legal"], world.people["interviewer"]
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{world.witness_id}/consent",
            {"scopes": {**SHARE, "disclose_identity": True}, "given_at": "2026-03-10T09:00:00Z"},
        ),
        201,
    )
    ok(interviewer.patch(f"/api/v1/witnesses/{world.witness_id}", {"identity": {"full_name": NAME}}))
    ok(interviewer.post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": STATEMENT}), 201)
    version = {"kind": "transcript_version", "interview_id": world.interview_id, "version": 1}
    incident = {"kind": "incident", "incident_id": world.incident_id}
    identity = {"kind": "witness_identity", "witness_id": world.witness_id}
    assert _create(legal, world.case_id, PROSECUTOR, [version, incident], 201)["status"] == "approved"
    assert _create(legal, world.case_id, DEFENCE, [incident], 202)["approval_reasons"] == ["defence"]
    assert _create(legal, world.case_id, PROSECUTOR, [identity], 202, include_identity=True)["approval_reasons"] == [
        "witness_identity"
    ]
    # Asked for, but excluded by the rules (no explicit request): nothing dangerous goes, one lawyer suffices.
    assert _create(legal, world.case_id, PROSECUTOR, [identity], 201)["status"] == "approved"

    start = STATEMENT.index(NAME)
    redaction = ok(
        legal.post(
            f"/api/v1/interviews/{world.interview_id}/transcripts/1/redactions",
            {
                "spans": [
                    {
                        "start": start,
                        "end": start + len(NAME),
                        "category": "witness_identity",
                        "legal_basis": "Rule 81(4)",
                    }
                ]
            },
        ),
        201,
    )
    alone = _create(legal, world.case_id, PROSECUTOR, [version], 202)
    assert alone["approval_reasons"] == ["redacted_source"]
    assert alone["unused_redactions"] == [
        {"position": 0, "item_ref": f"{world.interview_id}/1", "redaction_ids": [redaction["id"]]}
    ]
    both = _create(
        legal, world.case_id, PROSECUTOR, [version, {"kind": "redaction", "redaction_id": redaction["id"]}], 202
    )
    assert both["unused_redactions"] == []
    only_redacted = _create(
        legal, world.case_id, PROSECUTOR, [{"kind": "redaction", "redaction_id": redaction["id"]}], 201
    )
    assert only_redacted["status"] == "approved" and only_redacted["approval_reasons"] == []

    # Nobody but another lawyer of the case approves; the answer repeats the warning.
    assert assert_problem(legal.post(f"/api/v1/disclosures/{alone['id']}/approve"), 403)["type"].endswith(
        "/second-person-required"
    )
    assert_problem(interviewer.post(f"/api/v1/disclosures/{alone['id']}/approve"), 403)
    assert_problem(world.people["admin"].post(f"/api/v1/disclosures/{alone['id']}/approve"), 403)
    assert_problem(world.people["outsider"].post(f"/api/v1/disclosures/{alone['id']}/approve"), 404)
    assert_problem(legal.get(f"/api/v1/disclosures/{alone['id']}/bundle"), 409)
    approved = ok(legal2.post(f"/api/v1/disclosures/{alone['id']}/approve"))
    assert approved["status"] == "approved" and approved["unused_redactions"] == alone["unused_redactions"]
    assert (approved["proposed_by_id"], approved["approved_by_id"]) == (legal.id, legal2.id)
    assert assert_problem(legal2.post(f"/api/v1/disclosures/{alone['id']}/approve"), 409)["type"].endswith(
        "/not-pending"
    )
    register = ok(world.people["auditor"].get(f"/api/v1/cases/{world.case_id}/disclosures?limit=200"))
    listed = {row["id"]: row for row in register["items"]}
    assert (listed[alone["id"]]["proposed_by_id"], listed[alone["id"]]["approved_by_id"]) == (legal.id, legal2.id)
    assert listed[both["id"]]["status"] == "pending" and listed[both["id"]]["approved_by_id"] is None
    events = [e for e in all_events(app) if e["action"] == "disclosure.approve"]
    assert [(e["actor_username"], e["outcome"]) for e in events].count(("legal2", "allowed")) == 1
    assert ("legal", "denied") in [(e["actor_username"], e["outcome"]) for e in events]


ACTORS = ("legal", "legal2", "interviewer", "outsider", "admin", "auditor")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(ACTORS), st.sampled_from(("approve", "bundle"))), max_size=6))
def test_no_sequence_of_requests_releases_a_pending_disclosure_without_a_second_lawyer(
    app: Flask, world: World, legal2: Caller, steps: list[tuple[str, str]]
):
    """Whoever asks, in whatever order: the bundle's bytes go out only after a lawyer of the case
    other than the proposer approved, and only to a lawyer of the case."""
    legal = world.people["legal"]
    disclosure = _create(legal, world.case_id, DEFENCE, [{"kind": "incident", "incident_id": world.incident_id}], 202)
    approved_by_second = False
    for actor, action in steps:
        caller = world.people[actor]
        if action == "approve":
            response = caller.post(f"/api/v1/disclosures/{disclosure['id']}/approve")
            allowed = actor == "legal2" and not approved_by_second
            assert response.status_code == (
                200
                if allowed
                else 409
                if actor == "legal2"
                else 403
                if actor == "legal" and not approved_by_second
                else 409
                if actor == "legal"
                else 404
                if actor == "outsider"
                else 403
            ), (actor, response.status_code)
            approved_by_second = approved_by_second or allowed
        else:
            response = caller.get(f"/api/v1/disclosures/{disclosure['id']}/bundle")
            if response.status_code == 200:
                assert approved_by_second and actor in ("legal", "legal2")
                assert response.get_data()[:2] == b"PK"
            else:
                assert response.status_code in (403, 404, 409) and b"PK" not in response.get_data()[:2]
                assert approved_by_second is False or actor not in ("legal", "legal2")


# --- a bundle is a file ---------------------------------------------------------------------------


@pytest.fixture
def disclosed(world: World, legal2: Caller) -> Disclosed:
    return disclose(world.people, world.case_id, world.incident_id, world.witness_id, world.interview_id)


def test_two_downloads_are_the_same_file_and_a_range_resumes_it(app: Flask, disclosed: Disclosed):
    legal = disclosed.legal
    first, whole = _bundle_bytes(legal, disclosed.disclosure_id)
    second, again = _bundle_bytes(legal, disclosed.disclosure_id)
    assert first.status_code == second.status_code == 200
    assert whole == again, "two downloads differ"
    digest = hashlib.sha256(whole).digest()
    assert int(first.headers["Content-Length"]) == len(whole) and first.headers["Accept-Ranges"] == "bytes"
    assert first.headers["ETag"] == f'"{digest.hex()}"' == second.headers["ETag"]
    assert first.headers["Repr-Digest"] == f"sha-256=:{base64.b64encode(digest).decode()}:"
    record = ok(legal.get(f"/api/v1/disclosures/{disclosed.disclosure_id}"))["bundle"]
    assert record["length"] == len(whole) and record["sha256"] == digest.hex()

    cut = len(whole) // 3
    head, part = _bundle_bytes(legal, disclosed.disclosure_id, {"Range": f"bytes=0-{cut - 1}"})
    assert head.status_code == 206 and head.headers["Content-Range"] == f"bytes 0-{cut - 1}/{len(whole)}"
    tail, rest = _bundle_bytes(
        legal, disclosed.disclosure_id, {"Range": f"bytes={cut}-", "If-Range": head.headers["ETag"]}
    )
    assert tail.status_code == 206 and int(tail.headers["Content-Length"]) == len(whole) - cut
    assert tail.headers["Repr-Digest"] == first.headers["Repr-Digest"], "the digest is of the whole file"
    assert part + rest == whole
    suffix, last = _bundle_bytes(legal, disclosed.disclosure_id, {"Range": "bytes=-100"})
    assert suffix.status_code == 206 and last == whole[-100:]

    stale, full = _bundle_bytes(legal, disclosed.disclosure_id, {"Range": f"bytes={cut}-", "If-Range": '"0000"'})
    assert stale.status_code == 200 and full == whole, "another file's part: the whole file is sent"
    past = legal.get(f"/api/v1/disclosures/{disclosed.disclosure_id}/bundle", headers={"Range": f"bytes={len(whole)}-"})
    assert_problem(past, 416)
    assert past.headers["Content-Range"] == f"bytes */{len(whole)}"
    downloads = [e for e in all_events(app) if e["action"] == "disclosure.bundle" and e["outcome"] == "allowed"]
    assert [e["details"]["first_download"] for e in downloads] == [True] + [False] * 5


def test_a_redacted_statement_gives_away_no_length_of_what_was_removed(
    app: Flask, disclosed: Disclosed, tmp_path: Path
):
    """Only the redaction goes: neither its markers, its map, nor any event in the bundle tell how
    long the removed name was (the source's size, in its upload event, for one)."""
    redaction_id = next(int(item["item_ref"]) for item in disclosed.included if item["kind"] == "redaction")
    only = _create(
        disclosed.legal, disclosed.case_id, PROSECUTOR, [{"kind": "redaction", "redaction_id": redaction_id}], 201
    )
    response, bundle = _bundle_bytes(disclosed.legal, only["id"])
    assert response.status_code == 200
    text = _all_text(bundle)
    redacted = STATEMENT.replace(NAME, "[REDACTED:witness_identity]")
    assert redacted in text and NAME not in text
    source_size = len(STATEMENT.encode())
    numbers = {
        int(n) for n in re.findall(r'"(?:size|start|end|byte_start|byte_end|out_start|out_end|length)":\s*(\d+)', text)
    }
    assert source_size not in numbers and len(redacted.encode()) in numbers
    for key in ("byte_start", "byte_end", "out_start", '"start"', '"end"', '"spans":['):
        assert key not in text, key
    assert run_verifier(str(_write(tmp_path / "redacted.zip", bundle))).returncode == 0


def test_two_first_downloads_at_once_agree_on_one_file(app: Flask, disclosed: Disclosed, pg_only: None):
    """Both freeze, one stores first (compare-and-set); both answer with the file stored."""
    import threading

    results: list[tuple[int, str, bytes]] = []

    def download() -> None:
        client = app.test_client()
        response = client.get(
            f"/api/v1/disclosures/{disclosed.disclosure_id}/bundle",
            headers={"Authorization": f"Bearer {disclosed.legal.token}"},
        )
        results.append((response.status_code, response.headers.get("ETag", ""), response.get_data()))

    threads = [threading.Thread(target=download) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [status for status, _, _ in results] == [200, 200]
    (_, etag_a, body_a), (_, etag_b, body_b) = results
    assert etag_a == etag_b and body_a == body_b
    assert f'"{hashlib.sha256(body_a).hexdigest()}"' == etag_a


def test_every_role_reads_the_logs_public_key_that_recipients_and_receipts_need(app: Flask, world: World):
    from casework.custody.signer import signer

    with app.app_context():
        vkey = signer().vkey()
    for role in ("legal", "interviewer", "admin", "auditor"):
        key = world.people[role].get("/api/v1/custody/public-key")
        assert key.status_code == 200 and key.get_data(as_text=True).strip() == vkey
    assert_problem(app.test_client().get("/api/v1/custody/public-key"), 401)
    events = [e for e in all_events(app) if e["action"] == "custody.key.read"]
    assert [(e["actor_username"], e["outcome"]) for e in events[-4:]] == [
        (role, "allowed") for role in ("legal", "interviewer", "admin", "auditor")
    ]
