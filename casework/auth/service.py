"""Logging in and out, and personal API tokens. Every path records a custody event."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, g, session
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select, update

from casework.auth import credentials, passwords
from casework.auth.models import ApiToken, LoginSession
from casework.auth.policy import authorize, load_authorized
from casework.auth.target import Target
from casework.custody import recorder
from casework.db import db, utcnow
from casework.errors import ProblemError
from casework.pagination import Page, keyset_page
from casework.users.models import User

GENERIC_LOGIN_FAILURE = "Invalid username or password."


def login(username: str, password: str) -> dict[str, Any]:
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        recorder.record(
            "auth.login",
            outcome=recorder.DENIED,
            resource_type="user",
            resource_id=user.id if user else None,
            details={"reason": "invalid_credentials" if not ok or user is None else "inactive"},
            actor=recorder.Actor(None, username[:64], None),
        )
        raise ProblemError(401, GENERIC_LOGIN_FAILURE, problem="login-failed")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    _end_current_session()
    session.clear()  # a fresh session (and id) on every login: no fixation
    secret = credentials.new_secret()
    lifetime = timedelta(seconds=current_app.config["PERMANENT_SESSION_LIFETIME"])
    db.session.add(LoginSession(user_id=user.id, secret_hash=credentials.digest(secret), expires_at=utcnow() + lifetime))
    session.permanent = True
    session["sid"] = secret
    session["csrf"] = credentials.new_secret()
    login_user(user)
    g.auth_method = "session"
    recorder.record("auth.login", resource_type="user", resource_id=user.id,
                    actor=recorder.Actor(user.id, user.username, user.role))
    return me()


def _end_current_session() -> None:
    """Revoke the server-side record of the session this cookie carries, if any."""
    secret = session.get("sid")
    if isinstance(secret, str):
        db.session.execute(
            update(LoginSession)
            .where(LoginSession.secret_hash == credentials.digest(secret), LoginSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


def logout() -> None:
    recorder.record("auth.logout", resource_type="user", resource_id=current_user.id)
    _end_current_session()
    logout_user()
    session.clear()


def me() -> dict[str, Any]:
    method = g.get("auth_method")
    return {
        "id": current_user.id,
        "username": current_user.username,
        "display_name": current_user.display_name,
        "role": current_user.role,
        "auth_method": method,
        "csrf_token": session.get("csrf") if method == "session" else None,
    }


def whoami() -> dict[str, Any]:
    recorder.record("auth.me", resource_type="user", resource_id=current_user.id)
    return me()


def issue_token(user: User, name: str, expires_in_days: int) -> tuple[ApiToken, str]:
    """Store a new token's hash for ``user``; the returned secret is the only copy."""
    secret = credentials.TOKEN_PREFIX + credentials.new_secret()
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=credentials.digest(secret),
        prefix=secret[: len(credentials.TOKEN_PREFIX) + 6],
        expires_at=utcnow() + timedelta(days=expires_in_days),
    )
    db.session.add(token)
    db.session.flush()
    return token, secret


def create_token(name: str, expires_in_days: int) -> dict[str, Any]:
    event = authorize("token.create", Target("token", owner_id=current_user.id))
    token, secret = issue_token(current_user, name, expires_in_days)
    event.resource_id = str(token.id)
    event.details = {"expires_in_days": expires_in_days}
    return {**_token_dict(token), "token": secret}


def list_tokens(args: dict[str, Any]) -> Page:
    user_id = args.get("user_id", current_user.id)
    if user_id != current_user.id:
        authorize("user.read", Target("user", user_id), listing="tokens")
    else:
        authorize("token.list", Target("token", owner_id=current_user.id))
    return keyset_page(select(ApiToken).where(ApiToken.user_id == user_id), ApiToken.id, args)


def revoke_token(token_id: int) -> None:
    token = load_authorized(ApiToken, token_id, "token.revoke")
    if token.revoked_at is None:
        token.revoked_at = utcnow()


def revoke_all_credentials(user_id: int) -> None:
    """End every session and token of a user at once (deactivation)."""
    now = utcnow()
    for model in (LoginSession, ApiToken):
        db.session.execute(
            model.__table__.update()
            .where(model.user_id == user_id, model.revoked_at.is_(None))
            .values(revoked_at=now)
        )


def _token_dict(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "user_id": token.user_id,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "last_used_at": token.last_used_at,
    }
