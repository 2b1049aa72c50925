"""Case membership under the two-person rule: an admin proposes; once a case has a legal member,
one of them approves. An admin cannot give an account of their own a way into a case's content."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from flask import Flask

from tests.conftest import Caller, World, make_caller, ok
from tests.helpers import assert_problem, events_of


def _token_for(app: Flask, user_id: int) -> str:
    from casework.auth.models import User
    from casework.auth.service import issue_token
    from casework.db import db

    with app.app_context():
        _, token = issue_token(db.session.get(User, user_id), "tests", 30)
        db.session.commit()
    return token


def _caller_for(app: Flask, user: dict, password: str) -> Caller:
    """Act as an account created through the API, as whoever knows its password would."""
    caller = Caller(app.test_client(), user["id"], user["username"], user["role"], _token_for(app, user["id"]),
                    password)
    # Where an admin-set password must be replaced before anything else, the insider who knows it
    # does just that (a deployment without that rule has no such route: 404).
    changed = caller.post("/api/v1/auth/password", {"current_password": password,
                                                    "new_password": "velvet orbit canyon tulip 38"})
    if changed.status_code != 404:
        assert changed.status_code in (200, 204), changed.get_data(as_text=True)
        caller.token = _token_for(app, user["id"])  # changing it ended the account's tokens
    return caller


def _members(caller: Caller, case_id: int) -> dict[str, list[int]]:
    case = ok(caller.get(f"/api/v1/cases/{case_id}"))
    return {"members": [m["user_id"] for m in case["members"]],
            "proposals": [p["user_id"] for p in case["proposals"]]}


def test_an_admins_lawyer_reads_nothing_until_the_cases_lawyer_approves(app: Flask, world: World):
    admin, legal = world.people["admin"], world.people["legal"]
    ok(world.people["interviewer"].post(f"/api/v1/interviews/{world.interview_id}/transcripts",
                                        {"text": "They took them to the quarry."}), 201)
    # The insider path: the admin makes a lawyer account (whose password they know) and adds it.
    password = "umber falcon quartz meadow 71"
    created = ok(admin.post("/api/v1/users", {"username": "mallory", "password": password, "role": "legal"}), 201)
    mallory = _caller_for(app, created, password)

    members = f"/api/v1/cases/{world.case_id}/members/{mallory.id}"
    proposed = admin.put(members)
    body = ok(proposed, 202)
    assert body["status"] == "pending" and body["user_id"] == mallory.id and body["proposed_by_id"] == admin.id
    assert "added_at" not in body
    (event,) = events_of(app, proposed)
    assert (event["action"], event["outcome"], event["details"]["result"]) == ("case.member.add", "allowed",
                                                                               "proposed")
    assert _members(admin, world.case_id)["proposals"] == [mallory.id]
    assert mallory.id not in _members(admin, world.case_id)["members"]

    # Pending: the proposed lawyer sees nothing of the case, and cannot approve themselves.
    transcript = f"/api/v1/interviews/{world.interview_id}/transcripts/1"
    for path in (f"/api/v1/cases/{world.case_id}", transcript, f"/api/v1/witnesses/{world.witness_id}",
                 f"/api/v1/cases/{world.case_id}/file"):
        assert_problem(mallory.get(path), 404)
    assert_problem(mallory.post(f"{members}/approve"), 404)
    # Nor can the admin approve their own proposal (they are the first person, not the second).
    refused = admin.post(f"{members}/approve")
    assert_problem(refused, 403)
    assert events_of(app, refused)[0]["outcome"] == "denied"
    # Proposing again changes nothing.
    assert ok(admin.put(members), 202)["proposed_at"] == body["proposed_at"]

    approved = legal.post(f"{members}/approve")
    member = ok(approved)
    assert member["status"] == "member" and member["user_id"] == mallory.id and member["role"] == "legal"
    (event,) = events_of(app, approved)
    assert (event["action"], event["outcome"], event["actor_id"]) == ("case.member.approve", "allowed", legal.id)
    assert event["details"]["proposed_by_id"] == admin.id and event["details"]["user_id"] == mallory.id
    assert _members(admin, world.case_id)["proposals"] == []
    assert ok(mallory.get(transcript))["text"] == "They took them to the quarry."
    assert_problem(legal.post(f"{members}/approve"), 404)  # nothing pending any more
    assert ok(admin.put(members))["status"] == "member"  # already a member: 200


def test_a_case_without_a_lawyer_takes_members_at_once(app: Flask, world: World):
    admin = world.people["admin"]
    case = ok(admin.post("/api/v1/cases", {"title": "No lawyer yet"}), 201)["id"]
    first = admin.put(f"/api/v1/cases/{case}/members/{world.people['interviewer'].id}")
    assert ok(first)["status"] == "member"
    assert events_of(app, first)[0]["details"]["result"] == "added"
    assert ok(admin.put(f"/api/v1/cases/{case}/members/{world.people['legal'].id}"))["status"] == "member"
    # Now it has a lawyer: the next one waits for them.
    second = admin.put(f"/api/v1/cases/{case}/members/{world.people['outsider'].id}")
    assert ok(second, 202)["status"] == "pending"
    assert_problem(world.people["outsider"].get(f"/api/v1/cases/{case}"), 404)


def test_a_lawyer_rejects_and_an_admin_withdraws(app: Flask, world: World):
    admin, legal = world.people["admin"], world.people["legal"]
    newcomer = make_caller(app, "newcomer", "interviewer")
    members = f"/api/v1/cases/{world.case_id}/members/{newcomer.id}"
    ok(admin.put(members), 202)
    rejected = legal.delete(f"{members}/proposal")
    assert rejected.status_code == 204
    assert events_of(app, rejected)[0]["action"] == "case.member.reject"
    assert_problem(legal.post(f"{members}/approve"), 404)
    assert_problem(newcomer.get(f"/api/v1/cases/{world.case_id}"), 404)
    ok(admin.put(members), 202)
    assert admin.delete(f"{members}/proposal").status_code == 204  # withdrawn by an admin
    assert _members(admin, world.case_id)["proposals"] == []
    assert_problem(admin.delete(f"{members}/proposal"), 404)


def test_the_last_lawyer_cannot_be_removed_to_skip_the_second_person(app: Flask, world: World):
    admin, legal = world.people["admin"], world.people["legal"]
    refused = admin.delete(f"/api/v1/cases/{world.case_id}/members/{legal.id}")
    body = assert_problem(refused, 409)
    assert body["type"].endswith("last-legal-member")
    assert events_of(app, refused)[0]["action"] == "case.member.remove"
    assert legal.id in _members(admin, world.case_id)["members"]
    # With a second lawyer approved, either may go.
    second = make_caller(app, "second-lawyer", "legal")
    ok(admin.put(f"/api/v1/cases/{world.case_id}/members/{second.id}"), 202)
    ok(legal.post(f"/api/v1/cases/{world.case_id}/members/{second.id}/approve"))
    assert admin.delete(f"/api/v1/cases/{world.case_id}/members/{legal.id}").status_code == 204
    assert_problem(admin.delete(f"/api/v1/cases/{world.case_id}/members/{second.id}"), 409)


def test_approval_needs_an_active_member_role(app: Flask, world: World):
    admin, legal = world.people["admin"], world.people["legal"]
    assert_problem(admin.put(f"/api/v1/cases/{world.case_id}/members/{world.people['auditor'].id}"), 422)
    assert_problem(admin.put(f"/api/v1/cases/{world.case_id}/members/999999"), 422)
    assert_problem(legal.post(f"/api/v1/cases/{world.case_id}/members/{world.people['outsider'].id}/approve"), 404)


def test_an_admin_password_reset_sends_the_lawyer_back_for_approval(app: Flask, world: World):
    """The other insider path: reset a lawyer's password, log in as them, read. Not without a colleague."""
    admin, legal = world.people["admin"], world.people["legal"]
    ok(world.people["interviewer"].post(f"/api/v1/interviews/{world.interview_id}/transcripts",
                                        {"text": "They took them to the quarry."}), 201)
    password = "umber falcon quartz meadow 71"
    created = ok(admin.post("/api/v1/users", {"username": "lena", "password": password, "role": "legal"}), 201)
    lena = _caller_for(app, created, password)
    ok(admin.put(f"/api/v1/cases/{world.case_id}/members/{lena.id}"), 202)
    ok(legal.post(f"/api/v1/cases/{world.case_id}/members/{lena.id}/approve"))
    ok(lena.get(f"/api/v1/interviews/{world.interview_id}/transcripts/1"))

    reset = admin.patch(f"/api/v1/users/{lena.id}", {"password": "cobalt harbour lantern 52 fig"})
    ok(reset)
    (event,) = events_of(app, reset)
    assert event["details"]["memberships_suspended"] == [world.case_id]
    insider = _caller_for(app, created, "cobalt harbour lantern 52 fig")
    hidden = insider.get(f"/api/v1/interviews/{world.interview_id}/transcripts/1")
    assert_problem(hidden, 404)
    assert events_of(app, hidden)[0]["outcome"] == "denied"
    assert _members(admin, world.case_id)["proposals"] == [lena.id]
    # Neither the admin nor the user themself is the second person; the case's other lawyer is.
    assert_problem(insider.post(f"/api/v1/cases/{world.case_id}/members/{lena.id}/approve"), 404)
    ok(legal.post(f"/api/v1/cases/{world.case_id}/members/{lena.id}/approve"))
    ok(insider.get(f"/api/v1/interviews/{world.interview_id}/transcripts/1"))


