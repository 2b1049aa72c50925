"""Signing in through the workbench: the same service, throttles and records as the API's login;
CSRF on every form; the page policy; failures as pages with their true status, recorded."""

from __future__ import annotations

import re

from flask import Flask

from casework.workbench.blueprint import CONTENT_SECURITY_POLICY
from tests.conftest import PASSWORD, World, make_caller
from tests.helpers import all_events, events_of
from tests.workbench.conftest import csrf_of, sign_in_client


def test_a_page_asks_for_sign_in_with_401_and_the_login_form(app: Flask):
    page = app.test_client().get("/app/cases/1?x=1")
    assert page.status_code == 401 and page.mimetype == "text/html"
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    html = page.get_data(as_text=True)
    assert 'action="/app/login"' in html and 'name="next" value="/app/cases/1?x=1"' in html
    assert "WWW-Authenticate" not in page.headers


def test_every_page_is_under_the_strict_policy_with_no_inline_script_or_style(app: Flask, world: World):
    lawyer = sign_in_client(app, "legal")
    for path in ("/app/", "/app/login", "/app/password", "/app/mfa", f"/app/cases/{world.case_id}", "/app/nowhere"):
        page = lawyer.get(path, follow_redirects=True)
        assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
        html = page.get_data(as_text=True)
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
        assert scripts and all('src="/app/static/' in attrs and not body.strip() for attrs, body in scripts), path
        assert "<style" not in html and " style=" not in html
        assert not re.search(r"\son[a-z]+=", html), path  # no inline event handlers
        assert all(link.startswith(("/app/", "#", "?")) for link in re.findall(r'(?:src|href|action)="([^"]+)"', html))


def test_login_records_the_same_event_as_the_api(app: Flask, people):
    client = app.test_client()
    token = csrf_of(client.get("/app/login").get_data(as_text=True))
    failed = client.post("/app/login", data={"username": "legal", "password": "nope", "csrf_token": token})
    assert failed.status_code == 401 and "Invalid username or password." in failed.get_data(as_text=True)
    [refusal] = events_of(app, failed)
    assert (refusal["action"], refusal["outcome"], refusal["details"]["reason"]) == (
        "auth.login",
        "denied",
        "invalid_credentials",
    )
    done = client.post(
        "/app/login",
        data={"username": "legal", "password": PASSWORD, "csrf_token": token, "next": "https://elsewhere.example/app/"},
    )
    assert done.status_code == 303 and done.headers["Location"] == "/app/"  # never off this site
    [login] = events_of(app, done)
    assert (login["action"], login["outcome"], login["actor_username"]) == ("auth.login", "allowed", "legal")


def test_the_login_form_needs_its_own_csrf_token(app: Flask, people):
    client = app.test_client()
    client.get("/app/login")
    forged = client.post("/app/login", data={"username": "legal", "password": PASSWORD, "csrf_token": "guess"})
    assert forged.status_code == 403 and 'data-problem="csrf"' in forged.get_data(as_text=True)
    assert client.get("/app/").status_code == 401  # not signed in


def test_a_form_without_the_session_csrf_token_changes_nothing(app: Flask, people):
    lawyer = sign_in_client(app, "legal")
    before = len(all_events(app))
    forged = lawyer.client.post("/app/logout", data={"csrf_token": "not-the-token"})
    assert forged.status_code == 403 and 'data-problem="csrf"' in forged.get_data(as_text=True)
    assert lawyer.get("/app/").status_code == 200  # still signed in
    assert len(all_events(app)) > before  # the refusal is recorded
    assert lawyer.post("/app/logout").status_code == 303
    assert lawyer.get("/app/").status_code == 401


def test_a_refused_page_is_the_not_found_page_and_is_recorded(app: Flask, world: World):
    outsider = sign_in_client(app, "outsider")
    refused = outsider.get(f"/app/cases/{world.case_id}")
    assert refused.status_code == 404 and 'data-problem="not-found"' in refused.get_data(as_text=True)
    [event] = events_of(app, refused)
    assert (event["action"], event["outcome"], event["resource_type"], event["resource_id"]) == (
        "case.read",
        "denied",
        "case",
        str(world.case_id),
    )
    missing = outsider.get("/app/cases/999999")
    assert missing.status_code == 404 and missing.get_data(as_text=True).count("not-found") == 1


