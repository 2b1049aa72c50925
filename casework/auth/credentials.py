"""Loading the caller from a session cookie or a bearer token, the CSRF rule for cookies, and the
restrictions of an account that must first change its password or pass (or enrol) a second factor."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import Flask, g, request, session
from flask_login import current_user
from sqlalchemy import select

from casework.access.door import principal_of, record_authentication
from casework.access.hooks import route_target
from casework.auth import rules
from casework.auth.models import ApiToken, LoginSession, User
from casework.db import db, utcnow
from casework.errors import Forbidden, Unauthenticated
from casework.extensions import login_manager
from casework.settings import settings

TOKEN_PREFIX = "cwk_"  # noqa: S105 (a prefix that marks tokens in logs and scanners, not a secret)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"  # the same token, in a workbench form's hidden field
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# Endpoints reachable without credentials: logging in, health, the API's own documentation, and
# the workbench's login form and its static files.
PUBLIC_ENDPOINTS = frozenset(
    {
        "auth.login",
        "health",
        "api-docs.openapi_json",
        "docs.page",
        "docs.initializer",
        "docs.asset",
        "workbench.login_page",
        "workbench.login",
        "workbench.static",
    }
)
_LAST_USED_GRANULARITY = timedelta(minutes=1)
# What an account may still reach while restricted (rules.restriction): the steps that lift it.
PASSWORD_CHANGE_ENDPOINTS = frozenset(
    {
        "auth.change_password",
        "auth.me",
        "auth.logout",
        "workbench.password_page",
        "workbench.change_password",
        "workbench.logout",
    }
)
MFA_ENDPOINTS = PASSWORD_CHANGE_ENDPOINTS | {
    "auth.enrol_totp",
    "auth.confirm_totp",
    "workbench.mfa_page",
    "workbench.enrol_totp",
    "workbench.confirm_totp",
}
RESTRICTED_ACTION = "auth.restricted"


def digest(secret: str) -> bytes:
    """Tokens and session secrets are 256-bit random, so a plain SHA-256 is a safe stored form."""
    return hashlib.sha256(secret.encode()).digest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@login_manager.user_loader
def _load_from_session(user_id: str) -> User | None:
    secret = session.get("sid")
    if not isinstance(secret, str):
        return None
    row = db.session.execute(
        select(LoginSession).where(LoginSession.secret_hash == digest(secret))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    if str(row.user_id) != user_id or not row.user.active:
        return None
    g.auth_method = "session"
    g.login_session = row
    return row.user


@login_manager.request_loader
def _load_from_bearer(req) -> User | None:
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    row = db.session.execute(select(ApiToken).where(ApiToken.token_hash == digest(token))).scalar_one_or_none()
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now or not row.user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_GRANULARITY:
        row.last_used_at = now
    g.auth_method = "token"
    g.api_token = row
    return row.user


@login_manager.unauthorized_handler
def _unauthorized() -> None:
    raise Unauthenticated("Authentication is required.")


def require_authentication() -> None:
    """Deny by default: every endpoint but the public few needs a caller, and cookies need CSRF."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return
    if not current_user.is_authenticated:
        raise Unauthenticated("Authentication is required.")
    if (
        g.get("auth_method") == "session"
        and request.method not in SAFE_METHODS
        and not csrf_token_matches(session.get("csrf"))
    ):
        raise Forbidden(f"Cookie-authenticated changes need the {CSRF_HEADER} header from login.", problem="csrf")
    enforce_restrictions()


def csrf_token_matches(expected: object) -> bool:
    """The request carries ``expected``: in the header (API, htmx, Uppy) or a form's hidden field."""
    supplied = request.headers.get(CSRF_HEADER, "")
    if not supplied and request.mimetype in FORM_TYPES:
        supplied = request.form.get(CSRF_FIELD, "")
    return isinstance(expected, str) and bool(expected) and hmac.compare_digest(expected, supplied)


def credential_rows() -> tuple[LoginSession | None, ApiToken | None]:
    """The session record or the bearer token that authenticated this request."""
    if g.get("auth_method") == "session":
        return g.get("login_session"), None
    if g.get("auth_method") == "token":
        return None, g.get("api_token")
    return None, None


def credential_mfa_verified() -> bool:
    row = next((r for r in credential_rows() if r is not None), None)
    return bool(row is not None and row.mfa_verified)


def require_mfa() -> bool:
    return settings().auth.require_mfa


def enforce_restrictions() -> None:
    """An account whose password an admin set, or that has not passed (or must enrol) a second
    factor, reaches only the steps that lift that; anything else is refused (403) and recorded."""
    user = current_user
    reason = rules.restriction(user, mfa_verified=credential_mfa_verified(), require_mfa=require_mfa())
    if reason is None:
        return
    if request.endpoint in (PASSWORD_CHANGE_ENDPOINTS if reason == rules.PASSWORD_CHANGE_REQUIRED else MFA_ENDPOINTS):
        return
    # Recorded against what the URL names, as the route's own refusals are.
    record_authentication(
        RESTRICTED_ACTION,
        route_target(request.path, request.view_args),
        actor=principal_of(user),
        allowed=False,
        reason=reason,
        endpoint=request.endpoint,
        method=request.method,
    )
    raise Forbidden(rules.DETAILS[reason], problem=reason)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    app.before_request(require_authentication)
