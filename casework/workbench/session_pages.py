"""Signing in and out, choosing one's own password, enrolling a second factor, and the start page.

The login form is the API's login through another door: the same service (recorded the same
way), the same throttles, a fresh session. Its own CSRF token lives in the (signed) session
cookie before anyone is signed in; after login, forms carry the session's token.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import redirect, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from casework.auth import cookie_session, credentials, service, throttles
from casework.auth.schemas import PasswordChangeSchema
from casework.cases import service as cases_service
from casework.cases.schemas import CaseSchema
from casework.errors import DomainError, Forbidden
from casework.settings import settings
from casework.workbench.blueprint import blp, form_failed, form_fields, form_view, load_form, render

LOGIN_CSRF = "login_csrf"


def login_csrf_token() -> str:
    """The login form's token, made when the form is first shown (no session exists yet)."""
    token = session.get(LOGIN_CSRF)
    if not isinstance(token, str):
        token = session[LOGIN_CSRF] = secrets.token_urlsafe(32)
    return token


def safe_next(target: str | None) -> str:
    """Where to go after login: a workbench path on this server, never another site."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/app/") and "\\" not in target:
            return target
    return url_for("workbench.home")


def _credential() -> service.Credential:
    return service.Credential(*credentials.credential_rows())


@blp.get("/login", endpoint="login_page")
def login_page() -> Response:
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")), 303)
    return render("workbench/login.html", next=safe_next(request.args.get("next")), login_csrf=login_csrf_token())


@blp.post("/login", endpoint="login")
@throttles.login_attempts
@throttles.login_failures
@form_view
def login() -> Response:
    """The login form: a wrong password, name or code is a 401 with the form again (the error page)."""
    if not credentials.csrf_token_matches(session.get(LOGIN_CSRF)):
        raise Forbidden("The login form expired; load it again.", problem="csrf")
    cookie_session.begin_session(
        request.form.get("username", "")[:150],
        request.form.get("password", "")[:1024],
        otp=request.form.get("otp", "").strip() or None,
        recovery_code=request.form.get("recovery_code", "").strip() or None,
    )
    return redirect(safe_next(request.form.get("next")), 303)


@blp.post("/logout", endpoint="logout")
@form_view
def logout() -> Response:
    cookie_session.end_session(current_user.id)
    return redirect(url_for("workbench.login_page"), 303)


@blp.get("/password", endpoint="password_page")
def password_page() -> Response:
    return render("workbench/password.html")


@blp.post("/password", endpoint="change_password")
@throttles.reauthentication
@form_view
def change_password() -> Response:
    try:
        data = load_form(PasswordChangeSchema(), form_fields("current_password", "new_password"))
        service.change_password(current_user, data["current_password"], data["new_password"], via=_credential())
    except DomainError as error:
        return form_failed(error, "workbench/password.html")
    return redirect(url_for("workbench.home", changed="password"), 303)


@blp.get("/mfa", endpoint="mfa_page")
def mfa_page() -> Response:
    return render("workbench/mfa.html", enrolment=None)


@blp.post("/mfa", endpoint="enrol_totp")
@throttles.reauthentication
@form_view
def enrol_totp() -> Response:
    """Shows the new secret once; the next form confirms it with a first code."""
    try:
        enrolment = service.enrol_totp(
            current_user, request.form.get("password", "")[:1024], issuer=settings().auth.totp_issuer
        )
    except DomainError as error:
        return form_failed(error, "workbench/mfa.html", enrolment=None)
    return render("workbench/mfa.html", enrolment=enrolment)


@blp.post("/mfa/confirm", endpoint="confirm_totp")
@throttles.reauthentication
@form_view
def confirm_totp() -> Response:
    try:
        codes = service.confirm_totp(current_user, request.form.get("code", "").strip()[:16], via=_credential())
    except DomainError as error:
        return form_failed(error, "workbench/mfa.html", enrolment=None)
    return render("workbench/mfa.html", enrolment=None, recovery_codes=codes.recovery_codes)


@blp.get("/", endpoint="home", strict_slashes=False)  # "/app" too: a redirect would record nothing
def home() -> Response:
    """The cases the reader may see (recorded as the API's case listing), and where to go next."""
    page = cases_service.list_cases({"limit": 200})
    return render("workbench/home.html", cases=CaseSchema(many=True).dump(page["items"]))
