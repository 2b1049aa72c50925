"""Bad input: a clear problem+json answer, nothing written, the attempt in the custody log."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from casework.cases.models import Case
from casework.db import db
from tests.helpers import assert_problem, events_of


def case_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Case))


@pytest.mark.parametrize(
    "body,content_type,status",
    [
        (b'{"title": ', "application/json", 400),  # malformed JSON
        (b'{"title": "\xff\xfe"}', "application/json", 400),  # not UTF-8
        (b'{"title": "a\\u0000b"}', "application/json", 400),  # NUL: no database stores it
        (b'{"title": "a\\ud800b"}', "application/json", 400),  # unpaired surrogate
        (b'{"title": "ok", "description": {"\\u0000": 1}}', "application/json", 400),
        (b"[" * 100_000, "application/json", 400),  # nested beyond any parser's stack
        (b'{"title": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "application/json", 400),
        (b'{"title": 12}', "application/json", 422),  # wrong type
        (b'{"title": "x", "owner": "me"}', "application/json", 422),  # unknown field
        (b'{"title": "' + b"x" * 301 + b'"}', "application/json", 422),  # too long
        (b"{}", "application/json", 422),  # missing required
        (b"[1, 2]", "application/json", 422),  # not an object
        (b"title=x", "application/x-www-form-urlencoded", 415),
        (b"<case/>", "application/xml", 415),
    ],
)
def test_bad_bodies_are_problems_and_write_nothing(app, people, body, content_type, status):
    before = case_count(app)
    response = people["legal"].client.post(
        "/api/v1/cases",
        data=body,
        content_type=content_type,
        headers={"Authorization": f"Bearer {people['legal'].token}"},
    )
    assert_problem(response, status)
    assert case_count(app) == before
    events = events_of(app, response)
    assert len(events) == 1 and events[0]["outcome"] == "error"
    assert events[0]["details"]["status"] == status


def test_validation_errors_name_the_fields(app, people):
    response = people["legal"].post("/api/v1/cases", {"title": 5, "colour": "red"})
    body = assert_problem(response, 422)
    assert set(body["errors"]["json"]) == {"title", "colour"}


def test_oversize_body_is_413(app, people):
    big = {"title": "x", "description": "y" * (2 * 1024 * 1024)}
    before = case_count(app)
    assert_problem(people["legal"].post("/api/v1/cases", big), 413)
    assert case_count(app) == before


def test_huge_numbers_and_bad_query_values(app, people, world):
    interviewer = people["interviewer"]
    response = interviewer.patch(f"/api/v1/incidents/{world.incident_id}", {"victim_count": 10**30})
    assert_problem(response, 422)
    assert_problem(interviewer.get("/api/v1/cases?limit=100000"), 422)
    assert_problem(interviewer.get("/api/v1/cases?limit=abc"), 422)
    assert_problem(interviewer.get("/api/v1/cases?cursor=not-a-cursor"), 422)
    assert_problem(
        interviewer.patch(f"/api/v1/incidents/{world.incident_id}", {"location": {"latitude": 91, "longitude": 0}}), 422
    )
    assert_problem(
        interviewer.patch(f"/api/v1/incidents/{world.incident_id}", {"occurred_from": "2026-03-02T00:00:00Z"}), 422
    )  # after occurred_to


def test_unstorable_query_strings_and_logins_are_400(app, people):
    assert_problem(people["auditor"].get("/api/v1/custody/events?actor=a%00b"), 400)
    login = app.test_client().post(
        "/api/v1/auth/login", data=b'{"username": "le\\u0000gal", "password": "x"}', content_type="application/json"
    )
    assert_problem(login, 400)
    assert events_of(app, login)[0]["outcome"] == "error"


def test_unknown_route_and_wrong_method(app, people):
    assert_problem(people["legal"].get("/api/v1/nothing-here"), 404)
    response = people["legal"].delete("/api/v1/cases")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]
    assert events_of(app, response)[0]["outcome"] == "error"


def test_options_is_not_answered_behind_the_logs_back(app, people):
    response = people["legal"].client.options(
        "/api/v1/cases", headers={"Authorization": f"Bearer {people['legal'].token}"}
    )
    assert_problem(response, 405)
    assert events_of(app, response)[0]["outcome"] == "error"


def test_unknown_actions_are_denied_to_everyone():
    """Deny by default: an action missing from the rules table is allowed to no role."""
    from casework.access.policy import Decision, decide
    from casework.access.roles import Role
    from casework.access.targets import Target

    for role in Role:
        for member in (True, False):
            decision = decide(
                "case.destroy", role, 7, Target("case", 1, case_id=1, owner_id=7), lambda *_, member=member: member
            )
            assert decision in (Decision.FORBID, Decision.HIDE)
            assert decide("case.destroy", role, 7, Target("case"), lambda *_, member=member: member) is Decision.FORBID


def test_conflicts_are_409(app, world):
    interviewer = world.people["interviewer"]
    response = interviewer.post(f"/api/v1/cases/{world.case_id}/incidents", {"reference": "INC-1", "title": "dup"})
    assert_problem(response, 409)
    event = events_of(app, response)[0]
    assert event["action"] == "incident.create" and event["outcome"] == "error"


def test_security_headers(app, people):
    response = people["legal"].get("/api/v1/cases")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Request-ID"]


def test_an_incident_reference_taken_in_the_case_is_409_on_edit_too(app, world):
    interviewer = world.people["interviewer"]
    other = interviewer.post(f"/api/v1/cases/{world.case_id}/incidents", {"reference": "INC-2", "title": "other"})
    assert other.status_code == 201
    response = interviewer.patch(f"/api/v1/incidents/{other.get_json()['id']}", {"reference": "INC-1", "title": "x"})
    body = assert_problem(response, 409)
    assert body["type"].endswith("incident-reference-taken") and "reference" in body["errors"]["json"]
    event = events_of(app, response)[0]
    assert (event["action"], event["outcome"]) == ("incident.update", "error")
    unchanged = interviewer.get(f"/api/v1/incidents/{other.get_json()['id']}").get_json()
    assert (unchanged["reference"], unchanged["title"]) == ("INC-2", "other")
    # Its own reference is no conflict, and another case's incidents are no concern.
    assert interviewer.patch(f"/api/v1/incidents/{world.incident_id}", {"reference": "INC-1"}).status_code == 200
    outsider = world.people["outsider"]
    assert (
        outsider.post(
            f"/api/v1/cases/{world.other_case_id}/incidents", {"reference": "INC-1", "title": "elsewhere"}
        ).status_code
        == 201
    )


def test_racing_for_one_incident_reference_is_one_incident_and_409s(app, world):
    from concurrent.futures import ThreadPoolExecutor

    interviewer = world.people["interviewer"]
    ids = [
        interviewer.post(
            f"/api/v1/cases/{world.case_id}/incidents", {"reference": f"R-{n}", "title": f"race {n}"}
        ).get_json()["id"]
        for n in range(6)
    ]

    def rename(incident_id: int) -> int:
        return (
            app.test_client()
            .patch(
                f"/api/v1/incidents/{incident_id}",
                json={"reference": "RACE-1"},
                headers={"Authorization": f"Bearer {interviewer.token}"},
            )
            .status_code
        )

    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(rename, ids))
    assert statuses == [200] + [409] * 5, statuses


def test_a_busy_sqlite_database_is_a_503_to_retry_not_a_500(backend, keyring_path):
    """Two writers at once on the embedded default: the one not granted SQLite's lock within its
    busy timeout gets 503 with Retry-After, and nothing it did is kept."""
    if backend["name"] != "sqlite":
        pytest.skip("SQLite's writer lock")
    from flask_migrate import upgrade

    from casework.db import db
    from tests.conftest import make_app, make_caller, reset_database

    busy = make_app(backend, keyring_path)

    @busy.get("/api/v1/second-writer", endpoint="second_writer")
    def second_writer():
        # This request's transaction holds the writer lock; a second connection asks for it too.
        with db.engine.connect() as other:
            other.connection.dbapi_connection.execute("PRAGMA busy_timeout=50")
            other.exec_driver_sql("DELETE FROM cases")
        return {}

    with busy.app_context():
        upgrade()
    caller = make_caller(busy, "second-writer", "admin")
    try:
        response = caller.get("/api/v1/second-writer")
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        assert response.get_json()["type"].endswith("/database-busy")
    finally:
        with busy.app_context():
            reset_database()