def test_an_admin_set_password_is_changed_in_the_browser_first(app: Flask, people):
    from casework.db import db
    from casework.users.service import new_user

    with app.app_context():
        user = new_user("newcomer", PASSWORD, "legal")
        user.must_change_password = True
        db.session.commit()
    client = app.test_client()
    token = csrf_of(client.get("/app/login").get_data(as_text=True))
    assert (
        client.post("/app/login", data={"username": "newcomer", "password": PASSWORD, "csrf_token": token}).status_code
        == 303
    )
    blocked = client.get("/app/")
    assert blocked.status_code == 403 and 'action="/app/password"' in blocked.get_data(as_text=True)
    csrf = csrf_of(blocked.get_data(as_text=True))
    weak = client.post(
        "/app/password", data={"csrf_token": csrf, "current_password": PASSWORD, "new_password": "password"}
    )
    assert weak.status_code == 422 and 'role="alert"' in weak.get_data(as_text=True)
    changed = client.post(
        "/app/password",
        data={"csrf_token": csrf, "current_password": PASSWORD, "new_password": "a long and unusual passphrase 7"},
    )
    assert changed.status_code == 303
    assert client.get("/app/").status_code == 200


def test_the_language_is_chosen_on_any_page_and_kept(app: Flask, people):
    client = app.test_client()
    english = client.get("/app/login").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in english and "Sign in" in english
    ukrainian = client.get("/app/login?lang=uk").get_data(as_text=True)
    assert '<html lang="uk" dir="ltr">' in ukrainian and "Увійти" in ukrainian
    assert '<html lang="uk"' in client.get("/app/login").get_data(as_text=True)
    browser_choice = app.test_client().get("/app/login", headers={"Accept-Language": "uk-UA,uk;q=0.9"})
    assert '<html lang="uk"' in browser_choice.get_data(as_text=True)


def test_static_files_are_public_and_record_nothing(app: Flask):
    before = all_events(app)
    client = app.test_client()
    for path in (
        "/app/static/vendor/htmx.min.js",
        "/app/static/vendor/uppy.min.js",
        "/app/static/workbench/workbench.css",
    ):
        assert client.get(path).status_code == 200, path
    assert client.get("/app/static/../../config/settings.py").status_code == 404
    assert all_events(app) == before


def test_mfa_enrolment_in_the_browser_then_login_needs_a_code(app: Flask, people):
    import pyotp

    make_caller(app, "lawyer3", "legal")
    lawyer = sign_in_client(app, "lawyer3")
    started = lawyer.post("/app/mfa", {"password": PASSWORD})
    assert started.status_code == 200
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', started.get_data(as_text=True)).group(1)
    confirmed = lawyer.post("/app/mfa/confirm", {"code": pyotp.TOTP(secret).now()})
    assert confirmed.status_code == 200 and "Recovery codes" in confirmed.get_data(as_text=True)
    client = app.test_client()
    token = csrf_of(client.get("/app/login").get_data(as_text=True))
    asked = client.post("/app/login", data={"username": "lawyer3", "password": PASSWORD, "csrf_token": token})
    assert asked.status_code == 401 and "<details open>" in asked.get_data(as_text=True)


def test_the_workbench_without_its_slash_is_the_workbench(app: Flask, people):
    """/app answers as /app/ does (no redirect, which would answer without a record)."""
    client = app.test_client()
    anonymous = client.get("/app")
    assert anonymous.status_code == 401 and anonymous.mimetype == "text/html"
    lawyer = sign_in_client(app, "legal")
    page = lawyer.get("/app")
    assert page.status_code == 200 and "Your cases" in page.get_data(as_text=True)
    assert [e["action"] for e in events_of(app, page)] == ["case.list"]
