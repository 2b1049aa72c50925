"""A lawyer's pages of a case: each is the same custody event as the API's read of the same thing,
a witness's identity appears only on an explicit, logged reveal, refusals are the 404 page and are
recorded, and a redaction made with the page's form is the one the API would make."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from casework.db import db
from casework.redactions.models import Redaction
from tests.conftest import World, ok
from tests.helpers import all_events, events_of

STATEMENT = "Interviewer 🎙: Who was there?\r\nW-0001: Oksana Petrenko saw them lead seven prisoners to the quarry."
NAME = "Oksana Petrenko"
IDENTITY = {"full_name": "Olena Protected", "contact": "via NGO liaison", "date_of_birth": "1979-06-14", "notes": None}
CONSENT = {
    "scopes": {
        "record": True,
        "share_with_prosecutors": True,
        "share_with_un_bodies": False,
        "disclose_identity": False,
    },
    "given_at": "2026-03-10T09:00:00Z",
}


def seen(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What a custody event says happened (not when, or which request)."""
    return sorted((e["action"], e["outcome"], e["resource_type"], e["resource_id"], e["case_id"]) for e in events)


def api_events(app: Flask, world: World, name: str, *paths: str) -> list[dict[str, Any]]:
    """The events the API records for the same reads, by the same person."""
    events = []
    for path in paths:
        response = world.people[name].get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:500])
        events += events_of(app, response)
    return events


def redaction_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Redaction))


