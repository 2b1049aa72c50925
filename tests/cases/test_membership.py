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
    caller = Caller(
        app.test_client(), user["id"], user["username"], user["role"], _token_for(app, user["id"]), password
    )
    # Where an admin-set password must be replaced before anything else, the insider who knows it
    # does just that (a deployment without that rule has no such route: 404).
    changed = caller.post(
        "/api/v1/auth/password", {"current_password": password, "new_password": "velvet orbit canyon tulip 38"}
    )
    if changed.status_code != 404:
        assert changed.status_code in (200, 204), changed.get_data(as_text=True)
        caller.token = _token_for(app, user["id"])  # changing it ended the account's tokens
    return caller


def _members(caller: Caller, case_id: int) -> dict[str, list[int]]:
    case = ok(caller.get(f"/api/v1/cases/{case_id}"))
    return {"members": [m["user_id"] for m in case["members"]], "proposals": [p["user_id"] for p in case["proposals"]]}


def test_an_admins_lawyer_reads_nothing_until_the_cases_lawyer_approves(app: Flask, world: World):
    admin, legal = world.people["admin"], world.people["legal"]
    ok(
        world.people["interviewer"].post(
            f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "They took them to the quarry."}
        ),
        201,
    )
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
    assert (event["action"], event["outcome"], event["details"]["result"]) == ("case.member.add", "allowed", "proposed")
    assert _members(admin, world.case_id)["proposals"] == [mallory.id]
    assert mallory.id not in _members(admin, world.case_id)["members"]

    # Pending: the proposed lawyer sees nothing of the case, and cannot approve themselves.
    transcript = f"/api/v1/interviews/{world.interview_id}/transcripts/1"
    for path in (
        f"/api/v1/cases/{world.case_id}",
        transcript,
        f"/api/v1/witnesses/{world.witness_id}",
        f"/api/v1/cases/{world.case_id}/file",
    ):
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


def test_a_cases_first_members_wait_for_a_second_admin(app: Flask, world: World):
    """No lawyer yet: nobody of the case can be the second person, so a second admin is."""
    admin, admin2, legal = world.people["admin"], world.people["admin2"], world.people["legal"]
    case = ok(admin.post("/api/v1/cases", {"title": "No lawyer yet"}), 201)["id"]
    members = f"/api/v1/cases/{case}/members"
    first = admin.put(f"{members}/{world.people['interviewer'].id}")
    assert ok(first, 202)["status"] == "pending" and first.get_json()["kind"] == "add"
    assert events_of(app, first)[0]["details"]["result"] == "proposed"
    assert ok(admin.put(f"{members}/{legal.id}"), 202)["status"] == "pending"
    assert_problem(legal.get(f"/api/v1/cases/{case}"), 404)
    # The proposer is not the second person, nor is an admin the proposer made (whose password they chose).
    assert assert_problem(admin.post(f"{members}/{legal.id}/approve"), 403)["type"].endswith("/second-person-required")
    password = "umber falcon quartz meadow 71"
    created = ok(admin.post("/api/v1/users", {"username": "admin3", "password": password, "role": "admin"}), 201)
    admin3 = _caller_for(app, created, password)
    refused = admin3.post(f"{members}/{legal.id}/approve")
    assert assert_problem(refused, 403)["type"].endswith("/admin-not-independent")
    assert events_of(app, refused)[0]["outcome"] == "denied"

    approved = admin2.post(f"{members}/{legal.id}/approve")
    assert ok(approved)["status"] == "member"
    (event,) = events_of(app, approved)
    assert (event["actor_id"], event["details"]["approved_as"], event["details"]["kind"]) == (
        admin2.id,
        "second_admin",
        "add",
    )
    ok(legal.get(f"/api/v1/cases/{case}"))
    # Now the case has a lawyer: the interviewer waits for them, not for an admin.
    interviewer = world.people["interviewer"].id
    assert assert_problem(admin2.post(f"{members}/{interviewer}/approve"), 403)["type"].endswith("/lawyer-approves")
    assert ok(legal.post(f"{members}/{interviewer}/approve"))["status"] == "member"
    assert ok(admin.put(f"{members}/{interviewer}"))["status"] == "member"  # already a member: 200


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


