"""The interviewer's pages through the Flask client: each form creates what the API call creates
and records the same custody events; invalid input is the form again (422) with nothing created;
a lawyer or an outsider is refused as the API refuses them; a form without its CSRF token changes
nothing."""

from __future__ import annotations

import hashlib
import re
from io import BytesIO
from typing import Any

import pytest
from flask import Flask

from casework.workbench.blueprint import CONTENT_SECURITY_POLICY
from tests.conftest import World, ok
from tests.exhibits.test_exhibits import interview_path, upload
from tests.helpers import events_of
from tests.settings import settings_replaced

STATEMENT = "Інтерв’юер: Де ви були вранці 3 березня?\nW-0001: Біля ринку. وصلت القذيفة الأولى\n"


def shape(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What must match between the page and the API: who did what to which kind of thing."""
    return [(e["action"], e["outcome"], e["resource_type"], e["actor_username"]) for e in events]


def witnesses_of(world: World) -> list[dict[str, Any]]:
    return ok(world.people["legal"].get(f"/api/v1/cases/{world.case_id}/witnesses"))["items"]


def interviews_of(world: World) -> list[dict[str, Any]]:
    return ok(world.people["legal"].get(f"/api/v1/cases/{world.case_id}/interviews"))["items"]


def versions_of(world: World, interview_id: int) -> list[dict[str, Any]]:
    return ok(world.people["legal"].get(f"/api/v1/interviews/{interview_id}/transcripts"))["items"]


def assert_page(response: Any, status: int) -> str:
    html = response.get_data(as_text=True)
    assert response.status_code == status, (response.status_code, html[:3000])
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    return html


# --- witnesses ----------------------------------------------------------------------------------


def test_new_witness_creates_what_the_api_creates(app: Flask, world: World, signed_in):
    interviewer = signed_in("interviewer")
    form = assert_page(interviewer.get(f"/app/cases/{world.case_id}/witnesses/new"), 200)
    assert 'name="witness_type"' in form and 'name="identity_full_name"' in form
    created = interviewer.post(
        f"/app/cases/{world.case_id}/witnesses/new",
        {
            "witness_type": "survivor",
            "risk_level": "critical",
            "identity_full_name": "Olena Petrenko",
            "identity_contact": "+380 50 123 4567",
            "identity_date_of_birth": "1979-06-14",
            "identity_notes": "",
        },
    )
    assert created.status_code == 303, created.get_data(as_text=True)[:2000]
    witness_id = int(re.fullmatch(r"/app/witnesses/(\d+)", created.headers["Location"]).group(1))
    api = ok(
        world.people["interviewer"].post(
            f"/api/v1/cases/{world.case_id}/witnesses",
            {
                "witness_type": "survivor",
                "risk_level": "critical",
                "identity": {
                    "full_name": "Olena Petrenko",
                    "contact": "+380 50 123 4567",
                    "date_of_birth": "1979-06-14",
                },
            },
        ),
        201,
    )
    [page_event], [api_event] = (
        events_of(app, created),
        events_of(
            app,
            world.people["interviewer"].post(
                f"/api/v1/cases/{world.case_id}/witnesses", {"witness_type": "other", "risk_level": "low"}
            ),
        ),
    )
    assert shape([page_event]) == [("witness.create", "allowed", "case", "interviewer")]
    assert shape([page_event]) == shape([api_event])
    assert page_event["details"]["created_witness_id"] == witness_id
    assert page_event["details"]["identity_recorded"] is True
    mine = ok(world.people["interviewer"].get(f"/api/v1/witnesses/{witness_id}?include=identity"))
    theirs = ok(world.people["interviewer"].get(f"/api/v1/witnesses/{api['id']}?include=identity"))
    assert (mine["witness_type"], mine["risk_level"], mine["identity_status"]) == ("survivor", "critical", "present")
    assert mine["identity"] == {**theirs["identity"], "notes": None}
    assert mine["pseudonym"] == "W-0002" and theirs["pseudonym"] == "W-0003"


def test_a_witness_without_identity_has_none(app: Flask, world: World, signed_in):
    created = signed_in("interviewer").post(
        f"/app/cases/{world.case_id}/witnesses/new", {"witness_type": "eyewitness", "risk_level": "low"}
    )
    assert created.status_code == 303
    [event] = events_of(app, created)
    assert event["details"]["identity_recorded"] is False


@pytest.mark.parametrize(
    "fields, wrong",
    [
        ({"witness_type": "eyewitness"}, "risk_level"),
        ({"witness_type": "spy", "risk_level": "low"}, "witness_type"),
        ({"witness_type": "victim", "risk_level": "low", "identity_contact": "a phone"}, "identity"),
        (
            {
                "witness_type": "victim",
                "risk_level": "low",
                "identity_full_name": "X",
                "identity_date_of_birth": "soon",
            },
            "identity",
        ),
    ],
)
def test_an_invalid_witness_is_the_form_again_and_nothing_is_created(
    app: Flask, world: World, signed_in, fields, wrong
):
    before = witnesses_of(world)
    page = signed_in("interviewer").post(f"/app/cases/{world.case_id}/witnesses/new", fields)
    html = assert_page(page, 422)
    assert 'role="alert"' in html and f"<strong>{wrong}</strong>" in html
    assert 'name="witness_type"' in html  # the form again, what was typed kept
    assert witnesses_of(world) == before


@pytest.mark.parametrize("who, status", [("legal", 403), ("outsider", 404), ("auditor", 403)])
def test_who_may_not_create_witnesses_is_refused_and_recorded(app: Flask, world: World, signed_in, who, status):
    person = signed_in(who)
    before = witnesses_of(world)
    refused = person.post(f"/app/cases/{world.case_id}/witnesses/new", {"witness_type": "victim", "risk_level": "low"})
    assert_page(refused, status)
    api = world.people[who].post(
        f"/api/v1/cases/{world.case_id}/witnesses", json={"witness_type": "victim", "risk_level": "low"}
    )
    assert api.status_code == status
    assert shape(events_of(app, refused)) == shape(events_of(app, api)) == [("witness.create", "denied", "case", who)]
    assert witnesses_of(world) == before
    assert person.get(f"/app/cases/{world.case_id}/witnesses/new").status_code == status


def test_a_form_without_its_csrf_token_creates_nothing(app: Flask, world: World, signed_in):
    interviewer = signed_in("interviewer")
    before, interviews = witnesses_of(world), interviews_of(world)
    for path, data in (
        (f"/app/cases/{world.case_id}/witnesses/new", {"witness_type": "victim", "risk_level": "low"}),
        (f"/app/witnesses/{world.witness_id}/consent", {"record": "on", "given_at": "2026-03-01T10:00"}),
        (
            f"/app/cases/{world.case_id}/interviews/new",
            {"witness_id": str(world.witness_id), "language": "uk", "conducted_at": "2026-03-11T09:30"},
        ),
    ):
        forged = interviewer.client.post(path, data=data)
        assert 'data-problem="csrf"' in assert_page(forged, 403)
        forged = interviewer.post(path, {**data, "csrf_token": "guessed"})
        assert assert_page(forged, 403)
    statement = interviewer.client.post(
        f"/app/interviews/{world.interview_id}/statement",
        data={"file": (BytesIO(b"text"), "s.txt")},
        content_type="multipart/form-data",
    )
    assert_page(statement, 403)
    assert witnesses_of(world) == before and interviews_of(world) == interviews
    assert ok(world.people["legal"].get(f"/api/v1/witnesses/{world.witness_id}"))["consent"] is None
    assert versions_of(world, world.interview_id) == []


# --- consent ------------------------------------------------------------------------------------


def test_consent_is_recorded_as_the_api_records_it(app: Flask, world: World, signed_in):
    interviewer = signed_in("interviewer")
    form = assert_page(interviewer.get(f"/app/witnesses/{world.witness_id}/consent"), 200)
    assert "W-0001" in form and 'name="share_with_prosecutors"' in form
    recorded = interviewer.post(
        f"/app/witnesses/{world.witness_id}/consent",
        {"record": "on", "share_with_prosecutors": "on", "given_at": "2026-03-10T09:45"},
    )
    assert recorded.status_code == 303, recorded.get_data(as_text=True)[:2000]
    assert recorded.headers["Location"] == f"/app/witnesses/{world.witness_id}"
    consent = ok(world.people["interviewer"].get(f"/api/v1/witnesses/{world.witness_id}"))["consent"]
    assert consent["version"] == 1 and consent["given_at"] == "2026-03-10T09:45:00+00:00"
    assert consent["scopes"] == {
        "record": True,
        "share_with_prosecutors": True,
        "share_with_un_bodies": False,
        "disclose_identity": False,
    }
    api = world.people["interviewer"].post(
        f"/api/v1/witnesses/{world.witness_id}/consent",
        {"scopes": consent["scopes"], "given_at": "2026-03-10T09:45:00Z"},
    )
    assert api.status_code == 201
    [page_event], [api_event] = events_of(app, recorded), events_of(app, api)
    assert (
        shape([page_event]) == shape([api_event]) == [("witness.consent.record", "allowed", "witness", "interviewer")]
    )
    assert page_event["details"]["scopes"] == api_event["details"]["scopes"]
    # The form shows the consent in force, and a lawyer of the case may record one too.
    again = assert_page(signed_in("legal").get(f"/app/witnesses/{world.witness_id}/consent"), 200)
    assert "Consent in force" in again and "checked" in again


def test_consent_without_its_time_is_the_form_again(app: Flask, world: World, signed_in):
    page = signed_in("interviewer").post(f"/app/witnesses/{world.witness_id}/consent", {"record": "on"})
    assert "<strong>given_at</strong>" in assert_page(page, 422)
    assert ok(world.people["legal"].get(f"/api/v1/witnesses/{world.witness_id}"))["consent"] is None


def test_another_cases_lawyer_cannot_record_consent(app: Flask, world: World, signed_in):
    outsider = signed_in("outsider")
    assert outsider.get(f"/app/witnesses/{world.witness_id}/consent").status_code == 404
    refused = outsider.post(
        f"/app/witnesses/{world.witness_id}/consent", {"record": "on", "given_at": "2026-03-10T09:45"}
    )
    assert_page(refused, 404)
    assert shape(events_of(app, refused)) == [("witness.consent.record", "denied", "witness", "outsider")]


# --- interviews ---------------------------------------------------------------------------------


def test_new_interview_lists_the_cases_witnesses_and_incidents(app: Flask, world: World, signed_in):
    interviewer = signed_in("interviewer")
    page = interviewer.get(f"/app/cases/{world.case_id}/interviews/new")
    html = assert_page(page, 200)
    assert f'<option value="{world.witness_id}">W-0001</option>' in html
    assert f'value="{world.incident_id}"' in html and "Execution at the quarry" in html
    assert [(e["action"], e["outcome"]) for e in events_of(app, page)] == [
        ("case.read", "allowed"),
        ("witness.list", "allowed"),
        ("incident.list", "allowed"),
    ]


def test_new_interview_creates_what_the_api_creates(app: Flask, world: World, signed_in):
    created = signed_in("interviewer").post(
        f"/app/cases/{world.case_id}/interviews/new",
        {
            "witness_id": str(world.witness_id),
            "incident_ids": [str(world.incident_id)],
            "conducted_at": "2026-03-11T09:30",
            "language": "uk",
            "location_name": "Kharkiv office",
            "interpreter": "I. Bondarenko",
        },
    )
    assert created.status_code == 303, created.get_data(as_text=True)[:2000]
    interview_id = int(re.fullmatch(r"/app/interviews/(\d+)", created.headers["Location"]).group(1))
    api = world.people["interviewer"].post(
        f"/api/v1/cases/{world.case_id}/interviews",
        {
            "witness_id": world.witness_id,
            "incident_ids": [world.incident_id],
            "conducted_at": "2026-03-11T09:30:00Z",
            "language": "uk",
            "location": {"name": "Kharkiv office"},
            "interpreter": "I. Bondarenko",
        },
    )
    assert api.status_code == 201
    assert (
        shape(events_of(app, created))
        == shape(events_of(app, api))
        == [("interview.create", "allowed", "case", "interviewer")]
    )
    mine = ok(world.people["interviewer"].get(f"/api/v1/interviews/{interview_id}"))
    theirs = ok(world.people["interviewer"].get(f"/api/v1/interviews/{api.get_json()['id']}"))
    same = ("witness_id", "incident_ids", "conducted_at", "language", "location", "interpreter", "interviewer_id")
    assert {k: mine[k] for k in same} == {k: theirs[k] for k in same}
    assert mine["conducted_at"] == "2026-03-11T09:30:00+00:00"


@pytest.mark.parametrize(
    "fields, wrong",
    [
        ({"witness_id": "", "conducted_at": "2026-03-11T09:30", "language": "uk"}, "witness_id"),
        ({"witness_id": "W", "conducted_at": "2026-03-11T09:30", "language": "uk"}, "witness_id"),
        ({"conducted_at": "yesterday", "language": "uk"}, "conducted_at"),
        ({"conducted_at": "2026-03-11T09:30", "language": "Ukrainian!"}, "language"),
    ],
)
def test_an_invalid_interview_is_the_form_again_and_nothing_is_created(
    app: Flask, world: World, signed_in, fields, wrong
):
    before = interviews_of(world)
    fields = {"witness_id": str(world.witness_id), **fields}
    page = signed_in("interviewer").post(f"/app/cases/{world.case_id}/interviews/new", fields)
    html = assert_page(page, 422)
    assert f"<strong>{wrong}</strong>" in html and "W-0001" in html  # the form again, its choices too
    assert interviews_of(world) == before


def test_an_interview_of_another_cases_witness_is_refused_in_the_form(app: Flask, world: World, signed_in):
    page = signed_in("interviewer").post(
        f"/app/cases/{world.case_id}/interviews/new",
        {"witness_id": "999999", "conducted_at": "2026-03-11T09:30", "language": "uk"},
    )
    assert page.status_code in (404, 422)
    assert len(interviews_of(world)) == 1


@pytest.mark.parametrize("who, status", [("legal", 403), ("outsider", 404)])
def test_who_may_not_create_interviews_is_refused(app: Flask, world: World, signed_in, who, status):
    person = signed_in(who)
    assert person.get(f"/app/cases/{world.case_id}/interviews/new").status_code == status
    refused = person.post(
        f"/app/cases/{world.case_id}/interviews/new",
        {"witness_id": str(world.witness_id), "conducted_at": "2026-03-11T09:30", "language": "uk"},
    )
    assert_page(refused, status)
    assert shape(events_of(app, refused)) == [("interview.create", "denied", "case", who)]
    assert len(interviews_of(world)) == 1


# --- statements ---------------------------------------------------------------------------------


def statement_form(text: str | bytes, **fields: str) -> dict[str, Any]:
    data = text.encode() if isinstance(text, str) else text
    return {"file": (BytesIO(data), "W-0001_statement_uk.txt"), "idempotency_key": "form-1", **fields}


def test_a_statement_upload_shows_its_signed_receipt(app: Flask, world: World, signed_in):
    interviewer = signed_in("interviewer")
    form = assert_page(interviewer.get(f"/app/interviews/{world.interview_id}/statement"), 200)
    assert 'enctype="multipart/form-data"' in form and 'name="idempotency_key"' in form
    path = f"/app/interviews/{world.interview_id}/statement"
    uploaded = interviewer.post(path, statement_form(STATEMENT), content_type="multipart/form-data")
    html = assert_page(uploaded, 201)
    digest = hashlib.sha256(STATEMENT.encode()).hexdigest()
    assert f'data-field="sha256">{digest}<' in html
    assert 'data-field="version">1<' in html and 'data-field="signature">' in html
    assert re.search(r'data-field="leaf_hash">[0-9a-f]{64}<', html)
    [event] = events_of(app, uploaded)
    # The same upload through the API, of another interview of the interviewer: the same event.
    other = ok(
        world.people["interviewer"].post(
            f"/api/v1/cases/{world.case_id}/interviews",
            {"witness_id": world.witness_id, "conducted_at": "2026-03-12T10:00:00Z", "language": "uk"},
        ),
        201,
    )
    api = world.people["interviewer"].client.post(
        f"/api/v1/interviews/{other['id']}/transcripts",
        data={"file": (BytesIO(STATEMENT.encode()), "s.txt")},
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {world.people['interviewer'].token}"},
    )
    assert api.status_code == 201
    [api_event] = events_of(app, api)
    assert shape([event]) == shape([api_event]) == [("transcript.create", "allowed", "interview", "interviewer")]
    assert sorted(event["details"]) == sorted(api_event["details"])
    [version] = versions_of(world, world.interview_id)
    assert (version["version"], version["size"]) == (1, len(STATEMENT.encode()))
    text = ok(world.people["interviewer"].get(f"/api/v1/interviews/{world.interview_id}/transcripts/1"))["text"]
    assert text == STATEMENT
    # Pressing the button again (the same form) gives the first receipt back and stores nothing.
    again = interviewer.post(path, statement_form(STATEMENT), content_type="multipart/form-data")
    assert "already been received" in assert_page(again, 200)
    assert len(versions_of(world, world.interview_id)) == 1


def test_pasted_text_is_a_statement_too_and_a_correction_needs_a_reason(app: Flask, world: World, signed_in):
    interviewer = signed_in("interviewer")
    path = f"/app/interviews/{world.interview_id}/statement"
    first = interviewer.post(path, {"text": STATEMENT, "idempotency_key": "a"}, content_type="multipart/form-data")
    assert_page(first, 201)
    no_reason = interviewer.post(
        path, {"text": STATEMENT + "more", "idempotency_key": "b"}, content_type="multipart/form-data"
    )
    assert "<strong>reason</strong>" in assert_page(no_reason, 422)
    corrected = interviewer.post(
        path,
        {"text": STATEMENT + "more", "idempotency_key": "c", "reason": "The witness corrected the time."},
        content_type="multipart/form-data",
    )
    assert 'data-field="version">2<' in assert_page(corrected, 201)
    assert [v["version"] for v in versions_of(world, world.interview_id)] == [1, 2]


# Factories: a file object is consumed by the request that sends it, and each database runs the test.
@pytest.mark.parametrize(
    "fields",
    [
        lambda: {"file": (BytesIO("не UTF-8".encode("cp1251")), "s.txt")},
        lambda: {"file": (BytesIO(b""), "empty.txt")},
        dict,
        lambda: {"file": (BytesIO(b"text"), "s.txt"), "text": "and text"},
    ],
    ids=["not-utf8", "empty", "nothing", "file-and-text"],
)
def test_an_invalid_statement_is_the_form_again(app: Flask, world: World, signed_in, fields):
    page = signed_in("interviewer").post(
        f"/app/interviews/{world.interview_id}/statement",
        {"idempotency_key": "k", **fields()},
        content_type="multipart/form-data",
    )
    html = assert_page(page, 422)
    assert 'name="file"' in html and 'role="alert"' in html
    assert versions_of(world, world.interview_id) == []


def test_a_statement_larger_than_the_limit_is_refused(app: Flask, world: World, signed_in):
    with settings_replaced(app, http={"upload_max_bytes": 10}):
        page = signed_in("interviewer").post(
            f"/app/interviews/{world.interview_id}/statement",
            statement_form(STATEMENT),
            content_type="multipart/form-data",
        )
    assert page.status_code == 413
    assert versions_of(world, world.interview_id) == []


@pytest.mark.parametrize("who, status", [("legal", 403), ("interviewer2", 403), ("outsider", 404)])
def test_only_the_interviews_interviewer_uploads_its_statement(app: Flask, world: World, signed_in, who, status):
    person = signed_in(who)
    refused = person.post(
        f"/app/interviews/{world.interview_id}/statement", statement_form(STATEMENT), content_type="multipart/form-data"
    )
    assert_page(refused, status)
    api = world.people[who].client.post(
        f"/api/v1/interviews/{world.interview_id}/transcripts",
        data={"file": (BytesIO(b"x"), "s.txt")},
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {world.people[who].token}"},
    )
    assert api.status_code == status
    assert (
        shape(events_of(app, refused))
        == shape(events_of(app, api))
        == [("transcript.create", "denied", "interview", who)]
    )
    assert versions_of(world, world.interview_id) == []
    if who != "interviewer2":  # another interviewer's form opens; the door refuses what it sends
        assert person.get(f"/app/interviews/{world.interview_id}/statement").status_code == status


# --- exhibits -----------------------------------------------------------------------------------


def test_the_exhibit_upload_page_configures_uppy_for_the_apis_tus_endpoint(app: Flask, world: World, signed_in):
    interviewer = signed_in("interviewer")
    page = interviewer.get(f"/app/interviews/{world.interview_id}/exhibits/upload")
    html = assert_page(page, 200)
    assert f'data-endpoint="/api/v1/interviews/{world.interview_id}/exhibits/uploads"' in html
    assert f'data-csrf="{interviewer.csrf}"' in html
    assert f'data-chunk-size="{app.config["CASEWORK_EXHIBIT_CHUNK_BYTES"]}"' in html
    assert 'src="/app/static/vendor/uppy.min.js"' in html and 'src="/app/static/workbench/upload.js"' in html
    assert " style=" not in html and "<style" not in html
    assert shape(events_of(app, page)) == [("interview.read", "allowed", "interview", "interviewer")]


@pytest.mark.parametrize("who, status", [("legal", 403), ("outsider", 404)])
def test_the_exhibit_upload_page_is_refused_to_whom_the_api_refuses(app: Flask, world: World, signed_in, who, status):
    assert_page(signed_in(who).get(f"/app/interviews/{world.interview_id}/exhibits/upload"), status)


def test_a_lawyer_of_the_case_may_upload_incident_exhibits(app: Flask, world: World, signed_in):
    html = assert_page(signed_in("legal").get(f"/app/incidents/{world.incident_id}/exhibits/upload"), 200)
    assert f'data-endpoint="/api/v1/incidents/{world.incident_id}/exhibits/uploads"' in html
    assert_page(signed_in("outsider").get(f"/app/incidents/{world.incident_id}/exhibits/upload"), 404)


def test_an_exhibits_receipt_page_reads_as_the_api_reads_it(app: Flask, world: World, signed_in, blob_dir):
    _, receipt = upload(world.people["interviewer"], interview_path(world), b"ID3\x03" + b"\x00" * 5000)
    exhibit_id = receipt["exhibit_id"]
    page = signed_in("legal").get(f"/app/exhibits/{exhibit_id}/receipt")
    html = assert_page(page, 200)
    assert receipt["keyed_sha256"] in html and receipt["signature"] in html and receipt["leaf_hash"] in html
    assert receipt["sha256"] not in html  # the plain hash was the uploader's alone
    api = world.people["legal"].get(f"/api/v1/exhibits/{exhibit_id}/receipt")
    assert (
        shape(events_of(app, page))
        == shape(events_of(app, api))
        == [("exhibit.metadata.read", "allowed", "exhibit", "legal")]
    )
    assert signed_in("outsider").get(f"/app/exhibits/{exhibit_id}/receipt").status_code == 404


# --- the case and interview pages' action links -------------------------------------------------


@pytest.mark.parametrize("who, shown", [("interviewer", True), ("interviewer2", False), ("legal", False)])
def test_action_snippets_offer_links_to_whom_may_use_them(app: Flask, world: World, who, shown):
    from flask import render_template
    from flask_login import login_user

    from casework.auth.models import User
    from casework.db import db

    with app.test_request_context("/app/"):
        login_user(db.session.get(User, world.people[who].id))
        case = render_template("workbench/intake/case_actions.html", case={"id": world.case_id})
        interview = render_template(
            "workbench/intake/interview_actions.html",
            interview={
                "id": world.interview_id,
                "case_id": world.case_id,
                "interviewer_id": world.people["interviewer"].id,
            },
        )
        witness = render_template("workbench/intake/witness_actions.html", witness={"id": world.witness_id})
    assert (f"/app/cases/{world.case_id}/witnesses/new" in case) is (who != "legal")
    assert (f"/app/cases/{world.case_id}/interviews/new" in case) is (who != "legal")
    assert (f"/app/interviews/{world.interview_id}/statement" in interview) is shown
    assert (f"/app/interviews/{world.interview_id}/exhibits/upload" in interview) is shown
    assert f"/app/witnesses/{world.witness_id}/consent" in witness
