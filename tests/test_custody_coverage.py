"""Every route records custody events; a route that does not is refused at run time and here.

The table below must name every (endpoint, method) of the URL map: a new route without an
entry fails ``test_every_route_is_in_the_table``, and an entry whose successful request
leaves no event of its own fails ``test_route_records_its_own_event``.
"""
from __future__ import annotations

import pytest
from flask import Flask

from casework.custody.recorder import EXEMPT_ENDPOINTS
from tests.conftest import PASSWORD, World, make_app
from tests.helpers import events_of

# (endpoint, method) -> (role, path, json body, expected status)
ROUTES = {
    ("auth.login", "POST"): (None, "/api/v1/auth/login", {"username": "legal", "password": PASSWORD}, 200),
    ("auth.logout", "POST"): ("legal", "/api/v1/auth/logout", None, 204),
    ("auth.me", "GET"): ("legal", "/api/v1/auth/me", None, 200),
    ("auth.create_token", "POST"): ("legal", "/api/v1/auth/tokens", {"name": "t"}, 201),
    ("auth.list_tokens", "GET"): ("legal", "/api/v1/auth/tokens", None, 200),
    ("auth.revoke_token", "DELETE"): ("admin", "/api/v1/auth/tokens/{token}", None, 204),
    ("users.create_user", "POST"): ("admin", "/api/v1/users",
                                    {"username": "newbie", "password": "long enough password", "role": "legal"}, 201),
    ("users.list_users", "GET"): ("admin", "/api/v1/users", None, 200),
    ("users.get_user", "GET"): ("admin", "/api/v1/users/{user}", None, 200),
    ("users.update_user", "PATCH"): ("admin", "/api/v1/users/{user}", {"display_name": "X"}, 200),
    ("cases.create_case", "POST"): ("legal", "/api/v1/cases", {"title": "c"}, 201),
    ("cases.list_cases", "GET"): ("legal", "/api/v1/cases", None, 200),
    ("cases.get_case", "GET"): ("legal", "/api/v1/cases/{case}", None, 200),
    ("cases.update_case", "PATCH"): ("legal", "/api/v1/cases/{case}", {"status": "open"}, 200),
    ("cases.add_member", "PUT"): ("admin", "/api/v1/cases/{case}/members/{user}", None, 200),
    ("cases.remove_member", "DELETE"): ("admin", "/api/v1/cases/{case}/members/{user}", None, 204),
    ("incidents.create_incident", "POST"): ("legal", "/api/v1/cases/{case}/incidents", {"reference": "N", "title": "n"}, 201),
    ("incidents.list_incidents", "GET"): ("legal", "/api/v1/cases/{case}/incidents", None, 200),
    ("incidents.get_incident", "GET"): ("legal", "/api/v1/incidents/{incident}", None, 200),
    ("incidents.update_incident", "PATCH"): ("legal", "/api/v1/incidents/{incident}", {"title": "u"}, 200),
    ("witnesses.create_witness", "POST"): ("interviewer", "/api/v1/cases/{case}/witnesses",
                                           {"witness_type": "victim", "risk_level": "low"}, 201),
    ("witnesses.list_witnesses", "GET"): ("legal", "/api/v1/cases/{case}/witnesses", None, 200),
    ("witnesses.get_witness", "GET"): ("legal", "/api/v1/witnesses/{witness}", None, 200),
    ("witnesses.update_witness", "PATCH"): ("interviewer", "/api/v1/witnesses/{witness}", {"risk_level": "low"}, 200),
    ("interviews.create_interview", "POST"): ("interviewer", "/api/v1/cases/{case}/interviews",
                                              {"witness_id": "{witness}", "conducted_at": "2026-01-01T00:00:00Z",
                                               "language": "en"}, 201),
    ("interviews.list_interviews", "GET"): ("legal", "/api/v1/cases/{case}/interviews", None, 200),
    ("interviews.get_interview", "GET"): ("legal", "/api/v1/interviews/{interview}", None, 200),
    ("interviews.update_interview", "PATCH"): ("interviewer", "/api/v1/interviews/{interview}", {"language": "fr"}, 200),
    ("transcripts.upload_transcript", "POST"): ("interviewer", "/api/v1/interviews/{interview}/transcripts",
                                                {"text": "v2", "reason": "correction"}, 201),
    ("transcripts.list_transcripts", "GET"): ("legal", "/api/v1/interviews/{interview}/transcripts", None, 200),
    ("transcripts.read_transcript", "GET"): ("legal", "/api/v1/interviews/{interview}/transcripts/1", None, 200),
    ("witnesses.record_consent", "POST"): ("interviewer", "/api/v1/witnesses/{witness}/consent",
                                           {"scopes": {"record": True, "share_with_prosecutors": True,
                                                       "share_with_un_bodies": True, "disclose_identity": False},
                                            "given_at": "2026-01-01T00:00:00Z"}, 201),
    ("casefile.case_file", "GET"): ("legal", "/api/v1/cases/{case}/file", None, 200),
    ("custody.list_events", "GET"): ("auditor", "/api/v1/custody/events", None, 200),
    ("custody.get_event", "GET"): ("auditor", "/api/v1/custody/events/0", None, 200),
    ("custody.checkpoint", "GET"): ("auditor", "/api/v1/custody/checkpoint", None, 200),
    ("custody.public_key", "GET"): ("auditor", "/api/v1/custody/public-key", None, 200),
    ("custody.inclusion", "GET"): ("auditor", "/api/v1/custody/proofs/inclusion?seq=0&tree_size=2", None, 200),
    ("custody.consistency", "GET"): ("auditor", "/api/v1/custody/proofs/consistency?first=1&second=2", None, 200),
}


