"""Every route records custody events; a route that does not is refused at run time and here.

The table below must name every (endpoint, method) of the URL map: a new route without an
entry fails ``test_every_route_is_in_the_table``, and an entry whose successful request
leaves no event of its own fails ``test_route_records_its_own_event``.
"""

from __future__ import annotations

import pyotp
import pytest
from flask import Flask

from casework.access.hooks import EXEMPT_ENDPOINTS
from tests.conftest import PASSWORD, World, add_lawyer, make_app, make_caller, ok
from tests.helpers import events_of, publish
from tests.settings import settings_replaced

# (endpoint, method) -> (role, path, json body, expected status)
ROUTES = {
    ("auth.login", "POST"): (None, "/api/v1/auth/login", {"username": "legal", "password": PASSWORD}, 200),
    ("auth.logout", "POST"): ("legal", "/api/v1/auth/logout", None, 204),
    ("auth.me", "GET"): ("legal", "/api/v1/auth/me", None, 200),
    ("auth.create_token", "POST"): ("legal", "/api/v1/auth/tokens", {"name": "t"}, 201),
    ("auth.list_tokens", "GET"): ("legal", "/api/v1/auth/tokens", None, 200),
    ("auth.revoke_token", "DELETE"): ("admin", "/api/v1/auth/tokens/{token}", None, 204),
    ("auth.change_password", "POST"): (
        "legal",
        "/api/v1/auth/password",
        {"current_password": PASSWORD, "new_password": "tulip orbit canyon vellum"},
        204,
    ),
    ("auth.enrol_totp", "POST"): ("legal", "/api/v1/auth/mfa/totp", {"password": PASSWORD}, 200),
    ("auth.confirm_totp", "POST"): ("legal", "/api/v1/auth/mfa/totp/confirm", {"code": "000000"}, 200),  # PREPARED
    ("auth.disable_totp", "DELETE"): ("legal", "/api/v1/auth/mfa/totp", {"password": PASSWORD}, 204),
    ("users.create_user", "POST"): (
        "admin",
        "/api/v1/users",
        {"username": "newbie", "password": "long enough password", "role": "legal"},
        201,
    ),
    ("users.list_users", "GET"): ("admin", "/api/v1/users", None, 200),
    ("users.get_user", "GET"): ("admin", "/api/v1/users/{user}", None, 200),
    ("users.update_user", "PATCH"): ("admin", "/api/v1/users/{user}", {"display_name": "X"}, 200),
    ("users.reset_mfa", "DELETE"): ("admin", "/api/v1/users/{user}/mfa", None, 200),
    ("cases.create_case", "POST"): ("legal", "/api/v1/cases", {"title": "c"}, 201),
    ("cases.list_cases", "GET"): ("legal", "/api/v1/cases", None, 200),
    ("cases.get_case", "GET"): ("legal", "/api/v1/cases/{case}", None, 200),
    ("cases.update_case", "PATCH"): ("legal", "/api/v1/cases/{case}", {"status": "open"}, 200),
    ("cases.add_member", "PUT"): ("admin", "/api/v1/cases/{case}/members/{user}", None, 200),
    ("cases.approve_member", "POST"): ("legal", "/api/v1/cases/{case}/members/{proposed}/approve", None, 200),
    ("cases.reject_proposal", "DELETE"): ("legal", "/api/v1/cases/{case}/members/{proposed}/proposal", None, 204),
    ("cases.remove_member", "DELETE"): ("admin", "/api/v1/cases/{case}/members/{user}", None, 204),
    ("incidents.create_incident", "POST"): (
        "legal",
        "/api/v1/cases/{case}/incidents",
        {"reference": "N", "title": "n"},
        201,
    ),
    ("incidents.list_incidents", "GET"): ("legal", "/api/v1/cases/{case}/incidents", None, 200),
    ("incidents.get_incident", "GET"): ("legal", "/api/v1/incidents/{incident}", None, 200),
    ("incidents.update_incident", "PATCH"): ("legal", "/api/v1/incidents/{incident}", {"title": "u"}, 200),
    ("witnesses.create_witness", "POST"): (
        "interviewer",
        "/api/v1/cases/{case}/witnesses",
        {"witness_type": "victim", "risk_level": "low"},
        201,
    ),
    ("witnesses.list_witnesses", "GET"): ("legal", "/api/v1/cases/{case}/witnesses", None, 200),
    ("witnesses.get_witness", "GET"): ("legal", "/api/v1/witnesses/{witness}", None, 200),
    ("witnesses.update_witness", "PATCH"): ("interviewer", "/api/v1/witnesses/{witness}", {"risk_level": "low"}, 200),
    ("interviews.create_interview", "POST"): (
        "interviewer",
        "/api/v1/cases/{case}/interviews",
        {"witness_id": "{witness}", "conducted_at": "2026-01-01T00:00:00Z", "language": "en"},
        201,
    ),
    ("interviews.list_interviews", "GET"): ("legal", "/api/v1/cases/{case}/interviews", None, 200),
    ("interviews.get_interview", "GET"): ("legal", "/api/v1/interviews/{interview}", None, 200),
    ("interviews.update_interview", "PATCH"): (
        "interviewer",
        "/api/v1/interviews/{interview}",
        {"language": "fr"},
        200,
    ),
    ("transcripts.upload_transcript", "POST"): (
        "interviewer",
        "/api/v1/interviews/{interview}/transcripts",
        {"text": "v2", "reason": "correction"},
        201,
    ),
    ("transcripts.list_transcripts", "GET"): ("legal", "/api/v1/interviews/{interview}/transcripts", None, 200),
    ("transcripts.read_transcript", "GET"): ("legal", "/api/v1/interviews/{interview}/transcripts/1", None, 200),
    ("transcripts.transcript_receipt", "GET"): (
        "legal",
        "/api/v1/interviews/{interview}/transcripts/1/receipt",
        None,
        200,
    ),
    ("consent.record_consent", "POST"): (
        "interviewer",
        "/api/v1/witnesses/{witness}/consent",
        {
            "scopes": {
                "record": True,
                "share_with_prosecutors": True,
                "share_with_un_bodies": True,
                "disclose_identity": False,
            },
            "given_at": "2026-01-01T00:00:00Z",
        },
        201,
    ),
    ("erasures.get_erasure", "GET"): ("legal", "/api/v1/witnesses/{witness}/erasure", None, 200),
    ("erasures.confirm_erasure", "POST"): (
        "legal",
        "/api/v1/witnesses/{witness}/erasure/confirm",
        None,
        200,
    ),  # PREPARED
    ("erasures.reject_erasure", "POST"): (
        "legal",
        "/api/v1/witnesses/{witness}/erasure/reject",
        {"reason": "recorded in error"},
        200,
    ),  # PREPARED
    ("erasures.place_hold", "POST"): (
        "legal",
        "/api/v1/witnesses/{witness}/legal-holds",
        {"court_order_reference": "order"},
        201,
    ),
    ("erasures.lift_hold", "POST"): ("legal", "/api/v1/witnesses/{witness}/legal-holds/1/lift", None, 202),  # PREPARED
    ("erasures.list_erasures", "GET"): ("auditor", "/api/v1/erasures?overdue=true", None, 200),
    ("casefile.case_file", "GET"): ("legal", "/api/v1/cases/{case}/file", None, 200),
    ("redactions.create_redaction", "POST"): (
        "legal",
        "/api/v1/interviews/{interview}/transcripts/1/redactions",
        {"spans": [{"start": 0, "end": 1, "category": "other", "legal_basis": "r"}]},
        201,
    ),
    ("redactions.list_redactions", "GET"): (
        "legal",
        "/api/v1/interviews/{interview}/transcripts/1/redactions",
        None,
        200,
    ),
    ("redactions.read_redaction", "GET"): ("legal", "/api/v1/redactions/{redaction}", None, 200),
    ("disclosures.create_disclosure", "POST"): (
        "legal",
        "/api/v1/cases/{case}/disclosures",
        {
            "recipient": {"name": "n", "organisation": "o", "kind": "court"},
            "purpose": "p",
            "items": [{"kind": "incident", "incident_id": "{incident}"}],
        },
        201,
    ),
    ("disclosures.list_disclosures", "GET"): ("legal", "/api/v1/cases/{case}/disclosures", None, 200),
    ("disclosures.get_disclosure", "GET"): ("legal", "/api/v1/disclosures/{disclosure}", None, 200),
    ("disclosures.get_bundle", "GET"): ("legal", "/api/v1/disclosures/{disclosure}/bundle", None, 200),
    ("disclosures.approve_disclosure", "POST"): ("legal", "/api/v1/disclosures/{pending}/approve", None, 200),
    ("exhibits.create_interview_upload", "POST"): (
        "interviewer",
        "/api/v1/interviews/{interview}/exhibits/uploads",
        None,
        201,
    ),  # RAW
    ("exhibits.create_incident_upload", "POST"): (
        "legal",
        "/api/v1/incidents/{incident}/exhibits/uploads",
        None,
        201,
    ),  # RAW
    ("exhibits.upload_patch", "PATCH"): ("interviewer", "/api/v1/exhibits/{upload}/upload", None, 204),  # RAW
    ("exhibits.upload_terminate", "DELETE"): ("interviewer", "/api/v1/exhibits/{upload}/upload", None, 204),  # RAW
    ("exhibits.list_interview_exhibits", "GET"): ("legal", "/api/v1/interviews/{interview}/exhibits", None, 200),
    ("exhibits.list_incident_exhibits", "GET"): ("legal", "/api/v1/incidents/{incident}/exhibits", None, 200),
    ("exhibits.get_exhibit", "GET"): ("legal", "/api/v1/exhibits/{exhibit}", None, 200),
    ("exhibits.exhibit_receipt", "GET"): ("legal", "/api/v1/exhibits/{exhibit}/receipt", None, 200),
    ("exhibits.exhibit_content", "GET"): ("legal", "/api/v1/exhibits/{exhibit}/content", None, 200),
    ("custody.list_events", "GET"): ("auditor", "/api/v1/custody/events", None, 200),
    ("custody.get_event", "GET"): ("auditor", "/api/v1/custody/events/0", None, 200),
    ("custody.checkpoint", "GET"): ("auditor", "/api/v1/custody/checkpoint", None, 200),
    ("custody.public_key", "GET"): ("auditor", "/api/v1/custody/public-key", None, 200),
    ("custody.inclusion", "GET"): ("auditor", "/api/v1/custody/proofs/inclusion?seq=0&tree_size=2", None, 200),
    ("custody.consistency", "GET"): ("auditor", "/api/v1/custody/proofs/consistency?first=1&second=2", None, 200),
}