def test_a_cases_only_lawyer_keeps_the_case_after_a_reset(app: Flask, world: World):
    """With no other lawyer nobody could approve, and the SPEC lets an admin add a first lawyer."""
    admin, legal = world.people["admin"], world.people["legal"]
    reset = admin.patch(f"/api/v1/users/{legal.id}", {"password": "cobalt harbour lantern 52 fig"})
    ok(reset)
    assert events_of(app, reset)[0]["details"]["memberships_suspended"] == []
    assert legal.id in _members(admin, world.case_id)["members"]


def test_an_approved_interviewer_made_a_lawyer_waits_for_the_cases_lawyer_again(app: Flask, world: World):
    """The third insider path: have an interviewer approved (who reads only their own interviews),
    then make them a lawyer (who reads the whole case). The lawyer approved an interviewer."""
    admin, legal = world.people["admin"], world.people["legal"]
    ok(world.people["interviewer"].post(f"/api/v1/interviews/{world.interview_id}/transcripts",
                                        {"text": "They took them to the quarry."}), 201)
    password = "umber falcon quartz meadow 71"
    created = ok(admin.post("/api/v1/users", {"username": "mallory", "password": password,
                                              "role": "interviewer"}), 201)
    mallory = _caller_for(app, created, password)
    members = f"/api/v1/cases/{world.case_id}/members/{mallory.id}"
    ok(admin.put(members), 202)
    ok(legal.post(f"{members}/approve"))
    transcript = f"/api/v1/interviews/{world.interview_id}/transcripts/1"
    assert_problem(mallory.get(transcript), 403)  # a member, but not their interview

    promoted = admin.patch(f"/api/v1/users/{mallory.id}", {"role": "legal"})
    assert ok(promoted)["role"] == "legal"
    (event,) = events_of(app, promoted)
    assert event["details"]["memberships_suspended"] == [world.case_id]
    hidden = mallory.get(transcript)
    assert_problem(hidden, 404)
    assert events_of(app, hidden)[0]["outcome"] == "denied"
    after = _members(admin, world.case_id)
    assert mallory.id not in after["members"] and after["proposals"] == [mallory.id]
    assert_problem(mallory.post(f"{members}/approve"), 404)
    ok(legal.post(f"{members}/approve"))  # the second person, knowing what they approve now
    assert ok(mallory.get(transcript))["text"] == "They took them to the quarry."