def url_map_routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
        if rule.endpoint not in EXEMPT_ENDPOINTS
    }


def test_exemptions_stay_short():
    assert EXEMPT_ENDPOINTS == {"health", "api-docs.openapi_json"}


def test_every_route_is_in_the_table(app):
    missing = url_map_routes(app) - set(ROUTES)
    assert not missing, f"routes without a custody coverage entry: {sorted(missing)}"


def _fill(value, ids):
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
            return ids[value[1:-1]]
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[1]} {r[0]}")
def test_route_records_its_own_event(app, world: World, route):
    endpoint, method = route
    role, path, body, status = ROUTES[route]
    token_id = world.people["interviewer"].get("/api/v1/auth/tokens").get_json()["items"][0]["id"]
    ids = {"case": world.case_id, "incident": world.incident_id, "witness": world.witness_id,
           "interview": world.interview_id, "user": world.people["interviewer2"].id, "token": token_id}
    uploaded = world.people["interviewer"].post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "v1"})
    assert uploaded.status_code == 201
    caller = world.people[role] if role else None
    client = caller.client if caller else app.test_client()
    headers = {"Authorization": f"Bearer {caller.token}"} if caller else {}
    response = client.open(_fill(path, ids), method=method, json=_fill(body, ids) if body else None, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    events = events_of(app, response)
    assert events, f"{method} {endpoint} served without a custody event"
    assert all(e["outcome"] == "allowed" for e in events)
    assert not any(e["action"].startswith("http.") for e in events), "only the generic fallback event was recorded"


def test_an_unaudited_route_is_refused_at_run_time(backend, keyring_path):
    rogue = make_app(backend, keyring_path)

    @rogue.get("/api/v1/rogue", endpoint="rogue")
    def rogue_view():
        return {"secret": "case data"}

    with rogue.app_context():
        from flask_migrate import upgrade

        upgrade()
    response = rogue.test_client().get("/api/v1/rogue")
    # Unauthenticated callers are refused first; authenticated ones get the fail-closed 500.
    assert response.status_code == 401
    from tests.conftest import make_caller, reset_database

    caller = make_caller(rogue, "rogue-user", "admin")
    response = caller.get("/api/v1/rogue")
    try:
        assert response.status_code == 500
        assert b"case data" not in response.data
        events = events_of(rogue, response)
        assert [e["action"] for e in events] == ["http.rogue"] and events[0]["outcome"] == "error"
    finally:
        with rogue.app_context():
            reset_database()