def _ids(app: Flask, world: World, token_id: int) -> dict[str, int]:
    """The ids the paths name; {proposed} is a user an admin proposed as a member of the case."""
    proposed = make_caller(app, "proposed-member", "interviewer")
    ok(world.people["admin"].put(f"/api/v1/cases/{world.case_id}/members/{proposed.id}"), 202)
    return {
        "case": world.case_id,
        "incident": world.incident_id,
        "witness": world.witness_id,
        "interview": world.interview_id,
        "user": world.people["interviewer2"].id,
        "token": token_id,
        "proposed": proposed.id,
        **_disclosed(world),
        "pending": _pending_disclosure(app, world),
    }


def _disclosed(world: World) -> dict[str, int]:
    """{redaction}: a redaction of a statement of another interview; {disclosure}: of the incident."""
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    interview = ok(
        interviewer.post(
            f"/api/v1/cases/{world.case_id}/interviews",
            {"witness_id": world.witness_id, "conducted_at": "2026-01-01T00:00:00Z", "language": "en"},
        ),
        201,
    )["id"]
    ok(interviewer.post(f"/api/v1/interviews/{interview}/transcripts", {"text": "statement"}), 201)
    redaction = ok(
        legal.post(
            f"/api/v1/interviews/{interview}/transcripts/1/redactions",
            {"spans": [{"start": 0, "end": 4, "category": "other", "legal_basis": "r"}]},
        ),
        201,
    )["id"]
    disclosure = ok(
        legal.post(
            f"/api/v1/cases/{world.case_id}/disclosures",
            {
                "recipient": {"name": "n", "organisation": "o", "kind": "court"},
                "purpose": "p",
                "items": [{"kind": "incident", "incident_id": world.incident_id}],
            },
        ),
        201,
    )["id"]
    return {"redaction": redaction, "disclosure": disclosure}


