"""Sessions, CSRF, bearer tokens, deactivation, throttling and password storage."""

from __future__ import annotations

from sqlalchemy import select

from casework.auth.models import User
from casework.db import db
from tests.conftest import PASSWORD, make_app, make_caller
from tests.helpers import assert_problem, events_of


def login(client, username, password=PASSWORD):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_session_login_me_logout(app, people):
    client = app.test_client()
    response = login(client, "legal")
    assert response.status_code == 200
    body = response.get_json()
    assert body["username"] == "legal" and body["auth_method"] == "session" and body["csrf_token"]
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/api/v1/auth/me").get_json()["username"] == "legal"
    assert [e["action"] for e in events_of(app, response)] == ["auth.login"]
    # Changes need the CSRF header when authenticated by cookie.
    assert_problem(client.post("/api/v1/cases", json={"title": "x"}), 403)
    created = client.post("/api/v1/cases", json={"title": "x"}, headers={"X-CSRF-Token": body["csrf_token"]})
    assert created.status_code == 201
    out = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]})
    assert out.status_code == 204
    assert_problem(client.get("/api/v1/auth/me"), 401)


def test_login_issues_a_new_session_and_old_cookie_dies_on_logout(app, people):
    client = app.test_client()
    first = login(client, "legal")
    old_cookie = client.get_cookie("casework_session").value
    second = login(client, "legal")
    assert client.get_cookie("casework_session").value != old_cookie
    assert first.get_json()["csrf_token"] != second.get_json()["csrf_token"]
    # Replaying the first session's cookie after it was replaced does not work.
    replay = app.test_client()
    replay.set_cookie("casework_session", old_cookie)
    assert_problem(replay.get("/api/v1/auth/me"), 401)


def test_failed_logins_are_generic_and_recorded(app, people):
    client = app.test_client()
    wrong_password = login(client, "legal", "not the password")
    unknown_user = login(client, "nobody", "whatever it is")
    a, b = assert_problem(wrong_password, 401), assert_problem(unknown_user, 401)
    assert a["detail"] == b["detail"] == "Invalid username or password."
    event = events_of(app, wrong_password)[0]
    assert event["action"] == "auth.login" and event["outcome"] == "denied"
    assert "not the password" not in str(event)
    refused = events_of(app, unknown_user)[0]
    # The claimed name is the caller's word, never the recorded actor.
    assert refused["actor_username"] is None and refused["details"]["claimed_username"] == "nobody"


def test_passwords_are_argon2id(app, people):
    with app.app_context():
        stored = db.session.scalar(select(User.password_hash).where(User.username == "legal"))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_tokens_create_list_use_revoke(app, people):
    legal = people["legal"]
    created = legal.post("/api/v1/auth/tokens", {"name": "laptop", "expires_in_days": 7})
    assert created.status_code == 201
    token = created.get_json()["token"]
    listed = legal.get("/api/v1/auth/tokens").get_json()["items"]
    assert {t["name"] for t in listed} == {"tests", "laptop"}
    assert all("token" not in t for t in listed)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=auth).status_code == 200
    token_id = created.get_json()["id"]
    assert legal.delete(f"/api/v1/auth/tokens/{token_id}").status_code == 204
    assert_problem(client.get("/api/v1/auth/me", headers=auth), 401)


def test_tokens_of_others_are_hidden_except_from_admins(app, people):
    legal_token_id = people["legal"].get("/api/v1/auth/tokens").get_json()["items"][0]["id"]
    assert_problem(people["interviewer"].delete(f"/api/v1/auth/tokens/{legal_token_id}"), 404)
    assert_problem(people["interviewer"].get(f"/api/v1/auth/tokens?user_id={people['legal'].id}"), 403)
    listed = people["admin"].get(f"/api/v1/auth/tokens?user_id={people['legal'].id}").get_json()["items"]
    assert [t["id"] for t in listed] == [legal_token_id]
    assert people["admin"].delete(f"/api/v1/auth/tokens/{legal_token_id}").status_code == 204
    assert_problem(people["legal"].get("/api/v1/auth/me"), 401)