def test_a_lawyers_removal_waits_for_another_lawyer_and_the_last_stays(app: Flask, world: World):
    admin, legal = world.people["admin"], world.people["legal"]
    refused = admin.delete(f"/api/v1/cases/{world.case_id}/members/{legal.id}")
    body = assert_problem(refused, 409)
    assert body["type"].endswith("last-legal-member")
    assert events_of(app, refused)[0]["action"] == "case.member.remove"
    assert legal.id in _members(admin, world.case_id)["members"]
    second = make_caller(app, "second-lawyer", "legal")
    ok(admin.put(f"/api/v1/cases/{world.case_id}/members/{second.id}"), 202)
    ok(legal.post(f"/api/v1/cases/{world.case_id}/members/{second.id}/approve"))
    # With a second lawyer, removing one is a proposal: the lawyer stays until the other approves.
    removal = admin.delete(f"/api/v1/cases/{world.case_id}/members/{legal.id}")
    assert (ok(removal, 202)["status"], removal.get_json()["kind"]) == ("pending", "remove")
    assert legal.id in _members(admin, world.case_id)["members"]
    ok(legal.get(f"/api/v1/cases/{world.case_id}/file"))
    # Not by the lawyer concerned (either way), nor by an admin while the case has a lawyer.
    assert_problem(legal.post(f"/api/v1/cases/{world.case_id}/members/{legal.id}/approve"), 403)
    assert_problem(legal.delete(f"/api/v1/cases/{world.case_id}/members/{legal.id}/proposal"), 403)
    assert_problem(world.people["admin2"].post(f"/api/v1/cases/{world.case_id}/members/{legal.id}/approve"), 403)
    approved = second.post(f"/api/v1/cases/{world.case_id}/members/{legal.id}/approve")
    assert ok(approved)["status"] == "removed"
    assert events_of(app, approved)[0]["details"]["result"] == "removed"
    assert_problem(legal.get(f"/api/v1/cases/{world.case_id}"), 404)
    assert_problem(admin.delete(f"/api/v1/cases/{world.case_id}/members/{second.id}"), 409)
    # An interviewer leaves at once: less access needs no second person.
    assert admin.delete(f"/api/v1/cases/{world.case_id}/members/{world.people['interviewer2'].id}").status_code == 204


def test_approval_needs_an_active_member_role(app: Flask, world: World):
    admin, legal = world.people["admin"], world.people["legal"]
    assert_problem(admin.put(f"/api/v1/cases/{world.case_id}/members/{world.people['auditor'].id}"), 422)
    assert_problem(admin.put(f"/api/v1/cases/{world.case_id}/members/999999"), 422)
    assert_problem(legal.post(f"/api/v1/cases/{world.case_id}/members/{world.people['outsider'].id}/approve"), 404)


def test_an_admin_password_reset_sends_the_lawyer_back_for_approval(app: Flask, world: World):
    """The other insider path: reset a lawyer's password, log in as them, read. Not without a colleague."""
    admin, legal = world.people["admin"], world.people["legal"]
    ok(
        world.people["interviewer"].post(
            f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "They took them to the quarry."}
        ),
        201,
    )
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


def test_a_reset_suspends_even_a_cases_only_lawyer_until_a_second_admin_restores(app: Flask, world: World):
    """The attack this closes: reset the only lawyer, make the forced change, read as them."""
    admin, admin2, legal = world.people["admin"], world.people["admin2"], world.people["legal"]
    ok(
        world.people["interviewer"].post(
            f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "They took them to the quarry."}
        ),
        201,
    )
    password = "cobalt harbour lantern 52 fig"
    reset = admin.patch(f"/api/v1/users/{legal.id}", {"password": password})
    ok(reset)
    details = events_of(app, reset)[0]["details"]
    assert (details["memberships_suspended"], details["suspended_for"]) == ([world.case_id], ["password_reset"])
    case = ok(admin.get(f"/api/v1/cases/{world.case_id}"))
    (proposal,) = case["proposals"]
    assert (proposal["user_id"], proposal["kind"], proposal["reason"], proposal["proposed_by_id"]) == (
        legal.id,
        "restore",
        "password_reset",
        admin.id,
    )
    insider = _caller_for(app, {"id": legal.id, "username": "legal", "role": "legal"}, password)
    for path in (f"/api/v1/interviews/{world.interview_id}/transcripts/1", f"/api/v1/cases/{world.case_id}/file"):
        assert_problem(insider.get(path), 404)
    # Neither the resetting admin, nor the account, nor the interviewers restore it.
    assert_problem(admin.post(f"/api/v1/cases/{world.case_id}/members/{legal.id}/approve"), 403)
    assert_problem(insider.post(f"/api/v1/cases/{world.case_id}/members/{legal.id}/approve"), 404)
    assert_problem(world.people["interviewer"].post(f"/api/v1/cases/{world.case_id}/members/{legal.id}/approve"), 403)
    # Meanwhile the case has no lawyer: new members wait for two admins as well.
    newcomer = make_caller(app, "newcomer", "interviewer")
    ok(admin.put(f"/api/v1/cases/{world.case_id}/members/{newcomer.id}"), 202)
    restored = admin2.post(f"/api/v1/cases/{world.case_id}/members/{legal.id}/approve")
    assert ok(restored)["status"] == "member"
    assert events_of(app, restored)[0]["details"]["reason"] == "password_reset"
    assert ok(insider.get(f"/api/v1/interviews/{world.interview_id}/transcripts/1"))["text"]


