"""Disclosures in the browser: each item's decision and reason shown before anything is sent (and
nothing stored by looking), sending and approving as the API does, the proposer refused with the
403 page, the register and the bundle through the session."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from casework.db import db
from casework.disclosure.models import Disclosure
from tests.conftest import World, add_lawyer, ok
from tests.helpers import events_of
from tests.workbench.test_case_pages import seen

PURPOSE = "Request for assistance no. 22/4417"


def disclosure_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Disclosure))


@pytest.fixture
def scene(world: World) -> dict[str, Any]:
    """W-0001 consents to prosecutors (identity: no) and has a redacted statement; W-0002 has no consent."""
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    ok(interviewer.patch(f"/api/v1/witnesses/{world.witness_id}", {"identity": {"full_name": "Olena Protected"}}))
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{world.witness_id}/consent",
            {
                "scopes": {
                    "record": True,
                    "share_with_prosecutors": True,
                    "share_with_un_bodies": False,
                    "disclose_identity": False,
                },
                "given_at": "2026-03-10T09:00:00Z",
            },
        ),
        201,
    )
    ok(
        interviewer.post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "Oksana saw the quarry."}),
        201,
    )
    redaction = ok(
        legal.post(
            f"/api/v1/interviews/{world.interview_id}/transcripts/1/redactions",
            {"spans": [{"start": 0, "end": 6, "category": "witness_identity", "legal_basis": "Rule 81(4) RPE"}]},
        ),
        201,
    )
    second = ok(
        interviewer.post(f"/api/v1/cases/{world.case_id}/witnesses", {"witness_type": "victim", "risk_level": "low"}),
        201,
    )
    interview = ok(
        interviewer.post(
            f"/api/v1/cases/{world.case_id}/interviews",
            {"witness_id": second["id"], "conducted_at": "2026-03-11T10:00:00Z", "language": "uk"},
        ),
        201,
    )
    ok(interviewer.post(f"/api/v1/interviews/{interview['id']}/transcripts", {"text": "W2 heard shots."}), 201)
    return {
        "world": world,
        "redaction_id": redaction["id"],
        "second_witness": second["id"],
        "second_interview": interview["id"],
    }


def form_of(scene: dict[str, Any], kind: str = "prosecutor") -> dict[str, Any]:
    """The builder's fields, and the API body they stand for."""
    world = scene["world"]
    items = [
        f"transcript_version:{world.interview_id}:1",
        f"redaction:{scene['redaction_id']}",
        f"incident:{world.incident_id}",
        f"transcript_version:{scene['second_interview']}:1",
        f"witness_identity:{world.witness_id}",
    ]
    return {
        "recipient_kind": kind,
        "recipient_name": "Investigations Division",
        "recipient_organisation": "Office of the Prosecutor General",
        "purpose": PURPOSE,
        "item": items,
    }


def body_of(scene: dict[str, Any], kind: str = "prosecutor") -> dict[str, Any]:
    world = scene["world"]
    return {
        "recipient": {
            "name": "Investigations Division",
            "organisation": "Office of the Prosecutor General",
            "kind": kind,
        },
        "purpose": PURPOSE,
        "items": [
            {"kind": "transcript_version", "interview_id": world.interview_id, "version": 1},
            {"kind": "redaction", "redaction_id": scene["redaction_id"]},
            {"kind": "incident", "incident_id": world.incident_id},
            {"kind": "transcript_version", "interview_id": scene["second_interview"], "version": 1},
            {"kind": "witness_identity", "witness_id": world.witness_id},
        ],
    }


def decisions(disclosure: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(item["item_ref"], item["decision"], item["reason"]) for item in disclosure["items"]]