def test_a_cases_last_lawyer_keeps_the_role(app: Flask, world: World):
    admin, legal = world.people["admin"], world.people["legal"]
    refused = admin.patch(f"/api/v1/users/{legal.id}", {"role": "interviewer"})
    assert assert_problem(refused, 409)["type"].endswith("last-legal-member")
    assert events_of(app, refused)[0]["action"] == "user.update"
    assert ok(admin.get(f"/api/v1/users/{legal.id}"))["role"] == "legal"
    assert ok(legal.get(f"/api/v1/cases/{world.case_id}"))["id"] == world.case_id
    # With a second lawyer approved, the first may become an interviewer of the case (less access).
    second = make_caller(app, "second-lawyer", "legal")
    ok(admin.put(f"/api/v1/cases/{world.case_id}/members/{second.id}"), 202)
    ok(legal.post(f"/api/v1/cases/{world.case_id}/members/{second.id}/approve"))
    assert ok(admin.patch(f"/api/v1/users/{legal.id}", {"role": "interviewer"}))["role"] == "interviewer"
    assert legal.id in _members(admin, world.case_id)["members"]
    assert_problem(admin.patch(f"/api/v1/users/{second.id}", {"role": "auditor"}), 409)


def test_a_role_that_cannot_be_a_member_leaves_every_case(app: Flask, world: World):
    admin, interviewer = world.people["admin"], world.people["interviewer"]
    pending_case = ok(admin.post("/api/v1/cases", {"title": "With a lawyer"}), 201)["id"]
    ok(admin.put(f"/api/v1/cases/{pending_case}/members/{world.people['legal'].id}"))
    ok(admin.put(f"/api/v1/cases/{pending_case}/members/{interviewer.id}"), 202)
    changed = admin.patch(f"/api/v1/users/{interviewer.id}", {"role": "auditor"})
    assert ok(changed)["role"] == "auditor"
    details = events_of(app, changed)[0]["details"]
    assert (details["memberships_ended"], details["proposals_withdrawn"]) == ([world.case_id], [pending_case])
    assert interviewer.id not in _members(admin, world.case_id)["members"]
    assert _members(admin, pending_case)["proposals"] == []


