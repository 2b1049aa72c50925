"""Accounts hardened: token lineage, password strength and changes, admin-set passwords, TOTP.

On both databases, through the real app: what an admin or a stolen credential can no longer do.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
import pytest
from flask import Flask
from sqlalchemy import select

from casework.auth import mfa
from casework.auth.models import ApiToken, RecoveryCode, TotpSecret, User
from casework.db import db, utcnow
from tests.conftest import PASSWORD, World, ok
from tests.helpers import all_events, assert_problem, events_of
from tests.settings import patch_settings

NEW_PASSWORD = "tulip orbit canyon vellum"
RESET_PASSWORD = "quiet heron paints seventeen lanterns"
T0 = 1_800_000_000.0  # a fixed time, so TOTP codes are predictable (30-second steps)


def login(client, username: str, password: str = PASSWORD, **extra: Any):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password, **extra})


def session_of(app: Flask, username: str, password: str = PASSWORD, **extra: Any) -> tuple[Any, dict[str, str]]:
    """A test client logged in by cookie, and the CSRF header its changes need."""
    client = app.test_client()
    body = ok(login(client, username, password, **extra))
    return client, {"X-CSRF-Token": body["csrf_token"]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):
    """Set the TOTP clock: ``clock(steps)`` moves to T0 + steps * 30 s and returns that time."""

    def set_time(steps: float = 0) -> float:
        now = T0 + steps * mfa.PERIOD
        monkeypatch.setattr(mfa, "_clock", lambda: now)
        return now

    set_time(0)
    return set_time


def code_at(secret: str, steps: float = 0) -> str:
    return pyotp.TOTP(secret).at(T0 + steps * mfa.PERIOD)


def enrol(client, headers: dict[str, str], password: str = PASSWORD) -> tuple[str, list[str]]:
    """Enrol and confirm TOTP (at the clock's T0); the secret and the recovery codes."""
    started = ok(client.post("/api/v1/auth/mfa/totp", json={"password": password}, headers=headers))
    codes = ok(
        client.post("/api/v1/auth/mfa/totp/confirm", json={"code": code_at(started["secret"])}, headers=headers)
    )["recovery_codes"]
    return started["secret"], codes


# ---------------------------------------------------------------------------------------------
# Tokens: a token cannot make a token that outlives or survives it


def test_a_token_cannot_mint_a_longer_lived_token(app, people):
    legal = people["legal"]
    day = ok(legal.post("/api/v1/auth/tokens", {"name": "one day", "expires_in_days": 1}), 201)
    assert day["parent_token_id"] is not None  # made with the fixture's bearer token
    client = app.test_client()
    year = client.post(
        "/api/v1/auth/tokens", json={"name": "a year", "expires_in_days": 365}, headers=bearer(day["token"])
    )
    child = ok(year, 201)
    assert child["parent_token_id"] == day["id"]
    assert child["expires_at"] <= day["expires_at"]
    with app.app_context():
        stored = db.session.get(ApiToken, child["id"])
        assert stored.expires_at <= utcnow() + timedelta(days=1)
    (event,) = events_of(app, year)
    assert event["action"] == "token.create" and event["details"]["parent_token_id"] == day["id"]
    assert event["details"]["capped_by_parent"] is True


def test_revoking_a_token_revokes_every_token_made_through_it(app, people):
    legal = people["legal"]
    parent = ok(legal.post("/api/v1/auth/tokens", {"name": "parent", "expires_in_days": 7}), 201)
    client = app.test_client()
    child = ok(client.post("/api/v1/auth/tokens", json={"name": "child"}, headers=bearer(parent["token"])), 201)
    grandchild = ok(
        client.post("/api/v1/auth/tokens", json={"name": "grandchild"}, headers=bearer(child["token"])), 201
    )
    sibling = ok(legal.post("/api/v1/auth/tokens", {"name": "unrelated"}), 201)
    for token in (child, grandchild):
        assert client.get("/api/v1/auth/me", headers=bearer(token["token"])).status_code == 200
    revoked = legal.delete(f"/api/v1/auth/tokens/{parent['id']}")
    assert revoked.status_code == 204
    assert events_of(app, revoked)[0]["details"]["tokens_revoked"] == 3
    for token in (parent, child, grandchild):
        assert_problem(client.get("/api/v1/auth/me", headers=bearer(token["token"])), 401)
    assert client.get("/api/v1/auth/me", headers=bearer(sibling["token"])).status_code == 200
    assert legal.get("/api/v1/auth/me").status_code == 200  # the fixture's token, the parent's parent


def test_sessions_make_root_tokens(app, people):
    client, csrf = session_of(app, "legal")
    token = ok(client.post("/api/v1/auth/tokens", json={"name": "laptop", "expires_in_days": 365}, headers=csrf), 201)
    assert token["parent_token_id"] is None
    with app.app_context():
        assert db.session.get(ApiToken, token["id"]).expires_at > utcnow() + timedelta(days=364)


# ---------------------------------------------------------------------------------------------
# Password strength


@pytest.mark.parametrize(
    "password",
    [
        "aaaaaaaaaaaa",
        "marianne.kowalczyk",
        "marianne.kowalczyk2026",
        "Kowalczyk Marianne",
        "password1234",
        "casework2026!",
    ],
)
def test_guessable_passwords_are_refused_with_feedback(app, people, password):
    response = people["admin"].post(
        "/api/v1/users",
        {"username": "marianne.kowalczyk", "password": password, "role": "legal", "display_name": "Marianne Kowalczyk"},
    )
    body = assert_problem(response, 422)
    assert body["type"].endswith("/weak-password")
    messages = body["errors"]["json"]["password"]
    assert messages[0].startswith("Too easy to guess") and len(messages) >= 2
    assert password not in response.get_data(as_text=True)
    (event,) = events_of(app, response)
    assert event["action"] == "user.create" and event["outcome"] == "error"
    assert password not in str(event)
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "marianne.kowalczyk")) is None