def test_several_lawyers_do_not_make_it_one_persons_word(app: Flask, world: World):
    """Remove or reset the other lawyers first, then the last one: every step waits for someone else."""
    admin, admin2, legal = world.people["admin"], world.people["admin2"], world.people["legal"]
    second = make_caller(app, "second-lawyer", "legal")
    members = f"/api/v1/cases/{world.case_id}/members"
    ok(admin.put(f"{members}/{second.id}"), 202)
    ok(legal.post(f"{members}/{second.id}/approve"))
    ok(admin.delete(f"{members}/{second.id}"), 202)  # a removal is only proposed
    # Reset both: both suspended, the pending removal with them.
    for lawyer in (second, legal):
        assert events_of(
            app, ok_response(admin.patch(f"/api/v1/users/{lawyer.id}", {"password": "cobalt harbour lantern 52 fig"}))
        )[0]["details"]["memberships_suspended"] == [world.case_id]
    kinds = {p["user_id"]: p["kind"] for p in ok(admin.get(f"/api/v1/cases/{world.case_id}"))["proposals"]}
    assert kinds == {legal.id: "restore", second.id: "restore"}
    assert [m for m in _members(admin, world.case_id)["members"] if m in (legal.id, second.id)] == []
    # An admin the first admin made through the API is not a second admin; neither is the proposer.
    password = "umber falcon quartz meadow 71"
    created = ok(admin.post("/api/v1/users", {"username": "admin3", "password": password, "role": "admin"}), 201)
    admin3 = _caller_for(app, created, password)
    for approver in (admin, admin3):
        assert_problem(approver.post(f"{members}/{legal.id}/approve"), 403)
    ok(admin2.post(f"{members}/{legal.id}/approve"))
    # With a lawyer back, the other waits for that lawyer, no longer for an admin.
    assert_problem(admin2.post(f"{members}/{second.id}/approve"), 403)


