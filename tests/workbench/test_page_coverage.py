"""Every workbench page and form records its own custody event, as every API route does.

The table must name every audited (endpoint, method) of the workbench: a new page without an
entry fails ``test_every_page_is_in_the_table``; an entry whose allowed request leaves no event
of its own (only the generic ``http.*`` fallback) fails ``test_page_records_its_own_event``.
Forms are sent as a browser sends them, with the session's CSRF field.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from flask import Flask

from tests.access.test_custody_coverage import _disclosed, _pending_disclosure, _pending_totp_code, url_map_routes
from tests.conftest import PASSWORD, World, ok
from tests.helpers import events_of, publish
from tests.workbench.conftest import csrf_of, sign_in_client

_DISCLOSURE_FORM = {
    "recipient_kind": "court",
    "recipient_name": "Trial Chamber",
    "recipient_organisation": "Court",
    "purpose": "p",
    "item": ["incident:{incident}"],
}

# (endpoint, method) -> (role, path, form fields, expected status); role None: nobody signed in.
PAGES: dict[tuple[str, str], tuple[str | None, str, dict[str, Any] | None, int]] = {
    ("workbench.login", "POST"): (None, "/app/login", {"username": "legal", "password": PASSWORD}, 303),
    ("workbench.logout", "POST"): ("legal", "/app/logout", {}, 303),
    ("workbench.change_password", "POST"): (
        "legal",
        "/app/password",
        {"current_password": PASSWORD, "new_password": "tulip orbit canyon vellum"},
        303,
    ),
    ("workbench.enrol_totp", "POST"): ("legal", "/app/mfa", {"password": PASSWORD}, 200),
    ("workbench.confirm_totp", "POST"): ("legal", "/app/mfa/confirm", None, 200),  # PREPARED
    ("workbench.home", "GET"): ("legal", "/app/", None, 200),
    ("workbench.case_page", "GET"): ("legal", "/app/cases/{case}", None, 200),
    ("workbench.incident_page", "GET"): ("legal", "/app/incidents/{incident}", None, 200),
    ("workbench.witness_page", "GET"): ("legal", "/app/witnesses/{witness}", None, 200),
    ("workbench.reveal_identity", "POST"): ("legal", "/app/witnesses/{witness}/identity", {}, 200),
    ("workbench.interview_page", "GET"): ("legal", "/app/interviews/{interview}", None, 200),
    ("workbench.transcript_page", "GET"): ("legal", "/app/interviews/{interview}/transcripts/1", None, 200),
    ("workbench.create_redaction", "POST"): (
        "legal",
        "/app/interviews/{interview}/transcripts/1/redactions",
        {"span_start": "0", "span_end": "1", "span_category": "other", "span_legal_basis": "r"},
        303,
    ),
    ("workbench.redaction_page", "GET"): ("legal", "/app/redactions/{redaction}", None, 200),
    ("workbench.disclosure_register", "GET"): ("legal", "/app/cases/{case}/disclosures", None, 200),
    ("workbench.new_disclosure", "GET"): ("legal", "/app/cases/{case}/disclosures/new", None, 200),
    ("workbench.preview_disclosure", "POST"): ("legal", "/app/cases/{case}/disclosures/preview", _DISCLOSURE_FORM, 200),
    ("workbench.create_disclosure", "POST"): ("legal", "/app/cases/{case}/disclosures", _DISCLOSURE_FORM, 303),
    ("workbench.disclosure_page", "GET"): ("legal", "/app/disclosures/{disclosure}", None, 200),
    ("workbench.approve_disclosure", "POST"): ("legal", "/app/disclosures/{pending}/approve", {}, 303),
    ("workbench.approvals", "GET"): ("legal", "/app/approvals", None, 200),
    ("workbench.new_witness", "GET"): ("interviewer", "/app/cases/{case}/witnesses/new", None, 200),
    ("workbench.create_witness", "POST"): (
        "interviewer",
        "/app/cases/{case}/witnesses/new",
        {"witness_type": "victim", "risk_level": "low"},
        303,
    ),
    ("workbench.consent_page", "GET"): ("interviewer", "/app/witnesses/{witness}/consent", None, 200),
    ("workbench.record_consent", "POST"): (
        "interviewer",
        "/app/witnesses/{witness}/consent",
        {"record": "on", "given_at": "2026-03-01T10:00"},
        303,
    ),
    ("workbench.new_interview", "GET"): ("interviewer", "/app/cases/{case}/interviews/new", None, 200),
    ("workbench.create_interview", "POST"): (
        "interviewer",
        "/app/cases/{case}/interviews/new",
        {"witness_id": "{witness}", "conducted_at": "2026-03-11T09:30", "language": "uk"},
        303,
    ),
    ("workbench.statement_page", "GET"): ("interviewer", "/app/interviews/{interview}/statement", None, 200),
    ("workbench.upload_statement", "POST"): ("interviewer", "/app/interviews/{interview}/statement", None, 201),  # FILE
    ("workbench.exhibit_upload_page", "GET"): ("interviewer", "/app/interviews/{interview}/exhibits/upload", None, 200),
    ("workbench.incident_exhibit_upload_page", "GET"): (
        "legal",
        "/app/incidents/{incident}/exhibits/upload",
        None,
        200,
    ),
    ("workbench.exhibit_receipt_page", "GET"): ("interviewer", "/app/exhibits/{exhibit}/receipt", None, 200),
    ("workbench.custody_timeline", "GET"): ("auditor", "/app/custody", None, 200),
    ("workbench.witness_reads", "GET"): ("auditor", "/app/custody/witnesses/{witness}", None, 200),
    ("workbench.user_activity", "GET"): ("auditor", "/app/custody/users/{user}", None, 200),
    ("workbench.checkpoint_page", "GET"): ("auditor", "/app/custody/checkpoint", None, 200),
    ("workbench.verify_page", "GET"): ("auditor", "/app/custody/verify?seq=0", None, 200),
}


def test_every_page_is_in_the_table(app: Flask):
    missing = url_map_routes(app, "workbench") - set(PAGES)
    assert not missing, f"workbench routes without a custody coverage entry: {sorted(missing)}"
    assert not set(PAGES) - url_map_routes(app, "workbench"), "entries for routes that are gone"


def _exhibit(world: World) -> int:
    """A complete exhibit of the interview (through the API's tus routes)."""
    interviewer = world.people["interviewer"]
    tus = {"Authorization": f"Bearer {interviewer.token}", "Tus-Resumable": "1.0.0"}
    created = interviewer.client.post(
        f"/api/v1/interviews/{world.interview_id}/exhibits/uploads",
        headers={**tus, "Upload-Length": "10", "Upload-Metadata": "kind b3RoZXI="},
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    exhibit = int(created.headers["Location"].split("/")[-2])
    done = interviewer.client.patch(
        f"/api/v1/exhibits/{exhibit}/upload",
        data=b"0123456789",
        content_type="application/offset+octet-stream",
        headers={**tus, "Upload-Offset": "0"},
    )
    assert done.status_code == 200, done.get_data(as_text=True)  # the last chunk answers the receipt
    return exhibit


def _fill(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("page", sorted(PAGES), ids=lambda p: f"{p[1]} {p[0]}")
def test_page_records_its_own_event(app: Flask, world: World, blob_dir, page):
    role, path, form, status = PAGES[page]
    ok(world.people["interviewer"].post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "v1"}), 201)
    ids = {
        "case": world.case_id,
        "incident": world.incident_id,
        "witness": world.witness_id,
        "interview": world.interview_id,
        "user": world.people["interviewer2"].id,
        **_disclosed(world),
        "pending": _pending_disclosure(app, world),
        "exhibit": _exhibit(world),
    }
    publish(app)
    if page == ("workbench.confirm_totp", "POST"):
        form = _pending_totp_code(world)
    if role is None:
        client = app.test_client()
        csrf = csrf_of(client.get("/app/login").get_data(as_text=True))
    else:
        signed_in = sign_in_client(app, world.people[role].username)
        client, csrf = signed_in.client, signed_in.csrf
    if page == ("workbench.upload_statement", "POST"):
        response = client.post(
            _fill(path, ids),
            content_type="multipart/form-data",
            data={"csrf_token": csrf, "reason": "correction", "file": (BytesIO("Свідчення".encode()), "statement.txt")},
        )
    elif form is not None:
        response = client.post(_fill(path, ids), data={"csrf_token": csrf, **_fill(form, ids)})
    else:
        response = client.get(_fill(path, ids))
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    events = events_of(app, response)
    assert events, f"{page} served without a custody event"
    assert all(e["outcome"] == "allowed" for e in events), events
    assert not any(e["action"].startswith("http.") for e in events), "only the generic fallback event was recorded"