def test_admin_reset_and_self_change_are_checked_too(app, people):
    admin, legal = people["admin"], people["legal"]
    reset = admin.patch(f"/api/v1/users/{legal.id}", {"password": "legal" * 3})
    assert assert_problem(reset, 422)["errors"]["json"]["password"]
    assert legal.get("/api/v1/auth/me").status_code == 200  # a refused reset changes nothing
    weak = legal.post("/api/v1/auth/password", {"current_password": PASSWORD, "new_password": "aaaaaaaaaaaa"})
    body = assert_problem(weak, 422)
    assert body["type"].endswith("/weak-password") and body["errors"]["json"]["new_password"]
    assert "aaaaaaaaaaaa" not in weak.get_data(as_text=True)


def test_operator_cli_refuses_weak_passwords(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "bootstrap", "--role", "admin"], env={"CASEWORK_PASSWORD": "bootstrap-admin"}
    )
    assert result.exit_code != 0 and "too easy to guess" in result.output
    assert "bootstrap-admin" not in result.output


# ---------------------------------------------------------------------------------------------
# Changing one's own password


def test_changing_the_password_ends_every_other_session_and_every_token(app, people):
    legal = people["legal"]
    here, csrf = session_of(app, "legal")
    elsewhere, _ = session_of(app, "legal")
    changed = here.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}, headers=csrf
    )
    assert changed.status_code == 204
    (event,) = events_of(app, changed)
    assert (event["action"], event["outcome"]) == ("auth.password.change", "allowed")
    assert event["details"]["sessions_revoked"] == 1 and event["details"]["tokens_revoked"] == 1
    assert NEW_PASSWORD not in str(event) and PASSWORD not in str(event)
    assert here.get("/api/v1/auth/me").status_code == 200  # this session stays
    assert_problem(elsewhere.get("/api/v1/auth/me"), 401)
    assert_problem(legal.get("/api/v1/auth/me"), 401)
    assert_problem(login(app.test_client(), "legal"), 401)
    assert login(app.test_client(), "legal", NEW_PASSWORD).status_code == 200


def test_password_change_needs_the_current_password(app, people):
    legal = people["legal"]
    wrong = legal.post("/api/v1/auth/password", {"current_password": "not my password", "new_password": NEW_PASSWORD})
    assert assert_problem(wrong, 403)["type"].endswith("/reauthentication-failed")
    (event,) = events_of(app, wrong)
    assert event["outcome"] == "denied" and event["details"]["reason"] == "wrong_current_password"
    same = legal.post("/api/v1/auth/password", {"current_password": PASSWORD, "new_password": PASSWORD})
    assert_problem(same, 422)
    assert legal.get("/api/v1/auth/me").status_code == 200
    assert login(app.test_client(), "legal").status_code == 200