def _pending_disclosure(app: Flask, world: World) -> int:
    """{pending}: a disclosure to the defence that another lawyer proposed, for "legal" to approve."""
    proposer = add_lawyer(app, world, "coverage-legal2")
    return ok(
        proposer.post(
            f"/api/v1/cases/{world.case_id}/disclosures",
            {
                "recipient": {"name": "n", "organisation": "o", "kind": "defence"},
                "purpose": "p",
                "items": [{"kind": "incident", "incident_id": world.incident_id}],
            },
        ),
        202,
    )["id"]


def _pending_totp_code(world: World) -> dict[str, str]:
    """The confirmation needs an enrolment in progress and its current code."""
    secret = ok(world.people["legal"].post("/api/v1/auth/mfa/totp", {"password": PASSWORD}))["secret"]
    return {"code": pyotp.TOTP(secret).now()}


def _pending_erasure(world: World) -> None:
    """The witness's recorder withdraws consent: an erasure is pending, for a lawyer of the case to decide."""
    ok(
        world.people["interviewer"].post(
            f"/api/v1/witnesses/{world.witness_id}/consent",
            {
                "scopes": {
                    "record": True,
                    "share_with_prosecutors": True,
                    "share_with_un_bodies": True,
                    "disclose_identity": False,
                },
                "given_at": "2026-01-01T00:00:00Z",
                "withdrawn_at": "2026-02-01T00:00:00Z",
            },
        ),
        201,
    )