def ok_response(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def test_an_admin_whose_password_another_admin_set_is_not_independent(app: Flask, world: World):
    """A chain of resets: whoever reset an admin may act as them, and so as anyone that admin reset."""
    admin, admin2, legal = world.people["admin"], world.people["admin2"], world.people["legal"]
    ok(admin2.patch(f"/api/v1/users/{admin.id}", {"password": "saffron kettle meridian 44 dune"}))
    admin_again = _caller_for(
        app, {"id": admin.id, "username": "admin", "role": "admin"}, "saffron kettle meridian 44 dune"
    )
    ok(admin_again.patch(f"/api/v1/users/{legal.id}", {"password": "cobalt harbour lantern 52 fig"}))
    refused = admin2.post(f"/api/v1/cases/{world.case_id}/members/{legal.id}/approve")
    assert assert_problem(refused, 403)["type"].endswith("/admin-not-independent")
    admin4 = make_caller(app, "admin4", "admin")  # made by the operator: independent of both
    ok(admin4.post(f"/api/v1/cases/{world.case_id}/members/{legal.id}/approve"))


def test_an_mfa_reset_suspends_every_membership(app: Flask, world: World):
    import pyotp

    admin, admin2, legal = world.people["admin"], world.people["admin2"], world.people["legal"]
    secret = ok(legal.post("/api/v1/auth/mfa/totp", {"password": legal.password}))["secret"]
    ok(legal.post("/api/v1/auth/mfa/totp/confirm", {"code": pyotp.TOTP(secret).now()}))
    assert_problem(world.people["legal"].delete(f"/api/v1/users/{legal.id}/mfa"), 401)  # confirming ended it
    legal.token = _token_for(app, legal.id)
    assert_problem(legal.delete(f"/api/v1/users/{legal.id}/mfa"), 403)
    reset = admin.delete(f"/api/v1/users/{legal.id}/mfa")
    assert ok(reset)["mfa_enabled"] is False
    (event,) = events_of(app, reset)
    assert (event["action"], event["details"]["memberships_suspended"], event["details"]["was_enabled"]) == (
        "user.mfa.reset",
        [world.case_id],
        True,
    )
    assert event["details"]["tokens_revoked"] >= 1
    assert_problem(legal.get("/api/v1/auth/me"), 401)
    legal.token = _token_for(app, legal.id)
    assert_problem(legal.get(f"/api/v1/cases/{world.case_id}"), 404)
    assert_problem(admin.post(f"/api/v1/cases/{world.case_id}/members/{legal.id}/approve"), 403)
    ok(admin2.post(f"/api/v1/cases/{world.case_id}/members/{legal.id}/approve"))
    ok(legal.get(f"/api/v1/cases/{world.case_id}/file"))
    # Reset again, with no second factor left: whoever enrols next sets it, so the same holds.
    again = admin.delete(f"/api/v1/users/{legal.id}/mfa")
    assert events_of(app, again)[0]["details"]["was_enabled"] is False
    assert events_of(app, again)[0]["details"]["memberships_suspended"] == [world.case_id]


def test_deactivation_suspends_and_reactivation_restores_nothing_by_itself(app: Flask, world: World):
    admin, legal, interviewer = world.people["admin"], world.people["legal"], world.people["interviewer"]
    off = admin.patch(f"/api/v1/users/{interviewer.id}", {"active": False})
    assert ok(off)["active"] is False
    details = events_of(app, off)[0]["details"]
    assert (details["memberships_suspended"], details["suspended_for"]) == ([world.case_id], ["deactivation"])
    # Nobody restores an inactive account's membership.
    assert_problem(legal.post(f"/api/v1/cases/{world.case_id}/members/{interviewer.id}/approve"), 422)
    on = admin.patch(f"/api/v1/users/{interviewer.id}", {"active": True})
    assert ok(on)["active"] is True
    assert events_of(app, on)[0]["details"]["memberships_suspended"] == []
    interviewer.token = _token_for(app, interviewer.id)
    assert_problem(interviewer.get(f"/api/v1/cases/{world.case_id}"), 404)
    ok(legal.post(f"/api/v1/cases/{world.case_id}/members/{interviewer.id}/approve"))
    ok(interviewer.get(f"/api/v1/cases/{world.case_id}"))


def test_an_approved_interviewer_made_a_lawyer_waits_for_the_cases_lawyer_again(app: Flask, world: World):
    """The third insider path: have an interviewer approved (who reads only their own interviews),
    then make them a lawyer (who reads the whole case). The lawyer approved an interviewer."""
    admin, legal = world.people["admin"], world.people["legal"]
    ok(
        world.people["interviewer"].post(
            f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "They took them to the quarry."}
        ),
        201,
    )
    password = "umber falcon quartz meadow 71"
    created = ok(admin.post("/api/v1/users", {"username": "mallory", "password": password, "role": "interviewer"}), 201)
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


def test_an_interviewer_made_a_cases_only_lawyer_waits_for_a_second_admin(app: Flask, world: World):
    admin, admin2 = world.people["admin"], world.people["admin2"]
    interviewer = world.people["interviewer2"]
    case = ok(admin.post("/api/v1/cases", {"title": "Only an interviewer"}), 201)["id"]
    ok(admin.put(f"/api/v1/cases/{case}/members/{interviewer.id}"), 202)
    ok(admin2.post(f"/api/v1/cases/{case}/members/{interviewer.id}/approve"))
    promoted = admin.patch(f"/api/v1/users/{interviewer.id}", {"role": "legal"})
    assert sorted(events_of(app, promoted)[0]["details"]["memberships_suspended"]) == sorted([world.case_id, case])
    assert_problem(interviewer.get(f"/api/v1/cases/{case}"), 404)
    assert_problem(admin.post(f"/api/v1/cases/{case}/members/{interviewer.id}/approve"), 403)
    ok(admin2.post(f"/api/v1/cases/{case}/members/{interviewer.id}/approve"))
    ok(interviewer.get(f"/api/v1/cases/{case}/file"))