def test_two_lawyers_demoted_at_once_leave_the_case_one(app: Flask, world: World):
    """Each demotion checks for another lawyer; raced, both could see the other and both pass,
    unless the check and the change are serialised on the case row (real threads on PostgreSQL)."""
    admin = world.people["admin"]
    for round_ in range(4):
        case = ok(admin.post("/api/v1/cases", {"title": f"Race {round_}"}), 201)["id"]
        lawyers = [make_caller(app, f"race-{round_}-{n}", "legal") for n in range(2)]
        ok(admin.put(f"/api/v1/cases/{case}/members/{lawyers[0].id}"))
        ok(admin.put(f"/api/v1/cases/{case}/members/{lawyers[1].id}"), 202)
        ok(lawyers[0].post(f"/api/v1/cases/{case}/members/{lawyers[1].id}/approve"))

        def demote(user_id: int):
            return app.test_client().patch(f"/api/v1/users/{user_id}", json={"role": "interviewer"},
                                           headers={"Authorization": f"Bearer {admin.token}"})

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(demote, [lawyer.id for lawyer in lawyers]))
        assert sorted(answer.status_code for answer in answers) == [200, 409], round_
        roles = [ok(admin.get(f"/api/v1/users/{lawyer.id}"))["role"] for lawyer in lawyers]
        assert sorted(roles) == ["interviewer", "legal"], round_