def _rejection(world: World) -> dict[str, str]:
    _pending_erasure(world)
    return {"reason": "recorded in error"}


def _held(world: World) -> None:
    """A legal hold (the first of the test: id 1) to ask to lift."""
    ok(
        world.people["legal"].post(
            f"/api/v1/witnesses/{world.witness_id}/legal-holds", {"court_order_reference": "order"}
        ),
        201,
    )


# Routes whose allowed request needs state the world does not have: a body made for it.
PREPARED = {
    ("auth.confirm_totp", "POST"): _pending_totp_code,
    ("erasures.confirm_erasure", "POST"): _pending_erasure,
    ("erasures.reject_erasure", "POST"): _rejection,
    ("erasures.lift_hold", "POST"): _held,
}


# Routes that speak tus rather than JSON: their headers and raw body instead of ``json``.
_TUS = {"Tus-Resumable": "1.0.0"}
_TUS_CREATE = {**_TUS, "Upload-Length": "10", "Upload-Metadata": "kind b3RoZXI="}  # kind: other
RAW = {
    ("exhibits.create_interview_upload", "POST"): {"headers": _TUS_CREATE},
    ("exhibits.create_incident_upload", "POST"): {"headers": _TUS_CREATE},
    ("exhibits.upload_terminate", "DELETE"): {"headers": _TUS},
    ("exhibits.upload_patch", "PATCH"): {
        "headers": {**_TUS, "Upload-Offset": "0"},
        "data": b"hello",
        "content_type": "application/offset+octet-stream",
    },
}


def _request(route, body, ids, headers) -> dict:
    """What ``client.open`` sends for ``route``: JSON, or the RAW headers and body."""
    if route in RAW:
        raw = RAW[route]
        return {**raw, "headers": {**headers, **raw.get("headers", {})}}
    return {"json": _fill(body, ids) if body else None, "headers": headers}