# ---------------------------------------------------------------------------------------------
# A password an admin sets must be changed at the next login


def test_an_account_an_admin_creates_must_change_its_password(app, world: World):
    admin = world.people["admin"]
    created = ok(
        admin.post("/api/v1/users", {"username": "new.lawyer", "password": RESET_PASSWORD, "role": "legal"}), 201
    )
    assert created["must_change_password"] is True
    client, csrf = session_of(app, "new.lawyer", RESET_PASSWORD)
    assert client.get("/api/v1/auth/me").get_json()["must_change_password"] is True
    refused = client.get(f"/api/v1/cases/{world.case_id}")
    assert assert_problem(refused, 403)["type"].endswith("/password-change-required")
    (event,) = events_of(app, refused)
    assert (event["action"], event["outcome"], event["actor_id"]) == ("auth.restricted", "denied", created["id"])
    assert event["details"]["reason"] == "password-change-required"
    assert (event["resource_type"], event["resource_id"]) == ("case", str(world.case_id))
    # No way around it: no token either.
    token = client.post("/api/v1/auth/tokens", json={"name": "sneaky"}, headers=csrf)
    assert assert_problem(token, 403)["type"].endswith("/password-change-required")
    assert (
        client.post(
            "/api/v1/auth/password",
            json={"current_password": RESET_PASSWORD, "new_password": NEW_PASSWORD},
            headers=csrf,
        ).status_code
        == 204
    )
    assert client.get("/api/v1/auth/me").get_json()["must_change_password"] is False
    ok(client.get("/api/v1/cases"))
    ok(client.post("/api/v1/cases", json={"title": "Her own case"}, headers=csrf), 201)


def test_admin_reset_does_not_let_the_admin_read_as_the_lawyer(app, world: World):
    """The insider path: an admin resets a lawyer's password and logs in as them."""
    admin, legal = world.people["admin"], world.people["legal"]
    reset = admin.patch(f"/api/v1/users/{legal.id}", {"password": RESET_PASSWORD})
    assert ok(reset)["must_change_password"] is True
    (event,) = events_of(app, reset)
    assert event["details"]["must_change_password"] is True and event["details"]["tokens_revoked"] == 1
    assert_problem(legal.get(f"/api/v1/cases/{world.case_id}/file"), 401)  # the lawyer's token ended
    as_lawyer, _ = session_of(app, "legal", RESET_PASSWORD)
    for path in (
        f"/api/v1/cases/{world.case_id}/file",
        f"/api/v1/interviews/{world.interview_id}",
        f"/api/v1/witnesses/{world.witness_id}",
        f"/api/v1/cases/{world.case_id}",
    ):
        assert assert_problem(as_lawyer.get(path), 403)["type"].endswith("/password-change-required")


def test_admin_reset_of_a_lawyer_with_a_second_factor_gives_no_session(app, world: World, clock):
    """With TOTP on, the reset password alone (all the admin knows) does not log in."""
    lawyer, csrf = session_of(app, "legal")
    secret, _ = enrol(lawyer, csrf)
    ok(world.people["admin"].patch(f"/api/v1/users/{world.people['legal'].id}", {"password": RESET_PASSWORD}))
    refused = login(app.test_client(), "legal", RESET_PASSWORD)
    assert assert_problem(refused, 401)["type"].endswith("/mfa-required")
    assert_problem(lawyer.get("/api/v1/auth/me"), 401)  # the reset ended the lawyer's session
    # The lawyer, with their device, logs in and replaces the password the admin chose; their case
    # comes back when a second person (here, as the case has no other lawyer, a second admin) restores it.
    client, csrf = session_of(app, "legal", RESET_PASSWORD, otp=code_at(secret, 1))
    assert (
        client.post(
            "/api/v1/auth/password",
            json={"current_password": RESET_PASSWORD, "new_password": NEW_PASSWORD},
            headers=csrf,
        ).status_code
        == 204
    )
    assert_problem(client.get(f"/api/v1/cases/{world.case_id}/file"), 404)
    ok(world.people["admin2"].post(f"/api/v1/cases/{world.case_id}/members/{world.people['legal'].id}/approve"))
    ok(client.get(f"/api/v1/cases/{world.case_id}/file"))


