"""The auditor's pages through a signed-in test client: each records what the API records for
the same read, filters by the API's own schema (a bad filter is a 422 page with the form), pages by
the one cursor scheme, and refuses (and records) everyone else as the API does."""

from __future__ import annotations

import re

import pytest

from tests.conftest import World, ok
from tests.helpers import events_of, publish

KEYS = ("action", "outcome", "resource_type", "resource_id", "case_id", "witness_id", "details")


def same_record(app, page, api) -> list[dict]:
    """The page's custody events are the API's for the same read, field for field."""
    recorded = events_of(app, page)
    expected = events_of(app, api)
    assert [{k: e[k] for k in KEYS} for e in recorded] == [{k: e[k] for k in KEYS} for e in expected]
    return recorded


def rows(html: str) -> list[str]:
    """The seq of each timeline row, in order."""
    return re.findall(r'<th scope="row">(\d+)</th>', html)


def reads_of_the_witness(world: World) -> None:
    for reader in ("legal", "interviewer2", "legal"):
        ok(world.people[reader].get(f"/api/v1/interviews/{world.interview_id}"))
    world.people["outsider"].get(f"/api/v1/interviews/{world.interview_id}")  # refused, still about the witness


def test_timeline_is_the_api_listing_with_its_filters(app, world: World, signed_in):
    reads_of_the_witness(world)
    auditor = signed_in("auditor")
    query = f"action=interview.read&witness_id={world.witness_id}&outcome=allowed"
    page = auditor.get(f"/app/custody?{query}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    api = world.people["auditor"].get(f"/api/v1/custody/events?{query}")
    [event] = same_record(app, page, api)
    assert event["action"] == "custody.events.list" and event["outcome"] == "allowed"
    assert event["details"]["filters"] == ["action", "outcome", "witness_id"]
    assert rows(html) == [str(e["seq"]) for e in api.get_json()["items"]] and len(rows(html)) == 3
    assert "outsider" not in html and 'value="interview.read"' in html  # the filter form keeps its values
    assert 'href="/app/custody/verify?seq=' in html  # each row links to its proof
    refused = auditor.get("/app/custody?action=interview.read&outcome=denied&actor=outsider")
    assert len(rows(refused.get_data(as_text=True))) == 1 and "refused" in refused.get_data(as_text=True)
    none = auditor.get("/app/custody?since=2999-01-01T00:00:00Z").get_data(as_text=True)
    assert rows(none) == [] and "No event matches these filters." in none


def test_pages_follow_the_one_cursor(app, world: World, signed_in):
    auditor = signed_in("auditor")
    first = auditor.get("/app/custody?limit=3").get_data(as_text=True)
    assert rows(first) == ["0", "1", "2"]
    next_url = re.search(r'<a href="([^"]+)" rel="next">', first).group(1).replace("&amp;", "&")
    assert "limit=3" in next_url and "cursor=" in next_url
    second = auditor.get(next_url).get_data(as_text=True)
    api = ok(world.people["auditor"].get("/api/v1/custody/events?limit=3"))
    assert rows(second) == [
        str(e["seq"])
        for e in ok(world.people["auditor"].get(f"/api/v1/custody/events?limit=3&cursor={api['next_cursor']}"))["items"]
    ]
    assert "First page" in second
    # A time window pages in time order, by the same cursor.
    windowed = auditor.get("/app/custody?limit=2&since=2000-01-01T00:00:00Z").get_data(as_text=True)
    assert rows(windowed) == ["0", "1"] and "cursor=" in windowed


@pytest.mark.parametrize(
    "query", ["outcome=maybe", "witness_id=0", "since=yesterday", "limit=5000", "cursor=not-a-cursor"]
)
def test_a_bad_filter_is_a_422_page_with_the_form(app, world: World, signed_in, query):
    auditor = signed_in("auditor")
    page = auditor.get(f"/app/custody?{query}")
    assert page.status_code == 422, page.get_data(as_text=True)[:500]
    html = page.get_data(as_text=True)
    assert 'role="alert"' in html and 'id="f-action"' in html and "<h1>Custody log</h1>" in html
    api = world.people["auditor"].get(f"/api/v1/custody/events?{query}")
    assert api.status_code == 422
    # Refused before the service (an HTTP-level record named after the route), or by it (a bad cursor).
    [recorded], [expected] = events_of(app, page), events_of(app, api)
    assert recorded["outcome"] == expected["outcome"]
    assert recorded["action"] == expected["action"] or (recorded["action"], expected["action"]) == (
        "http.workbench.custody_timeline",
        "http.custody.list_events",
    )


def test_htmx_gets_the_results_alone(app, world: World, signed_in):
    auditor = signed_in("auditor")
    partial = auditor.get("/app/custody?action=case.create", headers={"HX-Request": "true"})
    html = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in html and "<table" in html
    assert "HX-Request" in partial.headers["Vary"]
    refused = auditor.get("/app/custody?outcome=maybe", headers={"HX-Request": "true"})
    assert refused.status_code == 422 and "<html" not in refused.get_data(as_text=True)
    assert 'role="alert"' in refused.get_data(as_text=True)


def test_who_read_a_witness(app, world: World, signed_in):
    reads_of_the_witness(world)
    auditor = signed_in("auditor")
    page = auditor.get(f"/app/custody/witnesses/{world.witness_id}?action=interview.read")
    assert page.status_code == 200
    api = world.people["auditor"].get(f"/api/v1/custody/events?witness_id={world.witness_id}&action=interview.read")
    same_record(app, page, api)
    html = page.get_data(as_text=True)
    assert f"Who accessed witness {world.witness_id}" in html and 'id="f-witness_id"' not in html
    assert rows(html) == [str(e["seq"]) for e in api.get_json()["items"]] and len(rows(html)) == 4
    for reader in ("legal", "interviewer2", "outsider"):
        assert f">{reader}</a>" in html
    assert auditor.get("/app/custody/witnesses/0").status_code == 422  # the API's id range


def test_everything_a_user_did(app, world: World, signed_in):
    reads_of_the_witness(world)
    auditor = signed_in("auditor")
    outsider = world.people["outsider"]
    page = auditor.get(f"/app/custody/users/{outsider.id}")
    api = world.people["auditor"].get(f"/api/v1/custody/events?actor_id={outsider.id}")
    same_record(app, page, api)
    html = page.get_data(as_text=True)
    assert rows(html) == [str(e["seq"]) for e in api.get_json()["items"]]
    assert {e["actor_username"] for e in api.get_json()["items"]} == {"outsider"}
    assert "interview.read" in html and "case.create" in html
    narrowed = auditor.get(f"/app/custody/users/{outsider.id}?outcome=denied").get_data(as_text=True)
    assert len(rows(narrowed)) == 1


def test_the_checkpoint_with_its_signature(app, world: World, signed_in):
    auditor = signed_in("auditor")
    none = auditor.get("/app/custody/checkpoint")
    assert none.status_code == 404 and 'data-problem="no-checkpoint"' in none.get_data(as_text=True)
    publish(app)
    page = auditor.get("/app/custody/checkpoint")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    api_checkpoint = world.people["auditor"].get("/api/v1/custody/checkpoint")
    api_key = world.people["auditor"].get("/api/v1/custody/public-key")
    recorded = events_of(app, page)
    assert [e["action"] for e in recorded] == ["custody.checkpoint.read", "custody.key.read"]
    assert recorded[0]["details"] == events_of(app, api_checkpoint)[0]["details"]
    assert recorded[1]["details"] == events_of(app, api_key)[0]["details"]
    signed = api_checkpoint.get_data(as_text=True)
    origin, size, root_b64 = signed.split("\n")[:3]
    assert f"<code>{origin}</code>" in html and f"{size} (events 0 to {int(size) - 1})" in html and root_b64 in html
    assert "the Ed25519 signature verifies under the log's public key" in html
    assert 'data-cosignatures="none"' in html
    assert api_key.get_data(as_text=True).strip() in html


@pytest.mark.parametrize("role", ["legal", "interviewer", "admin"])
def test_only_auditors_see_the_log(app, world: World, signed_in, role):
    publish(app)
    browser = signed_in(role)
    assert "/app/custody" not in browser.get("/app/").get_data(as_text=True)  # no menu link
    for path, api_path in (
        ("/app/custody", "/api/v1/custody/events"),
        (f"/app/custody/witnesses/{world.witness_id}", f"/api/v1/custody/events?witness_id={world.witness_id}"),
        (
            f"/app/custody/users/{world.people['legal'].id}",
            f"/api/v1/custody/events?actor_id={world.people['legal'].id}",
        ),
        ("/app/custody/checkpoint", "/api/v1/custody/checkpoint"),
        ("/app/custody/verify?seq=0", "/api/v1/custody/checkpoint"),
    ):
        page = browser.get(path)
        assert page.status_code == 403, (path, page.status_code)
        assert 'data-problem="forbidden"' in page.get_data(as_text=True)
        api = world.people[role].get(api_path)
        assert api.status_code == 403
        [event] = same_record(app, page, api)
        assert event["outcome"] == "denied"


def test_the_menu_leads_auditors_to_the_log(app, world: World, signed_in):
    home = signed_in("auditor").get("/app/").get_data(as_text=True)
    for link in ('href="/app/custody"', 'href="/app/custody/checkpoint"', 'href="/app/custody/verify"'):
        assert link in home


def test_the_verify_page_reads_the_event_as_the_api(app, world: World, signed_in):
    early = signed_in("auditor").get("/app/custody/verify")
    assert early.status_code == 200 and 'data-problem="no-checkpoint"' in early.get_data(as_text=True)
    publish(app)
    auditor = signed_in("auditor")
    form = auditor.get("/app/custody/verify")
    assert form.status_code == 200 and "data-verify" not in form.get_data(as_text=True)
    same_record(app, form, world.people["auditor"].get("/api/v1/custody/checkpoint"))  # to say what it covers
    size = int(world.people["auditor"].get("/api/v1/custody/checkpoint").get_data(as_text=True).split("\n")[1])
    assert f"covers events 0 to {size - 1}." in form.get_data(as_text=True)
    page = auditor.get("/app/custody/verify?seq=3")
    assert page.status_code == 200
    recorded = events_of(app, page)
    assert [e["action"] for e in recorded] == ["custody.checkpoint.read", "custody.event.read"]
    api = world.people["auditor"].get("/api/v1/custody/events/3")
    assert {k: recorded[1][k] for k in KEYS} == {k: events_of(app, api)[0][k] for k in KEYS}
    html = page.get_data(as_text=True)
    assert api.get_json()["leaf_hash"] in html and 'data-seq="3"' in html
    assert 'data-event-url="/api/v1/custody/events/3"' in html and "verify.js" in html
    assert auditor.get("/app/custody/verify?seq=-1").status_code == 422
    assert auditor.get("/app/custody/verify?seq=many").status_code == 422
    missing = auditor.get("/app/custody/verify?seq=999999")
    assert missing.status_code == 404 and 'data-problem="not-found"' in missing.get_data(as_text=True)