def _exhibits(route, world: World) -> dict[str, int]:
    """{exhibit}: a complete exhibit of the interview; {upload}: an upload with nothing received yet."""
    if not any(name in ROUTES[route][1] for name in ("{exhibit}", "{upload}")):
        return {}
    interviewer = world.people["interviewer"]
    auth = {"Authorization": f"Bearer {interviewer.token}"}
    ids = {}
    for name in ("exhibit", "upload"):
        created = interviewer.client.post(
            f"/api/v1/interviews/{world.interview_id}/exhibits/uploads", headers={**auth, **_TUS_CREATE}
        )
        assert created.status_code == 201, created.get_data(as_text=True)
        ids[name] = int(created.headers["Location"].split("/")[-2])
    done = interviewer.client.patch(
        f"/api/v1/exhibits/{ids['exhibit']}/upload",
        data=b"0123456789",
        content_type="application/offset+octet-stream",
        headers={**auth, **_TUS, "Upload-Offset": "0"},
    )
    assert done.status_code == 200, done.get_data(as_text=True)
    return ids


def url_map_routes(app: Flask, blueprint: str | None = None) -> set[tuple[str, str]]:
    """The audited routes of the API (``blueprint=None``: all but the workbench's) or of one blueprint."""
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
        if rule.endpoint not in EXEMPT_ENDPOINTS
        and (rule.endpoint.startswith(f"{blueprint}.") if blueprint else not rule.endpoint.startswith("workbench."))
    }


def test_exemptions_stay_short():
    # Liveness, the OpenAPI document, and the docs page that renders it (casework/api_docs.py: the
    # page, its initializer, Swagger UI's files by an allowlist): the same for everyone, no case data.
    # The workbench's static files and the forms that show no data (login, password, second factor);
    # its audited pages are in tests/workbench/test_page_coverage.py.
    assert {
        "health",
        "api-docs.openapi_json",
        "docs.page",
        "docs.initializer",
        "docs.asset",
        "workbench.static",
        "workbench.login_page",
        "workbench.password_page",
        "workbench.mfa_page",
    } == EXEMPT_ENDPOINTS


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
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[1]} {r[0]}")
def test_route_records_its_own_event(app, world: World, route):
    endpoint, method = route
    role, path, body, status = ROUTES[route]
    token_id = world.people["interviewer"].get("/api/v1/auth/tokens").get_json()["items"][0]["id"]
    ids = {**_ids(app, world, token_id), **_exhibits(route, world)}
    uploaded = world.people["interviewer"].post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "v1"})
    assert uploaded.status_code == 201
    publish(app)
    if route in PREPARED:
        body = PREPARED[route](world)
    caller = world.people[role] if role else None
    client = caller.client if caller else app.test_client()
    headers = {"Authorization": f"Bearer {caller.token}"} if caller else {}
    response = client.open(_fill(path, ids), method=method, **_request(route, body, ids, headers))
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
    from tests.conftest import reset_database

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