def test_required_mfa_an_admin_enrolling_their_own_device_for_a_lawyer_reads_nothing(
    app, world: World, clock, monkeypatch
):
    """With CASEWORK_REQUIRE_MFA: reset a lawyer who has not enrolled yet, make the forced change and
    enrol an authenticator of one's own for them. The lawyer's case waits for a second person."""
    patch_settings(monkeypatch, app, auth={"require_mfa": True})
    legal = world.people["legal"]
    admin_client, admin_csrf = session_of(app, "admin")
    enrol(admin_client, admin_csrf)
    reset = admin_client.patch(f"/api/v1/users/{legal.id}", json={"password": RESET_PASSWORD}, headers=admin_csrf)
    assert ok(reset)["must_change_password"] is True
    assert events_of(app, reset)[0]["details"]["memberships_suspended"] == [world.case_id]
    as_lawyer, csrf = session_of(app, "legal", RESET_PASSWORD)
    assert (
        as_lawyer.post(
            "/api/v1/auth/password",
            json={"current_password": RESET_PASSWORD, "new_password": NEW_PASSWORD},
            headers=csrf,
        ).status_code
        == 204
    )
    enrol(as_lawyer, csrf, NEW_PASSWORD)
    for path in (
        f"/api/v1/cases/{world.case_id}/file",
        f"/api/v1/cases/{world.case_id}",
        f"/api/v1/witnesses/{world.witness_id}",
    ):
        assert_problem(as_lawyer.get(path), 404)
    proposals = ok(admin_client.get(f"/api/v1/cases/{world.case_id}"))["proposals"]
    assert [(p["user_id"], p["kind"], p["reason"]) for p in proposals] == [(legal.id, "restore", "password_reset")]
    # The resetting admin cannot restore it, however they authenticate.
    assert_problem(
        admin_client.post(f"/api/v1/cases/{world.case_id}/members/{legal.id}/approve", headers=admin_csrf), 403
    )


def test_the_operator_cli_creates_the_bootstrap_admin_without_a_forced_change(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "bootstrap", "--role", "admin"], env={"CASEWORK_PASSWORD": RESET_PASSWORD}
    )
    assert result.exit_code == 0, result.output
    client, _ = session_of(app, "bootstrap", RESET_PASSWORD)
    assert client.get("/api/v1/auth/me").get_json()["must_change_password"] is False
    ok(client.get("/api/v1/users"))


# ---------------------------------------------------------------------------------------------
# TOTP second factor


def test_totp_enrolment_confirmation_and_login(app, people, clock):
    legal = people["legal"]
    client, csrf = session_of(app, "legal")
    other, _ = session_of(app, "legal")
    wrong = client.post("/api/v1/auth/mfa/totp", json={"password": "not my password"}, headers=csrf)
    assert assert_problem(wrong, 403)["type"].endswith("/reauthentication-failed")
    started = client.post("/api/v1/auth/mfa/totp", json={"password": PASSWORD}, headers=csrf)
    enrolment = ok(started)
    secret = enrolment["secret"]
    assert enrolment["provisioning_uri"].startswith("otpauth://totp/Casework:legal?")
    assert f"secret={secret}" in enrolment["provisioning_uri"] and enrolment["digits"] == 6
    with app.app_context():
        stored = db.session.scalar(select(TotpSecret))
        assert stored.confirmed_at is None and secret.encode() not in stored.secret_ciphertext
    assert secret not in str(events_of(app, started))
    # Not on until confirmed: a login needs no code yet.
    assert login(app.test_client(), "legal").status_code == 200

    bad = client.post("/api/v1/auth/mfa/totp/confirm", json={"code": code_at(secret, 5)}, headers=csrf)
    assert assert_problem(bad, 403)["type"].endswith("/reauthentication-failed")
    confirmed = client.post("/api/v1/auth/mfa/totp/confirm", json={"code": code_at(secret)}, headers=csrf)
    codes = ok(confirmed)["recovery_codes"]
    assert len(codes) == 10 == len(set(codes))
    (event,) = events_of(app, confirmed)
    assert event["action"] == "auth.mfa.confirm" and event["details"]["recovery_codes"] == 10
    assert event["details"]["tokens_revoked"] == 1 and event["details"]["sessions_revoked"] >= 2
    assert not any(code in str(event) for code in codes)
    with app.app_context():
        hashes = set(db.session.scalars(select(RecoveryCode.code_hash)))
        assert len(hashes) == 10 and not any(code.encode() in h for code in codes for h in hashes)
    me = client.get("/api/v1/auth/me").get_json()
    assert me["mfa_enabled"] is True and me["mfa_verified"] is True
    # Credentials that did not pass the second factor ended.
    assert_problem(other.get("/api/v1/auth/me"), 401)
    assert_problem(legal.get("/api/v1/auth/me"), 401)

    # The password alone no longer logs in; a wrong or missing code gets the same answer.
    missing = login(app.test_client(), "legal")
    wrong_code = login(app.test_client(), "legal", otp=code_at(secret, 7))
    a, b = assert_problem(missing, 401), assert_problem(wrong_code, 401)
    assert a["type"].endswith("/mfa-required") and a["detail"] == b["detail"]
    assert [e["details"]["reason"] for e in events_of(app, missing) + events_of(app, wrong_code)] == [
        "mfa_missing",
        "otp_invalid",
    ]
    assert all(
        e["actor_id"] is None and e["outcome"] == "denied" for e in events_of(app, missing) + events_of(app, wrong_code)
    )
    # A code is good once (the confirmation used this step's code), with one step of tolerance.
    assert_problem(login(app.test_client(), "legal", otp=code_at(secret)), 401)
    assert (
        events_of(app, login(app.test_client(), "legal", otp=code_at(secret)))[0]["details"]["reason"] == "otp_replayed"
    )
    good = login(app.test_client(), "legal", otp=code_at(secret, 1))
    assert ok(good)["mfa_verified"] is True
    assert events_of(app, good)[0]["details"]["mfa"] == "totp"
    assert_problem(login(app.test_client(), "legal", otp=code_at(secret, 1)), 401)  # replayed
    clock(10)
    assert_problem(login(app.test_client(), "legal", otp=code_at(secret, 12)), 401)  # two steps ahead: no
    assert login(app.test_client(), "legal", otp=code_at(secret, 9)).status_code == 200  # one behind: yes