def test_expired_token_is_refused(app, people):
    from datetime import timedelta

    from casework.auth.models import ApiToken
    from casework.db import utcnow

    with app.app_context():
        db.session.execute(
            ApiToken.__table__.update()
            .where(ApiToken.user_id == people["legal"].id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    assert_problem(people["legal"].get("/api/v1/auth/me"), 401)


def test_deactivation_ends_sessions_and_tokens_at_once(app, people):
    client = app.test_client()
    assert login(client, "interviewer").status_code == 200
    assert client.get("/api/v1/auth/me").status_code == 200
    response = people["admin"].patch(f"/api/v1/users/{people['interviewer'].id}", {"active": False})
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert_problem(client.get("/api/v1/auth/me"), 401)
    assert_problem(people["interviewer"].get("/api/v1/auth/me"), 401)
    assert_problem(login(app.test_client(), "interviewer"), 401)
    # Reactivation does not revive the old credentials.
    people["admin"].patch(f"/api/v1/users/{people['interviewer'].id}", {"active": True})
    assert_problem(people["interviewer"].get("/api/v1/auth/me"), 401)


def test_unauthenticated_requests_are_refused_and_recorded(app, people):
    response = app.test_client().get("/api/v1/cases")
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    event = events_of(app, response)[0]
    assert event["outcome"] == "denied" and event["actor_id"] is None


def _throttling_app(backend, keyring_path, **overrides):
    throttled = make_app(backend, keyring_path, **overrides)
    with throttled.app_context():
        from flask_migrate import upgrade

        upgrade()
    return throttled


def _forget_throttling(throttled):
    from casework.extensions import limiter
    from tests.conftest import reset_database

    limiter.reset()
    with throttled.app_context():
        reset_database()


def from_address(client, address, username, password=PASSWORD):
    return client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def test_failed_logins_are_throttled_per_username_and_address(backend, keyring_path):
    throttled = _throttling_app(backend, keyring_path, CASEWORK_LOGIN_FAILURE_LIMIT="3 per minute")
    try:
        caller = make_caller(throttled, "throttled", "legal")
        client = throttled.test_client()
        answers = [from_address(client, "203.0.113.1", caller.username, "wrong password!") for _ in range(4)]
        assert [a.status_code for a in answers] == [401, 401, 401, 429]
        # The first refusal of the window is recorded; later ones are summarised, not logged one by one.
        (first,) = events_of(throttled, answers[3])
        assert (first["action"], first["outcome"]) == ("http.throttled", "denied")
        # From that address, even the right password waits for the window to pass...
        body = assert_problem(from_address(client, "203.0.113.1", caller.username), 429)
        assert "slow down" in body["detail"]
        assert events_of(throttled, from_address(client, "203.0.113.1", caller.username)) == []
        # ...but someone else's failures never lock the user out: from another address, the right
        # password works (and another account from the failing address is not held back either).
        assert from_address(client, "198.51.100.7", caller.username).status_code == 200
        other = make_caller(throttled, "unrelated", "legal")
        assert from_address(client, "203.0.113.1", other.username).status_code == 200
    finally:
        _forget_throttling(throttled)


def test_successful_logins_are_not_counted_as_failures(backend, keyring_path):
    throttled = _throttling_app(backend, keyring_path, CASEWORK_LOGIN_FAILURE_LIMIT="2 per minute")
    try:
        caller = make_caller(throttled, "regular", "legal")
        client = throttled.test_client()
        assert [from_address(client, "203.0.113.2", caller.username).status_code for _ in range(5)] == [200] * 5
        assert from_address(client, "203.0.113.2", caller.username, "wrong password!").status_code == 401
        assert from_address(client, "203.0.113.2", caller.username).status_code == 200
    finally:
        _forget_throttling(throttled)


def test_each_address_has_a_ceiling_on_logins(backend, keyring_path):
    """Guessing many usernames from one address is limited whatever the usernames."""
    throttled = _throttling_app(backend, keyring_path, CASEWORK_LOGIN_LIMIT="3 per minute")
    try:
        client = throttled.test_client()
        answers = [from_address(client, "203.0.113.3", f"user{n}", "wrong password!") for n in range(4)]
        assert [a.status_code for a in answers] == [401, 401, 401, 429]
        assert from_address(client, "203.0.113.4", "user9", "wrong password!").status_code == 401
    finally:
        _forget_throttling(throttled)


def test_wrong_passwords_given_again_are_throttled_per_account(backend, keyring_path):
    throttled = _throttling_app(backend, keyring_path, CASEWORK_LOGIN_FAILURE_LIMIT="2 per minute")
    try:
        caller = make_caller(throttled, "guessed", "legal")
        change = {"current_password": "guess number one", "new_password": "tulip orbit canyon vellum"}
        statuses = [
            caller.post("/api/v1/auth/password", change).status_code,
            caller.post("/api/v1/auth/mfa/totp", {"password": "guess number two"}).status_code,
            caller.post("/api/v1/auth/password", {**change, "current_password": PASSWORD}).status_code,
        ]
        assert statuses == [403, 403, 429]
    finally:
        _forget_throttling(throttled)


def test_login_throttling_is_shared_through_redis(backend, keyring_path):
    """Two app instances (two gunicorn workers, say) count failures in the same Redis."""
    import os

    import redis

    from casework.extensions import limiter

    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    storage = f"redis://127.0.0.1:6379/{15 - worker % 8}"  # one Redis database per xdist worker
    redis.Redis.from_url(storage).flushdb()
    first = make_app(backend, keyring_path, CASEWORK_LOGIN_FAILURE_LIMIT="2 per minute", RATELIMIT_STORAGE_URI=storage)
    try:
        with first.app_context():
            from flask_migrate import upgrade

            upgrade()
        caller = make_caller(first, "shared-throttle", "legal")
        assert [
            from_address(first.test_client(), "203.0.113.5", caller.username, "wrong password!").status_code
            for _ in range(2)
        ] == [401, 401]
        second = make_app(
            backend, keyring_path, CASEWORK_LOGIN_FAILURE_LIMIT="2 per minute", RATELIMIT_STORAGE_URI=storage
        )
        assert_problem(from_address(second.test_client(), "203.0.113.5", caller.username), 429)
        assert from_address(second.test_client(), "203.0.113.6", caller.username).status_code == 200
    finally:
        redis.Redis.from_url(storage).flushdb()
        limiter.reset()
        from tests.conftest import reset_database

        with first.app_context():
            reset_database()
