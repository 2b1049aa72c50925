"""The cookie session, for both doors that start one (the API's JSON login and the workbench's
login form): a fresh session at every login, ended at logout."""

from __future__ import annotations

from flask import g, session
from flask_login import login_user, logout_user

from casework.auth import service
from casework.settings import settings


def begin_session(
    username: str, password: str, *, otp: str | None = None, recovery_code: str | None = None
) -> service.NewSession:
    """Log in (recorded by the service) and bind the new session to this browser's cookie."""
    new = service.login(
        username,
        password,
        otp=otp,
        recovery_code=recovery_code,
        previous_session=session.get("sid"),
        lifetime_seconds=settings().auth.session_seconds,
    )
    session.clear()  # a fresh session (and id) on every login: no fixation
    session.permanent = True
    session["sid"], session["csrf"] = new.secret, new.csrf_token
    login_user(new.user)
    g.auth_method = "session"
    return new


def end_session(user_id: int) -> None:
    """Log out (recorded by the service): the session's record ends and the cookie is emptied."""
    service.logout(user_id, session.get("sid"))
    logout_user()
    session.clear()
