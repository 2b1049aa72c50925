"""Account management (admins only): create, list, read, change role, reset a password or the
second factor, deactivate and reactivate.

A password an admin sets (at creation, or a reset) must be changed by its user at their next
login: until then their credentials reach nothing but the password change (``auth.rules``).

Recovery needs two people. An admin who resets an account's password or second factor may be
the one who logs in as it, so the reset suspends every membership of the account (even where it
is a case's only lawyer) and records the admin as able to hold a way in (``auth.control``); the
same for making an account a lawyer, deactivating and reactivating it. Each membership comes
back only when a second person approves (``cases.service``: a lawyer of the case other than the
account, or, where the case has no other lawyer, a second admin independent of the first).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from casework.access.door import authorize, load_authorized
from casework.access.targets import Target
from casework.auth import control, passwords
from casework.auth.models import User
from casework.auth.service import remove_second_factor, revoke_all_credentials, set_password_by_admin
from casework.cases.service import (
    DEACTIVATION,
    MFA_RESET,
    PASSWORD_RESET,
    REACTIVATION,
    ROLE_CHANGE,
    lock_account,
    memberships_for_role,
    suspend_memberships,
)
from casework.db import db
from casework.errors import Conflict
from casework.pagination import Page, keyset_page


def new_user(
    username: str, password: str, role: str, display_name: str | None = None, *, must_change_password: bool = False
) -> User:
    """Insert a user (no authorization: callers are ``create_user`` and the operator CLI).

    The password must be hard to guess (``weak-password`` otherwise), its user's own words included.
    """
    if db.session.execute(select(User.id).where(User.username == username)).first():
        raise Conflict("That username is taken.", errors={"json": {"username": ["Already exists."]}})
    passwords.require_strong(password, field="password", username=username, display_name=display_name)
    user = User(
        username=username,
        password_hash=passwords.hash_password(password),
        role=role,
        display_name=display_name,
        must_change_password=must_change_password,
    )
    db.session.add(user)
    db.session.flush()
    return user


def create_user(data: dict[str, Any]) -> User:
    access = authorize("user.create", Target("user"), role=data["role"])
    user = new_user(
        data["username"], data["password"], data["role"], data.get("display_name"), must_change_password=True
    )
    control.record_setter(user.id, access.user_id, control.CREATED)  # they chose its password
    access.note(created_user_id=user.id, must_change_password=True)
    return user


def list_users(args: dict[str, Any]) -> Page:
    authorize("user.list", Target("user"))
    statement = select(User)
    if "role" in args:
        statement = statement.where(User.role == args["role"])
    if "active" in args:
        statement = statement.where(User.active == args["active"])
    return keyset_page(statement, User.id, args)


def get_user(user_id: int) -> User:
    return load_authorized(User, user_id, "user.read").obj


def _locked(user_id: int) -> User:
    """The account, read again under its row lock (role, state and memberships change serially)."""
    lock_account(user_id)
    return db.session.get(User, user_id, populate_existing=True)  # type: ignore[return-value]


def update_user(user_id: int, changes: dict[str, Any]) -> User:
    access = load_authorized(User, user_id, "user.update", changed=sorted(changes))
    user = _locked(access.obj.id)
    suspended: list[int] = []
    reasons: list[str] = []

    def suspend(reason: str) -> None:
        suspended.extend(suspend_memberships(user.id, access.user_id, reason))
        reasons.append(reason)

    if "role" in changes:
        for name, value in memberships_for_role(user, changes["role"], access.user_id).items():
            if name == "memberships_suspended":
                suspended.extend(value)
                reasons.append(ROLE_CHANGE)
            else:
                access.note(**{name: value})
    if "password" in changes:
        revoked = set_password_by_admin(
            user,
            changes.pop("password"),
            display_name=changes.get("display_name", user.display_name),
            set_by_id=access.user_id,
        )
        # Whoever knows the new password may be the admin: each case needs a second person again.
        suspend(PASSWORD_RESET)
        access.note(must_change_password=True, **revoked)
    if "active" in changes and changes["active"] != user.active:
        if changes["active"]:
            suspend(REACTIVATION)  # normally none left: deactivation suspended them
        else:
            access.note(**revoke_all_credentials(user.id))
            suspend(DEACTIVATION)
    if reasons:
        access.note(memberships_suspended=sorted(set(suspended)), suspended_for=reasons)
    for name, value in changes.items():
        setattr(user, name, value)
    return user


def reset_second_factor(user_id: int) -> User:
    """An admin removes an account's second factor (a lost device): every session and token of the
    account ends, and every membership waits for a second person, as after a password reset."""
    access = load_authorized(User, user_id, "user.mfa.reset")
    user = _locked(access.obj.id)
    access.note(**remove_second_factor(user))
    control.record_setter(user.id, access.user_id, control.MFA_RESET)
    access.note(
        **revoke_all_credentials(user.id),
        memberships_suspended=suspend_memberships(user.id, access.user_id, MFA_RESET),
        suspended_for=[MFA_RESET],
    )
    return user
