"""Every role against every route of the SPEC's roles table, with the custody event it leaves."""

from __future__ import annotations

import pytest

from tests.conftest import World
from tests.helpers import events_of

ROLES = ("interviewer", "interviewer2", "legal", "outsider", "auditor", "admin")  # admin last: it changes membership


def _row(**by_role: int) -> dict[str, int]:
    assert set(by_role) == set(ROLES)
    return by_role


META = _row(admin=200, interviewer=200, interviewer2=200, legal=200, outsider=404, auditor=200)

# (method, path, body, expected status per role). {case}, {other}, {incident}, {witness}, {interview}, {user}
MATRIX = [
    ("GET", "/api/v1/cases/{case}", None, META),
    ("GET", "/api/v1/cases/{case}/incidents", None, META),
    ("GET", "/api/v1/incidents/{incident}", None, META),
    ("GET", "/api/v1/cases/{case}/witnesses", None, META),
    ("GET", "/api/v1/witnesses/{witness}", None, META),
    ("GET", "/api/v1/cases/{case}/interviews", None, META),
    ("GET", "/api/v1/interviews/{interview}", None, META),
    (
        "PATCH",
        "/api/v1/cases/{case}",
        {"title": "Renamed"},
        _row(admin=200, interviewer=403, interviewer2=403, legal=200, outsider=404, auditor=403),
    ),
    (
        "POST",
        "/api/v1/cases",
        {"title": "New case"},
        _row(admin=201, interviewer=403, interviewer2=403, legal=201, outsider=201, auditor=403),
    ),
    # The other case has a lawyer (its creator): an admin's addition is a proposal (202).
    (
        "PUT",
        "/api/v1/cases/{other}/members/{user}",
        None,
        _row(admin=202, interviewer=404, interviewer2=404, legal=404, outsider=403, auditor=403),
    ),
    (
        "POST",
        "/api/v1/cases/{case}/incidents",
        {"reference": "R-{role}", "title": "t"},
        _row(admin=403, interviewer=201, interviewer2=201, legal=201, outsider=404, auditor=403),
    ),
    (
        "PATCH",
        "/api/v1/incidents/{incident}",
        {"victim_count": 8},
        _row(admin=403, interviewer=200, interviewer2=200, legal=200, outsider=404, auditor=403),
    ),
    (
        "POST",
        "/api/v1/cases/{case}/witnesses",
        {"witness_type": "victim", "risk_level": "low"},
        _row(admin=403, interviewer=201, interviewer2=201, legal=403, outsider=404, auditor=403),
    ),
    (
        "PATCH",
        "/api/v1/witnesses/{witness}",
        {"risk_level": "critical"},  # only the one who recorded it
        _row(admin=403, interviewer=200, interviewer2=403, legal=403, outsider=404, auditor=403),
    ),
    (
        "POST",
        "/api/v1/cases/{case}/interviews",
        {"witness_id": "{witness}", "conducted_at": "2026-03-11T09:00:00Z", "language": "ar"},
        _row(admin=403, interviewer=201, interviewer2=201, legal=403, outsider=404, auditor=403),
    ),
    (
        "PATCH",
        "/api/v1/interviews/{interview}",
        {"interpreter": "I-3"},  # only the one who conducted it
        _row(admin=403, interviewer=200, interviewer2=403, legal=403, outsider=404, auditor=403),
    ),
    (
        "GET",
        "/api/v1/users",
        None,
        _row(admin=200, interviewer=403, interviewer2=403, legal=403, outsider=403, auditor=403),
    ),
    (
        "GET",
        "/api/v1/users/{user}",
        None,
        _row(admin=200, interviewer=403, interviewer2=403, legal=403, outsider=403, auditor=403),
    ),
    (
        "PATCH",
        "/api/v1/users/{user}",
        {"display_name": "Renamed"},
        _row(admin=200, interviewer=403, interviewer2=403, legal=403, outsider=403, auditor=403),
    ),
    (
        "POST",
        "/api/v1/users",
        {"username": "new-{role}", "password": "a long enough password", "role": "legal"},
        _row(admin=201, interviewer=403, interviewer2=403, legal=403, outsider=403, auditor=403),
    ),
]


def _fill(value, world: World, role: str):
    ids = {
        "case": world.case_id,
        "other": world.other_case_id,
        "incident": world.incident_id,
        "witness": world.witness_id,
        "interview": world.interview_id,
        "user": world.people["interviewer2"].id,
        "role": role,
    }
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in ids and value[1:-1] != "role":
            return ids[value[1:-1]]
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, world, role) for k, v in value.items()}
    return value


