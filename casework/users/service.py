"""Account management (admins only): create, list, read, change role, reset a password, deactivate.

A password an admin sets (at creation, or a reset) must be changed by its user at their next
login: until then their credentials reach nothing but the password change (``auth.rules``).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from casework.access.door import authorize, load_authorized
from casework.access.targets import Target
from casework.auth import passwords
from casework.auth.models import User
from casework.auth.service import revoke_all_credentials, set_password_by_admin
from casework.cases.service import memberships_for_role, suspend_memberships
from casework.db import db
from casework.errors import Conflict
from casework.pagination import Page, keyset_page


def new_user(username: str, password: str, role: str, display_name: str | None = None, *,
             must_change_password: bool = False) -> User:
    """Insert a user (no authorization: callers are ``create_user`` and the operator CLI).

    The password must be hard to guess (``weak-password`` otherwise), its user's own words included.
    """
    if db.session.execute(select(User.id).where(User.username == username)).first():
        raise Conflict("That username is taken.", errors={"json": {"username": ["Already exists."]}})
    passwords.require_strong(password, field="password", username=username, display_name=display_name)
    user = User(username=username, password_hash=passwords.hash_password(password), role=role,
                display_name=display_name, must_change_password=must_change_password)
    db.session.add(user)
    db.session.flush()
    return user


def create_user(data: dict[str, Any]) -> User:
    access = authorize("user.create", Target("user"), role=data["role"])
    user = new_user(data["username"], data["password"], data["role"], data.get("display_name"),
                    must_change_password=True)
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


def update_user(user_id: int, changes: dict[str, Any]) -> User:
    access = load_authorized(User, user_id, "user.update", changed=sorted(changes))
    user = access.obj
    if "role" in changes:
        access.note(**memberships_for_role(user, changes["role"], access.user_id))
    if "password" in changes:
        revoked = set_password_by_admin(user, changes.pop("password"),
                                        display_name=changes.get("display_name", user.display_name))
        # Whoever knows the new password may be the admin: the cases need a lawyer's approval again.
        access.note(must_change_password=True, memberships_suspended=suspend_memberships(user.id, access.user_id),
                    **revoked)
    for name, value in changes.items():
        setattr(user, name, value)
    if changes.get("active") is False:
        revoke_all_credentials(user.id)
    return user
