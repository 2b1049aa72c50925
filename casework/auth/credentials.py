"""Loading the caller from a session cookie or a bearer token, and the CSRF rule for cookies."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import Flask, g, request, session
from flask_login import current_user
from sqlalchemy import select

from casework.auth.models import ApiToken, LoginSession, User
from casework.db import db, utcnow
from casework.errors import Forbidden, Unauthenticated
from casework.extensions import login_manager

TOKEN_PREFIX = "cwk_"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
# Endpoints reachable without credentials.
PUBLIC_ENDPOINTS = frozenset({"auth.login", "health", "api-docs.openapi_json"})
_LAST_USED_GRANULARITY = timedelta(minutes=1)


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
    if g.get("auth_method") == "session" and request.method not in SAFE_METHODS:
        expected = session.get("csrf")
        supplied = request.headers.get(CSRF_HEADER, "")
        if not isinstance(expected, str) or not hmac.compare_digest(expected, supplied):
            raise Forbidden(f"Cookie-authenticated changes need the {CSRF_HEADER} header from login.",
                            problem="csrf")


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    app.before_request(require_authentication)
