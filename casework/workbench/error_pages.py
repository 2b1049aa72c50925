"""Failures under /app/ as pages: the API's one mapping (``casework.problems``) decides the status
and kind; this decides only how a person sees it. The status stays the failure's own, so the
request hooks record and roll back exactly as for the API.

A caller who is not signed in gets the login form (401), one who must first choose a password or
enrol a second factor gets that form (403), and a refusal of something hidden is the same "not
found" page as something that does not exist (404).
"""

from __future__ import annotations

from flask import Response, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from casework.auth import rules
from casework.problems import Problem
from casework.workbench.blueprint import render

# Words for people, by problem kind; the API's detail (written for programmers) otherwise.
MESSAGES = {
    "login-failed": lazy_gettext("Invalid username or password."),
    rules.MFA_REQUIRED: lazy_gettext("Enter a current code from your authenticator app, or an unused recovery code."),
    "unauthenticated": lazy_gettext("Please sign in to continue."),
    "csrf": lazy_gettext("This form has expired. Reload the page and try again."),
    "forbidden": lazy_gettext("You are not allowed to do this."),
    "not-found": lazy_gettext("This page does not exist, or you may not see it."),
    "method-not-allowed": lazy_gettext("This page cannot be used that way."),
    "too-many-requests": lazy_gettext("Too many attempts. Wait a minute and try again."),
    "internal-error": lazy_gettext("Something went wrong on our side. It has been logged."),
    "unavailable": lazy_gettext("The service is unavailable right now. Nothing was changed. Try again shortly."),
}


def message_for(problem: Problem) -> str:
    known = MESSAGES.get(problem.problem)
    return str(known) if known is not None else problem.detail


def render_problem(problem: Problem) -> Response:
    message = message_for(problem)
    if problem.status == 401:
        from casework.workbench.session_pages import login_csrf_token, safe_next

        target = request.form.get("next") if request.method == "POST" else request.full_path.rstrip("?")
        response = render(
            "workbench/login.html",
            status=401,
            error_message=message,
            next=safe_next(target),
            login_csrf=login_csrf_token(),
            mfa_asked=problem.problem == rules.MFA_REQUIRED,
        )
    elif problem.problem == rules.PASSWORD_CHANGE_REQUIRED:
        response = render(
            "workbench/password.html",
            status=403,
            notice=_("An administrator set your password. Choose your own before anything else."),
        )
    elif problem.problem == rules.MFA_ENROLMENT_REQUIRED:
        response = render(
            "workbench/mfa.html",
            status=403,
            enrolment=None,
            notice=_("Your role needs two-factor authentication. Enrol an authenticator app first."),
        )
    else:
        response = render("workbench/error.html", status=problem.status, problem=problem, message=message)
    for key, value in problem.headers.items():
        if key != "WWW-Authenticate":
            response.headers[key] = value
    return response