@pytest.mark.parametrize("method,path,body,expected", MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_role_matrix(app, world: World, method, path, body, expected):
    for role in ROLES:
        caller = world.people[role]
        url = _fill(path, world, role)
        response = caller.client.open(
            url,
            method=method,
            json=_fill(body, world, role) if body else None,
            headers={"Authorization": f"Bearer {caller.token}"},
        )
        assert response.status_code == expected[role], (role, method, url, response.get_data(as_text=True))
        events = events_of(app, response)
        assert events, f"{role} {method} {url} left no custody event"
        outcome = "allowed" if response.status_code < 400 else "denied"
        assert events[-1]["outcome"] == outcome
        assert events[-1]["actor_id"] == caller.id


@pytest.mark.parametrize("method,suffix,allowed_status", [("POST", "approve", 200), ("DELETE", "proposal", 204)])
def test_membership_approval_matrix(app, world: World, method, suffix, allowed_status):
    """Only a legal member of the case approves or rejects a proposal; an admin may only withdraw one."""
    from tests.conftest import make_caller

    newcomer = make_caller(app, f"newcomer-{suffix}", "interviewer")
    admin = world.people["admin"]
    members = f"/api/v1/cases/{world.case_id}/members/{newcomer.id}"
    expected = _row(
        admin=403 if suffix == "approve" else allowed_status,
        interviewer=403,
        interviewer2=403,
        legal=allowed_status,
        outsider=404,
        auditor=403,
    )
    for role in ROLES:
        assert admin.put(members).status_code == 202  # pending again (or still)
        caller = world.people[role]
        response = caller.client.open(
            f"{members}/{suffix}", method=method, headers={"Authorization": f"Bearer {caller.token}"}
        )
        assert response.status_code == expected[role], (role, response.get_data(as_text=True))
        (event,) = events_of(app, response)
        assert event["action"] == ("case.member.approve" if suffix == "approve" else "case.member.reject")
        assert event["outcome"] == ("allowed" if response.status_code < 400 else "denied")
        assert (event["resource_type"], event["resource_id"]) == ("case", str(world.case_id))
        assert event["details"]["user_id"] == newcomer.id
        if role == "legal" and suffix == "approve":
            ok_remove = admin.delete(members)  # a member again removed, so the next PUT proposes again
            assert ok_remove.status_code == 204


def test_hidden_objects_are_indistinguishable_from_missing(app, world: World):
    outsider = world.people["outsider"]
    hidden = outsider.get(f"/api/v1/interviews/{world.interview_id}")
    missing = outsider.get("/api/v1/interviews/999999")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json() == missing.get_json()
    from tests.helpers import events_of

    for response in (hidden, missing):
        (event,) = events_of(app, response)
        assert (event["resource_type"], event["outcome"]) == ("interview", "denied")


def test_listing_cases_shows_only_member_cases(world: World):
    outsider_cases = world.people["outsider"].get("/api/v1/cases").get_json()["items"]
    assert [c["id"] for c in outsider_cases] == [world.other_case_id]
    auditor_cases = world.people["auditor"].get("/api/v1/cases").get_json()["items"]
    assert {c["id"] for c in auditor_cases} == {world.case_id, world.other_case_id}


def test_interview_cannot_link_incident_of_another_case(world: World):
    outsider = world.people["outsider"]
    foreign = outsider.post(f"/api/v1/cases/{world.other_case_id}/incidents", {"reference": "B-1", "title": "b"})
    assert foreign.status_code == 201
    response = world.people["interviewer"].patch(
        f"/api/v1/interviews/{world.interview_id}", {"incident_ids": [foreign.get_json()["id"]]}
    )
    assert response.status_code == 422
    interview = world.people["interviewer"].get(f"/api/v1/interviews/{world.interview_id}").get_json()
    assert interview["incident_ids"] == [world.incident_id]


def test_pseudonyms_are_sequential_per_case(world: World):
    interviewer = world.people["interviewer"]
    second = interviewer.post(
        f"/api/v1/cases/{world.case_id}/witnesses", {"witness_type": "victim", "risk_level": "low"}
    )
    assert second.get_json()["pseudonym"] == "W-0002"
    first = interviewer.get(f"/api/v1/witnesses/{world.witness_id}").get_json()
    assert first["pseudonym"] == "W-0001"
