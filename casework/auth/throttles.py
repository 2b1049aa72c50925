"""How fast anyone may try credentials, for every door that takes them (the API's JSON login and
the workbench's form): logins per address, failed logins per (username, address), and wrong
passwords or codes given again by a signed-in caller per account."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from casework.extensions import limiter
from casework.settings import settings


def login_limit() -> str:
    return settings().auth.login_limit


def failure_limit() -> str:
    return settings().auth.login_failure_limit


def claimed_username() -> str:
    """The name a login names, from a JSON body or a form."""
    body = request.get_json(silent=True)
    name = body.get("username") if isinstance(body, dict) else request.form.get("username")
    return str(name or "")[:64].lower()


def login_failure_key() -> str:
    """Failed logins count per (username, address): someone else's failures, from elsewhere,
    never lock a user out."""
    return f"login-failures:{claimed_username()}@{request.remote_addr}"


def login_failed(response) -> bool:
    return response.status_code == 401


def reauthentication_key() -> str:
    """Wrong passwords or codes given again by a signed-in caller count per account."""
    if current_user.is_authenticated:
        return f"reauth-failures:user:{current_user.id}"
    return f"reauth-failures:address:{request.remote_addr}"


def reauthentication_failed(response) -> bool:
    return response.status_code == 403


# Logging in, through any door: both limits, shared by the API and the workbench (the failure
# counter is keyed by name and address, not by route, so the two doors count together).
login_attempts = limiter.shared_limit(login_limit, scope="login")
login_failures = limiter.shared_limit(
    failure_limit, scope="login-failures", key_func=login_failure_key, deduct_when=login_failed
)
# Every route that checks a password or a code again: their failures together are limited like
# failed logins, per account.
reauthentication = limiter.shared_limit(
    failure_limit, scope="reauthentication", key_func=reauthentication_key, deduct_when=reauthentication_failed
)