# (endpoint, method) -> (role refused, status): an authenticated caller the rules refuse.
REFUSED = {
    ("auth.revoke_token", "DELETE"): ("interviewer2", 404),
    ("auth.list_tokens", "GET"): ("interviewer2", 403),  # with ?user_id= of someone else, below
    ("users.create_user", "POST"): ("interviewer", 403),
    ("users.list_users", "GET"): ("interviewer", 403),
    ("users.get_user", "GET"): ("interviewer", 403),
    ("users.update_user", "PATCH"): ("interviewer", 403),
    ("users.reset_mfa", "DELETE"): ("interviewer", 403),
    ("cases.create_case", "POST"): ("interviewer", 403),
    ("cases.get_case", "GET"): ("outsider", 404),
    ("cases.update_case", "PATCH"): ("outsider", 404),
    ("cases.add_member", "PUT"): ("outsider", 404),
    ("cases.approve_member", "POST"): ("interviewer", 403),  # a member, but not a lawyer
    ("cases.reject_proposal", "DELETE"): ("interviewer", 403),
    ("cases.remove_member", "DELETE"): ("outsider", 404),
    ("incidents.create_incident", "POST"): ("outsider", 404),
    ("incidents.list_incidents", "GET"): ("outsider", 404),
    ("incidents.get_incident", "GET"): ("outsider", 404),
    ("incidents.update_incident", "PATCH"): ("outsider", 404),
    ("witnesses.create_witness", "POST"): ("outsider", 404),
    ("witnesses.list_witnesses", "GET"): ("outsider", 404),
    ("witnesses.get_witness", "GET"): ("outsider", 404),
    ("witnesses.update_witness", "PATCH"): ("interviewer2", 403),
    ("interviews.create_interview", "POST"): ("outsider", 404),
    ("interviews.list_interviews", "GET"): ("outsider", 404),
    ("interviews.get_interview", "GET"): ("outsider", 404),
    ("interviews.update_interview", "PATCH"): ("interviewer2", 403),
    ("transcripts.upload_transcript", "POST"): ("interviewer2", 403),
    ("transcripts.list_transcripts", "GET"): ("outsider", 404),
    ("transcripts.read_transcript", "GET"): ("interviewer2", 403),
    ("transcripts.transcript_receipt", "GET"): ("outsider", 404),
    ("consent.record_consent", "POST"): ("interviewer2", 403),
    ("erasures.get_erasure", "GET"): ("outsider", 404),
    ("erasures.confirm_erasure", "POST"): ("interviewer", 403),  # a member, but not a lawyer
    ("erasures.reject_erasure", "POST"): ("interviewer", 403),
    ("erasures.place_hold", "POST"): ("interviewer", 403),
    ("erasures.lift_hold", "POST"): ("interviewer", 403),
    ("erasures.list_erasures", "GET"): ("interviewer", 403),
    ("casefile.case_file", "GET"): ("interviewer", 403),
    ("redactions.create_redaction", "POST"): ("interviewer", 403),
    ("redactions.list_redactions", "GET"): ("outsider", 404),
    ("redactions.read_redaction", "GET"): ("interviewer", 403),
    ("disclosures.create_disclosure", "POST"): ("interviewer", 403),
    ("disclosures.list_disclosures", "GET"): ("outsider", 404),
    ("disclosures.get_disclosure", "GET"): ("outsider", 404),
    ("disclosures.get_bundle", "GET"): ("auditor", 403),
    ("disclosures.approve_disclosure", "POST"): ("interviewer", 403),
    ("exhibits.create_interview_upload", "POST"): ("interviewer2", 403),
    ("exhibits.create_incident_upload", "POST"): ("outsider", 404),
    ("exhibits.upload_patch", "PATCH"): ("interviewer2", 403),
    ("exhibits.upload_terminate", "DELETE"): ("interviewer2", 403),
    ("exhibits.list_interview_exhibits", "GET"): ("outsider", 404),
    ("exhibits.list_incident_exhibits", "GET"): ("outsider", 404),
    ("exhibits.get_exhibit", "GET"): ("outsider", 404),
    ("exhibits.exhibit_receipt", "GET"): ("outsider", 404),
    ("exhibits.exhibit_content", "GET"): ("interviewer2", 403),
    ("custody.list_events", "GET"): ("legal", 403),
    ("custody.get_event", "GET"): ("legal", 403),
    ("custody.checkpoint", "GET"): ("legal", 403),
    ("custody.inclusion", "GET"): ("legal", 403),
    ("custody.consistency", "GET"): ("legal", 403),
}
# Routes every authenticated role may use on its own behalf: only anonymous callers are refused.
SELF_SERVICE = {
    ("custody.public_key", "GET"),
    ("auth.logout", "POST"),
    ("auth.me", "GET"),
    ("auth.create_token", "POST"),
    ("cases.list_cases", "GET"),
    ("auth.change_password", "POST"),
    ("auth.enrol_totp", "POST"),
    ("auth.confirm_totp", "POST"),
    ("auth.disable_totp", "DELETE"),
}
# Where the coverage table's caller is not the one allowed to act on someone else's behalf.
ALLOWED_AS = {("auth.list_tokens", "GET"): "admin"}