def test_recovery_codes_are_single_use(app, people, clock):
    client, csrf = session_of(app, "legal")
    _, codes = enrol(client, csrf)
    used = login(app.test_client(), "legal", recovery_code=codes[3].upper().replace("-", " "))
    assert ok(used)["mfa_verified"] is True
    (event,) = events_of(app, used)
    assert event["details"]["mfa"] == "recovery_code" and event["details"]["recovery_codes_left"] == 9
    again = login(app.test_client(), "legal", recovery_code=codes[3])
    assert assert_problem(again, 401)["type"].endswith("/mfa-required")
    assert events_of(app, again)[0]["details"]["reason"] == "recovery_code_invalid"
    assert_problem(login(app.test_client(), "legal", "wrong password", recovery_code=codes[4]), 401)
    with app.app_context():  # a wrong password spends no code
        assert len(db.session.scalars(select(RecoveryCode).where(RecoveryCode.used_at.is_(None))).all()) == 9
    assert login(app.test_client(), "legal", recovery_code=codes[4]).status_code == 200


def test_tokens_are_no_way_around_the_second_factor(app, people, clock):
    client, csrf = session_of(app, "legal")
    enrol(client, csrf)
    # The confirming session passed the second factor: its tokens (and theirs) work.
    token = ok(client.post("/api/v1/auth/tokens", json={"name": "laptop"}, headers=csrf), 201)
    child = ok(
        app.test_client().post("/api/v1/auth/tokens", json={"name": "script"}, headers=bearer(token["token"])), 201
    )
    assert app.test_client().get("/api/v1/cases", headers=bearer(child["token"])).status_code == 200
    with app.app_context():
        assert db.session.get(ApiToken, child["id"]).mfa_verified is True
    # A session that somehow did not pass it (created before enrolment, raced) reaches nothing.
    with app.app_context():
        db.session.execute(ApiToken.__table__.update().where(ApiToken.id == token["id"]).values(mfa_verified=False))
        db.session.commit()
    refused = app.test_client().get("/api/v1/cases", headers=bearer(token["token"]))
    assert assert_problem(refused, 403)["type"].endswith("/mfa-required")
    sneaky = app.test_client().post("/api/v1/auth/tokens", json={"name": "x"}, headers=bearer(token["token"]))
    assert_problem(sneaky, 403)
    assert events_of(app, sneaky)[0]["action"] == "auth.restricted"