def test_the_builder_offers_every_kind_of_item(app, scene, signed_in):
    world = scene["world"]
    page = signed_in("legal").get(f"/app/cases/{world.case_id}/disclosures/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for value in form_of(scene)["item"]:
        assert f'value="{value}"' in html, value
    assert "Identity of W-0001" in html and "Olena Protected" not in html
    assert {e["action"] for e in events_of(app, page)} == {
        "case.read",
        "incident.list",
        "witness.list",
        "interview.list",
        "exhibit.list",
        "transcript.list",
        "redaction.list",
    }


def test_the_check_shows_each_decision_and_why_before_anything_is_sent(app, scene, signed_in):
    world = scene["world"]
    lawyer = signed_in("legal")
    checked = lawyer.post(
        f"/app/cases/{world.case_id}/disclosures/preview", form_of(scene), headers={"HX-Request": "true"}
    )
    html = checked.get_data(as_text=True)
    assert checked.status_code == 200 and "<html" not in html
    assert "3 included, 2 excluded" in html
    assert "consent_scope_missing:disclose_identity" in html and "no_consent_record" in html
    assert "No consent is on record for this witness." in html
    # Version 1 has a redaction: sent unredacted, even beside its redaction, it needs a second lawyer.
    assert "A transcript version that has a redaction would be sent unredacted." in html
    assert 'data-testid="unused-redactions"' not in html  # its redaction goes too
    assert "Send for approval" in html
    assert disclosure_count(app) == 0  # nothing stored by looking
    [event] = events_of(app, checked)
    assert (event["action"], event["outcome"], event["resource_type"]) == ("disclosure.preview", "allowed", "case")
    assert event["details"]["preview"]["recipient_kind"] == "prosecutor"
    assert "Investigations Division" not in str(event["details"])
    # The same decisions as the API then makes.
    made = ok(world.people["legal"].post(f"/api/v1/cases/{world.case_id}/disclosures", body_of(scene)), 202)
    assert re.findall(r'data-decision="(\w+)"', html) == [decision for _, decision, _ in decisions(made)]
    assert all(f'class="reason-code mono">{reason}<' in html for _, _, reason in decisions(made))
    # Without script: the builder again, the choices kept, the check beside them.
    whole = lawyer.post(f"/app/cases/{world.case_id}/disclosures/preview", form_of(scene))
    page = whole.get_data(as_text=True)
    assert whole.status_code == 200 and "<html" in page and "3 included, 2 excluded" in page
    assert f'value="incident:{world.incident_id}" id="item-incident-{world.incident_id}" checked' in page
    assert 'value="Investigations Division"' in page


def test_the_check_names_a_second_lawyer_and_unused_redactions(app, scene, signed_in):
    world = scene["world"]
    form = {**form_of(scene, "defence"), "item": [f"transcript_version:{world.interview_id}:1"]}
    checked = signed_in("legal").post(
        f"/app/cases/{world.case_id}/disclosures/preview", form, headers={"HX-Request": "true"}
    )
    html = checked.get_data(as_text=True)
    assert "A transcript version that has a redaction would be sent unredacted." in html
    assert "Anything sent to the defence needs a second lawyer." in html
    assert 'data-testid="unused-redactions"' in html and f"/app/redactions/{scene['redaction_id']}" in html
    assert "Send for approval" in html


def test_a_refused_check_shows_beside_the_form_and_records(app, scene, signed_in):
    world = scene["world"]
    bad = {**form_of(scene), "recipient_kind": "", "item": ["incident:999999"]}
    refused = signed_in("legal").post(
        f"/app/cases/{world.case_id}/disclosures/preview", bad, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 422 and 'role="alert"' in refused.get_data(as_text=True)
    staff = {**form_of(scene), "include_staff_identity": "on"}
    refused = signed_in("legal").post(
        f"/app/cases/{world.case_id}/disclosures/preview", staff, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 422 and "Only for a court" in refused.get_data(as_text=True)
    assert disclosure_count(app) == 0


def test_sending_with_the_form_is_the_api_create(app, scene, signed_in):
    world = scene["world"]
    sent = signed_in("legal").post(f"/app/cases/{world.case_id}/disclosures", form_of(scene))
    assert sent.status_code == 303, sent.get_data(as_text=True)[:2000]
    [created] = [e for e in events_of(app, sent) if e["action"] == "disclosure.create"]
    disclosure_id = created["details"]["created_disclosure"]
    assert sent.headers["Location"] == f"/app/disclosures/{disclosure_id}?sent=1"
    mine = ok(world.people["legal"].get(f"/api/v1/disclosures/{disclosure_id}"))
    through_api = world.people["legal"].post(f"/api/v1/cases/{world.case_id}/disclosures", body_of(scene))
    theirs = ok(through_api, 202)
    assert [d[1:] for d in decisions(mine)] == [d[1:] for d in decisions(theirs)]
    assert [e["action"] for e in events_of(app, sent)] == [e["action"] for e in events_of(app, through_api)]
    page = signed_in("legal").get(sent.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "waits for a second lawyer" in html
    assert seen(events_of(app, page)) == seen(
        events_of(app, world.people["legal"].get(f"/api/v1/disclosures/{disclosure_id}"))
    )


def test_sending_needs_the_csrf_token_and_a_lawyer_of_the_case(app, scene, signed_in):
    world = scene["world"]
    url = f"/app/cases/{world.case_id}/disclosures"
    forged = signed_in("legal").client.post(url, data={**form_of(scene), "csrf_token": "guess"})
    assert forged.status_code == 403 and 'data-problem="csrf"' in forged.get_data(as_text=True)
    interviewer = signed_in("interviewer").post(url, form_of(scene))
    assert interviewer.status_code == 403
    assert ("disclosure.create", "denied") in [(e["action"], e["outcome"]) for e in events_of(app, interviewer)]
    outsider = signed_in("outsider")
    assert outsider.post(url, form_of(scene)).status_code == 404
    for path in (f"/app/cases/{world.case_id}/disclosures/new", f"/app/cases/{world.case_id}/disclosures"):
        refused = outsider.get(path)
        assert refused.status_code == 404 and 'data-problem="not-found"' in refused.get_data(as_text=True)
        assert [e["outcome"] for e in events_of(app, refused)] == ["denied"]
    assert disclosure_count(app) == 0


def test_the_proposer_cannot_approve_a_second_lawyer_does(app, scene, signed_in):
    world = scene["world"]
    add_lawyer(app, world)
    proposer = signed_in("legal")
    sent = proposer.post(f"/app/cases/{world.case_id}/disclosures", form_of(scene, "defence"))
    disclosure_id = int(sent.headers["Location"].split("/")[-1].split("?")[0])
    page = proposer.get(f"/app/disclosures/{disclosure_id}").get_data(as_text=True)
    assert "waiting for approval" in page and "Anything sent to the defence needs a second lawyer." in page
    assert "/bundle" not in page
    refused = proposer.post(f"/app/disclosures/{disclosure_id}/approve")
    assert refused.status_code == 403 and "another lawyer of the case must" in refused.get_data(as_text=True)
    assert ok(world.people["legal"].get(f"/api/v1/disclosures/{disclosure_id}"))["status"] == "pending"
    assert (
        proposer.client.post(f"/app/disclosures/{disclosure_id}/approve", data={"csrf_token": "guess"}).status_code
        == 403
    )

    second = signed_in("legal2")
    waiting = second.get("/app/approvals")
    assert waiting.status_code == 200 and f'href="/app/disclosures/{disclosure_id}"' in waiting.get_data(as_text=True)
    assert {e["action"] for e in events_of(app, waiting)} == {"case.list", "disclosure.list"}
    mine = proposer.get("/app/approvals").get_data(as_text=True)
    assert "Nothing is waiting for your approval." in mine and f"/app/disclosures/{disclosure_id}" in mine
    approved = second.post(f"/app/disclosures/{disclosure_id}/approve")
    assert approved.status_code == 303 and approved.headers["Location"].endswith("?approved=1")
    assert [e["action"] for e in events_of(app, approved)] == ["disclosure.approve"]
    assert ok(world.people["legal"].get(f"/api/v1/disclosures/{disclosure_id}"))["status"] == "approved"
    released = second.get(approved.headers["Location"]).get_data(as_text=True)
    assert "You approved this disclosure." in released
    assert f'href="/api/v1/disclosures/{disclosure_id}/bundle"' in released
    again = second.post(f"/app/disclosures/{disclosure_id}/approve")
    assert again.status_code == 409 and 'role="alert"' in again.get_data(as_text=True)
    # The bundle: the API's route, with the session cookie.
    bundle = second.get(f"/api/v1/disclosures/{disclosure_id}/bundle")
    assert bundle.status_code == 200 and bundle.mimetype == "application/zip"


def test_the_register_is_the_api_register(app, scene, signed_in):
    world = scene["world"]
    ok(world.people["legal"].post(f"/api/v1/cases/{world.case_id}/disclosures", body_of(scene)), 202)
    page = signed_in("legal").get(f"/app/cases/{world.case_id}/disclosures")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Investigations Division" in html and "3 included, 2 excluded" in html
    assert seen(events_of(app, page)) == seen(
        events_of(app, world.people["legal"].get(f"/api/v1/cases/{world.case_id}"))
        + events_of(app, world.people["legal"].get(f"/api/v1/cases/{world.case_id}/disclosures"))
    )


def test_the_purpose_is_shown_on_request_and_recorded(app, scene, signed_in):
    world = scene["world"]
    made = ok(world.people["legal"].post(f"/api/v1/cases/{world.case_id}/disclosures", body_of(scene)), 202)
    lawyer = signed_in("legal")
    plain = lawyer.get(f"/app/disclosures/{made['id']}").get_data(as_text=True)
    assert PURPOSE not in plain and "include=purpose" in plain
    shown = lawyer.get(f"/app/disclosures/{made['id']}?include=purpose")
    assert PURPOSE in shown.get_data(as_text=True)
    assert [e["action"] for e in events_of(app, shown)] == ["disclosure.read", "disclosure.purpose.read"]


def test_every_lawyer_page_is_under_the_strict_policy(app, scene, signed_in):
    from casework.workbench.blueprint import CONTENT_SECURITY_POLICY

    world = scene["world"]
    made = ok(world.people["legal"].post(f"/api/v1/cases/{world.case_id}/disclosures", body_of(scene)), 202)
    lawyer = signed_in("legal")
    for path in (
        f"/app/cases/{world.case_id}",
        f"/app/incidents/{world.incident_id}",
        f"/app/witnesses/{world.witness_id}",
        f"/app/interviews/{world.interview_id}",
        f"/app/interviews/{world.interview_id}/transcripts/1",
        f"/app/redactions/{scene['redaction_id']}",
        f"/app/cases/{world.case_id}/disclosures",
        f"/app/cases/{world.case_id}/disclosures/new",
        f"/app/disclosures/{made['id']}",
        "/app/approvals",
    ):
        page = lawyer.get(path)
        assert page.status_code == 200, path
        assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
        html = page.get_data(as_text=True)
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
        assert all('src="/app/static/' in attrs and not body.strip() for attrs, body in scripts), path
        assert "<style" not in html and " style=" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path
        assert all(
            link.startswith(("/app/", "/api/v1/", "#", "?"))
            for link in re.findall(r'(?:src|href|action)="([^"]+)"', html)
        ), path
