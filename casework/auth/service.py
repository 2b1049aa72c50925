"""Logging in and out, and personal API tokens. Every path records a custody event.

The cookie itself is the view's business; this module decides who may have a session or a
token, stores their hashes, and records each step.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from casework.access.door import ANONYMOUS, authorize, load_authorized, principal_of, record_authentication
from casework.access.targets import Target
from casework.auth import credentials, passwords
from casework.auth.models import ApiToken, LoginSession, User
from casework.db import db, utcnow
from casework.errors import Unauthenticated
from casework.fields import Extended
from casework.pagination import Page, keyset_page

GENERIC_LOGIN_FAILURE = "Invalid username or password."


@dataclass(frozen=True)
class NewSession:
    user: User
    secret: str  # goes into the signed cookie; only its hash is stored
    csrf_token: str


def login(username: str, password: str, *, previous_session: str | None, lifetime_seconds: int) -> NewSession:
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    ok = passwords.verify_password(user.password_hash if user else None, password)
    target = Target("user", user.id if user else None)
    if not ok or user is None or not user.active:
        # The claimed name is the caller's word, not an actor: it goes into details.
        record_authentication("auth.login", target, actor=ANONYMOUS, allowed=False, claimed_username=username[:64],
                              reason="invalid_credentials" if not ok or user is None else "inactive")
        raise Unauthenticated(GENERIC_LOGIN_FAILURE, problem="login-failed")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    end_session(previous_session)
    secret = credentials.new_secret()
    db.session.add(LoginSession(user_id=user.id, secret_hash=credentials.digest(secret),
                                expires_at=utcnow() + timedelta(seconds=lifetime_seconds)))
    record_authentication("auth.login", target, actor=principal_of(user), allowed=True)
    return NewSession(user, secret, credentials.new_secret())


def end_session(secret: str | None) -> None:
    """Revoke the server-side record of a session cookie, if any."""
    if isinstance(secret, str):
        db.session.execute(
            update(LoginSession)
            .where(LoginSession.secret_hash == credentials.digest(secret), LoginSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


def _self_target(user_id: int) -> Target:
    return Target("user", user_id, owner_id=user_id)


def logout(user_id: int, session_secret: str | None) -> None:
    authorize("auth.logout", _self_target(user_id))
    end_session(session_secret)


def me(user: User, *, auth_method: str | None, csrf_token: str | None) -> Extended:
    """The caller as ``MeSchema`` shows them (the CSRF token only for cookie sessions)."""
    return Extended(user, auth_method=auth_method, csrf_token=csrf_token if auth_method == "session" else None)


def whoami(user: User, *, auth_method: str | None, csrf_token: str | None) -> Extended:
    authorize("auth.me", _self_target(user.id))
    return me(user, auth_method=auth_method, csrf_token=csrf_token)


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


def create_token(user: User, name: str, expires_in_days: int) -> Extended:
    """A new token; the answer carries the secret, shown this once."""
    access = authorize("token.create", _self_target(user.id), expires_in_days=expires_in_days)
    token, secret = issue_token(user, name, expires_in_days)
    access.note(token_id=token.id)
    return Extended(token, token=secret)


def list_tokens(user_id: int, args: dict[str, Any]) -> Page:
    authorize("token.list", _self_target(user_id))
    return keyset_page(select(ApiToken).where(ApiToken.user_id == user_id), ApiToken.id, args)


def revoke_token(token_id: int) -> None:
    token = load_authorized(ApiToken, token_id, "token.revoke").obj
    if token.revoked_at is None:
        token.revoked_at = utcnow()


def revoke_all_credentials(user_id: int) -> None:
    """End every session and token of a user at once (deactivation, password reset)."""
    now = utcnow()
    for model in (LoginSession, ApiToken):
        db.session.execute(
            update(model).where(model.user_id == user_id, model.revoked_at.is_(None)).values(revoked_at=now)
        )