@pytest.fixture
def stated(world: World) -> World:
    """The world's witness with an identity and consent, and a first transcript version."""
    interviewer = world.people["interviewer"]
    ok(interviewer.patch(f"/api/v1/witnesses/{world.witness_id}", {"identity": IDENTITY}))
    ok(interviewer.post(f"/api/v1/witnesses/{world.witness_id}/consent", CONSENT), 201)
    ok(interviewer.post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": STATEMENT}), 201)
    return world


def test_the_case_page_lists_witnesses_by_pseudonym_and_records_the_api_reads(app, stated: World, signed_in):
    lawyer = signed_in("legal")
    page = lawyer.get(f"/app/cases/{stated.case_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Executions of prisoners, sector 4" in html and "W-0001" in html and "Execution at the quarry" in html
    assert IDENTITY["full_name"] not in html  # never an identity on a listing
    assert f'href="/app/witnesses/{stated.witness_id}"' in html
    assert f'href="/app/interviews/{stated.interview_id}"' in html
    assert f'href="/app/cases/{stated.case_id}/disclosures"' in html
    case = f"/api/v1/cases/{stated.case_id}"
    assert seen(events_of(app, page)) == seen(
        api_events(
            app,
            stated,
            "legal",
            case,
            f"{case}/incidents?limit=200",
            f"{case}/witnesses?limit=200",
            f"{case}/interviews?limit=200",
        )
    )


def test_the_incident_page_shows_place_and_time_with_their_precision(app, world: World, signed_in):
    page = signed_in("legal").get(f"/app/incidents/{world.incident_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for shown in (
        "Execution at the quarry",
        "Quarry",
        "48.5",
        "37.9",
        "within 200 m",
        "to the hour",
        "execution-of-prisoners-of-war",
        "INC-1",
        ">7<",
    ):
        assert shown in html, shown
    assert seen(events_of(app, page)) == seen(
        api_events(
            app,
            world,
            "legal",
            f"/api/v1/incidents/{world.incident_id}",
            f"/api/v1/incidents/{world.incident_id}/exhibits",
        )
    )


def test_the_identity_is_shown_only_on_an_explicit_recorded_reveal(app, stated: World, signed_in):
    lawyer = signed_in("legal")
    page = lawyer.get(f"/app/witnesses/{stated.witness_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "W-0001" in html and IDENTITY["full_name"] not in html
    assert "witness.identity.read" not in [e["action"] for e in events_of(app, page)]
    assert f'hx-post="/app/witnesses/{stated.witness_id}/identity"' in html and "recorded" in html

    revealed = lawyer.post(f"/app/witnesses/{stated.witness_id}/identity", headers={"HX-Request": "true"})
    fragment = revealed.get_data(as_text=True)
    assert revealed.status_code == 200 and IDENTITY["full_name"] in fragment and "<html" not in fragment
    api = api_events(app, stated, "legal", f"/api/v1/witnesses/{stated.witness_id}?include=identity")
    assert seen(events_of(app, revealed)) == seen(api)
    assert [e["action"] for e in events_of(app, revealed)] == ["witness.read", "witness.identity.read"]

    without_script = lawyer.post(f"/app/witnesses/{stated.witness_id}/identity")
    assert without_script.status_code == 200 and "<html" in without_script.get_data(as_text=True)
    assert IDENTITY["full_name"] in without_script.get_data(as_text=True)


def test_a_reveal_without_the_csrf_token_reveals_nothing(app, stated: World, signed_in):
    lawyer = signed_in("legal")
    forged = lawyer.client.post(f"/app/witnesses/{stated.witness_id}/identity", data={"csrf_token": "guess"})
    assert forged.status_code == 403 and IDENTITY["full_name"] not in forged.get_data(as_text=True)
    assert "witness.identity.read" not in [e["action"] for e in all_events(app)]


def test_the_interview_page_shows_versions_with_their_lineage(app, stated: World, signed_in):
    interviewer, legal = stated.people["interviewer"], stated.people["legal"]
    base = f"/api/v1/interviews/{stated.interview_id}/transcripts"
    ok(
        interviewer.post(
            base,
            {
                "text": "Переклад.",
                "translation_of": {"version": 1, "translator": "T. Kovalenko", "method": "human", "certified": True},
            },
        ),
        201,
    )
    redaction = ok(
        legal.post(
            f"{base}/1/redactions",
            {"spans": [{"start": 0, "end": 11, "category": "staff_identity", "legal_basis": "Rule 81(4) RPE"}]},
        ),
        201,
    )
    page = signed_in("legal").get(f"/app/interviews/{stated.interview_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'href="/app/interviews/{stated.interview_id}/transcripts/1"' in html
    assert "Translates" in html and "Translated as" in html and "certified" in html
    assert f'href="/app/redactions/{redaction["id"]}"' in html and "W-0001" in html
    assert seen(events_of(app, page)) == seen(
        api_events(
            app,
            stated,
            "legal",
            f"/api/v1/interviews/{stated.interview_id}",
            f"/api/v1/witnesses/{stated.witness_id}",
            f"{base}?limit=200",
            f"{base}/1/redactions?limit=200",
            f"{base}/2/redactions?limit=200",
            f"/api/v1/interviews/{stated.interview_id}/exhibits?limit=200",
        )
    )


def test_the_transcript_page_is_the_api_content_read(app, stated: World, signed_in):
    page = signed_in("legal").get(f"/app/interviews/{stated.interview_id}/transcripts/1")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # The text, character for character: a carriage return survives as a reference, not as markup.
    assert 'class="transcript" dir="auto"' in html and "Oksana Petrenko saw them" in html
    assert "&#13;\n" in html and "\r" not in html
    page_read = [e for e in events_of(app, page) if e["action"] == "transcript.read"]
    api_read = [
        e
        for e in api_events(app, stated, "legal", f"/api/v1/interviews/{stated.interview_id}/transcripts/1")
        if e["action"] == "transcript.read"
    ]
    assert seen(page_read) == seen(api_read) and len(page_read) == 1
    assert page_read[0]["details"]["keyed_sha256"] == api_read[0]["details"]["keyed_sha256"]
    assert {e["action"] for e in events_of(app, page)} == {"transcript.read", "redaction.list"}


@pytest.mark.parametrize(
    "path, action",
    [
        ("/app/cases/{case}", "case.read"),
        ("/app/incidents/{incident}", "incident.read"),
        ("/app/witnesses/{witness}", "witness.read"),
        ("/app/interviews/{interview}", "interview.read"),
        ("/app/interviews/{interview}/transcripts/1", "transcript.read"),
    ],
)
def test_an_outsider_gets_the_not_found_page_and_the_refusal_is_recorded(app, stated: World, signed_in, path, action):
    url = path.format(
        case=stated.case_id, incident=stated.incident_id, witness=stated.witness_id, interview=stated.interview_id
    )
    refused = signed_in("outsider").get(url)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 404 and 'data-problem="not-found"' in html
    assert NAME not in html and "W-0001" not in html
    [event] = events_of(app, refused)
    assert (event["action"], event["outcome"]) == (action, "denied")


def test_an_outsider_cannot_reveal_an_identity(app, stated: World, signed_in):
    refused = signed_in("outsider").post(f"/app/witnesses/{stated.witness_id}/identity")
    assert refused.status_code == 404 and IDENTITY["full_name"] not in refused.get_data(as_text=True)
    assert [(e["action"], e["outcome"]) for e in events_of(app, refused)] == [("witness.read", "denied")]


def _span(text: str, category: str) -> dict[str, Any]:
    start = STATEMENT.index(text)  # code points: the emoji counts once
    return {"start": start, "end": start + len(text), "category": category, "legal_basis": "Rule 81(4) RPE"}


def test_a_redaction_made_with_the_form_is_the_one_the_api_makes(app, stated: World, signed_in):
    spans = [_span(NAME, "witness_identity"), _span("the quarry", "location")]
    lawyer = signed_in("legal")
    url = f"/app/interviews/{stated.interview_id}/transcripts/1/redactions"
    # As the script sends it: the listed spans, then the editor row left with only a category.
    made = lawyer.post(
        url,
        {
            "span_start": [str(s["start"]) for s in spans] + [""],
            "span_end": [str(s["end"]) for s in spans] + [""],
            "span_category": [s["category"] for s in spans] + [""],
            "span_legal_basis": [s["legal_basis"] for s in spans] + [""],
        },
    )
    assert made.status_code == 303, made.get_data(as_text=True)[:2000]
    [created] = [e for e in events_of(app, made) if e["action"] == "redaction.create"]
    redaction_id = created["details"]["created_redaction"]
    assert made.headers["Location"] == f"/app/redactions/{redaction_id}?created=1"
    through_api = ok(
        stated.people["legal"].post(
            f"/api/v1/interviews/{stated.interview_id}/transcripts/1/redactions", {"spans": spans}
        ),
        201,
    )
    mine = ok(stated.people["legal"].get(f"/api/v1/redactions/{redaction_id}"))
    assert mine["spans"] == through_api["spans"] and mine["text"] == through_api["text"]
    assert "[REDACTED:witness_identity] saw them" in mine["text"] and NAME not in mine["text"]
    api_create = list(
        events_of(
            app,
            stated.people["legal"].post(
                f"/api/v1/interviews/{stated.interview_id}/transcripts/1/redactions", {"spans": spans}
            ),
        )
    )
    assert [e["action"] for e in events_of(app, made)] == [e["action"] for e in api_create]
    assert set(created["details"]) == set(api_create[0]["details"])

    page = lawyer.get(f"/app/redactions/{redaction_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "[REDACTED:witness_identity]" in html and NAME not in html
    assert seen(events_of(app, page)) == seen(api_events(app, stated, "legal", f"/api/v1/redactions/{redaction_id}"))


def test_offsets_typed_without_script_work_and_a_broken_rule_shows_beside_the_form(app, stated: World, signed_in):
    lawyer = signed_in("legal")
    url = f"/app/interviews/{stated.interview_id}/transcripts/1/redactions"
    name = _span(NAME, "witness_identity")
    overlapping = lawyer.post(
        url,
        {
            "span_start": [str(name["start"]), str(name["start"] + 2)],
            "span_end": [str(name["end"]), str(name["end"] + 2)],
            "span_category": ["witness_identity", "other"],
            "span_legal_basis": ["Rule 81(4) RPE", "r"],
        },
    )
    html = overlapping.get_data(as_text=True)
    assert overlapping.status_code == 422 and 'role="alert"' in html and "Overlaps span" in html
    assert f'value="{name["start"] + 2}"' in html  # the spans sent are kept
    missing = lawyer.post(url, {"span_start": "3", "span_end": "", "span_category": "other", "span_legal_basis": "r"})
    assert missing.status_code == 422 and "end" in missing.get_data(as_text=True)
    assert redaction_count(app) == 0
    typed = lawyer.post(
        url,
        {
            "span_start": str(name["start"]),
            "span_end": str(name["end"]),
            "span_category": "witness_identity",
            "span_legal_basis": "Rule 81(4) RPE",
        },
    )
    assert typed.status_code == 303 and redaction_count(app) == 1


def test_a_redaction_needs_the_csrf_token_and_a_lawyer(app, stated: World, signed_in):
    url = f"/app/interviews/{stated.interview_id}/transcripts/1/redactions"
    form = {"span_start": "0", "span_end": "5", "span_category": "other", "span_legal_basis": "r"}
    lawyer = signed_in("legal")
    forged = lawyer.client.post(url, data={**form, "csrf_token": "guess"})
    assert forged.status_code == 403 and 'data-problem="csrf"' in forged.get_data(as_text=True)
    interviewer = signed_in("interviewer")
    refused = interviewer.post(url, form)
    assert refused.status_code in (403, 404) and "data-problem" in refused.get_data(as_text=True)
    assert ("redaction.create", "denied") in [(e["action"], e["outcome"]) for e in events_of(app, refused)]
    outsider = signed_in("outsider").post(url, form)
    assert outsider.status_code == 404
    assert redaction_count(app) == 0
    transcript = interviewer.get(f"/app/interviews/{stated.interview_id}/transcripts/1")
    assert transcript.status_code == 200 and "redaction-form" not in transcript.get_data(as_text=True)