def _resource(event: dict) -> tuple:
    return event["resource_type"], event["resource_id"], event["case_id"], event["witness_id"]


def test_refusals_cover_every_route(app):
    assert url_map_routes(app) - {("auth.login", "POST")} == set(REFUSED) | SELF_SERVICE


@pytest.mark.parametrize("route", sorted(REFUSED), ids=lambda r: f"{r[1]} {r[0]}")
def test_allowed_and_refused_attempts_name_the_same_resource(app, world: World, route):
    """An auditor filtering by resource finds the refused attempts beside the allowed ones."""
    endpoint, method = route
    role, path, body, status = ROUTES[route]
    role = ALLOWED_AS.get(route, role)
    refused_role, refused_status = REFUSED[route]
    token_id = world.people["interviewer"].get("/api/v1/auth/tokens").get_json()["items"][0]["id"]
    ids = {**_ids(app, world, token_id), **_exhibits(route, world)}
    ok(world.people["interviewer"].post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "v1"}), 201)
    publish(app)
    if route in PREPARED:  # the allowed caller needs the same state as above
        body = PREPARED[route](world)
    url = _fill(path, ids)
    if endpoint == "auth.list_tokens":
        url += f"?user_id={world.people['interviewer'].id}"
    answers = {}
    for who, expected in ((role, status), (refused_role, refused_status)):
        caller = world.people[who]
        response = caller.client.open(
            url, method=method, **_request(route, body, ids, {"Authorization": f"Bearer {caller.token}"})
        )
        assert response.status_code == expected, (who, response.status_code, response.get_data(as_text=True))
        answers[who] = events_of(app, response)[0]
    allowed, refused = answers[role], answers[refused_role]
    assert allowed["action"] == refused["action"] and not allowed["action"].startswith("http.")
    assert refused["outcome"] == "denied"
    assert _resource(allowed) == _resource(refused)


@pytest.mark.parametrize("route", sorted(set(ROUTES) - {("auth.login", "POST")}), ids=lambda r: f"{r[1]} {r[0]}")
def test_anonymous_attempts_name_the_route_resource(app, world: World, route):
    """Refused before any service ran (401), the event still names what the URL names."""
    _, method = route
    role, path, body, _ = ROUTES[route]
    ids = {**_ids(app, world, 1), **_exhibits(route, world)}
    url = _fill(path, ids)
    publish(app)
    allowed = events_of(
        app,
        world.people[role].client.open(
            url, method=method, **_request(route, body, ids, {"Authorization": f"Bearer {world.people[role].token}"})
        ),
    )[0]
    anonymous = app.test_client().open(url, method=method, **_request(route, body, ids, {}))
    assert anonymous.status_code == 401
    (event,) = events_of(app, anonymous)
    assert event["outcome"] == "denied" and event["actor_id"] is None
    assert event["resource_type"] == allowed["resource_type"]
    if "{" in path or "/events/" in path:  # the URL names one object: the same one
        assert event["resource_id"] == allowed["resource_id"]


def test_the_benchmark_switch_prices_custody_on_writes_too(app: Flask, world: World):
    """With recording off (testing only; production refuses the switch), a receipted upload is
    served as a read is, with nothing appended: so the bench can price custody on writes as well."""
    from casework.custody import log
    from casework.db import db

    interviewer = world.people["interviewer"]
    with app.app_context():
        before = log.tree_size()
        db.session.remove()
    with settings_replaced(app, custody={"recording": False}):
        created = interviewer.post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "Unlogged."})
        receipt = ok(created, 201)
        assert receipt["leaf_hash"] is None and "custody_seq" not in receipt
        assert (
            ok(world.people["legal"].get(f"/api/v1/interviews/{world.interview_id}/transcripts/1"))["text"]
            == "Unlogged."
        )
    with app.app_context():
        assert log.integrate_committed() == 0 and log.tree_size() == before