def test_disabling_totp_needs_a_code_or_the_password(app, people, clock):
    client, csrf = session_of(app, "legal")
    secret, _ = enrol(client, csrf)
    wrong = client.delete("/api/v1/auth/mfa/totp", json={"code": code_at(secret, 5)}, headers=csrf)
    assert assert_problem(wrong, 403)["type"].endswith("/reauthentication-failed")
    assert events_of(app, wrong)[0]["action"] == "auth.mfa.disable"
    assert_problem(
        client.delete("/api/v1/auth/mfa/totp", json={"code": code_at(secret, 1), "password": PASSWORD}, headers=csrf),
        422,
    )
    off = client.delete("/api/v1/auth/mfa/totp", json={"code": code_at(secret, 1)}, headers=csrf)
    assert off.status_code == 204
    (event,) = events_of(app, off)
    assert event["details"]["was_enabled"] is True and event["details"]["recovery_codes_deleted"] == 10
    assert login(app.test_client(), "legal").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(TotpSecret)) is None and db.session.scalar(select(RecoveryCode)) is None


def test_enrolling_twice_is_refused_while_on(app, people, clock):
    client, csrf = session_of(app, "legal")
    enrol(client, csrf)
    again = client.post("/api/v1/auth/mfa/totp", json={"password": PASSWORD}, headers=csrf)
    assert assert_problem(again, 409)["type"].endswith("/mfa-already-enabled")
    assert_problem(client.post("/api/v1/auth/mfa/totp/confirm", json={"code": "123456"}, headers=csrf), 409)


def test_required_mfa_limits_admins_and_lawyers_to_enrolment(app, world: World, clock, monkeypatch):
    patch_settings(monkeypatch, app, auth={"require_mfa": True})
    legal, interviewer = world.people["legal"], world.people["interviewer"]
    # Interviewers and auditors are not asked.
    ok(interviewer.get(f"/api/v1/cases/{world.case_id}"))
    # An existing token of a lawyer did not pass a second factor: only the enrolment steps.
    refused = legal.get(f"/api/v1/cases/{world.case_id}/file")
    assert assert_problem(refused, 403)["type"].endswith("/mfa-enrolment-required")
    assert events_of(app, refused)[0]["details"]["reason"] == "mfa-enrolment-required"
    assert_problem(world.people["admin"].get("/api/v1/users"), 403)
    client, csrf = session_of(app, "legal")
    assert client.get("/api/v1/auth/me").get_json()["mfa_enrolment_required"] is True
    assert_problem(client.get(f"/api/v1/cases/{world.case_id}/file"), 403)
    token = client.post("/api/v1/auth/tokens", json={"name": "script"}, headers=csrf)
    assert assert_problem(token, 403)["type"].endswith("/mfa-enrolment-required")
    enrol(client, csrf)
    assert client.get("/api/v1/auth/me").get_json()["mfa_enrolment_required"] is False
    ok(client.get(f"/api/v1/cases/{world.case_id}/file"))
    token = ok(client.post("/api/v1/auth/tokens", json={"name": "script"}, headers=csrf), 201)
    ok(app.test_client().get(f"/api/v1/cases/{world.case_id}/file", headers=bearer(token["token"])))


def test_every_step_is_in_the_custody_log(app, people, clock):
    client, csrf = session_of(app, "legal")
    secret, _ = enrol(client, csrf)
    login(app.test_client(), "legal", otp=code_at(secret, 1))
    client.delete("/api/v1/auth/mfa/totp", json={"password": PASSWORD}, headers=csrf)
    actions = [(e["action"], e["outcome"]) for e in all_events(app) if e["action"].startswith("auth.")]
    assert actions == [
        ("auth.login", "allowed"),
        ("auth.mfa.enrol", "allowed"),
        ("auth.mfa.confirm", "allowed"),
        ("auth.login", "allowed"),
        ("auth.mfa.disable", "allowed"),
    ]


def test_codes_within_one_step_are_accepted(clock):
    secret = mfa.new_secret()
    assert [mfa.matching_step(secret, code_at(secret, k)) for k in (-2, -1, 0, 1, 2)] == [
        None,
        int(T0 // 30) - 1,
        int(T0 // 30),
        int(T0 // 30) + 1,
        None,
    ]
    assert mfa.matching_step(secret, "12345") is None and mfa.matching_step(secret, "１２３４５６") is None