def test_a_lawyer_of_a_case_keeps_the_role_until_removed(app: Flask, world: World):
    admin, legal = world.people["admin"], world.people["legal"]
    refused = admin.patch(f"/api/v1/users/{legal.id}", {"role": "interviewer"})
    assert assert_problem(refused, 409)["type"].endswith("legal-member")
    assert events_of(app, refused)[0]["action"] == "user.update"
    assert ok(admin.get(f"/api/v1/users/{legal.id}"))["role"] == "legal"
    assert ok(legal.get(f"/api/v1/cases/{world.case_id}"))["id"] == world.case_id
    # A second lawyer does not change that: taking a lawyer out of a case needs a second person.
    second = make_caller(app, "second-lawyer", "legal")
    ok(admin.put(f"/api/v1/cases/{world.case_id}/members/{second.id}"), 202)
    ok(legal.post(f"/api/v1/cases/{world.case_id}/members/{second.id}/approve"))
    assert_problem(admin.patch(f"/api/v1/users/{legal.id}", {"role": "interviewer"}), 409)
    ok(admin.delete(f"/api/v1/cases/{world.case_id}/members/{legal.id}"), 202)
    ok(second.post(f"/api/v1/cases/{world.case_id}/members/{legal.id}/approve"))
    assert ok(admin.patch(f"/api/v1/users/{legal.id}", {"role": "interviewer"}))["role"] == "interviewer"
    assert_problem(admin.patch(f"/api/v1/users/{second.id}", {"role": "auditor"}), 409)


def test_a_role_that_cannot_be_a_member_leaves_every_case(app: Flask, world: World):
    admin, interviewer = world.people["admin"], world.people["interviewer"]
    pending_case = ok(admin.post("/api/v1/cases", {"title": "Waiting for its first members"}), 201)["id"]
    ok(admin.put(f"/api/v1/cases/{pending_case}/members/{interviewer.id}"), 202)
    changed = admin.patch(f"/api/v1/users/{interviewer.id}", {"role": "auditor"})
    assert ok(changed)["role"] == "auditor"
    details = events_of(app, changed)[0]["details"]
    assert (details["memberships_ended"], details["proposals_withdrawn"]) == ([world.case_id], [pending_case])
    assert interviewer.id not in _members(admin, world.case_id)["members"]
    assert _members(admin, pending_case)["proposals"] == []


def test_two_lawyers_removing_each_other_at_once_leave_the_case_one(app: Flask, world: World):
    """Each approval checks that its approver is still a lawyer and that one stays; raced, both could
    pass, unless the check and the change are serialised on the case row (real threads on PostgreSQL)."""
    admin, admin2 = world.people["admin"], world.people["admin2"]
    for round_ in range(4):
        case = ok(admin.post("/api/v1/cases", {"title": f"Race {round_}"}), 201)["id"]
        lawyers = [make_caller(app, f"race-{round_}-{n}", "legal") for n in range(2)]
        ok(admin.put(f"/api/v1/cases/{case}/members/{lawyers[0].id}"), 202)
        ok(admin2.post(f"/api/v1/cases/{case}/members/{lawyers[0].id}/approve"))
        ok(admin.put(f"/api/v1/cases/{case}/members/{lawyers[1].id}"), 202)
        ok(lawyers[0].post(f"/api/v1/cases/{case}/members/{lawyers[1].id}/approve"))
        for lawyer in lawyers:
            ok(admin.delete(f"/api/v1/cases/{case}/members/{lawyer.id}"), 202)

        def approve(pair: tuple[Caller, Caller], case: int = case):
            approver, removed = pair
            return app.test_client().post(
                f"/api/v1/cases/{case}/members/{removed.id}/approve",
                headers={"Authorization": f"Bearer {approver.token}"},
            )

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(approve, [(lawyers[0], lawyers[1]), (lawyers[1], lawyers[0])]))
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses[0] == 200 and statuses[1] in (403, 404, 409), (round_, statuses)
        remaining = [m for m in _members(admin, case)["members"] if m in (lawyers[0].id, lawyers[1].id)]
        assert len(remaining) == 1, round_
